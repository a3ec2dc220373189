import { useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import Field, { fieldErrors } from '../../components/Field';
import { fromLocalInput, toLocalInput } from '../../app/format';
import { CATEGORIES } from '../events/categories';
import { createEvent, selectDashboard, updateEvent } from './dashboardSlice';

let tierKey = 0;
const blankTier = () => ({ key: `new-${++tierKey}`, name: '', price: '', quantity: '' });

function initialForm(event) {
  if (!event) {
    return {
      title: '',
      description: '',
      venue: '',
      city: '',
      category: '',
      starts_at: '',
      ends_at: '',
      publish: false,
      tiers: [{ ...blankTier(), name: 'Regular' }],
    };
  }
  return {
    title: event.title ?? '',
    description: event.description ?? '',
    venue: event.venue ?? '',
    city: event.city ?? '',
    category: event.category ?? '',
    starts_at: toLocalInput(event.starts_at),
    ends_at: toLocalInput(event.ends_at),
    publish: event.status === 'published',
    tiers: (event.ticket_types ?? []).map((t) => ({
      key: `tt-${t.id}`,
      id: t.id,
      name: t.name,
      price: String(t.price),
      quantity: String(t.quantity),
      original: { name: t.name, price: String(t.price), quantity: String(t.quantity) },
    })),
  };
}

/** The API's messages for tier `index` (`fields.ticket_types["0"].price`). */
function tierErrors(fields, index, name) {
  const tiers = fields?.ticket_types;
  if (!tiers || typeof tiers !== 'object' || Array.isArray(tiers)) return [];
  return fieldErrors(tiers[index] ?? tiers[String(index)], name);
}

/** Messages about the tier list as a whole (not about one tier's fields). */
function listErrors(value) {
  if (!value) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v) => typeof v === 'string');
  return fieldErrors(value, '_schema');
}

