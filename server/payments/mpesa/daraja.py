"""Daraja (M-Pesa) client for Lipa Na M-Pesa Online: OAuth token cache, STK push and STK push query."""
from __future__ import annotations

import base64
import hashlib
import threading
import time
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable, Protocol

import requests
from urllib3.exceptions import NewConnectionError

from server.platform.phone import normalize_phone

SANDBOX_BASE_URL = "https://sandbox.safaricom.co.ke"
PRODUCTION_BASE_URL = "https://api.safaricom.co.ke"
NAIROBI = zoneinfo.ZoneInfo("Africa/Nairobi")

OAUTH_PATH = "/oauth/v1/generate"
PUSH_PATH = "/mpesa/stkpush/v1/processrequest"
QUERY_PATH = "/mpesa/stkpushquery/v1/query"
REFRESH_MARGIN = 300
MAX_AMOUNT = 250_000
MAX_REFERENCE = 12
MAX_DESCRIPTION = 13
# Daraja's "invalid access token" error code, not a credential (bandit B105).
INVALID_TOKEN = "404.001.03"  # nosec B105
IN_FLIGHT = "4999"

# Errors raised before the request left this machine: the provider certainly never saw it.
_NOT_SENT = (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError, requests.exceptions.InvalidURL,
             requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema)


def timestamp(now: datetime | None = None) -> str:
    """`YYYYMMDDHHmmss` in Nairobi time; a naive `now` is taken as UTC."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def password(shortcode: str, passkey: str, ts: str) -> str:
    """The STK password: base64 of `shortcode + passkey + timestamp`."""
    return base64.b64encode(f"{shortcode}{passkey}{ts}".encode("ascii")).decode("ascii")


@dataclass(frozen=True)
class DarajaSettings:
    """Credentials and endpoints of one Daraja app (paybill or till)."""

    base_url: str
    consumer_key: str
    consumer_secret: str
    shortcode: str
    passkey: str
    transaction_type: str = "CustomerPayBillOnline"
    party_b: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0


@dataclass(frozen=True)
class Exchange:
    """One HTTP round trip for the payment audit log; the request's Password is masked."""

    url: str
    request: dict | None
    status: int | None
    response_text: str | None
    response: dict | None


class DarajaError(Exception):
    """Daraja refused a request or could not be reached.

    `outcome_unknown` is True when the request may nevertheless have been processed.
    """

    def __init__(self, message: str, *, error_code: str | None = None, exchange: Exchange | None = None,
                 outcome_unknown: bool = False):
        super().__init__(message)
        self.error_code = error_code
        self.exchange = exchange
        self.outcome_unknown = outcome_unknown


class _TransportError(DarajaError):
    """No HTTP answer (timeout, refused or dropped connection)."""


@dataclass(frozen=True)
class PushAccepted:
    """Daraja accepted the push for processing (not yet a payment)."""

    checkout_request_id: str
    merchant_request_id: str
    customer_message: str
    exchange: Exchange


@dataclass(frozen=True)
class QueryAnswer:
    """The status of a push; `result_code` None means still in flight, ask again later."""

    result_code: str | None
    result_desc: str | None
    exchange: Exchange | None


class TokenCache(Protocol):
    """Where access tokens live, shared by every client of the same Daraja app."""

    def token(self, key: str, fetch: Callable[[], tuple[str, int]]) -> str:
        """A token for `key`, fetched as `(access_token, expires_in)` when missing or about to expire."""

    def invalidate(self, key: str) -> None:
        """Forget the token for `key`."""


class MemoryTokenCache:
    """A thread-safe per-process TokenCache that refreshes tokens REFRESH_MARGIN seconds early."""

    def __init__(self, clock: Callable[[], float] = time.time):
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def token(self, key: str, fetch: Callable[[], tuple[str, int]]) -> str:
        """The cached token for `key`, or a fresh one from `fetch()`."""
        with self._lock:
            cached = self._tokens.get(key)
            if cached and cached[1] - REFRESH_MARGIN > self._clock():
                return cached[0]
            access_token, expires_in = fetch()
            self._tokens[key] = (access_token, self._clock() + expires_in)
            return access_token

    def invalidate(self, key: str) -> None:
        """Forget the token for `key`."""
        with self._lock:
            self._tokens.pop(key, None)


