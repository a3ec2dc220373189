import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError } from '../../api/client';
import { makeStore } from '../../app/store';
import { fetchTicketQr, fetchTickets, renameTicket, transferTicket } from './ticketsSlice';

vi.mock('../../api/client', async (importOriginal) => (await import('../../test/mockApi')).mockApiModule(importOriginal));

const T1 = { id: 1, holder_name: 'Wanjiku', status: 'valid', code: 'a.b.c' };
const T2 = { id: 2, holder_name: 'Wanjiku', status: 'valid', code: 'd.e.f' };

async function storeWithTickets() {
  const store = makeStore();
  api.get.mockResolvedValueOnce({ items: [T1, T2], total: 2, page: 1, pages: 1 });
  await store.dispatch(fetchTickets());
  return store;
}

describe('tickets slice', () => {
  beforeEach(() => vi.clearAllMocks());

  it('fetches the caller’s tickets', async () => {
    const store = await storeWithTickets();
    expect(api.get).toHaveBeenCalledWith('/api/tickets', { query: { status: undefined, per_page: 100 } });
    expect(store.getState().tickets).toMatchObject({ items: [T1, T2], total: 2, status: 'succeeded' });
  });

  it('renaming the holder updates that ticket only', async () => {
    const store = await storeWithTickets();
    api.patch.mockResolvedValueOnce({ ...T1, holder_name: 'Achieng' });

    await store.dispatch(renameTicket({ id: 1, holderName: 'Achieng' }));

    expect(api.patch).toHaveBeenCalledWith('/api/tickets/1', { holder_name: 'Achieng' });
    expect(store.getState().tickets.items.map((t) => t.holder_name)).toEqual(['Achieng', 'Wanjiku']);
  });

  it('a transferred ticket leaves the list; a refused transfer keeps it and toasts', async () => {
    const store = await storeWithTickets();
    api.post.mockResolvedValueOnce({ ...T2, holder_name: 'Otieno' });
    await store.dispatch(transferTicket({ id: 2, email: ' otieno@ticksy.test ' }));
    expect(api.post).toHaveBeenCalledWith('/api/tickets/2/transfer', { email: 'otieno@ticksy.test' });
    expect(store.getState().tickets.items.map((t) => t.id)).toEqual([1]);
    expect(store.getState().tickets.total).toBe(1);

    api.post.mockRejectedValueOnce(new ApiError({ status: 404, code: 'not_found', message: 'No user with that email.' }));
    await store.dispatch(transferTicket({ id: 1, email: 'nobody@x.ke' }));
    expect(store.getState().tickets.items.map((t) => t.id)).toEqual([1]);
    expect(store.getState().toasts.items.map((t) => t.message)).toEqual(['No user with that email.']);
  });

  it('asks for the QR as an SVG blob', async () => {
    const blob = new Blob(['<svg/>'], { type: 'image/svg+xml' });
    api.get.mockResolvedValueOnce(blob);
    const signal = new AbortController().signal;

    await expect(fetchTicketQr(5, { signal })).resolves.toBe(blob);
    expect(api.get).toHaveBeenCalledWith('/api/tickets/5/qr', { query: { format: 'svg' }, responseType: 'blob', signal });
  });
});
