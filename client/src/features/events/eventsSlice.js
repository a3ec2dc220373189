import { createSlice } from '@reduxjs/toolkit';
import { api } from '../../api/client';
import { createApiThunk } from '../../app/createApiThunk';

export const PER_PAGE = 12;

/** Published events matching the filters (`q`, `category`, `city`, `page`). */
export const fetchEvents = createApiThunk('events/fetchList', async ({ q, category, city, page = 1 } = {}) =>
  api.get('/api/events', { query: { q, category, city, page, per_page: PER_PAGE } }),
);

/** One event with its ticket types. */
export const fetchEvent = createApiThunk('events/fetchOne', async (id) => api.get(`/api/events/${id}`));

/** The first page of an event's reviews, with the rating summary. */
export const fetchReviews = createApiThunk(
  'events/fetchReviews',
  async (id) => api.get(`/api/events/${id}/reviews`, { query: { per_page: 20 } }),
  { toast: false },
);

const initialState = {
  list: { items: [], page: 1, pages: 0, total: 0, status: 'idle', error: null },
  detail: { id: null, event: null, status: 'idle', error: null },
  reviews: { eventId: null, items: [], summary: null, status: 'idle' },
};

const eventsSlice = createSlice({
  name: 'events',
  initialState,
  reducers: {},
  extraReducers: (builder) => {
    builder
      .addCase(fetchEvents.pending, (state, action) => {
        state.list.status = 'loading';
        state.list.error = null;
        state.list.requestId = action.meta.requestId;
      })
      .addCase(fetchEvents.fulfilled, (state, action) => {
        // Typing fast starts several searches: only the latest one may fill the list.
        if (state.list.requestId !== action.meta.requestId) return;
        const { items, page, pages, total } = action.payload;
        Object.assign(state.list, { items, page, pages, total, status: 'succeeded' });
      })
      .addCase(fetchEvents.rejected, (state, action) => {
        if (state.list.requestId !== action.meta.requestId) return;
        state.list.status = 'failed';
        state.list.error = action.payload;
      })
      .addCase(fetchEvent.pending, (state, action) => {
        if (String(state.detail.id) !== String(action.meta.arg)) state.detail.event = null;
        state.detail.id = action.meta.arg;
        state.detail.status = 'loading';
        state.detail.error = null;
      })
      .addCase(fetchEvent.fulfilled, (state, action) => {
        state.detail.event = action.payload;
        state.detail.status = 'succeeded';
      })
      .addCase(fetchEvent.rejected, (state, action) => {
        state.detail.status = 'failed';
        state.detail.error = action.payload;
      })
      .addCase(fetchReviews.pending, (state, action) => {
        if (String(state.reviews.eventId) !== String(action.meta.arg)) {
          state.reviews.items = [];
          state.reviews.summary = null;
        }
        state.reviews.eventId = action.meta.arg;
        state.reviews.status = 'loading';
      })
      .addCase(fetchReviews.fulfilled, (state, action) => {
        state.reviews.items = action.payload.items;
        state.reviews.summary = action.payload.summary;
        state.reviews.status = 'succeeded';
      })
      .addCase(fetchReviews.rejected, (state) => {
        state.reviews.status = 'failed';
      });
  },
});

export default eventsSlice.reducer;

export const selectEventList = (state) => state.events.list;
export const selectEventDetail = (state) => state.events.detail;
export const selectReviews = (state) => state.events.reviews;
