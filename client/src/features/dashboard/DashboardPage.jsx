import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link } from 'react-router';
import EmptyState from '../../components/EmptyState';
import Loading from '../../components/Loading';
import { dateTime, money, statusLabel } from '../../app/format';
import { fetchDashboard, fetchEventForEdit, selectDashboard, updateEvent } from './dashboardSlice';
import EventForm from './EventForm';
import EventStats from './EventStats';

function Totals({ totals }) {
  if (!totals) return null;
  return (
    <dl className="figures totals">
      <div>
        <dt>Events</dt>
        <dd>{totals.events}</dd>
      </div>
      <div>
        <dt>Tickets sold (all events)</dt>
        <dd>
          {totals.tickets_sold} <span className="meta">of {totals.tickets_total}</span>
        </dd>
      </div>
      <div>
        <dt>Revenue (all events)</dt>
        <dd>{money(totals.revenue, totals.currency)}</dd>
      </div>
      <div>
        <dt>Checked in (all events)</dt>
        <dd>{totals.checked_in}</dd>
      </div>
    </dl>
  );
}

function EventRow({ event, open, onToggle, onEdit, onCancel }) {
  return (
    <li className="card dash-event">
      <div className="dash-event-head">
        <div>
          <h3>
            <Link to={`/events/${event.id}`}>{event.title}</Link>
          </h3>
          <p className="meta">
            {dateTime(event.starts_at)} · <span className={`status status-${event.status}`}>{statusLabel(event.status)}</span>
          </p>
          <p className="meta">
            {event.tickets_sold}/{event.tickets_total} sold · {money(event.revenue, event.currency)} · {event.checked_in} checked in
          </p>
        </div>
        <div className="actions">
          <button type="button" className="secondary" aria-expanded={open} onClick={onToggle}>
            Stats
          </button>
          {event.status !== 'cancelled' && (
            <>
              <button type="button" className="secondary" onClick={onEdit}>
                Edit
              </button>
              <button type="button" className="link danger" onClick={onCancel}>
                Cancel event
              </button>
            </>
          )}
        </div>
      </div>
      {open && <EventStats event={event} />}
    </li>
  );
}

export default function DashboardPage() {
  const dispatch = useDispatch();
  const { events, totals, status } = useSelector(selectDashboard);
  const [mode, setMode] = useState(null); // null | 'new' | {edit: event}
  const [openId, setOpenId] = useState(null);
  const [message, setMessage] = useState('');

  useEffect(() => {
    dispatch(fetchDashboard());
  }, [dispatch]);

  async function onEdit(row) {
    const result = await dispatch(fetchEventForEdit(row.id));
    if (fetchEventForEdit.fulfilled.match(result)) setMode({ edit: result.payload });
  }

  async function onCancel(row) {
    if (!window.confirm(`Cancel “${row.title}”? Pending orders are cancelled, paid ones refunded and tickets voided.`)) return;
    const result = await dispatch(updateEvent({ id: row.id, changes: { status: 'cancelled' } }));
    if (updateEvent.fulfilled.match(result)) {
      setMessage(`“${row.title}” was cancelled.`);
      dispatch(fetchDashboard());
    }
  }

  function onFormDone(saved) {
    if (saved) {
      setMessage(mode === 'new' ? `Event “${saved.title}” created${saved.status === 'published' ? ' and published' : ' as a draft'}.` : `“${saved.title}” saved.`);
      dispatch(fetchDashboard());
    }
    setMode(null);
  }

  return (
    <section className="page">
      <div className="page-head">
        <h1>Dashboard</h1>
        {mode === null && (
          <button type="button" onClick={() => setMode('new')}>
            New event
          </button>
        )}
      </div>
      <p role="status" aria-live="polite" className={message ? 'notice' : 'sr-only'}>
        {message}
      </p>
      {mode === 'new' && <EventForm onDone={onFormDone} />}
      {mode?.edit && <EventForm key={mode.edit.id} event={mode.edit} onDone={onFormDone} />}

      <Totals totals={totals} />
      <h2>My events</h2>
      {status === 'loading' && events.length === 0 && <Loading label="Loading your events" />}
      {status === 'succeeded' && events.length === 0 && (
        <EmptyState title="You have no events yet.">
          <p>Create one with “New event”.</p>
        </EmptyState>
      )}
      <ul className="dash-events">
        {events.map((e) => (
          <EventRow
            key={e.id}
            event={e}
            open={openId === e.id}
            onToggle={() => setOpenId(openId === e.id ? null : e.id)}
            onEdit={() => onEdit(e)}
            onCancel={() => onCancel(e)}
          />
        ))}
      </ul>
    </section>
  );
}
