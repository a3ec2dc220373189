import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError } from '../../api/client';
import { makeStore } from '../../app/store';
import { fetchAttentionPayments, fetchUsers, refundPayment, saveRoles, setUserActive } from './adminSlice';

vi.mock('../../api/client', async (importOriginal) => (await import('../../test/mockApi')).mockApiModule(importOriginal));

const U = { id: 5, name: 'Otieno', email: 'otieno@ticksy.test', roles: ['attendee'], is_active: true };

async function storeWithUsers() {
  const store = makeStore();
  api.get.mockResolvedValueOnce({ items: [U, { ...U, id: 6, name: 'Fatuma' }], page: 1, pages: 1, total: 2 });
  await store.dispatch(fetchUsers({ q: 'o' }));
  return store;
}

describe('admin slice', () => {
  beforeEach(() => vi.clearAllMocks());

  it('searches users', async () => {
    const store = await storeWithUsers();
    expect(api.get).toHaveBeenCalledWith('/api/admin/users', { query: { q: 'o', role: undefined, page: 1, per_page: 20 } });
    expect(store.getState().admin.users.total).toBe(2);
  });

  it('saving roles PUTs them and replaces the user', async () => {
    const store = await storeWithUsers();
    api.put.mockResolvedValueOnce({ ...U, roles: ['attendee', 'organizer'] });

    const pending = store.dispatch(saveRoles({ id: 5, roles: ['attendee', 'organizer'] }));
    expect(store.getState().admin.savingUserId).toBe(5);
    await pending;

    expect(api.put).toHaveBeenCalledWith('/api/admin/users/5/roles', { roles: ['attendee', 'organizer'] });
    expect(store.getState().admin.users.items[0].roles).toEqual(['attendee', 'organizer']);
    expect(store.getState().admin.savingUserId).toBeNull();
  });

  it('a refused role change (own admin role) keeps the user and toasts the reason', async () => {
    const store = await storeWithUsers();
    api.put.mockRejectedValueOnce(new ApiError({ status: 409, code: 'conflict', message: 'You cannot remove your own admin role.' }));

    await store.dispatch(saveRoles({ id: 5, roles: [] }));

    expect(store.getState().admin.users.items[0].roles).toEqual(['attendee']);
    expect(store.getState().toasts.items[0].message).toBe('You cannot remove your own admin role.');
  });

  it('deactivates a user with PATCH is_active', async () => {
    const store = await storeWithUsers();
    api.patch.mockResolvedValueOnce({ ...U, is_active: false });

    await store.dispatch(setUserActive({ id: 5, isActive: false }));

    expect(api.patch).toHaveBeenCalledWith('/api/admin/users/5', { is_active: false });
    expect(store.getState().admin.users.items[0].is_active).toBe(false);
  });

  it('payments needing attention: needs_refund, and the flagged ones, in two requests', async () => {
    api.get.mockImplementation(async (path, { query }) => {
      if (query.needs_refund) return { items: [{ id: 1, needs_refund: true }] };
      if (query.flagged) return { items: [{ id: 4, flag: 'unresolved' }, { id: 3, flag: 'amount_mismatch' }] };
      return { items: [] };
    });
    const store = makeStore();

    await store.dispatch(fetchAttentionPayments());

    expect(api.get).toHaveBeenCalledTimes(2);
    expect(api.get).toHaveBeenCalledWith('/api/admin/payments', { query: { needs_refund: true, per_page: 100 } });
    expect(api.get).toHaveBeenCalledWith('/api/admin/payments', { query: { flagged: true, per_page: 100 } });
    expect(store.getState().admin.payments.needsRefund.map((p) => p.id)).toEqual([1]);
    expect(store.getState().admin.payments.flagged.map((p) => p.id)).toEqual([4, 3]);
  });

  it('a refunded payment leaves the needs-refund list', async () => {
    api.get.mockImplementation(async (path, { query }) => (query.needs_refund ? { items: [{ id: 1, needs_refund: true }] } : { items: [] }));
    const store = makeStore();
    await store.dispatch(fetchAttentionPayments());
    api.post.mockResolvedValueOnce({ id: 1, needs_refund: false, status: 'refunded' });

    await store.dispatch(refundPayment(1));

    expect(api.post).toHaveBeenCalledWith('/api/admin/payments/1/refund');
    expect(store.getState().admin.payments.needsRefund).toEqual([]);
  });
});
