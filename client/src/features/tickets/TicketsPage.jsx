import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link } from 'react-router';
import EmptyState from '../../components/EmptyState';
import Field, { fieldErrors } from '../../components/Field';
import FormActions from '../../components/FormActions';
import Loading from '../../components/Loading';
import { dateTime, statusLabel } from '../../app/format';
import { fetchTickets, renameTicket, selectTickets, transferTicket } from './ticketsSlice';
import { useTicketQr } from './useTicketQr';

function QrImage({ ticket }) {
  const { url, error } = useTicketQr(ticket.id, ticket.code);
  if (error) return <p className="qr qr-missing">{error}</p>;
  if (!url) return <div className="qr qr-loading" aria-hidden="true" />;
  return <img className="qr" src={url} alt={`QR code for ticket #${ticket.id}`} width="200" height="200" />;
}

function RenameForm({ ticket, onDone, announce }) {
  const dispatch = useDispatch();
  const [name, setName] = useState(ticket.holder_name ?? '');
  const [error, setError] = useState(null);
  async function onSubmit(e) {
    e.preventDefault();
    const result = await dispatch(renameTicket({ id: ticket.id, holderName: name.trim() }));
    if (renameTicket.fulfilled.match(result)) {
      announce(`Ticket #${ticket.id} is now in the name of ${result.payload.holder_name}.`);
      onDone();
    } else setError(result.payload);
  }
  return (
    <form className="inline-form" onSubmit={onSubmit}>
      <Field label="Holder name" name="holder_name" value={name} required onChange={(e) => setName(e.target.value)} errors={fieldErrors(error?.fields, 'holder_name')} />
      <FormActions submitLabel="Save name" submitDisabled={!name.trim()} onCancel={onDone} />
    </form>
  );
}

function TransferForm({ ticket, onDone, announce }) {
  const dispatch = useDispatch();
  const [email, setEmail] = useState('');
  const [error, setError] = useState(null);
  async function onSubmit(e) {
    e.preventDefault();
    if (!window.confirm(`Give ticket #${ticket.id} to ${email}? Your QR code stops working.`)) return;
    const result = await dispatch(transferTicket({ id: ticket.id, email }));
    if (transferTicket.fulfilled.match(result)) announce(`Ticket #${ticket.id} was transferred to ${email}.`);
    else setError(result.payload);
  }
  return (
    <form className="inline-form" onSubmit={onSubmit}>
      <Field
        label="Recipient's email"
        name="email"
        type="email"
        required
        value={email}
        onChange={(e) => setEmail(e.target.value)}
        errors={fieldErrors(error?.fields, 'email')}
        hint="They need a Ticksy account."
      />
      <FormActions submitLabel="Transfer ticket" submitDisabled={!email.trim()} onCancel={onDone} />
    </form>
  );
}

function TicketCard({ ticket, announce }) {
  const [mode, setMode] = useState(null); // 'rename' | 'transfer' | null
  const [showCode, setShowCode] = useState(false);
  const codeId = `ticket-code-${ticket.id}`;
  const canChange = ticket.status === 'valid';
  return (
    <li>
      <article className="card ticket" aria-labelledby={`ticket-${ticket.id}-title`}>
        <div className="ticket-info">
          <h2 id={`ticket-${ticket.id}-title`}>{ticket.event?.title}</h2>
          <p className="meta">
            <time dateTime={ticket.event?.starts_at}>{dateTime(ticket.event?.starts_at)}</time>
            {ticket.event?.venue ? ` · ${ticket.event.venue}` : ''}
          </p>
          <p>
            <span className="tier-name">{ticket.ticket_type?.name}</span> · Ticket #{ticket.id} ·{' '}
            <span className={`status status-${ticket.status}`}>{statusLabel(ticket.status)}</span>
          </p>
          <p>Holder: {ticket.holder_name}</p>
          {ticket.checked_in_at && <p className="meta">Checked in {dateTime(ticket.checked_in_at)}</p>}
          <div className="actions">
            {ticket.code && (
              <button type="button" className="secondary" aria-expanded={showCode} aria-controls={codeId} onClick={() => setShowCode((s) => !s)}>
                {showCode ? 'Hide code' : 'Show code'}
              </button>
            )}
            {canChange && (
              <>
                <button type="button" className="secondary" onClick={() => setMode(mode === 'rename' ? null : 'rename')}>
                  Rename holder
                </button>
                <button type="button" className="secondary" onClick={() => setMode(mode === 'transfer' ? null : 'transfer')}>
                  Transfer
                </button>
              </>
            )}
          </div>
          {showCode && (
            <p id={codeId} className="ticket-code" data-testid="ticket-code">
              {ticket.code}
            </p>
          )}
          {mode === 'rename' && <RenameForm ticket={ticket} onDone={() => setMode(null)} announce={announce} />}
          {mode === 'transfer' && <TransferForm ticket={ticket} onDone={() => setMode(null)} announce={announce} />}
        </div>
        {ticket.status !== 'void' && <QrImage ticket={ticket} />}
      </article>
    </li>
  );
}

export default function TicketsPage() {
  const dispatch = useDispatch();
  const { items, status } = useSelector(selectTickets);
  const [message, setMessage] = useState('');

  useEffect(() => {
    dispatch(fetchTickets());
  }, [dispatch]);

  return (
    <section className="page">
      <h1>My tickets</h1>
      <p className="sr-only" role="status" aria-live="polite">
        {message}
      </p>
      {message && <p className="notice">{message}</p>}
      {status === 'loading' && items.length === 0 && <Loading label="Loading your tickets" />}
      {status === 'failed' && (
        <EmptyState title="Your tickets could not be loaded.">
          <button type="button" onClick={() => dispatch(fetchTickets())}>
            Try again
          </button>
        </EmptyState>
      )}
      {status === 'succeeded' && items.length === 0 && (
        <EmptyState title="You have no tickets yet.">
          <Link to="/events">Find an event</Link>
        </EmptyState>
      )}
      <ul className="ticket-list">
        {items.map((t) => (
          <TicketCard key={t.id} ticket={t} announce={setMessage} />
        ))}
      </ul>
      <p className="hint">
        Working at an event&apos;s gate? Open <Link to="/checkin">check-in mode</Link>.
      </p>
    </section>
  );
}
