import { createSlice } from '@reduxjs/toolkit';
import { api, newIdempotencyKey } from '../../api/client';
import { createApiThunk } from '../../app/createApiThunk';
import { isSessionChange } from '../auth/authSlice';

/** The caller's orders, newest first. */
export const fetchOrders = createApiThunk('orders/fetchList', async ({ page = 1, status } = {}) =>
  api.get('/api/orders', { query: { page, status, per_page: 20 } }),
);

export const fetchOrder = createApiThunk('orders/fetchOne', async (id) => api.get(`/api/orders/${id}`));

/** Places an order; `items` is `[{ticket_type_id, quantity}]`. One idempotency key per click. */
export const createOrder = createApiThunk('orders/create', async ({ eventId, items, paymentMethod = 'mpesa' }) =>
  api.post(
    '/api/orders',
    { event_id: Number(eventId), items, payment_method: paymentMethod },
    { headers: { 'Idempotency-Key': newIdempotencyKey() } },
  ),
);

export const cancelOrder = createApiThunk('orders/cancel', async (id) => api.post(`/api/orders/${id}/cancel`));

/** Sends the STK push; the payer then confirms on their phone. */
export const startMpesaPayment = createApiThunk('orders/startMpesa', async ({ orderId, phone }) =>
  api.post(
    '/api/payments/mpesa/stk-push',
    { order_id: Number(orderId), phone: phone.trim() },
    { headers: { 'Idempotency-Key': newIdempotencyKey() } },
  ),
);

/** One poll of the payment. Poll failures are retried quietly; the page reports a timeout. */
export const pollPayment = createApiThunk('orders/pollPayment', async (paymentId) => api.get(`/api/payments/${paymentId}`), {
  toast: false,
});

/** Asks the provider for the status now (STK Push Query), used when waiting took too long. */
export const refreshPayment = createApiThunk('orders/refreshPayment', async (paymentId) =>
  api.post(`/api/payments/${paymentId}/refresh`),
);

/** Starts a Stripe Checkout session; the page then goes to `checkout_url`. */
export const startCardPayment = createApiThunk('orders/startCard', async ({ orderId }) =>
  api.post(
    '/api/payments/stripe/checkout',
    { order_id: Number(orderId) },
    { headers: { 'Idempotency-Key': newIdempotencyKey() } },
  ),
);

// M-Pesa result codes (Daraja) and what the payer should read.
const RESULT_MESSAGES = {
  1032: 'You cancelled the payment on your phone. No money was taken.',
  2001: 'The M-Pesa PIN was wrong. No money was taken — try again and enter your PIN carefully.',
  1: 'Your M-Pesa balance is not enough for this payment. Top up and try again.',
  1037: 'Your phone did not answer the payment request in time. Make sure it is on and unlocked, then try again.',
  1019: 'The payment request expired before it was completed. Try again.',
};

/** A clear sentence for a payment that did not go through. */
export function describePaymentFailure(payment) {
  if (!payment) return 'The payment did not go through. Try again.';
  const code = payment.result_code == null ? null : String(payment.result_code);
  if (code && RESULT_MESSAGES[code]) return RESULT_MESSAGES[code];
  if (payment.status === 'cancelled') return RESULT_MESSAGES[1032];
  const reason = payment.result_desc ? ` (${payment.result_desc})` : '';
  return `The payment failed${reason}. No money was taken. Try again or use another method.`;
}

export const TIMEOUT_MESSAGE =
  'We have not heard back from M-Pesa yet. If you approved the payment, your tickets will appear in My tickets shortly; otherwise try again.';

const FINAL_FAILURES = ['failed', 'cancelled'];

const initialPayment = { phase: 'idle', paymentId: null, message: null, customerMessage: null };

const initialState = {
  list: { items: [], page: 1, pages: 0, total: 0, status: 'idle' },
  current: { order: null, status: 'idle', error: null },
  payment: initialPayment,
  creating: false,
};

