import { useEffect, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link, useSearchParams } from 'react-router';
import EmptyState from '../../components/EmptyState';
import Field from '../../components/Field';
import Loading from '../../components/Loading';
import Pagination from '../../components/Pagination';
import { dateTime, money } from '../../app/format';
import { CATEGORIES, categoryLabel } from './categories';
import { fetchEvents, selectEventList } from './eventsSlice';

function EventCard({ event }) {
  return (
    <li className="card event-card">
      <h2>
        <Link to={`/events/${event.id}`}>{event.title}</Link>
      </h2>
      <p className="meta">
        <time dateTime={event.starts_at}>{dateTime(event.starts_at)}</time>
        <br />
        {event.venue}
        {event.city ? `, ${event.city}` : ''}
      </p>
      <p className="tags">
        {event.category && <span className="tag">{event.category}</span>}
        {event.sold_out && <span className="badge badge-soldout">Sold out</span>}
      </p>
      <p className="price">
        {event.price_from != null ? (
          <>
            From <strong>{money(event.price_from, event.currency)}</strong>
          </>
        ) : (
          'Free'
        )}
      </p>
    </li>
  );
}

export default function EventsPage() {
  const dispatch = useDispatch();
  const list = useSelector(selectEventList);
  const [params, setParams] = useSearchParams();
  const filters = {
    q: params.get('q') ?? '',
    category: params.get('category') ?? '',
    city: params.get('city') ?? '',
    page: Number(params.get('page') ?? 1) || 1,
  };
  const [q, setQ] = useState(filters.q);
  const [city, setCity] = useState(filters.city);

  useEffect(() => {
    dispatch(fetchEvents(filters));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [dispatch, filters.q, filters.category, filters.city, filters.page]);

  // Typing in the search boxes searches after a short pause.
  useEffect(() => {
    if (q === filters.q && city === filters.city) return undefined;
    const timer = setTimeout(() => update({ q, city }), 350);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q, city]);

  function update(changes) {
    const next = { ...filters, page: 1, ...changes };
    const out = {};
    for (const [k, v] of Object.entries(next)) if (v && !(k === 'page' && v === 1)) out[k] = String(v);
    setParams(out, { replace: 'page' in changes ? false : true });
  }

  return (
    <section className="page">
      <h1>Events</h1>
      <form className="filters card" role="search" onSubmit={(e) => (e.preventDefault(), update({ q, city }))}>
        <Field label="Search events" name="q" type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="Title, venue, description" />
        <Field label="Category" name="category" as="select" value={filters.category} onChange={(e) => update({ category: e.target.value })}>
          <option value="">All categories</option>
          {CATEGORIES.map((c) => (
            <option key={c} value={c}>
              {categoryLabel(c)}
            </option>
          ))}
        </Field>
        <Field label="City" name="city" value={city} onChange={(e) => setCity(e.target.value)} placeholder="e.g. Nairobi" />
      </form>

      <p className="sr-only" role="status" aria-live="polite">
        {list.status === 'succeeded' ? `${list.total} event${list.total === 1 ? '' : 's'} found` : ''}
      </p>

      {list.status === 'loading' && list.items.length === 0 && <Loading label="Loading events" />}
      {list.status === 'failed' && (
        <EmptyState title="Events could not be loaded.">
          <button type="button" onClick={() => dispatch(fetchEvents(filters))}>
            Try again
          </button>
        </EmptyState>
      )}
      {list.status === 'succeeded' && list.items.length === 0 && (
        <EmptyState title="No events match your search.">
          <p>Try another word, or clear the filters.</p>
        </EmptyState>
      )}
      {list.items.length > 0 && (
        <ul className={`event-grid ${list.status === 'loading' ? 'stale' : ''}`} aria-busy={list.status === 'loading'}>
          {list.items.map((e) => (
            <EventCard key={e.id} event={e} />
          ))}
        </ul>
      )}
      <Pagination page={list.page} pages={list.pages} onPage={(page) => update({ page })} label="Event pages" />
    </section>
  );
}
