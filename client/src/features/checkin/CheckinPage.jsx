import { useCallback, useEffect, useRef, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import Field from '../../components/Field';
import { dateTime } from '../../app/format';
import { checkIn, eventChosen, fetchCheckinStats, fetchGateEvents, selectCheckin } from './checkinSlice';
import Scanner, { cameraScanSupported } from './Scanner';

const RESULT_STYLE = { admitted: 'ok', used: 'warn', void: 'bad', invalid: 'bad', forbidden: 'bad' };
const HISTORY_LABEL = { admitted: 'Admitted', used: 'Already used', void: 'Ticket void', forbidden: 'Not allowed', invalid: 'Invalid ticket' };

function ResultText({ result, eventId, events }) {
  if (!result) return <p className="gate-idle">Ready. Scan or enter a ticket code.</p>;
  switch (result.kind) {
    case 'admitted': {
      const t = result.ticket ?? {};
      const otherEvent = eventId && t.event?.id && String(t.event.id) !== String(eventId);
      return (
        <>
          <p className="gate-title">Admitted</p>
          <p className="gate-detail">
            {t.holder_name} · {t.ticket_type?.name} · ticket #{t.id}
          </p>
          {otherEvent && <p className="gate-note">Note: this ticket is for {t.event.title || events.find((e) => e.id === t.event.id)?.title}.</p>}
        </>
      );
    }
    case 'used': {
      const d = result.details ?? {};
      const by = typeof d.checked_in_by === 'object' ? d.checked_in_by?.name : d.checked_in_by;
      return (
        <>
          <p className="gate-title">Already used</p>
          <p className="gate-detail">
            Checked in {dateTime(d.checked_in_at)}
            {by ? ` by ${by}` : ''}
          </p>
        </>
      );
    }
    case 'void':
      return (
        <>
          <p className="gate-title">Ticket void</p>
          <p className="gate-detail">This ticket was cancelled, refunded or transferred. Do not admit.</p>
        </>
      );
    case 'forbidden':
      return (
        <>
          <p className="gate-title">Not allowed: not staff for this event</p>
          <p className="gate-detail">{result.message || 'You are not gate staff for the event on this ticket.'}</p>
        </>
      );
    default:
      return (
        <>
          <p className="gate-title">Invalid ticket</p>
          <p className="gate-detail">This code is not a Ticksy ticket (or it was changed). Do not admit.</p>
        </>
      );
  }
}

export default function CheckinPage() {
  const dispatch = useDispatch();
  const { events, eventsStatus, eventId, result, scanning, history, stats } = useSelector(selectCheckin);
  const [code, setCode] = useState('');
  const lastScan = useRef({ code: null, at: 0 });

  useEffect(() => {
    dispatch(fetchGateEvents());
  }, [dispatch]);

  useEffect(() => {
    if (eventId) dispatch(fetchCheckinStats(eventId));
  }, [dispatch, eventId]);

  const submit = useCallback(
    async (raw) => {
      const value = raw.trim();
      if (!value) return;
      const now = Date.now();
      // The camera sees the same code many times a second: one scan per code every 3 s.
      if (lastScan.current.code === value && now - lastScan.current.at < 3000) return;
      lastScan.current = { code: value, at: now };
      const action = await dispatch(checkIn({ code: value }));
      if (checkIn.fulfilled.match(action)) {
        navigator.vibrate?.(action.payload.kind === 'admitted' ? 80 : [60, 60, 60]);
        if (eventId) dispatch(fetchCheckinStats(eventId));
      }
    },
    [dispatch, eventId],
  );

  async function onManual(e) {
    e.preventDefault();
    lastScan.current = { code: null, at: 0 }; // typed codes are always sent
    await submit(code);
    setCode('');
  }

  const style = result ? RESULT_STYLE[result.kind] ?? 'bad' : 'idle';

  return (
    <section className="page checkin-page">
      <h1>Check-in</h1>
      <div className="card">
        <Field
          label="Event"
          name="event"
          as="select"
          value={eventId}
          onChange={(e) => dispatch(eventChosen(e.target.value))}
          hint={
            eventsStatus === 'loading'
              ? 'Loading events…'
              : eventsStatus === 'succeeded' && events.length === 0
                ? 'No upcoming event names you as its organizer or gate staff.'
                : 'The event whose gate you are working.'
          }
        >
          <option value="">Choose an event</option>
          {events.map((e) => (
            <option key={e.id} value={String(e.id)}>
              {e.title} — {dateTime(e.starts_at)}
            </option>
          ))}
        </Field>
        {stats && (
          <p className="meta" aria-live="polite">
            Checked in: <strong>{stats.checked_in}</strong> of {stats.issued} tickets
          </p>
        )}
      </div>

      <div className={`gate-result gate-${style}`} role="status" aria-live="assertive" aria-atomic="true" data-testid="gate-result" key={result?.id ?? 'idle'}>
        <ResultText result={result} eventId={eventId} events={events} />
      </div>

      {cameraScanSupported() && <Scanner onCode={submit} />}

      <form className="card form" onSubmit={onManual}>
        <h2>Enter a code</h2>
        <Field
          as="textarea"
          rows={3}
          label="Ticket code"
          name="code"
          value={code}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => setCode(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              onManual(e);
            }
          }}
          hint={cameraScanSupported() ? 'Or paste the code printed under the QR.' : 'This browser cannot scan with the camera: paste or type the code (a handheld scanner that types also works).'}
        />
        <button type="submit" disabled={!code.trim() || scanning}>
          {scanning ? 'Checking…' : 'Check in'}
        </button>
      </form>

      {history.length > 1 && (
        <section className="card" aria-labelledby="recent-heading">
          <h2 id="recent-heading">Recent scans</h2>
          <ul className="history">
            {history.slice(1).map((h) => (
              <li key={h.id} className={`history-${RESULT_STYLE[h.kind] ?? 'bad'}`}>
                {new Date(h.at).toLocaleTimeString()} — {HISTORY_LABEL[h.kind]}
                {h.ticket ? ` · ${h.ticket.holder_name}` : ''}
              </li>
            ))}
          </ul>
        </section>
      )}
    </section>
  );
}
