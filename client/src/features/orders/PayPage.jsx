import { useEffect, useRef, useState } from 'react';
import { useDispatch, useSelector } from 'react-redux';
import { Link, useParams, useSearchParams } from 'react-router';
import EmptyState from '../../components/EmptyState';
import Field, { fieldErrors } from '../../components/Field';
import Loading from '../../components/Loading';
import { dateTime, money, statusLabel } from '../../app/format';
import { selectUser } from '../auth/authSlice';
import {
  cancelOrder,
  fetchOrder,
  paymentReset,
  paymentResumed,
  paymentTimedOut,
  pollPayment,
  refreshPayment,
  selectCurrentOrder,
  selectPayment,
  startCardPayment,
  startMpesaPayment,
} from './ordersSlice';

const POLL_MS = 2500;
const WAIT_LIMIT_MS = 90000;

/** Polls the payment while waiting; after the limit asks the provider once, then gives up. */
function usePaymentPolling(payment, orderId) {
  const dispatch = useDispatch();
  const started = useRef(0);
  useEffect(() => {
    if (payment.phase !== 'waiting' || !payment.paymentId) return undefined;
    started.current = Date.now();
    let stopped = false;
    const timer = setInterval(async () => {
      if (stopped) return;
      if (Date.now() - started.current > WAIT_LIMIT_MS) {
        clearInterval(timer);
        await dispatch(refreshPayment(payment.paymentId));
        dispatch(paymentTimedOut());
        return;
      }
      dispatch(pollPayment(payment.paymentId));
    }, POLL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [dispatch, payment.phase, payment.paymentId]);

  // The order gains its tickets once the payment is confirmed.
  useEffect(() => {
    if (payment.phase === 'confirmed') dispatch(fetchOrder(orderId));
  }, [dispatch, payment.phase, orderId]);
}

function OrderSummary({ order }) {
  return (
    <section className="card" aria-labelledby="summary-heading">
      <h2 id="summary-heading">Order #{order.id}</h2>
      <p>
        <strong>{order.event?.title}</strong>
        <br />
        <span className="meta">{dateTime(order.event?.starts_at)}</span>
      </p>
      <ul className="order-items">
        {order.items.map((item) => (
          <li key={item.ticket_type_id}>
            {item.quantity} × {item.name} <span>{money(item.subtotal, order.currency)}</span>
          </li>
        ))}
      </ul>
      <p className="total">
        Total <strong>{money(order.total, order.currency)}</strong>
      </p>
      <p className="meta">
        Status: <span className={`status status-${order.status}`}>{statusLabel(order.status)}</span>
        {order.status === 'pending' && order.expires_at && <> · reserved until {dateTime(order.expires_at)}</>}
      </p>
    </section>
  );
}

function Success() {
  return (
    <div className="result result-ok" role="status" aria-live="polite">
      <p className="result-title">Payment received</p>
      <p>Your tickets are ready. Show the QR code at the gate.</p>
      <Link className="button" to="/tickets">
        View my tickets
      </Link>
    </div>
  );
}

export default function PayPage() {
  const { id } = useParams();
  const [search] = useSearchParams();
  const dispatch = useDispatch();
  const user = useSelector(selectUser);
  const { order, status, error } = useSelector(selectCurrentOrder);
  const payment = useSelector(selectPayment);
  const [phone, setPhone] = useState(user?.phone ?? '');
  const [formError, setFormError] = useState(null);

  useEffect(() => {
    dispatch(fetchOrder(id));
  }, [dispatch, id]);

  // Back from Stripe Checkout: /orders/:id?payment=…&session_id=… (or &cancelled=1).
  const returnedPayment = search.get('payment');
  const cardCancelled = search.get('cancelled') === '1';
  useEffect(() => {
    if (returnedPayment && !cardCancelled) dispatch(paymentResumed({ paymentId: returnedPayment, provider: 'stripe' }));
    else dispatch(paymentReset());
  }, [dispatch, returnedPayment, cardCancelled]);

  usePaymentPolling(payment, id);

  if (status === 'failed' && !order) {
    return (
      <section className="page narrow">
        <EmptyState title={error?.status === 404 ? 'This order does not exist.' : 'The order could not be loaded.'}>
          <Link to="/orders">My orders</Link>
        </EmptyState>
      </section>
    );
  }
  if (!order || String(order.id) !== String(id)) return <Loading label="Loading order" />;

  async function onMpesa(e) {
    e.preventDefault();
    setFormError(null);
    const result = await dispatch(startMpesaPayment({ orderId: order.id, phone }));
    if (startMpesaPayment.rejected.match(result)) {
      setFormError(result.payload);
      if (result.payload?.code === 'order_not_payable') dispatch(fetchOrder(id));
    }
  }

  async function onCard() {
    setFormError(null);
    const result = await dispatch(startCardPayment({ orderId: order.id }));
    if (startCardPayment.fulfilled.match(result) && result.payload.checkout_url) {
      window.location.assign(result.payload.checkout_url);
    } else if (startCardPayment.rejected.match(result)) {
      setFormError(result.payload);
    }
  }

  const paid = order.status === 'paid' || payment.phase === 'confirmed';
  const payable = order.status === 'pending' && !paid;
  const waiting = payment.phase === 'waiting';

  let body;
  if (paid) {
    body = <Success />;
  } else if (waiting) {
    body = (
      <div className="result result-wait" role="status" aria-live="polite">
        <span className="spinner" aria-hidden="true" />
        {payment.provider === 'stripe' ? (
          <p className="result-title">Confirming your card payment…</p>
        ) : (
          <>
            <p className="result-title">Check your phone</p>
            <p>{payment.customerMessage || 'Enter your M-Pesa PIN on the prompt we sent to confirm the payment.'}</p>
            <p className="hint">This page updates by itself when M-Pesa confirms.</p>
          </>
        )}
      </div>
    );
  } else if (payment.phase === 'failed' || payment.phase === 'timeout') {
    body = (
      <div className={`result ${payment.phase === 'failed' ? 'result-bad' : 'result-warn'}`} role="status" aria-live="polite">
        <p className="result-title">{payment.phase === 'failed' ? 'Payment not completed' : 'Still waiting for M-Pesa'}</p>
        <p>{payment.message}</p>
        {payable && (
          <button type="button" onClick={() => dispatch(paymentReset())}>
            Try again
          </button>
        )}
      </div>
    );
  } else if (payable) {
    body = (
      <>
        {cardCancelled && (
          <p className="result result-warn" role="status">
            The card payment was cancelled. You can try again or pay with M-Pesa.
          </p>
        )}
        <form className="card form" onSubmit={onMpesa} noValidate>
          <h2>Pay with M-Pesa</h2>
          <Field
            label="M-Pesa phone number"
            name="phone"
            type="tel"
            inputMode="tel"
            autoComplete="tel"
            placeholder="07XX XXX XXX"
            required
            value={phone}
            onChange={(e) => setPhone(e.target.value)}
            errors={fieldErrors(formError?.fields, 'phone')}
            hint="We send a payment prompt to this phone."
          />
          {formError && !formError.fields?.phone && (
            <p className="form-error" role="alert">
              {formError.message}
            </p>
          )}
          <button type="submit" disabled={!phone.trim() || payment.phase === 'starting'}>
            {payment.phase === 'starting' ? 'Sending prompt…' : 'Pay with M-Pesa'}
          </button>
        </form>
        <div className="card">
          <h2>Pay by card</h2>
          <p className="hint">You will be taken to a secure card payment page.</p>
          <button type="button" className="secondary" onClick={onCard} disabled={payment.phase === 'redirecting'}>
            {payment.phase === 'redirecting' ? 'Opening card payment…' : 'Pay by card'}
          </button>
        </div>
        <p>
          <button
            type="button"
            className="link danger"
            onClick={() => {
              if (window.confirm('Cancel this order and release the tickets?')) dispatch(cancelOrder(order.id));
            }}
          >
            Cancel order
          </button>
        </p>
      </>
    );
  } else {
    body = (
      <EmptyState title={`This order is ${statusLabel(order.status).toLowerCase()} and cannot be paid.`}>
        <Link to={`/events/${order.event?.id}`}>Back to the event</Link>
      </EmptyState>
    );
  }

  return (
    <section className="page narrow">
      <h1>{paid ? 'Order paid' : 'Checkout'}</h1>
      <OrderSummary order={order} />
      {body}
    </section>
  );
}