function applyPayment(state, payment) {
  const pay = state.payment;
  if (payment.status === 'confirmed') {
    pay.phase = 'confirmed';
    pay.message = null;
  } else if (FINAL_FAILURES.includes(payment.status)) {
    pay.phase = 'failed';
    pay.message = describePaymentFailure(payment);
  }
}

const ordersSlice = createSlice({
  name: 'orders',
  initialState,
  reducers: {
    paymentReset(state) {
      state.payment = initialPayment;
    },
    /** Back from Stripe Checkout (or a reload): follow that payment until it settles. */
    paymentResumed(state, action) {
      state.payment = { ...initialPayment, phase: 'waiting', paymentId: Number(action.payload.paymentId), provider: action.payload.provider ?? null };
    },
    paymentTimedOut(state) {
      if (state.payment.phase === 'waiting') {
        state.payment.phase = 'timeout';
        state.payment.message = TIMEOUT_MESSAGE;
      }
    },
  },
  extraReducers: (builder) => {
    builder
      .addCase(fetchOrders.pending, (state) => {
        state.list.status = 'loading';
      })
      .addCase(fetchOrders.fulfilled, (state, action) => {
        const { items, page, pages, total } = action.payload;
        Object.assign(state.list, { items, page, pages, total, status: 'succeeded' });
      })
      .addCase(fetchOrders.rejected, (state) => {
        state.list.status = 'failed';
      })
      .addCase(fetchOrder.pending, (state, action) => {
        if (String(state.current.order?.id) !== String(action.meta.arg)) state.current.order = null;
        state.current.status = 'loading';
        state.current.error = null;
      })
      .addCase(fetchOrder.fulfilled, (state, action) => {
        state.current.order = action.payload;
        state.current.status = 'succeeded';
      })
      .addCase(fetchOrder.rejected, (state, action) => {
        state.current.status = 'failed';
        state.current.error = action.payload;
      })
      .addCase(createOrder.pending, (state) => {
        state.creating = true;
      })
      .addCase(createOrder.fulfilled, (state, action) => {
        state.creating = false;
        state.current = { order: action.payload, status: 'succeeded', error: null };
        state.payment = initialPayment;
      })
      .addCase(createOrder.rejected, (state) => {
        state.creating = false;
      })
      .addCase(cancelOrder.fulfilled, (state, action) => {
        const order = action.payload;
        state.list.items = state.list.items.map((o) => (o.id === order.id ? order : o));
        if (state.current.order?.id === order.id) state.current.order = order;
      })
      .addCase(startMpesaPayment.pending, (state) => {
        state.payment = { ...initialPayment, phase: 'starting' };
      })
      .addCase(startMpesaPayment.fulfilled, (state, action) => {
        state.payment.phase = 'waiting';
        state.payment.provider = 'mpesa';
        state.payment.paymentId = action.payload.payment_id;
        state.payment.customerMessage = action.payload.customer_message ?? null;
      })
      .addCase(startMpesaPayment.rejected, (state, action) => {
        state.payment.phase = 'idle';
        state.payment.message = action.payload?.message ?? null;
      })
      .addCase(pollPayment.fulfilled, (state, action) => {
        if (state.payment.paymentId !== action.payload.id) return;
        if (!['waiting', 'timeout'].includes(state.payment.phase)) return;
        applyPayment(state, action.payload);
      })
      .addCase(refreshPayment.fulfilled, (state, action) => {
        if (state.payment.paymentId !== action.payload.id) return;
        applyPayment(state, action.payload);
      })
      .addCase(startCardPayment.pending, (state) => {
        state.payment = { ...initialPayment, phase: 'redirecting' };
      })
      .addCase(startCardPayment.rejected, (state) => {
        state.payment.phase = 'idle';
      })
      .addMatcher(isSessionChange, () => initialState);
  },
});

export const { paymentReset, paymentResumed, paymentTimedOut } = ordersSlice.actions;
export default ordersSlice.reducer;

export const selectOrderList = (state) => state.orders.list;
export const selectCurrentOrder = (state) => state.orders.current;
export const selectPayment = (state) => state.orders.payment;
export const selectCreatingOrder = (state) => state.orders.creating;
