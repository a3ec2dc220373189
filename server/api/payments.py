"""Payments: M-Pesa STK Push and its callback, Stripe Checkout and its webhook."""
from flask import request
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.order import IdempotencyHeader
from server.schemas.payment import (CallbackAck, CheckoutIn, CheckoutOut, PaymentOut, StkPushIn,
                                    StkPushOut, WebhookAck)
from server.platform.security import auth_required
from server.services import payments

blp = Blueprint("payments", __name__, url_prefix="/api/payments", description="Payments")


@blp.post("/mpesa/stk-push")
@auth_required()
@blp.arguments(StkPushIn)
@blp.arguments(IdempotencyHeader, location="headers")
@blp.response(202, StkPushOut)
def stk_push(data, headers):
    """Prompt the payer's phone to pay a pending order; the result arrives later."""
    return payments.start_stk_push(user=current_user, order_id=data["order_id"],
                                   phone=data["phone"],
                                   idempotency_key=headers.get("idempotency_key"))


@blp.post("/mpesa/callback/<string:token>")
@blp.response(200, CallbackAck)
def mpesa_callback(token):
    """Daraja's STK callback (the URL's token identifies the payment); verified before use."""
    payments.handle_callback(token=token, raw=request.get_data(),
                             remote_addr=request.remote_addr)
    return {"ResultCode": 0, "ResultDesc": "Accepted"}


@blp.post("/stripe/checkout")
@auth_required()
@blp.arguments(CheckoutIn)
@blp.arguments(IdempotencyHeader, location="headers")
@blp.response(201, CheckoutOut)
def stripe_checkout(data, headers):
    """A Stripe Checkout Session for a pending order; the buyer pays at `checkout_url`."""
    return payments.start_checkout(user=current_user, order_id=data["order_id"],
                                   idempotency_key=headers.get("idempotency_key"))


@blp.post("/stripe/webhook")
@blp.response(200, WebhookAck)
def stripe_webhook():
    """Stripe's events, signature-verified and de-duplicated."""
    result = payments.handle_webhook(payload=request.get_data(),
                                     signature=request.headers.get("Stripe-Signature"))
    return {"received": True, "result": result}


@blp.get("/<int:payment_id>")
@auth_required()
@blp.response(200, PaymentOut)
def get_payment(payment_id):
    """One payment attempt (the buyer who started it, admins)."""
    return payments.get_payment(payment_id=payment_id, viewer=current_user)


@blp.post("/<int:payment_id>/refresh")
@auth_required()
@blp.response(200, PaymentOut)
def refresh_payment(payment_id):
    """Ask the provider for the payment's status now."""
    return payments.refresh_payment(payment_id=payment_id, viewer=current_user)
