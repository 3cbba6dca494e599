"""A local fake of the Stripe API endpoints evcms uses, for tests and the demo.

There is no Stripe here, so ``StripeFake`` speaks Stripe's wire format on 127.0.0.1 and the
real ``stripe`` package talks to it unchanged (``base_addresses={"api": fake_url}``):
form-encoded bodies with bracket keys (``metadata[session_id]=42``), ``Authorization: Bearer
sk_test_...``, ``Idempotency-Key`` (the same key gives the same answer and does nothing again;
with other parameters it is an ``idempotency_error``), error bodies ``{"error": {"type",
"code", "decline_code", "message", "param", "payment_intent"}}`` with Stripe's statuses (402
for card errors), and objects with ``id`` and ``object`` as stripe-python parses them.

Stripe's test payment methods work: ``pm_card_visa`` and ``pm_card_mastercard`` pay;
``pm_card_chargeDeclined`` (generic_decline), ``pm_card_chargeDeclinedInsufficientFunds``
(insufficient_funds) and ``pm_card_chargeCustomerFail`` (generic_decline) attach to a customer
but every payment with them is declined; ``pm_card_cvcCheckFail`` is declined when attached
(incorrect_cvc). Attaching a test method makes a new ``pm_...`` for the customer, as Stripe does.

Events (``payment_intent.succeeded``, ``.amount_capturable_updated``, ``.canceled``,
``.payment_failed``, ``charge.refunded``) are posted, signed like Stripe's
(``Stripe-Signature: t=...,v1=HMAC-SHA256(secret, "{t}.{payload}")``), to ``webhook_url`` when
it is set; :meth:`StripeFake.redeliver` sends one again. Tests read what happened from
``calls``, ``intents``, ``events`` and ``deliveries``, and make the next call fail with
:meth:`StripeFake.fail_next` (before doing anything, or after: done but the answer lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

API_VERSION = "2025-09-30.clover"
MINIMUM_AMOUNT = 50  # Stripe's smallest charge, in cents (EUR 0.50)


@dataclass(frozen=True, slots=True)
class TestCard:
    brand: str
    last4: str
    decline_code: str | None = None  # every payment is declined with it
    attach_error: str | None = None  # attaching it to a customer fails with this code


TEST_CARDS = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_chargeDeclined": TestCard("visa", "0002", decline_code="generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", decline_code="insufficient_funds"
    ),
    "pm_card_chargeCustomerFail": TestCard("visa", "0341", decline_code="generic_decline"),
    "pm_card_cvcCheckFail": TestCard("visa", "0101", attach_error="incorrect_cvc"),
}

_DECLINE_MESSAGES = {
    "insufficient_funds": "Your card has insufficient funds.",
    "incorrect_cvc": "Your card's security code is incorrect.",
}


@dataclass
class Call:
    """One request the fake answered."""

    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int
    replayed: bool = False


@dataclass
class Delivery:
    event_id: str
    type: str
    status: int | None  # None: the endpoint could not be reached
    body: str


@dataclass
class _Failure:
    path_pattern: str
    after: bool
    status: int
    times: int


@dataclass
class _Saved:
    fingerprint: str
    status: int
    body: dict[str, Any]


class _StripeError(Exception):
    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status = status
        self.error = error


def _invalid(message: str, *, code: str | None = None, param: str | None = None, status: int = 400) -> _StripeError:
    error: dict[str, Any] = {"type": "invalid_request_error", "message": message}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if param:
        error["param"] = param
    return _StripeError(status, error)


def _missing(kind: str, object_id: str, param: str) -> _StripeError:
    return _invalid(f"No such {kind}: '{object_id}'", code="resource_missing", param=param, status=404)


def nest(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back to nested values: ``metadata[a]=1`` -> {"metadata": {"a": "1"}},
    ``expand[0]=x`` -> {"expand": ["x"]}."""
    result: dict[str, Any] = {}
    for key, value in items:
        parts = re.findall(r"[^\[\]]+", key)
        if not parts:
            continue
        target: Any = result
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if last:
                target[part] = value
            else:
                target = target.setdefault(part, {})
    nested: dict[str, Any] = _lists(result)
    return nested


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        if value and all(k.isdigit() for k in value):
            return [_lists(value[k]) for k in sorted(value, key=int)]
        return {k: _lists(v) for k, v in value.items()}
    return value


