import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link, useLocation, useNavigate, useParams } from 'react-router';
import EmptyState from '../../components/EmptyState';
import Loading from '../../components/Loading';
import { dateTime, money } from '../../app/format';
import { selectUser } from '../auth/authSlice';
import { createOrder, selectCreatingOrder } from '../orders/ordersSlice';
import { fetchEvent, fetchReviews, selectEventDetail, selectReviews } from './eventsSlice';

function Stars({ rating }) {
  const r = Math.round(Number(rating) || 0);
  return (
    <span className="stars" aria-label={`${rating} out of 5 stars`}>
      {'★'.repeat(r)}
      {'☆'.repeat(Math.max(0, 5 - r))}
    </span>
  );
}

function TierRow({ tier, quantity, onChange }) {
  const max = Math.max(0, Math.min(tier.available, tier.max_per_order ?? 10));
  const canBuy = tier.on_sale && tier.available > 0;
  const id = `qty-${tier.id}`;
  return (
    <li className="tier">
      <div>
        <strong>{tier.name}</strong> — {money(tier.price, tier.currency)}
        {tier.description && <p className="hint">{tier.description}</p>}
        <p className="meta">
          {tier.available > 0 ? `${tier.available} available` : <span className="badge badge-soldout">Sold out</span>}
          {!tier.on_sale && tier.available > 0 && ' · not on sale now'}
        </p>
      </div>
      <div className="qty">
        <label htmlFor={id}>Quantity for {tier.name}</label>
        <input
          id={id}
          type="number"
          inputMode="numeric"
          min={0}
          max={max}
          step={1}
          value={quantity}
          disabled={!canBuy}
          onChange={(e) => onChange(Math.max(0, Math.min(max, Math.floor(Number(e.target.value) || 0))))}
        />
      </div>
    </li>
  );
}

export default function EventPage() {
  const { id } = useParams();
  const dispatch = useDispatch();
  const navigate = useNavigate();
  const location = useLocation();
  const user = useSelector(selectUser);
  const { event, status, error } = useSelector(selectEventDetail);
  const reviews = useSelector(selectReviews);
  const creating = useSelector(selectCreatingOrder);
  const [quantities, setQuantities] = useState({});
  const [orderError, setOrderError] = useState(null);

  useEffect(() => {
    dispatch(fetchEvent(id));
    dispatch(fetchReviews(id));
    setQuantities({});
  }, [dispatch, id]);

  if (status === 'failed' && !event) {
    return (
      <section className="page narrow">
        <EmptyState title={error?.status === 404 ? 'This event does not exist.' : 'The event could not be loaded.'}>
          <Link to="/events">Back to events</Link>
        </EmptyState>
      </section>
    );
  }
  if (!event || String(event.id) !== String(id)) return <Loading label="Loading event" />;

  const tiers = event.ticket_types ?? [];
  const items = tiers.filter((t) => quantities[t.id] > 0).map((t) => ({ ticket_type_id: t.id, quantity: quantities[t.id] }));
  const total = tiers.reduce((sum, t) => sum + Number(t.price) * (quantities[t.id] || 0), 0);
  const currency = tiers[0]?.currency ?? event.currency ?? 'KES';

  async function onBuy(e) {
    e.preventDefault();
    setOrderError(null);
    if (!user) {
      navigate('/login', { state: { from: location } });
      return;
    }
    const result = await dispatch(createOrder({ eventId: event.id, items }));
    if (createOrder.fulfilled.match(result)) {
      const order = result.payload;
      navigate(order.status === 'paid' ? '/tickets' : `/orders/${order.id}/pay`);
    } else {
      setOrderError(result.payload);
      if (result.payload?.code === 'sold_out' || result.payload?.code === 'sales_closed') dispatch(fetchEvent(id));
    }
  }

  return (
    <article className="page event-page">
      <p>
        <Link to="/events">← All events</Link>
      </p>
      <h1>{event.title}</h1>
      <p className="meta">
        <time dateTime={event.starts_at}>{dateTime(event.starts_at)}</time> – <time dateTime={event.ends_at}>{dateTime(event.ends_at)}</time>
        <br />
        {event.venue}
        {event.city ? `, ${event.city}` : ''} · by {event.organizer?.name}
      </p>
      <p className="tags">
        {event.category && <span className="tag">{event.category}</span>}
        {event.status !== 'published' && <span className="badge">{event.status}</span>}
        {event.sold_out && <span className="badge badge-soldout">Sold out</span>}
      </p>
      {event.description && <p className="description">{event.description}</p>}

      <section className="card" aria-labelledby="tickets-heading">
        <h2 id="tickets-heading">Tickets</h2>
        {tiers.length === 0 ? (
          <p>No tickets are on sale for this event yet.</p>
        ) : (
          <form onSubmit={onBuy}>
            <ul className="tiers">
              {tiers.map((t) => (
                <TierRow key={t.id} tier={t} quantity={quantities[t.id] ?? 0} onChange={(q) => setQuantities((qs) => ({ ...qs, [t.id]: q }))} />
              ))}
            </ul>
            {orderError && (
              <p className="form-error" role="alert">
                {orderError.message}
                {orderError.fields ? ` ${Object.values(orderError.fields).flat().filter((v) => typeof v === 'string').join(' ')}` : ''}
              </p>
            )}
            <div className="buy-bar">
              <p aria-live="polite">
                Total: <strong>{money(total, currency)}</strong>
              </p>
              <button type="submit" disabled={items.length === 0 || creating}>
                {creating ? 'Reserving…' : 'Buy tickets'}
              </button>
            </div>
            {!user && <p className="hint">You will be asked to log in first.</p>}
          </form>
        )}
      </section>

      <section className="card" aria-labelledby="reviews-heading">
        <h2 id="reviews-heading">Reviews</h2>
        {reviews.summary?.rating_count > 0 && (
          <p>
            <Stars rating={reviews.summary.rating_avg} /> {Number(reviews.summary.rating_avg).toFixed(1)} from {reviews.summary.rating_count} review
            {reviews.summary.rating_count === 1 ? '' : 's'}
          </p>
        )}
        {reviews.status === 'loading' && <Loading label="Loading reviews" />}
        {reviews.status === 'succeeded' && reviews.items.length === 0 && <p>No reviews yet.</p>}
        <ul className="reviews">
          {reviews.items.map((r) => (
            <li key={r.id}>
              <p>
                <Stars rating={r.rating} /> <strong>{r.user?.name}</strong>
              </p>
              {r.comment && <p>{r.comment}</p>}
            </li>
          ))}
        </ul>
      </section>
    </article>
  );
}
