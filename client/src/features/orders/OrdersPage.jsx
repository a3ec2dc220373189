import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link } from 'react-router';
import EmptyState from '../../components/EmptyState';
import Field from '../../components/Field';
import Loading from '../../components/Loading';
import Pagination from '../../components/Pagination';
import { dateTime, money, statusLabel } from '../../app/format';
import { usePagedFilters } from '../../app/usePagedFilters';
import { cancelOrder, fetchOrders, selectOrderList } from './ordersSlice';

const STATUSES = ['pending', 'paid', 'cancelled', 'expired', 'refunded'];

export default function OrdersPage() {
  const dispatch = useDispatch();
  const list = useSelector(selectOrderList);
  const [{ status, page }, setFilter, setPage] = usePagedFilters({ status: '' });
  const [announce, setAnnounce] = useState('');

  useEffect(() => {
    dispatch(fetchOrders({ page, status }));
  }, [dispatch, page, status]);

  async function onCancel(order) {
    if (!window.confirm(`Cancel order #${order.id}? The tickets are released.`)) return;
    const result = await dispatch(cancelOrder(order.id));
    if (cancelOrder.fulfilled.match(result)) setAnnounce(`Order #${order.id} cancelled.`);
  }

  return (
    <section className="page">
      <h1>My orders</h1>
      <div className="filters card">
        <Field label="Status" name="status" as="select" value={status} onChange={setFilter('status')}>
          <option value="">All orders</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {statusLabel(s)}
            </option>
          ))}
        </Field>
      </div>
      <p className="sr-only" role="status" aria-live="polite">
        {announce}
      </p>
      {list.status === 'loading' && list.items.length === 0 && <Loading label="Loading your orders" />}
      {list.status === 'succeeded' && list.items.length === 0 && (
        <EmptyState title="No orders yet.">
          <Link to="/events">Find an event</Link>
        </EmptyState>
      )}
      <ul className="order-list">
        {list.items.map((order) => (
          <li key={order.id} className="card">
            <article aria-labelledby={`order-${order.id}`}>
              <h2 id={`order-${order.id}`}>
                Order #{order.id} · {order.event?.title}
              </h2>
              <p className="meta">
                {dateTime(order.created_at)} · {order.items.map((i) => `${i.quantity} × ${i.name}`).join(', ')}
              </p>
              <p>
                <span className={`status status-${order.status}`}>{statusLabel(order.status)}</span> · <strong>{money(order.total, order.currency)}</strong>
                {order.status === 'pending' && order.expires_at && <span className="meta"> · reserved until {dateTime(order.expires_at)}</span>}
              </p>
              <div className="actions">
                {order.status === 'pending' && (
                  <>
                    <Link className="button" to={`/orders/${order.id}/pay`}>
                      Pay now
                    </Link>
                    <button type="button" className="secondary" onClick={() => onCancel(order)}>
                      Cancel order
                    </button>
                  </>
                )}
                {order.status === 'paid' && <Link to="/tickets">View tickets</Link>}
              </div>
            </article>
          </li>
        ))}
      </ul>
      <Pagination page={list.page} pages={list.pages} onPage={setPage} label="Order pages" />
    </section>
  );
}
