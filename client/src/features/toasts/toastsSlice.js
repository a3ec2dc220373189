import { createListenerMiddleware, createSlice, isRejectedWithValue, nanoid } from '@reduxjs/toolkit';

const toastsSlice = createSlice({
  name: 'toasts',
  initialState: { items: [] },
  reducers: {
    toastAdded: {
      reducer(state, action) {
        // The same message twice in a row (e.g. two failed polls) shows once.
        if (state.items.some((t) => t.message === action.payload.message)) return;
        state.items.push(action.payload);
        if (state.items.length > 4) state.items.shift();
      },
      prepare({ message, kind = 'error' }) {
        return { payload: { id: nanoid(), message, kind } };
      },
    },
    toastDismissed(state, action) {
      state.items = state.items.filter((t) => t.id !== action.payload);
    },
  },
});

export const { toastAdded, toastDismissed } = toastsSlice.actions;
export default toastsSlice.reducer;

/** Every rejected API thunk shows the API's message as a toast, unless the thunk opted out. */
export const toastListener = createListenerMiddleware();
toastListener.startListening({
  matcher: isRejectedWithValue,
  effect(action, api) {
    const payload = action.payload;
    if (payload && payload.toast !== false && payload.message) {
      api.dispatch(toastAdded({ message: payload.message, kind: 'error' }));
    }
  },
});

export const selectToasts = (state) => state.toasts.items;
