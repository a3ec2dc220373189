import { configureStore } from '@reduxjs/toolkit';
import { setLogoutHandler } from '../api/client';
import authReducer, { sessionEnded } from '../features/auth/authSlice';
import eventsReducer from '../features/events/eventsSlice';
import ordersReducer from '../features/orders/ordersSlice';
import ticketsReducer from '../features/tickets/ticketsSlice';
import dashboardReducer from '../features/dashboard/dashboardSlice';
import checkinReducer from '../features/checkin/checkinSlice';
import adminReducer from '../features/admin/adminSlice';
import toastsReducer, { toastListener } from '../features/toasts/toastsSlice';

export const reducer = {
  auth: authReducer,
  events: eventsReducer,
  orders: ordersReducer,
  tickets: ticketsReducer,
  dashboard: dashboardReducer,
  checkin: checkinReducer,
  admin: adminReducer,
  toasts: toastsReducer,
};

export function makeStore(preloadedState) {
  const store = configureStore({
    reducer,
    preloadedState,
    middleware: (getDefault) => getDefault().prepend(toastListener.middleware),
  });
  // When the refresh token is refused the API module clears the tokens; the store forgets the user.
  setLogoutHandler(() => store.dispatch(sessionEnded()));
  return store;
}

export const store = makeStore();
