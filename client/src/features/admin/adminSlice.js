import { createSlice } from '@reduxjs/toolkit';
import { api } from '../../api/client';
import { createApiThunk } from '../../app/createApiThunk';
import { isSessionChange } from '../auth/authSlice';

export const ROLES = ['attendee', 'organizer', 'admin'];

export const fetchUsers = createApiThunk('admin/fetchUsers', async ({ q, role, page = 1 } = {}) =>
  api.get('/api/admin/users', { query: { q, role, page, per_page: 20 } }),
);

export const saveRoles = createApiThunk('admin/saveRoles', async ({ id, roles }) =>
  api.put(`/api/admin/users/${id}/roles`, { roles }),
);

export const setUserActive = createApiThunk('admin/setUserActive', async ({ id, isActive }) =>
  api.patch(`/api/admin/users/${id}`, { is_active: isActive }),
);

export const fetchAdminEvents = createApiThunk('admin/fetchEvents', async ({ status, q, page = 1 } = {}) =>
  api.get('/api/admin/events', { query: { status, q, page, per_page: 20, sort: '-starts_at' } }),
);

/** Payments needing attention: money to give back (`needs_refund`), and flagged by reconciliation. */
export const fetchAttentionPayments = createApiThunk('admin/fetchPayments', async () => {
  const [needsRefund, flagged] = await Promise.all([
    api.get('/api/admin/payments', { query: { needs_refund: true, per_page: 100 } }),
    api.get('/api/admin/payments', { query: { flagged: true, per_page: 100 } }),
  ]);
  return { needsRefund: needsRefund.items, flagged: flagged.items };
});

export const refundPayment = createApiThunk('admin/refundPayment', async (id) =>
  api.post(`/api/admin/payments/${id}/refund`),
);

export const fetchPlatformStats = createApiThunk('admin/fetchStats', async () => api.get('/api/admin/stats'));

const initialState = {
  users: { items: [], page: 1, pages: 0, total: 0, status: 'idle' },
  events: { items: [], page: 1, pages: 0, total: 0, status: 'idle' },
  payments: { needsRefund: [], flagged: [], status: 'idle' },
  stats: { data: null, status: 'idle' },
  savingUserId: null,
};

function replaceUser(state, user) {
  state.users.items = state.users.items.map((u) => (u.id === user.id ? user : u));
}

const adminSlice = createSlice({
  name: 'admin',
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(fetchUsers.pending, (state, action) => {
        state.users.status = 'loading';
        state.users.requestId = action.meta.requestId;
      })
      .addCase(fetchUsers.fulfilled, (state, action) => {
        if (state.users.requestId !== action.meta.requestId) return;
        const { items, page, pages, total } = action.payload;
        Object.assign(state.users, { items, page, pages, total, status: 'succeeded' });
      })
      .addCase(fetchUsers.rejected, (state, action) => {
        if (state.users.requestId === action.meta.requestId) state.users.status = 'failed';
      })
      .addCase(saveRoles.pending, (state, action) => {
        state.savingUserId = action.meta.arg.id;
      })
      .addCase(saveRoles.fulfilled, (state, action) => {
        state.savingUserId = null;
        replaceUser(state, action.payload);
      })
      .addCase(saveRoles.rejected, (state) => {
        state.savingUserId = null;
      })
      .addCase(setUserActive.fulfilled, (state, action) => {
        replaceUser(state, action.payload);
      })
      .addCase(fetchAdminEvents.pending, (state) => {
        state.events.status = 'loading';
      })
      .addCase(fetchAdminEvents.fulfilled, (state, action) => {
        const { items, page, pages, total } = action.payload;
        Object.assign(state.events, { items, page, pages, total, status: 'succeeded' });
      })
      .addCase(fetchAdminEvents.rejected, (state) => {
        state.events.status = 'failed';
      })
      .addCase(fetchAttentionPayments.pending, (state) => {
        state.payments.status = 'loading';
      })
      .addCase(fetchAttentionPayments.fulfilled, (state, action) => {
        state.payments = { ...action.payload, status: 'succeeded' };
      })
      .addCase(fetchAttentionPayments.rejected, (state) => {
        state.payments.status = 'failed';
      })
      .addCase(refundPayment.fulfilled, (state, action) => {
        const p = action.payload;
        state.payments.needsRefund = state.payments.needsRefund.filter((x) => x.id !== p.id || p.needs_refund);
        state.payments.flagged = state.payments.flagged.map((x) => (x.id === p.id ? p : x));
      })
      .addCase(fetchPlatformStats.pending, (state) => {
        state.stats.status = 'loading';
      })
      .addCase(fetchPlatformStats.fulfilled, (state, action) => {
        state.stats = { data: action.payload, status: 'succeeded' };
      })
      .addCase(fetchPlatformStats.rejected, (state) => {
        state.stats.status = 'failed';
      })
      .addMatcher(isSessionChange, () => initialState);
  },
});

export default adminSlice.reducer;

export const selectAdmin = (state) => state.admin;
