"""STK push callbacks: parsing Safaricom's JSON and classifying result codes."""
from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

MAX_ID_LENGTH = 64


class MalformedCallback(ValueError):
    """The body is not an STK callback (answer 400 and keep the raw body)."""


@dataclass(frozen=True)
class StkCallback:
    """The fields of an STK callback; numbers other than the amount are kept as strings."""

    checkout_request_id: str
    merchant_request_id: str | None
    result_code: str
    result_desc: str | None
    amount: Decimal | None
    receipt: str | None
    phone: str | None
    transaction_date: str | None

    @property
    def is_success(self) -> bool:
        """Whether the payer paid (to be confirmed by a query before fulfilling)."""
        return self.result_code == "0"


class Outcome(str, enum.Enum):
    """What a result code means for the payment."""

    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    PENDING = "pending"
    UNKNOWN = "unknown"


_FAILED = frozenset({"1", "2", "3", "4", "8", "17", "1001", "1019", "1025", "9999", "1037", "2001",
                     "2028", "SFC_IC0003", "8006"})
_CANCELLED = frozenset({"1031", "1032"})
_ALERT = frozenset({"2028", "SFC_IC0003"})


def parse_callback(body: object) -> StkCallback:
    """Parse a callback body (already JSON-decoded); MalformedCallback when it is not one."""
    stk = _mapping(_mapping(body, "callback").get("Body"), "Body").get("stkCallback")
    stk = _mapping(stk, "Body.stkCallback")
    checkout = stk.get("CheckoutRequestID")
    if not isinstance(checkout, str) or not checkout.strip() or len(checkout) > MAX_ID_LENGTH:
        raise MalformedCallback("CheckoutRequestID is missing or invalid")
    result_code = _text(stk.get("ResultCode"))
    if not result_code:
        raise MalformedCallback("ResultCode is missing")
    items = _items(stk.get("CallbackMetadata"))
    return StkCallback(checkout_request_id=checkout.strip(), merchant_request_id=_text(stk.get("MerchantRequestID")),
                       result_code=result_code, result_desc=_text(stk.get("ResultDesc")),
                       amount=_amount(items.get("Amount")), receipt=_text(items.get("MpesaReceiptNumber")),
                       phone=_text(items.get("PhoneNumber")), transaction_date=_text(items.get("TransactionDate")))


def classify(result_code: str | None) -> Outcome:
    """The payment outcome for a callback or query result code (None means still in flight)."""
    if result_code is None:
        return Outcome.PENDING
    code = str(result_code).strip().upper()
    if code == "0":
        return Outcome.CONFIRMED
    if code == "4999":
        return Outcome.PENDING
    if code in _CANCELLED:
        return Outcome.CANCELLED
    return Outcome.FAILED if code in _FAILED else Outcome.UNKNOWN


def needs_alert(result_code: str) -> bool:
    """Whether the code points at a merchant misconfiguration someone must fix."""
    return str(result_code).strip().upper() in _ALERT


def _mapping(value: object, name: str) -> dict:
    if not isinstance(value, dict):
        raise MalformedCallback(f"{name} is not an object")
    return value


def _items(metadata: object) -> dict:
    """CallbackMetadata items by Name; an item without a Value maps to None."""
    if metadata is None:
        return {}
    items = _mapping(metadata, "CallbackMetadata").get("Item")
    if not isinstance(items, list):
        raise MalformedCallback("CallbackMetadata.Item is not a list")
    return {item["Name"]: item.get("Value") for item in items if isinstance(item, dict) and "Name" in item}


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _amount(value: object) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise MalformedCallback("Amount is not a number")
    return amount
