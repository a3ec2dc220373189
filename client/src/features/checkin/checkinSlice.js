import { createSlice, nanoid } from '@reduxjs/toolkit';
import { api, ApiError } from '../../api/client';
import { createApiThunk } from '../../app/createApiThunk';
import { isSessionChange } from '../auth/authSlice';

const DEVICE_KEY = 'ticksy.gate_device_id';

/** A stable id for this browser, so the server's scan log can tell gates apart. */
function deviceId() {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = `web-${nanoid(10)}`;
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return undefined;
  }
}

/**
 * Events to choose at the gate: the ones the API says this user runs (owned or staffed; every
 * one for an admin), published and not long over, soonest first.
 */
export const fetchGateEvents = createApiThunk('checkin/fetchEvents', async () => {
  const page = await api.get('/api/checkin/events', { query: { per_page: 100 } });
  return page.items.map((e) => ({ id: e.id, title: e.title, starts_at: e.starts_at }));
});

/**
 * Checks one code in. The gate's refusals (used, void, invalid, not staff) are results to show,
 * not failures; only other errors (network, server) reject.
 */
export const checkIn = createApiThunk('checkin/scan', async ({ code }) => {
  const trimmed = code.trim();
  try {
    const body = await api.post('/api/checkin', { code: trimmed, device_id: deviceId() });
    return { kind: 'admitted', ticket: body.ticket };
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.code === 'already_checked_in') return { kind: 'used', details: err.details, message: err.message };
    if (err.code === 'ticket_void') return { kind: 'void', message: err.message };
    if (err.status === 403) return { kind: 'forbidden', message: err.message };
    if (err.status === 404 || err.status === 422 || err.code === 'invalid_ticket') {
      return { kind: 'invalid', message: err.message };
    }
    throw err;
  }
});

export const fetchCheckinStats = createApiThunk(
  'checkin/fetchStats',
  async (eventId) => api.get(`/api/events/${eventId}/checkin-stats`),
  { toast: false },
);

const initialState = {
  events: [],
  eventsStatus: 'idle',
  eventId: '',
  scanning: false,
  result: null, // { id, kind, ticket?, details?, message?, at }
  history: [],
  stats: null,
};

const checkinSlice = createSlice({
  name: 'checkin',
  initialState,
  reducers: {
    eventChosen(state, action) {
      state.eventId = String(action.payload ?? '');
      state.stats = null;
      state.result = null;
    },
    resultCleared(state) {
      state.result = null;
    },
  },
  extraReducers: (builder) => {
    builder
      .addCase(fetchGateEvents.pending, (state) => {
        state.eventsStatus = 'loading';
      })
      .addCase(fetchGateEvents.fulfilled, (state, action) => {
        state.events = action.payload;
        state.eventsStatus = 'succeeded';
      })
      .addCase(fetchGateEvents.rejected, (state) => {
        state.eventsStatus = 'failed';
      })
      .addCase(checkIn.pending, (state) => {
        state.scanning = true;
      })
      .addCase(checkIn.fulfilled, (state, action) => {
        state.scanning = false;
        const result = { id: action.meta.requestId, at: new Date().toISOString(), ...action.payload };
        state.result = result;
        state.history = [result, ...state.history].slice(0, 10);
      })
      .addCase(checkIn.rejected, (state) => {
        state.scanning = false;
      })
      .addCase(fetchCheckinStats.fulfilled, (state, action) => {
        if (String(action.meta.arg) === state.eventId) state.stats = action.payload;
      })
      .addCase(fetchCheckinStats.rejected, (state, action) => {
        if (String(action.meta.arg) === state.eventId) state.stats = null;
      })
      .addMatcher(isSessionChange, () => initialState);
  },
});

export const { eventChosen, resultCleared } = checkinSlice.actions;
export default checkinSlice.reducer;

export const selectCheckin = (state) => state.checkin;