class DarajaClient:
    """STK push and query against one Daraja app; never retries a push except after a stale token."""

    def __init__(self, settings: DarajaSettings, *, tokens: TokenCache | None = None,
                 session: requests.Session | None = None):
        self.settings = settings
        self._tokens = tokens or MemoryTokenCache()
        self._session = session or requests.Session()
        self._base = settings.base_url.rstrip("/")
        self._timeout = (settings.connect_timeout, settings.read_timeout)
        self._cache_key = hashlib.sha256(f"{self._base}\n{settings.consumer_key}".encode()).hexdigest()

    def stk_push(self, *, amount: int, phone: str, account_reference: str, description: str,
                 callback_url: str) -> PushAccepted:
        """Ask the payer's phone for the PIN; raises DarajaError unless Daraja accepted the request."""
        _check_push(amount, phone, account_reference, callback_url)
        s = self.settings
        body = {**self._credentials(), "TransactionType": s.transaction_type, "Amount": amount,
                "PartyA": phone, "PartyB": s.party_b or s.shortcode, "PhoneNumber": phone,
                "CallBackURL": callback_url, "AccountReference": account_reference,
                "TransactionDesc": description[:MAX_DESCRIPTION]}
        exchange = self._call(PUSH_PATH, body)
        data = exchange.response or {}
        if (exchange.status == 200 and str(data.get("ResponseCode", "")).strip() == "0"
                and data.get("CheckoutRequestID")):
            return PushAccepted(checkout_request_id=str(data["CheckoutRequestID"]),
                                merchant_request_id=str(data.get("MerchantRequestID") or ""),
                                customer_message=str(data.get("CustomerMessage") or ""), exchange=exchange)
        raise _refusal(exchange)

    def stk_query(self, checkout_request_id: str) -> QueryAnswer:
        """The result of a push; in-flight answers, 5xx and transport errors give result_code None."""
        body = {**self._credentials(), "CheckoutRequestID": checkout_request_id}
        try:
            exchange = self._call(QUERY_PATH, body)
        except _TransportError as exc:
            return QueryAnswer(None, str(exc), exc.exchange)
        data = exchange.response or {}
        if exchange.status is not None and 400 <= exchange.status < 500:
            raise _refusal(exchange)
        if exchange.status == 200 and data.get("ResultCode") is not None:
            code = str(data["ResultCode"]).strip()
            return QueryAnswer(None if code == IN_FLIGHT else code, data.get("ResultDesc"), exchange)
        return QueryAnswer(None, data.get("errorMessage") or data.get("ResultDesc"), exchange)

    def _credentials(self) -> dict:
        ts = timestamp()
        s = self.settings
        return {"BusinessShortCode": s.shortcode, "Password": password(s.shortcode, s.passkey, ts),
                "Timestamp": ts}

    def _call(self, path: str, body: dict) -> Exchange:
        """POST `body`; a stale token was refused without processing, so that case alone is retried once."""
        exchange = self._send(path, body)
        if exchange.status == 404 and (exchange.response or {}).get("errorCode") == INVALID_TOKEN:
            self._tokens.invalidate(self._cache_key)
            exchange = self._send(path, body)
        return exchange

    def _send(self, path: str, body: dict) -> Exchange:
        url = self._base + path
        headers = {"Authorization": f"Bearer {self._token()}"}
        # The STK password is masked in what is logged (bandit B105 reads "***" as a password).
        logged = {**body, "Password": "***"}  # nosec B105
        try:
            response = self._session.post(url, json=body, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise _TransportError(f"Daraja request failed: {type(exc).__name__}.",
                                  exchange=Exchange(url, logged, None, None, None),
                                  outcome_unknown=_maybe_sent(exc)) from exc
        return Exchange(url, logged, response.status_code, response.text, _json(response))

    def _token(self) -> str:
        return self._tokens.token(self._cache_key, self._fetch_token)

    def _fetch_token(self) -> tuple[str, int]:
        url = self._base + OAUTH_PATH
        s = self.settings
        try:
            response = self._session.get(url, params={"grant_type": "client_credentials"},
                                         auth=(s.consumer_key, s.consumer_secret), timeout=self._timeout)
        except requests.RequestException as exc:
            raise DarajaError(f"Daraja OAuth request failed: {type(exc).__name__}.") from exc
        data = _json(response) or {}
        try:
            if response.status_code == 200:
                return str(data["access_token"]), int(str(data["expires_in"]))
        except (KeyError, TypeError, ValueError):
            pass
        exchange = Exchange(url, None, response.status_code, response.text, _json(response))
        raise DarajaError(data.get("errorMessage") or f"Daraja OAuth failed with HTTP {response.status_code}.",
                          error_code=data.get("errorCode"), exchange=exchange)


def _check_push(amount: int, phone: str, account_reference: str, callback_url: str) -> None:
    """Reject what Daraja would reject, before anything is sent."""
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        raise ValueError(f"amount must be a whole number of shillings from 1 to {MAX_AMOUNT}")
    if not isinstance(phone, str) or normalize_phone(phone) != phone:
        raise ValueError("phone must be normalised to 2547XXXXXXXX or 2541XXXXXXXX")
    if not account_reference or len(account_reference) > MAX_REFERENCE:
        raise ValueError(f"account_reference must be 1 to {MAX_REFERENCE} characters")
    if not callback_url.startswith(("https://", "http://")):
        raise ValueError("callback_url must be an http(s) URL")


def _json(response: requests.Response) -> dict | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _maybe_sent(exc: requests.RequestException) -> bool:
    """False only when the request certainly never reached the server."""
    if isinstance(exc, _NOT_SENT):
        return False
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return not isinstance(reason, NewConnectionError)


def _refusal(exchange: Exchange) -> DarajaError:
    """A DarajaError for an HTTP answer that is not an acceptance."""
    data = exchange.response or {}
    code = data.get("errorCode")
    response_code = data.get("ResponseCode")
    refused = (bool(code) or (exchange.status is not None and 400 <= exchange.status < 500)
               or (response_code is not None and str(response_code).strip() != "0"))
    message = (data.get("errorMessage") or data.get("ResponseDescription")
               or f"Daraja answered HTTP {exchange.status} without a usable body.")
    return DarajaError(str(message), error_code=code, exchange=exchange, outcome_unknown=not refused)
