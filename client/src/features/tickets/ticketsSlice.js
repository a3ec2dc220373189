import { createSlice } from '@reduxjs/toolkit';
import { api } from '../../api/client';
import { createApiThunk } from '../../app/createApiThunk';
import { isSessionChange } from '../auth/authSlice';

/** The caller's tickets (100 at most: a person rarely holds more). */
export const fetchTickets = createApiThunk('tickets/fetchList', async ({ status } = {}) =>
  api.get('/api/tickets', { query: { status, per_page: 100 } }),
);

export const renameTicket = createApiThunk('tickets/rename', async ({ id, holderName }) =>
  api.patch(`/api/tickets/${id}`, { holder_name: holderName }),
);

/** Gives the ticket to another registered user; it leaves this list. */
export const transferTicket = createApiThunk('tickets/transfer', async ({ id, email }) =>
  api.post(`/api/tickets/${id}/transfer`, { email: email.trim() }),
);

/** The ticket's QR code as an SVG blob (fetched with the token, so no plain <img src>). */
export function fetchTicketQr(id, { signal } = {}) {
  return api.get(`/api/tickets/${id}/qr`, { query: { format: 'svg' }, responseType: 'blob', signal });
}

const initialState = { items: [], total: 0, status: 'idle', error: null };

const ticketsSlice = createSlice({
  name: 'tickets',
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(fetchTickets.pending, (state) => {
        state.status = 'loading';
        state.error = null;
      })
      .addCase(fetchTickets.fulfilled, (state, action) => {
        state.items = action.payload.items;
        state.total = action.payload.total;
        state.status = 'succeeded';
      })
      .addCase(fetchTickets.rejected, (state, action) => {
        state.status = 'failed';
        state.error = action.payload;
      })
      .addCase(renameTicket.fulfilled, (state, action) => {
        const ticket = action.payload;
        state.items = state.items.map((t) => (t.id === ticket.id ? { ...t, ...ticket } : t));
      })
      .addCase(transferTicket.fulfilled, (state, action) => {
        state.items = state.items.filter((t) => t.id !== action.meta.arg.id);
        state.total = Math.max(0, state.total - 1);
      })
      .addMatcher(isSessionChange, () => initialState);
  },
});

export default ticketsSlice.reducer;

export const selectTickets = (state) => state.tickets;
