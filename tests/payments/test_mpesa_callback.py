"""Parsing STK callbacks in the shapes Safaricom sends, and classifying result codes."""
import json
from decimal import Decimal

import pytest

from server.payments.mpesa.callback import MalformedCallback, Outcome, classify, needs_alert, parse_callback

pytestmark = pytest.mark.own_app

SUCCESS = json.loads("""
{"Body": {"stkCallback": {"MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
  "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
  "CallbackMetadata": {"Item": [{"Name": "Amount", "Value": 1.00}, {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
    {"Name": "Balance"}, {"Name": "TransactionDate", "Value": 20191219102115}, {"Name": "PhoneNumber", "Value": 254708374149}]}}}}
""")
FAILURE = json.loads("""
{"Body": {"stkCallback": {"MerchantRequestID": "f1e2-4b95-a71d-b30d3cdbb7a7942864",
  "CheckoutRequestID": "ws_CO_21072024125243250722943992", "ResultCode": 1032, "ResultDesc": "Request cancelled by user"}}}
""")


def with_stk(**changes):
    stk = {**FAILURE["Body"]["stkCallback"], **changes}
    return {"Body": {"stkCallback": {k: v for k, v in stk.items() if v is not None}}}


def test_success_callback():
    cb = parse_callback(SUCCESS)
    assert cb.is_success and cb.result_code == "0"
    assert cb.checkout_request_id == "ws_CO_191220191020363925" and cb.merchant_request_id == "29115-34620561-1"
    assert cb.amount == Decimal("1") and cb.receipt == "NLJ7RT61SV"
    assert cb.phone == "254708374149" and cb.transaction_date == "20191219102115"
    assert cb.result_desc == "The service request is processed successfully."


def test_items_are_read_by_name_in_any_order():
    shuffled = json.loads(json.dumps(SUCCESS))
    items = shuffled["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
    items.reverse()
    next(item for item in items if item["Name"] == "Amount")["Value"] = "10500.00"
    cb = parse_callback(shuffled)
    assert cb.amount == Decimal("10500") and cb.receipt == "NLJ7RT61SV" and cb.phone == "254708374149"


def test_failure_callback_without_metadata():
    cb = parse_callback(FAILURE)
    assert not cb.is_success and cb.result_code == "1032"
    assert cb.amount is cb.receipt is cb.phone is cb.transaction_date is None
    assert classify(cb.result_code) is Outcome.CANCELLED


@pytest.mark.parametrize("raw, code", [("1032", "1032"), (" 1032 ", "1032"), ("SFC_IC0003", "SFC_IC0003"), ("0", "0")])
def test_string_result_codes(raw, code):
    cb = parse_callback(with_stk(ResultCode=raw))
    assert cb.result_code == code and cb.is_success == (code == "0")


@pytest.mark.parametrize("body", [
    None, [], "text", {}, {"Body": {}}, {"Body": {"stkCallback": "x"}}, {"stkCallback": FAILURE["Body"]["stkCallback"]},
    with_stk(CheckoutRequestID=None), with_stk(CheckoutRequestID=""), with_stk(CheckoutRequestID=12345),
    with_stk(CheckoutRequestID="x" * 65), with_stk(ResultCode=None), with_stk(ResultCode=" "),
    with_stk(CallbackMetadata={"Item": "no"}), with_stk(CallbackMetadata={"Item": [{"Name": "Amount", "Value": "x"}]}),
])
def test_malformed_callbacks(body):
    with pytest.raises(MalformedCallback):
        parse_callback(body)


def test_malformed_callback_is_a_value_error():
    assert issubclass(MalformedCallback, ValueError)


@pytest.mark.parametrize("code, outcome", [
    ("0", Outcome.CONFIRMED),
    *[(c, Outcome.FAILED) for c in ("1", "2", "3", "4", "8", "17", "1001", "1019", "1025", "9999", "1037",
                                    "2001", "2028", "SFC_IC0003", "8006")],
    ("1031", Outcome.CANCELLED), ("1032", Outcome.CANCELLED),
    ("4999", Outcome.PENDING), (None, Outcome.PENDING),
    ("7777", Outcome.UNKNOWN), ("", Outcome.UNKNOWN), ("abc", Outcome.UNKNOWN),
])
def test_classify_every_row_of_the_table(code, outcome):
    assert classify(code) is outcome


def test_needs_alert_only_for_merchant_misconfiguration():
    assert needs_alert("2028") and needs_alert("SFC_IC0003")
    assert not any(needs_alert(code) for code in ("0", "1", "1032", "1037", "4999", "7777"))
