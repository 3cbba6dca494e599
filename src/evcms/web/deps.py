"""What the web adapter needs from the rest of evcms; ``bootstrap`` builds it and passes it in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from evcms.services.access import AccessControl
from evcms.services.alerts import Alerts
from evcms.services.analytics import Analytics
from evcms.services.billing import Billing
from evcms.services.charging import Charging
from evcms.services.diagnostics import Diagnostics
from evcms.services.drivers import DriverAccounts
from evcms.services.firmware import Firmware
from evcms.services.invoicing import Invoicing
from evcms.services.local_lists import LocalLists
from evcms.services.network import NetworkAdmin
from evcms.services.operators import OperatorAccounts
from evcms.services.payments import CardPayments
from evcms.services.ports import Clock, EventBus, MessageLog
from evcms.services.pricing import Pricing
from evcms.services.remote_operations import RemoteOperations
from evcms.services.reservations import Reservations
from evcms.services.station_config import StationConfiguration
from evcms.services.subscriptions import Subscriptions
from evcms.services.tariffs import TariffAdmin
from evcms.services.tokens import TokenAdmin
from evcms.services.wallets import Wallets
from evcms.services.webhooks import Webhooks


@dataclass(frozen=True, slots=True)
class WebDeps:
    network: NetworkAdmin
    access: AccessControl
    operations: RemoteOperations
    message_log: MessageLog
    # () -> (Prometheus exposition body, its content type)
    metrics: Callable[[], tuple[bytes, str]]
    # () -> readiness details; {"status": "ok", ...} when ready, any other status means not ready
    health: Callable[[], Awaitable[dict[str, Any]]]
    # where stations connect, with a "{station_id}" placeholder: "ws://127.0.0.1:9000/ocpp/{station_id}"
    ocpp_url: str
    # driver accounts (/api/v1/drivers, /api/v1/me); None: those endpoints answer 503
    drivers: DriverAccounts | None = None
    # tokens and charging sessions (/tokens, /sessions); None: those endpoints answer 503
    charging: Charging | None = None
    tokens: TokenAdmin | None = None
    # what "now" is for durations of active sessions; None: the system clock
    clock: Clock | None = None
    # reservations (/reservations, /me/reservations); None: those endpoints answer 503
    reservations: Reservations | None = None
    # local authorisation lists (/stations/{id}/local-list, /clear-cache); None: they answer 503
    local_lists: LocalLists | None = None
    # the event bus the live event stream (/events) subscribes to; None: it answers 503
    events: EventBus | None = None
    # tariffs (/tariffs); None: those endpoints answer 503
    tariffs: TariffAdmin | None = None
    # the price of sessions (/sessions/{id}/price); None: 503
    pricing: Pricing | None = None
    # billing (filled by bootstrap; None: those endpoints answer 503)
    billing: Billing | None = None  # session charges, billing profiles, card top-ups
    wallets: Wallets | None = None  # /wallets, /me/wallet, /ledger
    invoicing: Invoicing | None = None  # /invoices, /me/invoices
    payments: CardPayments | None = None  # /me/payment-methods, /payments, webhooks
    subscriptions: Subscriptions | None = None  # /plans, /subscriptions, /me/subscription
    # -- remote operations and station configuration --
    # stored station configuration (/stations/{id}/configuration); None: those answer 503
    configuration: StationConfiguration | None = None
    # -- alerts and webhooks --
    alerts: Alerts | None = None  # /alerts, /alert-rules, /stations/{id}/alerts; None: 503
    webhooks: Webhooks | None = None  # /webhooks; None: 503
    # -- diagnostics and firmware --
    diagnostics: Diagnostics | None = None  # /diagnostics, /uploads/{token}; None: 503
    firmware: Firmware | None = None  # /firmware, /firmware-files/{token}; None: 503
    # -- analytics --
    analytics: Analytics | None = None  # /analytics; None: those endpoints answer 503
    # -- operator accounts --
    operators: OperatorAccounts | None = None  # console sign-in (/auth), /users; None: 503


def web_deps(request: Request) -> WebDeps:
    """FastAPI dependency: the WebDeps of the app handling this request."""
    deps: WebDeps = request.app.state.deps
    return deps
