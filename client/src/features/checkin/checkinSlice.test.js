import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError } from '../../api/client';
import { makeStore } from '../../app/store';
import { checkIn, eventChosen, fetchCheckinStats, fetchGateEvents } from './checkinSlice';

vi.mock('../../api/client', async (importOriginal) => (await import('../../test/mockApi')).mockApiModule(importOriginal));

const TICKET = { id: 12, holder_name: 'Otieno', ticket_type: { id: 2, name: 'VIP' }, event: { id: 1, title: 'Jazz' } };

describe('checkin slice', () => {
  beforeEach(() => {
    vi.clearAllMocks();
    localStorage.clear();
  });

  it('an admitted ticket becomes the result and sends a stable device id', async () => {
    api.post.mockResolvedValue({ result: 'admitted', ticket: TICKET });
    const store = makeStore();

    await store.dispatch(checkIn({ code: '  abc.def.ghi\n' }));
    await store.dispatch(checkIn({ code: 'abc.def.ghi' }));

    const [path, body] = api.post.mock.calls[0];
    expect(path).toBe('/api/checkin');
    expect(body.code).toBe('abc.def.ghi');
    expect(body.device_id).toMatch(/^web-/);
    expect(api.post.mock.calls[1][1].device_id).toBe(body.device_id);
    expect(store.getState().checkin.result).toMatchObject({ kind: 'admitted', ticket: TICKET });
    expect(store.getState().checkin.history).toHaveLength(2);
  });

  it.each([
    [new ApiError({ status: 409, code: 'already_checked_in', message: 'used', details: { checked_in_at: '2026-12-04T17:00:00Z', checked_in_by: { id: 3, name: 'Gate Keeper' } } }), 'used'],
    [new ApiError({ status: 409, code: 'ticket_void', message: 'This ticket is void.' }), 'void'],
    [new ApiError({ status: 404, code: 'invalid_ticket', message: 'Unknown ticket.' }), 'invalid'],
    [new ApiError({ status: 422, code: 'validation_error', message: 'Bad code.' }), 'invalid'],
    [new ApiError({ status: 403, code: 'forbidden', message: 'You are not gate staff for this event.' }), 'forbidden'],
  ])('a refusal (%s) is a result to show, not a failure', async (error, kind) => {
    api.post.mockRejectedValueOnce(error);
    const store = makeStore();

    const action = await store.dispatch(checkIn({ code: 'x' }));

    expect(action.type).toBe('checkin/scan/fulfilled');
    expect(store.getState().checkin.result.kind).toBe(kind);
    expect(store.getState().toasts.items).toEqual([]);
    if (kind === 'used') expect(store.getState().checkin.result.details.checked_in_by.name).toBe('Gate Keeper');
  });

  it('a network failure rejects and shows a toast', async () => {
    api.post.mockRejectedValueOnce(new ApiError({ status: 0, code: 'network_error', message: 'Could not reach Ticksy.' }));
    const store = makeStore();

    const action = await store.dispatch(checkIn({ code: 'x' }));

    expect(action.type).toBe('checkin/scan/rejected');
    expect(store.getState().checkin.scanning).toBe(false);
    expect(store.getState().toasts.items[0].message).toBe('Could not reach Ticksy.');
  });

  it('gate events: the events this user runs, as the API lists them', async () => {
    api.get.mockResolvedValueOnce({
      items: [
        { id: 5, title: 'Staffed', starts_at: 'a', venue: 'KICC' },
        { id: 1, title: 'Mine', starts_at: 'b', venue: 'Carnivore' },
      ],
    });
    const store = makeStore({ auth: { user: { id: 9, roles: ['attendee'] }, status: 'idle', error: null } });

    await store.dispatch(fetchGateEvents());

    expect(api.get).toHaveBeenCalledTimes(1);
    expect(api.get).toHaveBeenCalledWith('/api/checkin/events', { query: { per_page: 100 } });
    expect(store.getState().checkin.events).toEqual([
      { id: 5, title: 'Staffed', starts_at: 'a' },
      { id: 1, title: 'Mine', starts_at: 'b' },
    ]);
    expect(store.getState().checkin.eventsStatus).toBe('succeeded');
  });

  it('gate events: a failed list says so instead of showing an empty picker', async () => {
    api.get.mockRejectedValueOnce(new ApiError({ status: 503, code: 'service_unavailable', message: 'Try again.' }));
    const store = makeStore();

    await store.dispatch(fetchGateEvents());

    expect(store.getState().checkin.eventsStatus).toBe('failed');
    expect(store.getState().toasts.items[0].message).toBe('Try again.');
  });

  it('stats belong to the chosen event only', async () => {
    const store = makeStore();
    store.dispatch(eventChosen(4));
    api.get.mockResolvedValueOnce({ issued: 10, checked_in: 3 });
    await store.dispatch(fetchCheckinStats('4'));
    expect(store.getState().checkin.stats).toEqual({ issued: 10, checked_in: 3 });

    store.dispatch(eventChosen(5));
    api.get.mockResolvedValueOnce({ issued: 99, checked_in: 1 });
    await store.dispatch(fetchCheckinStats('4'));
    expect(store.getState().checkin.stats).toBeNull();
  });
});
