import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import Field, { fieldErrors } from '../../components/Field';
import { fetchStaff, saveStaff, selectStaff } from './dashboardSlice';

/** Gate staff for one event: one email per line (or comma-separated); saving replaces the list. */
export default function StaffEditor({ eventId }) {
  const dispatch = useDispatch();
  const staff = useSelector(selectStaff(eventId));
  const [text, setText] = useState(null);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState('');

  useEffect(() => {
    dispatch(fetchStaff(eventId));
  }, [dispatch, eventId]);

  const current = staff?.items ?? [];
  const value = text ?? current.map((s) => s.email).join('\n');

  async function onSubmit(e) {
    e.preventDefault();
    setError(null);
    setSaved('');
    const emails = value
      .split(/[\s,;]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    const result = await dispatch(saveStaff({ id: eventId, emails }));
    if (saveStaff.fulfilled.match(result)) {
      setText(null);
      setSaved(`Staff saved: ${result.payload.length} ${result.payload.length === 1 ? 'person' : 'people'}.`);
    } else setError(result.payload);
  }

  const errors = fieldErrors(error?.fields, 'emails');
  if (error && !errors.length && error.status === 422) errors.push(error.message);

  return (
    <form className="staff-editor" onSubmit={onSubmit}>
      <h3>Gate staff</h3>
      <Field
        as="textarea"
        rows={3}
        label="Staff emails"
        name="emails"
        value={value}
        onChange={(e) => setText(e.target.value)}
        errors={errors}
        hint="One email per line. Each person needs a Ticksy account; they can then check tickets in at /checkin."
      />
      {current.length > 0 && (
        <p className="meta">
          Current staff: {current.map((s) => `${s.name} (${s.email})`).join(', ')}
        </p>
      )}
      <button type="submit">Save staff</button>
      <p role="status" aria-live="polite" className="ok-text">
        {saved}
      </p>
    </form>
  );
}