/** Create an event with its tiers, or edit one (`event` given). */
export default function EventForm({ event, onDone }) {
  const dispatch = useDispatch();
  const { saving } = useSelector(selectDashboard);
  const [form, setForm] = useState(() => initialForm(event));
  const [error, setError] = useState(null);
  const editing = Boolean(event);

  const set = (name) => (e) => setForm((f) => ({ ...f, [name]: e.target.type === 'checkbox' ? e.target.checked : e.target.value }));
  const setTier = (key, name) => (e) =>
    setForm((f) => ({ ...f, tiers: f.tiers.map((t) => (t.key === key ? { ...t, [name]: e.target.value } : t)) }));
  const removeTier = (key) => setForm((f) => ({ ...f, tiers: f.tiers.filter((t) => t.key !== key) }));

  function eventFields() {
    const body = {
      title: form.title.trim(),
      description: form.description.trim(),
      venue: form.venue.trim(),
      city: form.city.trim() || null,
      category: form.category || null,
      starts_at: fromLocalInput(form.starts_at),
      ends_at: fromLocalInput(form.ends_at),
    };
    return body;
  }

  const tierBody = (t) => ({ name: t.name.trim(), price: t.price === '' ? t.price : Number(t.price), quantity: t.quantity === '' ? t.quantity : Number(t.quantity) });

  async function onSubmit(e) {
    e.preventDefault();
    setError(null);
    let result;
    if (!editing) {
      const body = { ...eventFields(), status: form.publish ? 'published' : 'draft', ticket_types: form.tiers.map(tierBody) };
      result = await dispatch(createEvent(body));
    } else {
      const fieldsNow = eventFields();
      const before = initialForm(event);
      const changes = {};
      for (const key of ['title', 'description', 'venue', 'city', 'category']) {
        if ((before[key] || '') !== (form[key] || '')) changes[key] = fieldsNow[key];
      }
      if (before.starts_at !== form.starts_at) changes.starts_at = fieldsNow.starts_at;
      if (before.ends_at !== form.ends_at) changes.ends_at = fieldsNow.ends_at;
      if (before.publish !== form.publish && event.status !== 'cancelled') changes.status = form.publish ? 'published' : 'draft';
      const tiers = form.tiers
        .filter((t) => !t.id || t.name !== t.original.name || t.price !== t.original.price || t.quantity !== t.original.quantity)
        .map((t) => ({ ...(t.id ? { id: t.id } : {}), ...tierBody(t) }));
      result = await dispatch(updateEvent({ id: event.id, changes, tiers }));
    }
    if (result.meta.requestStatus === 'fulfilled') onDone(result.payload);
    else setError(result.payload);
  }

  const errs = (name) => fieldErrors(error?.fields, name);
  const otherErrors = error?.fields ? fieldErrors(error.fields, '_schema') : [];

  return (
    <form className="card form event-form" onSubmit={onSubmit} noValidate aria-labelledby="event-form-title">
      <h2 id="event-form-title">{editing ? `Edit “${event.title}”` : 'New event'}</h2>
      {error && (
        <p className="form-error" role="alert">
          {error.message} {otherErrors.join(' ')}
        </p>
      )}
      <Field label="Title" name="title" required value={form.title} onChange={set('title')} errors={errs('title')} />
      <Field label="Description" name="description" as="textarea" rows={4} value={form.description} onChange={set('description')} errors={errs('description')} />
      <div className="grid-2">
        <Field label="Venue" name="venue" required value={form.venue} onChange={set('venue')} errors={errs('venue')} />
        <Field label="City" name="city" value={form.city} onChange={set('city')} errors={errs('city')} />
      </div>
      <Field label="Category" name="category" as="select" value={form.category} onChange={set('category')} errors={errs('category')}>
        <option value="">No category</option>
        {CATEGORIES.map((c) => (
          <option key={c} value={c}>
            {c[0].toUpperCase() + c.slice(1)}
          </option>
        ))}
      </Field>
      <div className="grid-2">
        <Field label="Starts at" name="starts_at" type="datetime-local" required value={form.starts_at} onChange={set('starts_at')} errors={errs('starts_at')} />
        <Field label="Ends at" name="ends_at" type="datetime-local" required value={form.ends_at} onChange={set('ends_at')} errors={errs('ends_at')} />
      </div>
      {event?.status !== 'cancelled' && <Field label="Publish now" name="publish" type="checkbox" checked={form.publish} onChange={set('publish')} hint="Unpublished events are saved as drafts that only you can see." />}

      <fieldset className="tiers-editor">
        <legend>Ticket tiers</legend>
        {listErrors(error?.fields?.ticket_types).length > 0 && <p className="field-error">{listErrors(error.fields.ticket_types).join(' ')}</p>}
        {form.tiers.map((t, i) => (
          <fieldset key={t.key} className="tier-edit">
            <legend>Tier {i + 1}</legend>
            <Field label="Tier name" name={`tier-${i}-name`} required value={t.name} onChange={setTier(t.key, 'name')} errors={tierErrors(error?.fields, i, 'name')} />
            <div className="grid-2">
              <Field
                label="Price"
                name={`tier-${i}-price`}
                type="number"
                min="0"
                step="1"
                inputMode="numeric"
                required
                value={t.price}
                onChange={setTier(t.key, 'price')}
                errors={tierErrors(error?.fields, i, 'price')}
                hint="KES"
              />
              <Field
                label="Quantity"
                name={`tier-${i}-quantity`}
                type="number"
                min="1"
                step="1"
                inputMode="numeric"
                required
                value={t.quantity}
                onChange={setTier(t.key, 'quantity')}
                errors={tierErrors(error?.fields, i, 'quantity')}
              />
            </div>
            {!t.id && form.tiers.length > 1 && (
              <button type="button" className="link danger" onClick={() => removeTier(t.key)}>
                Remove tier {i + 1}
              </button>
            )}
          </fieldset>
        ))}
        <button type="button" className="secondary" onClick={() => setForm((f) => ({ ...f, tiers: [...f.tiers, blankTier()] }))}>
          Add tier
        </button>
      </fieldset>

      <div className="actions">
        <button type="submit" disabled={saving}>
          {saving ? 'Saving…' : editing ? 'Save changes' : 'Create event'}
        </button>
        <button type="button" className="secondary" onClick={() => onDone(null)}>
          Cancel
        </button>
      </div>
    </form>
  );
}
