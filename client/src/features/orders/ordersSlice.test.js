import { beforeEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError } from '../../api/client';
import { makeStore } from '../../app/store';
import reducer, {
  cancelOrder,
  createOrder,
  describePaymentFailure,
  fetchOrders,
  paymentTimedOut,
  pollPayment,
  startMpesaPayment,
  TIMEOUT_MESSAGE,
} from './ordersSlice';

vi.mock('../../api/client', async (importOriginal) => (await import('../../test/mockApi')).mockApiModule(importOriginal));

const ORDER = { id: 31, status: 'pending', items: [], total: '2500.00', currency: 'KES', tickets: [] };

async function waitingStore() {
  const store = makeStore();
  api.post.mockResolvedValueOnce({ payment_id: 9, status: 'pending', customer_message: 'Success. Request accepted for processing' });
  await store.dispatch(startMpesaPayment({ orderId: '31', phone: ' 0712345678 ' }));
  return store;
}

describe('orders slice', () => {
  beforeEach(() => vi.clearAllMocks());

  it('createOrder posts the items with an Idempotency-Key and becomes the current order', async () => {
    api.post.mockResolvedValueOnce(ORDER);
    const store = makeStore();

    const pending = store.dispatch(createOrder({ eventId: '5', items: [{ ticket_type_id: 2, quantity: 1 }] }));
    expect(store.getState().orders.creating).toBe(true);
    await pending;

    expect(api.post).toHaveBeenCalledWith(
      '/api/orders',
      { event_id: 5, items: [{ ticket_type_id: 2, quantity: 1 }], payment_method: 'mpesa' },
      { headers: { 'Idempotency-Key': 'idem-key-1' } },
    );
    expect(store.getState().orders.current.order).toEqual(ORDER);
    expect(store.getState().orders.creating).toBe(false);
  });

  it('a sold-out order is rejected with its details and shown as a toast', async () => {
    api.post.mockRejectedValueOnce(
      new ApiError({ status: 409, code: 'sold_out', message: 'Only 1 ticket left.', details: { ticket_type_id: 2, available: 1 } }),
    );
    const store = makeStore();

    const action = await store.dispatch(createOrder({ eventId: 5, items: [{ ticket_type_id: 2, quantity: 3 }] }));

    expect(action.payload).toMatchObject({ code: 'sold_out', details: { available: 1 } });
    expect(store.getState().toasts.items.map((t) => t.message)).toEqual(['Only 1 ticket left.']);
  });

  it('the STK push moves to waiting with the payment id', async () => {
    const store = await waitingStore();
    expect(api.post).toHaveBeenCalledWith(
      '/api/payments/mpesa/stk-push',
      { order_id: 31, phone: '0712345678' },
      { headers: { 'Idempotency-Key': 'idem-key-1' } },
    );
    expect(store.getState().orders.payment).toMatchObject({ phase: 'waiting', paymentId: 9, provider: 'mpesa' });
  });

  it('polling: pending keeps waiting, confirmed ends in success', async () => {
    const store = await waitingStore();
    api.get.mockResolvedValueOnce({ id: 9, status: 'pending' }).mockResolvedValueOnce({ id: 9, status: 'confirmed', receipt: 'QK12' });

    await store.dispatch(pollPayment(9));
    expect(store.getState().orders.payment.phase).toBe('waiting');
    await store.dispatch(pollPayment(9));

    expect(api.get).toHaveBeenCalledWith('/api/payments/9');
    expect(store.getState().orders.payment).toMatchObject({ phase: 'confirmed', message: null });
  });

  it.each([
    [{ status: 'cancelled', result_code: '1032' }, /cancelled the payment/],
    [{ status: 'failed', result_code: '2001' }, /PIN was wrong/],
    [{ status: 'failed', result_code: '1' }, /balance is not enough/],
    [{ status: 'failed', result_code: '1037' }, /did not answer/],
    [{ status: 'failed', result_code: '2028', result_desc: 'Not permitted' }, /payment failed \(Not permitted\)/],
  ])('a %o payment fails with a clear message', async (payment, message) => {
    const store = await waitingStore();
    api.get.mockResolvedValueOnce({ id: 9, ...payment });

    await store.dispatch(pollPayment(9));

    expect(store.getState().orders.payment.phase).toBe('failed');
    expect(store.getState().orders.payment.message).toMatch(message);
  });

  it('a poll for another payment changes nothing; a failed poll shows no toast', async () => {
    const store = await waitingStore();
    api.get.mockResolvedValueOnce({ id: 77, status: 'confirmed' });
    await store.dispatch(pollPayment(77));
    expect(store.getState().orders.payment.phase).toBe('waiting');

    api.get.mockRejectedValueOnce(new ApiError({ status: 0, code: 'network_error', message: 'offline' }));
    await store.dispatch(pollPayment(9));
    expect(store.getState().orders.payment.phase).toBe('waiting');
    expect(store.getState().toasts.items).toEqual([]);
  });

  it('paymentTimedOut only applies while waiting', () => {
    const waiting = reducer(undefined, { type: startMpesaPayment.fulfilled.type, payload: { payment_id: 3 } });
    const timedOut = reducer(waiting, paymentTimedOut());
    expect(timedOut.payment).toMatchObject({ phase: 'timeout', message: TIMEOUT_MESSAGE });
    const idle = reducer(undefined, paymentTimedOut());
    expect(idle.payment.phase).toBe('idle');
  });

  it('a refused STK push (bad phone) goes back to the form with the message', async () => {
    api.post.mockRejectedValueOnce(
      new ApiError({ status: 422, code: 'validation_error', message: 'Invalid fields.', fields: { phone: ['Not a Kenyan mobile number.'] } }),
    );
    const store = makeStore();
    const action = await store.dispatch(startMpesaPayment({ orderId: 31, phone: '123' }));
    expect(action.payload.fields.phone).toEqual(['Not a Kenyan mobile number.']);
    expect(store.getState().orders.payment).toMatchObject({ phase: 'idle', message: 'Invalid fields.' });
  });

  it('cancelOrder replaces the order in the list', async () => {
    const store = makeStore();
    api.get.mockResolvedValueOnce({ items: [ORDER, { ...ORDER, id: 32 }], page: 1, pages: 1, total: 2 });
    await store.dispatch(fetchOrders());
    api.post.mockResolvedValueOnce({ ...ORDER, status: 'cancelled' });

    await store.dispatch(cancelOrder(31));

    expect(api.post).toHaveBeenCalledWith('/api/orders/31/cancel');
    expect(store.getState().orders.list.items.map((o) => o.status)).toEqual(['cancelled', 'pending']);
  });

  it('describePaymentFailure falls back to a generic sentence', () => {
    expect(describePaymentFailure(null)).toMatch(/did not go through/);
    expect(describePaymentFailure({ status: 'cancelled' })).toMatch(/cancelled/);
    expect(describePaymentFailure({ status: 'failed' })).toMatch(/^The payment failed\. No money was taken/);
  });
});