def _true(value: Any) -> bool:
    return str(value).lower() == "true"


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    raw = params.get(name)
    if raw is None:
        if default is None:
            raise _invalid(f"Missing required param: {name}.", code="parameter_missing", param=name)
        return default
    try:
        return int(raw)
    except ValueError:
        raise _invalid(f"Invalid integer: {raw}", param=name) from None


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


class _Server(uvicorn.Server):
    """uvicorn inside the caller's loop: the signals stay with the caller."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class StripeFake:
    def __init__(
        self,
        *,
        api_key: str = "sk_test_evcms_fake",
        webhook_secret: str = "whsec_evcms_fake",
        webhook_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url  # where events are posted (set after start is fine)
        self.auto_deliver = True  # post each event when it happens (else only redeliver)
        self.host, self.port = host, port
        self.customers: dict[str, dict[str, Any]] = {}
        self.payment_methods: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.deliveries: list[Delivery] = []
        self._declines: dict[str, str] = {}  # created pm id -> decline code
        self._idempotent: dict[str, _Saved] = {}
        self._failures: list[_Failure] = []
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[Any]] = set()
        self._http: httpx.AsyncClient | None = None
        self.app = Starlette(routes=self._routes())

    # -- running -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Serve on ``host``:``port`` (0: a free port); returns the base URL for the client."""
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", lifespan="off"
        )
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._task.done():
                self._task.result()  # raises why it could not start
                raise RuntimeError("the Stripe fake stopped while starting")
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        self._http = httpx.AsyncClient(timeout=10)
        return self.base_url

    async def stop(self) -> None:
        await self.delivered()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- what tests use ------------------------------------------------------------------------

    def fail_next(
        self, path_pattern: str, *, after: bool = False, status: int = 500, times: int = 1
    ) -> None:
        """Make the next ``times`` requests whose "METHOD /path" matches ``path_pattern`` (a
        regular expression) fail with ``status``: before doing anything, or — ``after`` — once
        done (its idempotent answer is saved: the same key then gives the real answer)."""
        self._failures.append(_Failure(path_pattern, after, status, times))

    def calls_to(self, method: str, path_pattern: str) -> list[Call]:
        return [
            c for c in self.calls if c.method == method and re.fullmatch(path_pattern, c.path)
        ]

    def events_of(self, type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == type]

    async def delivered(self) -> None:
        """Wait until every webhook being posted has been answered."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def redeliver(self, event_id: str) -> int | None:
        """Post an event to ``webhook_url`` (again); the endpoint's HTTP status."""
        event = next((e for e in self.events if e["id"] == event_id), None)
        if event is None:
            raise KeyError(f"no event {event_id}")
        return await self._deliver(event)

    def signed(self, event: dict[str, Any], *, secret: str | None = None) -> tuple[bytes, str]:
        """An event's webhook body and its ``Stripe-Signature`` header."""
        payload = json.dumps(event, separators=(",", ":"))
        return payload.encode(), sign(payload, secret or self.webhook_secret)

    # -- plumbing ------------------------------------------------------------------------------

    def _routes(self) -> list[Route]:
        handlers: list[tuple[str, str, Callable[..., dict[str, Any]]]] = [
            ("/v1/customers", "POST", self._create_customer),
            ("/v1/customers/{id}", "GET", self._get_customer),
            ("/v1/payment_methods/{id}", "GET", self._get_method),
            ("/v1/payment_methods/{id}/attach", "POST", self._attach),
            ("/v1/payment_methods/{id}/detach", "POST", self._detach),
            ("/v1/payment_intents", "POST", self._create_intent),
            ("/v1/payment_intents/{id}", "GET", self._get_intent),
            ("/v1/payment_intents/{id}/capture", "POST", self._capture),
            ("/v1/payment_intents/{id}/cancel", "POST", self._cancel),
            ("/v1/refunds", "POST", self._refund),
        ]
        routes = []
        for path, method, handler in handlers:
            routes.append(Route(path, self._endpoint(handler), methods=[method]))
        return routes

    def _endpoint(self, handler: Callable[..., dict[str, Any]]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            return await self._handle(request, handler)

        return endpoint

    async def _handle(self, request: Request, handler: Callable[..., dict[str, Any]]) -> Response:
        method, path = request.method, request.url.path
        if request.method == "GET":
            params = nest(list(request.query_params.multi_items()))
        else:
            form = (await request.body()).decode("utf-8")
            params = nest(parse_qsl(form, keep_blank_values=True))
        key = request.headers.get("idempotency-key")
        call = Call(method, path, params, key, 200)
        self.calls.append(call)
        headers = {"request-id": "req_" + secrets.token_hex(7), "stripe-version": API_VERSION}
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or secret != self.api_key:
            call.status = 401
            error = {
                "type": "invalid_request_error",
                "message": f"Invalid API Key provided: {secret[:8]}***",
            }
            return JSONResponse({"error": error}, status_code=401, headers=headers)
        failure = self._failure(f"{method} {path}")
        if failure is not None and not failure.after:
            call.status = failure.status
            return self._injected(failure, headers)
        fingerprint = json.dumps([method, path, params], sort_keys=True)
        saved = self._idempotent.get(key) if key and method == "POST" else None
        if saved is not None:
            if saved.fingerprint != fingerprint:
                call.status = 400
                error = {
                    "type": "idempotency_error",
                    "message": "Keys for idempotent requests can only be used with the same"
                    " parameters they were first used with. Try using a key other than"
                    f" '{key}' if you meant to execute a different request.",
                }
                return JSONResponse({"error": error}, status_code=400, headers=headers)
            call.status, call.replayed = saved.status, True
            headers["idempotent-replayed"] = "true"
            if key:
                headers["idempotency-key"] = key
            return JSONResponse(saved.body, status_code=saved.status, headers=headers)
        try:
            status, body = 200, handler(params, **request.path_params)
        except _StripeError as exc:
            status, body = exc.status, {"error": exc.error}
        if key and method == "POST":
            self._idempotent[key] = _Saved(fingerprint, status, body)
            headers["idempotency-key"] = key
        if failure is not None:  # done, but the answer is lost on the way back
            call.status = failure.status
            return self._injected(failure, headers)
        call.status = status
        return JSONResponse(body, status_code=status, headers=headers)

    def _failure(self, target: str) -> _Failure | None:
        for failure in self._failures:
            if re.search(failure.path_pattern, target):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    @staticmethod
    def _injected(failure: _Failure, headers: dict[str, str]) -> Response:
        error = {"type": "api_error", "message": "An unknown error occurred (injected by the fake)"}
        return JSONResponse(
            {"error": error},
            status_code=failure.status,
            headers={**headers, "stripe-should-retry": "true"},
        )

    @staticmethod
    def _id(prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(12)}"

    # -- events --------------------------------------------------------------------------------

    def emit(self, type: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Record (and post, see ``auto_deliver``) an event about ``obj``, as Stripe does when
        something happens outside the API (e.g. a capture from the dashboard)."""
        return self._event(type, obj)

    def _event(self, type: str, obj: dict[str, Any]) -> dict[str, Any]:
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "type": type,
            "livemode": False,
            "pending_webhooks": 1,
            "data": {"object": json.loads(json.dumps(obj))},
            "request": {"id": None, "idempotency_key": None},
        }
        self.events.append(event)
        if self.webhook_url and self.auto_deliver and self._http is not None:
            task = asyncio.get_running_loop().create_task(self._deliver(event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
        return event

    async def _deliver(self, event: dict[str, Any]) -> int | None:
        if not self.webhook_url:
            raise RuntimeError("set webhook_url first")
        body, signature = self.signed(event)
        client = self._http or httpx.AsyncClient(timeout=10)
        try:
            response = await client.post(
                self.webhook_url,
                content=body,
                headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            )
        except httpx.HTTPError as exc:
            self.deliveries.append(Delivery(event["id"], event["type"], None, str(exc)))
            return None
        finally:
            if client is not self._http:
                await client.aclose()
        self.deliveries.append(
            Delivery(event["id"], event["type"], response.status_code, response.text)
        )
        return response.status_code

    # -- customers and payment methods ---------------------------------------------------------

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        customer: dict[str, Any] = {
            "id": self._id("cus"),
            "object": "customer",
            "created": int(time.time()),
            "email": params.get("email"),
            "name": params.get("name"),
            "description": params.get("description"),
            "metadata": params.get("metadata") or {},
            "invoice_settings": {"default_payment_method": None},
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return customer

    def _get_customer(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        if id not in self.customers:
            raise _missing("customer", id, "id")
        return self.customers[id]

    def _method(self, method_id: str, param: str = "payment_method") -> dict[str, Any]:
        if method_id in self.payment_methods:
            return self.payment_methods[method_id]
        card = TEST_CARDS.get(method_id)
        if card is None:
            raise _missing("PaymentMethod", method_id, param)
        return self._method_object(method_id, card, None)

    @staticmethod
    def _method_object(method_id: str, card: TestCard, customer: str | None) -> dict[str, Any]:
        return {
            "id": method_id,
            "object": "payment_method",
            "type": "card",
            "created": int(time.time()),
            "customer": customer,
            "livemode": False,
            "metadata": {},
            "billing_details": {"address": None, "email": None, "name": None, "phone": None},
            "card": {
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": 12,
                "exp_year": 2034,
                "funding": "credit",
                "country": "US",
            },
        }

    def _get_method(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        return self._method(id)

    def _attach(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        customer = params.get("customer")
        if not customer:
            raise _invalid("Missing required param: customer.", code="parameter_missing", param="customer")
        if customer not in self.customers:
            raise _missing("customer", customer, "customer")
        card = TEST_CARDS.get(id)
        if card is not None:  # a test method: Stripe makes a new one for the customer
            if card.attach_error:
                raise self._card_error(card.attach_error, None)
            method = self._method_object(self._id("pm"), card, customer)
            self.payment_methods[method["id"]] = method
            if card.decline_code:
                self._declines[method["id"]] = card.decline_code
            return method
        method = self._method(id)
        if method["customer"] not in (None, customer):
            raise _invalid(
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
            )
        method["customer"] = customer
        return method

    def _detach(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        method = self._method(id)
        if method["customer"] is None:
            raise _invalid(
                "The payment method you provided is not attached to a customer so detachment is"
                " impossible.",
                code="payment_method_unexpected_state",
            )
        method["customer"] = None
        return method

    # -- payment intents -----------------------------------------------------------------------

    def _card_error(self, code: str, intent: dict[str, Any] | None) -> _StripeError:
        error: dict[str, Any] = {
            "type": "card_error",
            "code": "card_declined" if code != "incorrect_cvc" else code,
            "decline_code": code,
            "message": _DECLINE_MESSAGES.get(code, "Your card was declined."),
            "doc_url": "https://stripe.com/docs/error-codes/card-declined",
        }
        if intent is not None:
            error["payment_intent"] = intent
            error["charge"] = intent.get("latest_charge")
            error["payment_method"] = self.payment_methods.get(str(intent["payment_method"]))
        return _StripeError(402, error)

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        amount = _int(params, "amount")
        currency = str(params.get("currency") or "").lower()
        if not currency:
            raise _invalid("Missing required param: currency.", code="parameter_missing", param="currency")
        if amount < MINIMUM_AMOUNT:
            raise _invalid(
                f"Amount must be at least €0.{MINIMUM_AMOUNT} {currency}",
                code="amount_too_small",
                param="amount",
            )
        capture_method = params.get("capture_method", "automatic_async")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise _invalid(f"Invalid capture_method: {capture_method}", param="capture_method")
        customer = params.get("customer")
        if customer is not None and customer not in self.customers:
            raise _missing("customer", customer, "customer")
        method_id = params.get("payment_method")
        if method_id is not None:
            method = self._method(method_id)
            if method["customer"] is not None and method["customer"] != customer:
                raise _invalid(
                    "The provided PaymentMethod belongs to another customer.",
                    param="payment_method",
                )
            if method_id in TEST_CARDS and TEST_CARDS[method_id].decline_code:
                self._declines[method_id] = TEST_CARDS[method_id].decline_code or ""
        intent: dict[str, Any] = {
            "id": self._id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": currency,
            "customer": customer,
            "payment_method": method_id,
            "capture_method": capture_method,
            "confirmation_method": "automatic",
            "description": params.get("description"),
            "metadata": params.get("metadata") or {},
            "status": "requires_payment_method" if method_id is None else "requires_confirmation",
            "created": int(time.time()),
            "canceled_at": None,
            "cancellation_reason": None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
        }
        intent["client_secret"] = f"{intent['id']}_secret_{secrets.token_hex(8)}"
        self.intents[intent["id"]] = intent
        if _true(params.get("confirm")) and method_id is not None:
            self._confirm(intent)
        return intent

    def _confirm(self, intent: dict[str, Any]) -> None:
        charge = {
            "id": self._id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "refunded": False,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "payment_intent": intent["id"],
            "payment_method": intent["payment_method"],
            "status": "pending",
            "created": int(time.time()),
            "metadata": intent["metadata"],
            "livemode": False,
        }
        self.charges[charge["id"]] = charge
        intent["latest_charge"] = charge["id"]
        decline = self._declines.get(intent["payment_method"])
        if decline:
            charge["status"] = "failed"
            intent["status"] = "requires_payment_method"
            error = self._card_error(decline, None).error
            intent["last_payment_error"] = {**error, "payment_method": None}
            self._event("payment_intent.payment_failed", intent)
            raise self._card_error(decline, intent)
        charge["status"] = "succeeded"
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            self._event("payment_intent.amount_capturable_updated", intent)
        else:
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
            charge["captured"], charge["amount_captured"] = True, intent["amount"]
            self._event("payment_intent.succeeded", intent)

    def _intent(self, intent_id: str) -> dict[str, Any]:
        if intent_id not in self.intents:
            raise _missing("payment_intent", intent_id, "intent")
        return self.intents[intent_id]

    def _get_intent(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        return self._intent(id)

    @staticmethod
    def _unexpected(intent: dict[str, Any], action: str, allowed: str) -> _StripeError:
        return _invalid(
            f"This PaymentIntent could not be {action} because it has a status of"
            f" {intent['status']}. Only a PaymentIntent with one of the following statuses may"
            f" be {action}: {allowed}.",
            code="payment_intent_unexpected_state",
        )

    def _capture(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        intent = self._intent(id)
        if intent["status"] != "requires_capture":
            raise self._unexpected(intent, "captured", "requires_capture")
        amount = _int(params, "amount_to_capture", intent["amount_capturable"])
        if amount > intent["amount_capturable"]:
            raise _invalid(
                f"The amount_to_capture ({amount}) must be less than or equal to the"
                f" amount_capturable ({intent['amount_capturable']}).",
                code="amount_too_large",
                param="amount_to_capture",
            )
        intent["status"] = "succeeded"
        intent["amount_received"] = amount
        intent["amount_capturable"] = 0
        charge = self.charges[intent["latest_charge"]]
        charge["captured"], charge["amount_captured"] = True, amount
        self._event("payment_intent.succeeded", intent)
        return intent

    def _cancel(self, params: dict[str, Any], id: str) -> dict[str, Any]:
        intent = self._intent(id)
        allowed = (
            "requires_payment_method",
            "requires_capture",
            "requires_confirmation",
            "requires_action",
            "processing",
        )
        if intent["status"] not in allowed:
            raise self._unexpected(intent, "canceled", ", ".join(allowed))
        intent["status"] = "canceled"
        intent["amount_capturable"] = 0
        intent["canceled_at"] = int(time.time())
        intent["cancellation_reason"] = params.get("cancellation_reason")
        self._event("payment_intent.canceled", intent)
        return intent

    def _refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = params.get("payment_intent")
        if not intent_id:
            raise _invalid(
                "Missing required param: payment_intent.", code="parameter_missing", param="payment_intent"
            )
        intent = self._intent(intent_id)
        if intent["status"] != "succeeded":
            raise _invalid(
                f"This PaymentIntent ({intent_id}) does not have a successful charge to refund.",
                code="charge_not_refundable" if intent["status"] != "canceled" else None,
            )
        charge = self.charges[intent["latest_charge"]]
        remaining = charge["amount_captured"] - charge["amount_refunded"]
        amount = _int(params, "amount", remaining)
        if amount <= 0 or amount > remaining:
            raise _invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge"
                f" ({remaining})",
                code="amount_too_large" if amount > 0 else None,
                param="amount",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
        refund = {
            "id": self._id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": intent_id,
            "currency": intent["currency"],
            "status": "succeeded",
            "metadata": params.get("metadata") or {},
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        self._event("charge.refunded", charge)
        return refund

