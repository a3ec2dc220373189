import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError } from '../../api/client';
import { makeStore } from '../../app/store';
import { createEvent, fetchDashboard, fetchEventStats, saveStaff, updateEvent } from './dashboardSlice';

vi.mock('../../api/client', async (importOriginal) => (await import('../../test/mockApi')).mockApiModule(importOriginal));

const EVENT_IN = {
  title: 'Sundowner',
  venue: 'Karura',
  starts_at: '2027-01-01T15:00:00.000Z',
  ends_at: '2027-01-01T19:00:00.000Z',
  status: 'published',
  ticket_types: [
    { name: 'Regular', price: 1000, quantity: 100 },
    { name: 'VIP', price: 2500, quantity: 20 },
  ],
};

describe('dashboard slice', () => {
  beforeEach(() => vi.clearAllMocks());

  it('loads the organizer’s events and totals', async () => {
    api.get.mockResolvedValueOnce({ events: [{ id: 1, title: 'Jazz', tickets_sold: 3 }], totals: { events: 1, tickets_sold: 3 } });
    const store = makeStore();

    await store.dispatch(fetchDashboard());

    expect(api.get).toHaveBeenCalledWith('/api/dashboard');
    expect(store.getState().dashboard).toMatchObject({ status: 'succeeded', totals: { tickets_sold: 3 } });
  });

  it('creates an event with its tiers in one request and lists it first', async () => {
    api.post.mockResolvedValueOnce({ id: 40, title: 'Sundowner', status: 'published', starts_at: EVENT_IN.starts_at, tickets_total: 120, currency: 'KES' });
    const store = makeStore({ dashboard: { events: [{ id: 1 }], totals: null, status: 'succeeded', stats: {}, staff: {}, saving: false } });

    await store.dispatch(createEvent(EVENT_IN));

    expect(api.post).toHaveBeenCalledWith('/api/events', EVENT_IN);
    expect(store.getState().dashboard.events.map((e) => e.id)).toEqual([40, 1]);
    expect(store.getState().dashboard.events[0]).toMatchObject({ tickets_sold: 0, tickets_total: 120 });
    expect(store.getState().dashboard.saving).toBe(false);
  });

  it('422 field errors go back to the form without a toast; other errors toast', async () => {
    const store = makeStore();
    api.post.mockRejectedValueOnce(
      new ApiError({ status: 422, code: 'validation_error', message: 'Invalid.', fields: { starts_at: ['Must be in the future.'] } }),
    );
    const invalid = await store.dispatch(createEvent(EVENT_IN));
    expect(invalid.payload.fields).toEqual({ starts_at: ['Must be in the future.'] });
    expect(store.getState().toasts.items).toEqual([]);

    api.post.mockRejectedValueOnce(new ApiError({ status: 403, code: 'forbidden', message: 'Your role does not allow this.' }));
    await store.dispatch(createEvent(EVENT_IN));
    expect(store.getState().toasts.items.map((t) => t.message)).toEqual(['Your role does not allow this.']);
  });

  it('saving an edit patches the event, patches changed tiers, posts new ones, then reloads', async () => {
    api.patch.mockResolvedValue({});
    api.post.mockResolvedValue({});
    api.get.mockResolvedValueOnce({ id: 7, title: 'New title', status: 'published', tickets_total: 150 });
    const store = makeStore({ dashboard: { events: [{ id: 7, title: 'Old' }], totals: null, status: 'succeeded', stats: {}, staff: {}, saving: false } });

    await store.dispatch(
      updateEvent({
        id: 7,
        changes: { title: 'New title' },
        tiers: [
          { id: 3, name: 'Regular', price: 1200, quantity: 100 },
          { name: 'Student', price: 500, quantity: 50 },
        ],
      }),
    );

    expect(api.patch.mock.calls).toEqual([
      ['/api/events/7', { title: 'New title' }],
      ['/api/ticket-types/3', { name: 'Regular', price: 1200, quantity: 100 }],
    ]);
    expect(api.post).toHaveBeenCalledWith('/api/events/7/ticket-types', { name: 'Student', price: 500, quantity: 50 });
    expect(api.get).toHaveBeenCalledWith('/api/events/7');
    expect(store.getState().dashboard.events[0]).toMatchObject({ title: 'New title', tickets_total: 150 });
  });

  it('keeps stats per event', async () => {
    api.get.mockResolvedValueOnce({ tickets_sold: 1, revenue: '2500.00', sales_by_day: [{ date: '2026-11-22', tickets: 1 }] });
    const store = makeStore();

    await store.dispatch(fetchEventStats(40));

    expect(api.get).toHaveBeenCalledWith('/api/events/40/stats');
    expect(store.getState().dashboard.stats[40]).toMatchObject({ status: 'succeeded', data: { tickets_sold: 1 } });
  });

  it('saves the staff list with PUT', async () => {
    api.put.mockResolvedValueOnce([{ id: 9, name: 'Gate', email: 'g@x.ke' }]);
    const store = makeStore();

    await store.dispatch(saveStaff({ id: 40, emails: ['g@x.ke'] }));

    expect(api.put).toHaveBeenCalledWith('/api/events/40/staff', { emails: ['g@x.ke'] });
    expect(store.getState().dashboard.staff[40].items).toHaveLength(1);
  });
});
