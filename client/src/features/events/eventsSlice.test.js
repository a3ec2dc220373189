import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError } from '../../api/client';
import { makeStore } from '../../app/store';
import reducer, { fetchEvent, fetchEvents, fetchReviews, PER_PAGE } from './eventsSlice';

vi.mock('../../api/client', async (importOriginal) => (await import('../../test/mockApi')).mockApiModule(importOriginal));

const page = (items, extra = {}) => ({ items, page: 1, pages: 1, total: items.length, per_page: PER_PAGE, ...extra });

describe('events slice', () => {
  beforeEach(() => vi.clearAllMocks());

  it('fetchEvents sends the filters and fills the list', async () => {
    api.get.mockResolvedValueOnce(page([{ id: 1, title: 'Jazz' }], { page: 2, pages: 3, total: 30 }));
    const store = makeStore();

    await store.dispatch(fetchEvents({ q: 'jazz', category: 'music', city: '', page: 2 }));

    expect(api.get).toHaveBeenCalledWith('/api/events', { query: { q: 'jazz', category: 'music', city: '', page: 2, per_page: PER_PAGE } });
    expect(store.getState().events.list).toMatchObject({ items: [{ id: 1, title: 'Jazz' }], page: 2, pages: 3, total: 30, status: 'succeeded' });
  });

  it('a slow earlier search cannot overwrite the latest one', async () => {
    let resolveFirst;
    api.get.mockImplementationOnce(() => new Promise((r) => (resolveFirst = r))).mockResolvedValueOnce(page([{ id: 2, title: 'Jazz Nights' }]));
    const store = makeStore();

    const first = store.dispatch(fetchEvents({ q: 'j' }));
    await store.dispatch(fetchEvents({ q: 'jazz' }));
    resolveFirst(page([{ id: 9, title: 'Anything with j' }]));
    await first;

    expect(store.getState().events.list.items.map((e) => e.id)).toEqual([2]);
  });

  it('a failed list keeps the error and toasts the API message', async () => {
    api.get.mockRejectedValueOnce(new ApiError({ status: 422, code: 'validation_error', message: 'Bad page.' }));
    const store = makeStore();

    await store.dispatch(fetchEvents({ page: 0 }));

    expect(store.getState().events.list.status).toBe('failed');
    expect(store.getState().events.list.error.message).toBe('Bad page.');
    expect(store.getState().toasts.items[0].message).toBe('Bad page.');
  });

  it('fetchEvent keeps the detail; another id clears the previous event first', () => {
    let state = reducer(undefined, { type: fetchEvent.pending.type, meta: { arg: '1', requestId: 'a' } });
    state = reducer(state, { type: fetchEvent.fulfilled.type, payload: { id: 1, title: 'Jazz' }, meta: { arg: '1' } });
    expect(state.detail).toMatchObject({ id: '1', status: 'succeeded', event: { id: 1 } });

    state = reducer(state, { type: fetchEvent.pending.type, meta: { arg: '1', requestId: 'b' } });
    expect(state.detail.event).toEqual({ id: 1, title: 'Jazz' }); // same event: kept while reloading
    state = reducer(state, { type: fetchEvent.pending.type, meta: { arg: '2', requestId: 'c' } });
    expect(state.detail.event).toBeNull();
  });

  it('a missing event is a 404 in the detail state', async () => {
    api.get.mockRejectedValueOnce(new ApiError({ status: 404, code: 'not_found', message: 'No such event.' }));
    const store = makeStore();

    await store.dispatch(fetchEvent(404));

    expect(api.get).toHaveBeenCalledWith('/api/events/404');
    expect(store.getState().events.detail).toMatchObject({ status: 'failed', error: { status: 404 } });
  });

  it('reviews come with their summary; their failure is quiet', async () => {
    api.get.mockResolvedValueOnce({ items: [{ id: 1, rating: 5 }], summary: { rating_avg: 5, rating_count: 1 } });
    const store = makeStore();
    await store.dispatch(fetchReviews(11));
    expect(store.getState().events.reviews).toMatchObject({ eventId: 11, summary: { rating_count: 1 }, status: 'succeeded' });

    api.get.mockRejectedValueOnce(new ApiError({ status: 500, code: 'internal_error', message: 'boom' }));
    await store.dispatch(fetchReviews(12));
    expect(store.getState().events.reviews).toMatchObject({ eventId: 12, items: [], status: 'failed' });
    expect(store.getState().toasts.items).toEqual([]);
  });
});
