import { useEffect } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import Loading from '../../components/Loading';
import TableHead from '../../components/TableHead';
import { countsText, money } from '../../app/format';
import { downloadAttendees, fetchEventStats, selectEventStats } from './dashboardSlice';
import SalesChart from './SalesChart';
import StaffEditor from './StaffEditor';

export default function EventStats({ event }) {
  const dispatch = useDispatch();
  const stats = useSelector(selectEventStats(event.id));

  useEffect(() => {
    dispatch(fetchEventStats(event.id));
  }, [dispatch, event.id]);

  const data = stats?.data;
  const currency = data?.currency ?? event.currency;
  return (
    <section className="stats" aria-label={`Stats for ${event.title}`}>
      {!data && stats?.status === 'loading' && <Loading label="Loading stats" />}
      {!data && stats?.status === 'failed' && <p className="error-text">Stats could not be loaded.</p>}
      {data && (
        <>
          <dl className="figures">
            <div>
              <dt>Tickets sold</dt>
              <dd data-testid="tickets-sold">{data.tickets_sold}</dd>
              <dd className="meta">of {data.tickets_total}</dd>
            </div>
            <div>
              <dt>Revenue</dt>
              <dd>{money(data.revenue, currency)}</dd>
            </div>
            <div>
              <dt>Checked in</dt>
              <dd data-testid="checked-in">{data.checked_in}</dd>
              <dd className="meta">{Math.round((data.check_in_rate ?? 0) * 100)}% of sold</dd>
            </div>
          </dl>
          <SalesChart days={data.sales_by_day} />
          {data.by_ticket_type?.length > 0 && (
            <div className="table-wrap">
              <table>
                <caption>By ticket type</caption>
                <TableHead columns={['Tier', 'Sold', 'Held', 'Quantity', 'Revenue']} />
                <tbody>
                  {data.by_ticket_type.map((t) => (
                    <tr key={t.ticket_type_id}>
                      <th scope="row">{t.name}</th>
                      <td>{t.sold}</td>
                      <td>{t.held}</td>
                      <td>{t.quantity}</td>
                      <td>{money(t.revenue, currency)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {data.orders_by_status && <p className="meta">Orders: {countsText(data.orders_by_status)}</p>}
        </>
      )}
      <div className="actions">
        <button type="button" className="secondary" onClick={() => dispatch(downloadAttendees({ id: event.id, title: event.title }))}>
          Download attendees (CSV)
        </button>
        <button type="button" className="secondary" onClick={() => dispatch(fetchEventStats(event.id))}>
          Refresh stats
        </button>
      </div>
      <StaffEditor eventId={event.id} />
    </section>
  );
}
