import { createSlice } from '@reduxjs/toolkit';
import { api } from '../../api/client';
import { createApiThunk } from '../../app/createApiThunk';
import { saveBlob } from '../../app/download';
import { isSessionChange } from '../auth/authSlice';

/** Form thunks: a 422 with field messages is shown next to the inputs, not as a toast. */
const toastUnlessFieldErrors = (err) => err.status !== 422 || !err.fields;

/** The organizer's events with their sales figures, and the totals. */
export const fetchDashboard = createApiThunk('dashboard/fetch', async () => api.get('/api/dashboard'));

/** Creates an event with its tiers in one request. */
export const createEvent = createApiThunk('dashboard/createEvent', async (event) => api.post('/api/events', event), {
  toast: toastUnlessFieldErrors,
});

/**
 * Saves an edited event: the event's own fields, then each changed tier (PATCH) and each new
 * tier (POST). Returns the event as it now stands.
 */
export const updateEvent = createApiThunk(
  'dashboard/updateEvent',
  async ({ id, changes, tiers = [] }) => {
    if (Object.keys(changes).length) await api.patch(`/api/events/${id}`, changes);
    for (const tier of tiers) {
      const { id: tierId, ...fields } = tier;
      if (tierId) await api.patch(`/api/ticket-types/${tierId}`, fields);
      else await api.post(`/api/events/${id}/ticket-types`, fields);
    }
    return api.get(`/api/events/${id}`);
  },
  { toast: toastUnlessFieldErrors },
);

/** The full event (drafts included for their owner), to fill the edit form. */
export const fetchEventForEdit = createApiThunk('dashboard/fetchEventForEdit', async (id) => api.get(`/api/events/${id}`));

export const fetchEventStats = createApiThunk('dashboard/fetchStats', async (id) => api.get(`/api/events/${id}/stats`));

export const fetchStaff = createApiThunk('dashboard/fetchStaff', async (id) => api.get(`/api/events/${id}/staff`));

export const saveStaff = createApiThunk(
  'dashboard/saveStaff',
  async ({ id, emails }) => api.put(`/api/events/${id}/staff`, { emails }),
  { toast: toastUnlessFieldErrors },
);

/** Downloads the attendee list as CSV (fetched with the token, then saved from a blob). */
export const downloadAttendees = createApiThunk('dashboard/downloadAttendees', async ({ id, title }) => {
  const blob = await api.get(`/api/events/${id}/attendees`, { query: { format: 'csv' }, responseType: 'blob' });
  const slug = (title || `event-${id}`).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  saveBlob(blob, `attendees-${slug || id}.csv`);
  return { id };
});

const initialState = {
  events: [],
  totals: null,
  status: 'idle',
  stats: {}, // event id → { data, status }
  staff: {}, // event id → { items, status }
  saving: false,
};

const dashboardSlice = createSlice({
  name: 'dashboard',
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(fetchDashboard.pending, (state) => {
        state.status = 'loading';
      })
      .addCase(fetchDashboard.fulfilled, (state, action) => {
        state.events = action.payload.events;
        state.totals = action.payload.totals;
        state.status = 'succeeded';
      })
      .addCase(fetchDashboard.rejected, (state) => {
        state.status = 'failed';
      })
      .addCase(createEvent.pending, (state) => {
        state.saving = true;
      })
      .addCase(createEvent.fulfilled, (state, action) => {
        state.saving = false;
        const e = action.payload;
        state.events.unshift({
          id: e.id,
          title: e.title,
          starts_at: e.starts_at,
          status: e.status,
          tickets_sold: 0,
          tickets_total: e.tickets_total,
          revenue: '0.00',
          currency: e.currency,
          checked_in: 0,
        });
      })
      .addCase(createEvent.rejected, (state) => {
        state.saving = false;
      })
      .addCase(updateEvent.pending, (state) => {
        state.saving = true;
      })
      .addCase(updateEvent.fulfilled, (state, action) => {
        state.saving = false;
        const e = action.payload;
        state.events = state.events.map((row) =>
          row.id === e.id ? { ...row, title: e.title, starts_at: e.starts_at, status: e.status, tickets_total: e.tickets_total } : row,
        );
      })
      .addCase(updateEvent.rejected, (state) => {
        state.saving = false;
      })
      .addCase(fetchEventStats.pending, (state, action) => {
        const id = action.meta.arg;
        state.stats[id] = { data: state.stats[id]?.data ?? null, status: 'loading' };
      })
      .addCase(fetchEventStats.fulfilled, (state, action) => {
        state.stats[action.meta.arg] = { data: action.payload, status: 'succeeded' };
      })
      .addCase(fetchEventStats.rejected, (state, action) => {
        state.stats[action.meta.arg] = { data: null, status: 'failed' };
      })
      .addCase(fetchStaff.fulfilled, (state, action) => {
        state.staff[action.meta.arg] = { items: action.payload, status: 'succeeded' };
      })
      .addCase(saveStaff.fulfilled, (state, action) => {
        state.staff[action.meta.arg.id] = { items: action.payload, status: 'succeeded' };
      })
      .addMatcher(isSessionChange, () => initialState);
  },
});

export default dashboardSlice.reducer;

export const selectDashboard = (state) => state.dashboard;
export const selectEventStats = (id) => (state) => state.dashboard.stats[id];
export const selectStaff = (id) => (state) => state.dashboard.staff[id];
