import { useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import Field, { fieldErrors } from '../../components/Field';
import FormActions from '../../components/FormActions';
import { fromLocalInput, toLocalInput } from '../../app/format';
import { CATEGORIES, categoryLabel } from '../events/categories';
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

  const eventFields = () => ({
    title: form.title.trim(),
    description: form.description.trim(),
    venue: form.venue.trim(),
    city: form.city.trim() || null,
    category: form.category || null,
    starts_at: fromLocalInput(form.starts_at),
    ends_at: fromLocalInput(form.ends_at),
  });

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
      for (const key of ['title', 'description', 'venue', 'city', 'category', 'starts_at', 'ends_at']) {
        if ((before[key] || '') !== (form[key] || '')) changes[key] = fieldsNow[key];
      }
      if (before.publish !== form.publish && event.status !== 'cancelled') changes.status = form.publish ? 'published' : 'draft';
      const tiers = form.tiers
        .filter((t) => !t.id || t.name !== t.original.name || t.price !== t.original.price || t.quantity !== t.original.quantity)
        .map((t) => ({ ...(t.id ? { id: t.id } : {}), ...tierBody(t) }));
      result = await dispatch(updateEvent({ id: event.id, changes, tiers }));
    }
    if (result.meta.requestStatus === 'fulfilled') onDone(result.payload);
    else setError(result.payload);
  }

  // The props that tie a Field to one form value and its 422 messages.
  const field = (name) => ({ name, value: form[name], onChange: set(name), errors: fieldErrors(error?.fields, name) });
  const tierField = (t, i, name) => ({
    name: `tier-${i}-${name}`,
    value: t[name],
    onChange: setTier(t.key, name),
    errors: tierErrors(error?.fields, i, name),
  });
  const tiersErrors = listErrors(error?.fields?.ticket_types);

  return (
    <form className="card form event-form" onSubmit={onSubmit} noValidate aria-labelledby="event-form-title">
      <h2 id="event-form-title">{editing ? `Edit “${event.title}”` : 'New event'}</h2>
      {error && (
        <p className="form-error" role="alert">
          {error.message} {fieldErrors(error.fields, '_schema').join(' ')}
        </p>
      )}
      <Field label="Title" required {...field('title')} />
      <Field label="Description" as="textarea" rows={4} {...field('description')} />
      <div className="grid-2">
        <Field label="Venue" required {...field('venue')} />
        <Field label="City" {...field('city')} />
      </div>
      <Field label="Category" as="select" {...field('category')}>
        <option value="">No category</option>
        {CATEGORIES.map((c) => (
          <option key={c} value={c}>
            {categoryLabel(c)}
          </option>
        ))}
      </Field>
      <div className="grid-2">
        <Field label="Starts at" type="datetime-local" required {...field('starts_at')} />
        <Field label="Ends at" type="datetime-local" required {...field('ends_at')} />
      </div>
      {event?.status !== 'cancelled' && <Field label="Publish now" name="publish" type="checkbox" checked={form.publish} onChange={set('publish')} hint="Unpublished events are saved as drafts that only you can see." />}

      <fieldset className="tiers-editor">
        <legend>Ticket tiers</legend>
        {tiersErrors.length > 0 && <p className="field-error">{tiersErrors.join(' ')}</p>}
        {form.tiers.map((t, i) => (
          <fieldset key={t.key} className="tier-edit">
            <legend>Tier {i + 1}</legend>
            <Field label="Tier name" required {...tierField(t, i, 'name')} />
            <div className="grid-2">
              <Field label="Price" type="number" min="0" step="1" inputMode="numeric" required hint="KES" {...tierField(t, i, 'price')} />
              <Field label="Quantity" type="number" min="1" step="1" inputMode="numeric" required {...tierField(t, i, 'quantity')} />
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

      <FormActions submitLabel={saving ? 'Saving…' : editing ? 'Save changes' : 'Create event'} submitDisabled={saving} onCancel={() => onDone(null)} />
    </form>
  );
}
