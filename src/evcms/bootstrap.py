"""The one composition root: settings -> adapters -> services -> servers.

Only this module constructs concrete adapters. Tests build smaller graphs from the same pieces
(with the in-memory twins where a test is not about storage).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from evcms.documents.invoice_pdf import InvoicePdfRenderer
from evcms.documents.site_report_pdf import SiteReportPdfRenderer
from evcms.domain.access import Role
from evcms.domain.alerts import Severity
from evcms.domain.billing import Party, PaymentMode
from evcms.domain.events import AlertChanged, SessionEnded, SessionStarted, StationBooted
from evcms.domain.ids import SiteId, StationId
from evcms.domain.stations import Site
from evcms.domain.webhooks import RetryPolicy
from evcms.mail import OutboxMailer, SmtpConfig, SmtpMailer
from evcms.messaging.bus import InProcessBus
from evcms.observability import EvcmsCollector, LoopLagMonitor, prometheus_exposition
from evcms.ocpp import schemas as ocpp_schemas
from evcms.passwords import generate_station_password, operator_hasher, station_hasher
from evcms.payment_providers.stripe import StripeProvider
from evcms.services.access import AccessControl
from evcms.services.alert_mail import AlertMail, parse_recipients
from evcms.services.alerts import ALERT_FACTS, Alerts
from evcms.services.analytics import EVENT_TYPES as ANALYTICS_EVENTS
from evcms.services.analytics import Analytics, AnalyticsPolicy
from evcms.services.billing import Billing, BillingPolicy, DeclinePolicy
from evcms.services.charging import Charging
from evcms.services.clock import SystemClock
from evcms.services.diagnostics import Diagnostics, DiagnosticsPolicy
from evcms.services.drivers import DriverAccounts, DriverPolicy
from evcms.services.firmware import Firmware, FirmwarePolicy
from evcms.services.invoicing import Invoicing
from evcms.services.live_cost import LiveCost
from evcms.services.local_lists import LocalListPolicy, LocalLists
from evcms.services.network import NetworkAdmin
from evcms.services.operators import OperatorAccounts
from evcms.services.payments import CardPayments
from evcms.services.ports import AlreadyExists, NotFound, ServiceError
from evcms.services.pricing import Pricing
from evcms.services.remote_operations import AuditedCommands, RemoteOperations
from evcms.services.reservations import Reservations
from evcms.services.station_config import StationConfiguration
from evcms.services.station_lifecycle import LifecyclePolicy, StationLifecycle
from evcms.services.subscriptions import Subscriptions
from evcms.services.tariffs import TariffAdmin
from evcms.services.tokens import TokenAdmin
from evcms.services.wallets import Wallets
from evcms.services.webhooks import WebhookPolicy, Webhooks
from evcms.settings import Settings
from evcms.simulator.stripe_fake import StripeFake
from evcms.station_gateway.local_list_commands import LocalListCommands
from evcms.station_gateway.maintenance_commands import MaintenanceCommands
from evcms.station_gateway.operation_commands import OperationCommands
from evcms.station_gateway.registry import StationRegistry
from evcms.station_gateway.reservation_commands import ReservationCommands
from evcms.station_gateway.routes import GatewayServices
from evcms.station_gateway.server import GatewayConfig, StationGateway
from evcms.station_gateway.session_commands import SessionCommands
from evcms.storage.alerts import SqlAlertRepository
from evcms.storage.analytics import SqlAnalyticsRepository
from evcms.storage.billing import SqlBillingRepository
from evcms.storage.charging import SqlChargingSessionRepository, SqlTokenRepository
from evcms.storage.database import create_engine
from evcms.storage.diagnostics import SqlDiagnosticsRepository
from evcms.storage.drivers import SqlDriverAuthTokenRepository, SqlDriverRepository, SqlOutbox
from evcms.storage.files import LocalFileStore
from evcms.storage.firmware import SqlFirmwareRepository
from evcms.storage.invoices import SqlInvoiceRepository
from evcms.storage.ledger import SqlLedgerRepository
from evcms.storage.local_lists import SqlLocalListRepository
from evcms.storage.message_log import SqlMessageLog
from evcms.storage.migrate import check_at_head, upgrade
from evcms.storage.operations import SqlOperationRepository
from evcms.storage.operators import SqlOperatorSessionRepository, SqlOperatorUserRepository
from evcms.storage.payments import SqlPaymentRepository
from evcms.storage.repositories import (
    SqlApiKeyRepository,
    SqlSiteRepository,
    SqlStationRepository,
)
from evcms.storage.reservations import SqlReservationRepository
from evcms.storage.station_config import SqlStationConfigRepository
from evcms.storage.subscriptions import SqlSubscriptionRepository
from evcms.storage.tariffs import SqlTariffRepository
from evcms.storage.webhooks import SqlWebhookRepository
from evcms.storage.writer import Writer
from evcms.web.app import create_app
from evcms.web.deps import WebDeps
from evcms.web.event_schemas import EVENT_TYPES, event_json, event_type
from evcms.webhook_sender import HttpxWebhookSender

log = logging.getLogger(__name__)

PRESENCE_FLUSH_SECONDS = 5.0
RESERVATION_SWEEP_SECONDS = 10.0
BILLING_SWEEP_SECONDS = 300.0  # ended sessions whose settlement was missed, renewals
ROLLOUT_CHECK_SECONDS = 5.0  # firmware rollouts' waves and update timeouts
DEMO_SITE = SiteId("demo")
DEMO_CARDS = ("DEMO-CARD-1", "DEMO-CARD-2", "DEMO-CARD-3")
DEMO_OPERATOR = "admin@demo.evcms.test"


class _EmbeddedUvicorn(uvicorn.Server):
    """uvicorn inside our loop: evcms handles the signals, not uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


@dataclass
class Evcms:
    """A running evcms node."""

    settings: Settings
    gateway: StationGateway
    network: NetworkAdmin
    access: AccessControl
    lifecycle: StationLifecycle
    charging: Charging
    tokens: TokenAdmin
    billing: Billing
    wallets: Wallets
    invoicing: Invoicing
    payments: CardPayments | None
    subscriptions: Subscriptions
    alerts: Alerts | None = None
    webhooks: Webhooks | None = None
    operators: OperatorAccounts | None = None  # console sign-in
    http_port: int = 0
    demo_admin_key: str | None = None
    demo_operator: tuple[str, str] | None = None  # (e-mail, password) of the demo console user
    _closers: list[Any] = field(default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _http: _EmbeddedUvicorn | None = None
    _stopped: bool = False

    @property
    def ocpp_port(self) -> int:
        return self.gateway.port

    def urls(self) -> dict[str, str]:
        host = self.settings.display_host()
        return {
            "console": f"http://{host}:{self.http_port}/",
            "api_docs": f"http://{host}:{self.http_port}/docs",
            "ocpp": f"ws://{host}:{self.ocpp_port}/ocpp/{{station_id}}",
        }

    async def stop(self) -> None:
        """Graceful: stop accepting, finish in-flight messages, close stations with 1001."""
        if self._stopped:
            return
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.gateway.stop()
        for closer in reversed(self._closers):
            try:
                await closer()
            except Exception:
                log.exception("error while shutting down")


async def start(settings: Settings, *, demo: bool = False, migrate: bool = True) -> Evcms:
    """Build and start everything; returns once both servers listen."""
    clock = SystemClock()
    if migrate:
        await upgrade(settings.database_url)
    engine = create_engine(settings.database_url)
    writer = Writer(engine, max_wait=settings.write_batch_wait_ms / 1000)
    await writer.start()
    closers: list[Any] = [engine.dispose, writer.close]
    try:

        sites = SqlSiteRepository(engine, writer, clock=clock)
        stations = SqlStationRepository(engine, writer, clock=clock)
        api_keys = SqlApiKeyRepository(engine, writer, clock=clock)
        message_log = SqlMessageLog(
            engine,
            writer,
            retention=timedelta(days=settings.message_log_retention_days),
            clock=clock,
        )
        await message_log.start()
        closers.append(message_log.close)
        await stations.mark_all_disconnected(clock.now())

        bus = InProcessBus()
        closers.append(bus.close)
        hasher = station_hasher()
        lifecycle = StationLifecycle(
            stations=stations,
            hasher=hasher,
            events=bus,
            clock=clock,
            policy=LifecyclePolicy(
                auto_onboard=settings.auto_onboard.value,
                allow_unsecured=settings.allow_unsecured_stations,
                heartbeat_interval=settings.heartbeat_interval,
                pending_retry_interval=settings.pending_retry_interval,
            ),
        )
        registry = StationRegistry()
        station_config = StationConfiguration(
            store=SqlStationConfigRepository(engine, writer, clock=clock), events=bus, clock=clock
        )
        operations = RemoteOperations(
            commands=registry,
            operations=SqlOperationRepository(engine, writer, clock=clock),
            translator=OperationCommands(),
            events=bus,
            clock=clock,
            configuration=station_config,
            stations=stations,
            bulk_concurrency=settings.bulk_operation_concurrency,
        )
        closers.append(operations.close)  # bulk operations stop before the writer closes
        await operations.interrupted_at_start()
        # the calls services send by themselves are audited like an operator's operations
        audited = AuditedCommands(registry, operations)
        tokens = SqlTokenRepository(engine, writer, clock=clock)
        sessions = SqlChargingSessionRepository(engine, writer, clock=clock)
        reservations = Reservations(
            reservations=SqlReservationRepository(engine, writer, clock=clock),
            tokens=tokens,
            stations=stations,
            sessions=sessions,
            commands=ReservationCommands(audited),
            clock=clock,
        )
        charging = Charging(
            sessions=sessions,
            tokens=tokens,
            stations=stations,
            commands=SessionCommands(audited),
            events=bus,
            clock=clock,
            reservations=reservations,
        )
        tariff_admin = TariffAdmin(
            tariffs=SqlTariffRepository(engine, writer, clock=clock),
            stations=stations,
            sites=sites,
            clock=clock,
        )
        pricing = Pricing(charging=charging, tariffs=tariff_admin, clock=clock)
        driver_repository = SqlDriverRepository(engine, writer, clock=clock)
        money = _billing(settings, engine, writer, clock, charging, pricing, driver_repository)
        closers.append(money.billing.close)
        closers.extend(money.closers)
        charging.payment_gate = money.billing.admission()
        # an ended session is settled (a started one pre-authorised, under the stop policy)
        bus.subscribe(money.billing.on_event, types=(SessionEnded, SessionStarted))
        live_cost = LiveCost(price_of=pricing.total_incl_vat, clock=clock)
        closers.append(live_cost.close)
        # diagnostics and firmware (built before the gateway's services, which route to it; the
        # HTTP port in its links is known once bound: ``node`` is read when a link is made)
        maintenance = _maintenance(
            settings, engine, writer, clock, stations, audited, bus,
            base_url=lambda: settings.public_base_url
            or f"http://{settings.display_host()}:{node.http_port}",
        )
        gateway_services = GatewayServices(
            diagnostics=maintenance.diagnostics, firmware=maintenance.firmware,
            lifecycle=lifecycle, charging=charging, live_cost=live_cost,
            configuration=station_config,
        )
        closers.append(gateway_services.cancel_background)  # runs after the gateway stopped
        gateway = StationGateway(
            registry=registry,
            config=GatewayConfig(
                host=settings.host,
                port=settings.ocpp_port,
                call_timeout=settings.call_timeout,
                ping_interval=settings.ws_ping_interval,
                ping_timeout=settings.ws_ping_timeout,
                max_message_size=settings.ws_max_message_size,
                compression=settings.ws_compression,
            ),
            services=gateway_services,
            message_log=message_log,
            clock=clock,
        )
        network = NetworkAdmin(
            sites=sites,
            stations=stations,
            hasher=hasher,
            commands=audited,
            lifecycle=lifecycle,
            clock=clock,
        )
        closers.append(network.close)
        access = AccessControl(keys=api_keys, clock=clock)
        local_lists = LocalLists(
            lists=SqlLocalListRepository(engine, writer),
            tokens=tokens,
            stations=stations,
            commands=LocalListCommands(audited),
            clock=clock,
            policy=LocalListPolicy(),
        )
        closers.append(local_lists.close)  # runs before the writer closes
        # an accepted boot syncs a list that is not in step
        bus.subscribe(local_lists.on_event, types=(StationBooted,))
        token_admin = TokenAdmin(
            tokens=tokens,
            clock=clock,
            on_change=local_lists.tokens_changed,
            driver_tokens_need_approval=settings.driver_tokens_need_approval,
        )
        outbox = SqlOutbox(engine, writer, clock=clock)
        mailer = _mailer(settings, outbox, clock)
        closers.append(mailer.close)  # before the writer closes: delivery records go through it
        # -- alerts and webhooks --
        monitoring = await _alerts(settings, engine, writer, clock, bus, lifecycle, stations, mailer)
        closers.extend(monitoring.closers)
        # -- diagnostics and firmware --
        bus.subscribe(maintenance.firmware.on_event, types=(StationBooted,))  # booted new version
        closers.append(maintenance.firmware.close)  # rollout work stops before the writer closes
        # -- analytics --
        analytics = _analytics(settings, engine, writer, clock, stations, sites, sessions, mailer)
        bus.subscribe(analytics.on_event, types=ANALYTICS_EVENTS)
        closers.append(analytics.flush)  # the last rollups are written before the writer closes
        operators = _operator_accounts(engine, writer, clock)

        lag = LoopLagMonitor()
        lag.start()
        closers.append(lag.stop)

        def storage_figures() -> dict[str, Any]:
            return {
                "commits": writer.stats.commits,
                "commit_seconds": writer.stats.transaction_seconds,
                "last_commit_seconds": writer.stats.last_transaction_seconds,
                "queued": writer.queued,
                "message_log_dropped": message_log.dropped,
            }

        metrics = prometheus_exposition(
            EvcmsCollector(
                stats=gateway.stats,
                connected=gateway.connected_count,
                lag=lag,
                storage=storage_figures,
            )
        )

        async def health() -> dict[str, Any]:
            status = "ok" if writer.running else "storage writer stopped"
            return {
                "status": status,
                "stations_connected": gateway.connected_count(),
                "event_loop_lag_max_seconds": round(lag.max_lag, 4),
            }

        node = Evcms(
            settings=settings,
            gateway=gateway,
            network=network,
            access=access,
            lifecycle=lifecycle,
            charging=charging,
            tokens=token_admin,
            billing=money.billing,
            wallets=money.wallets,
            invoicing=money.invoicing,
            payments=money.payments,
            subscriptions=money.subscriptions,
            operators=operators,
            _closers=closers,
        )
        # Compile every schema validator before the first station arrives (~3 s, once per process),
        # so no station's first message pays for it on the event loop.
        await asyncio.to_thread(ocpp_schemas.warm_up)
        await gateway.start()
        host = settings.display_host()
        sock = _bind(settings.host, settings.http_port)
        node.http_port = sock.getsockname()[1]
        drivers = _driver_accounts(
            settings, engine, writer, mailer, outbox, clock, node.http_port,
            token_admin.block_all_of,
        )
        app = create_app(
            WebDeps(
                network=network,
                access=access,
                operations=operations,
                message_log=message_log,
                metrics=metrics,
                health=health,
                ocpp_url=f"ws://{host}:{gateway.port}/ocpp/{{station_id}}",
                charging=charging,
                tokens=token_admin,
                clock=clock,
                drivers=drivers,
                reservations=reservations,
                local_lists=local_lists,
                events=bus,
                tariffs=tariff_admin,
                pricing=pricing,
                billing=money.billing,
                wallets=money.wallets,
                invoicing=money.invoicing,
                payments=money.payments,
                subscriptions=money.subscriptions,
                diagnostics=maintenance.diagnostics,
                firmware=maintenance.firmware,
                alerts=monitoring.alerts,
                webhooks=monitoring.webhooks,
                operators=operators,
                configuration=station_config,
                analytics=analytics,
            )
        )
        http = _EmbeddedUvicorn(
            uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=5)
        )
        node._http = http
        http_task = asyncio.get_running_loop().create_task(http.serve(sockets=[sock]))

        async def stop_http() -> None:
            http.should_exit = True
            await asyncio.gather(http_task, return_exceptions=True)

        closers.append(stop_http)  # closers run in reverse: HTTP first, the engine last
        node._tasks.append(
            asyncio.get_running_loop().create_task(
                _every(PRESENCE_FLUSH_SECONDS, lifecycle.flush_presence, "storing station presence")
            )
        )
        node._tasks.append(asyncio.get_running_loop().create_task(_freeze_heap(gateway)))
        node._tasks.append(
            asyncio.get_running_loop().create_task(
                _every(RESERVATION_SWEEP_SECONDS, reservations.expire_due, "expiring reservations")
            )
        )
        node._tasks.append(
            asyncio.get_running_loop().create_task(
                _every(3600, drivers.purge_expired_tokens, "purging expired driver tokens")
            )
        )
        node._tasks.append(
            asyncio.get_running_loop().create_task(
                _every(3600, operators.purge_expired_sessions, "purging ended console sessions")
            )
        )
        for seconds, chore, what in (
            (BILLING_SWEEP_SECONDS, money.billing.settle_missed, "settling missed sessions"),
            (BILLING_SWEEP_SECONDS, money.subscriptions.renew_due, "renewing subscriptions"),
            (6 * 3600, money.billing.invoice_last_month, "monthly invoices"),
        ):
            node._tasks.append(asyncio.get_running_loop().create_task(_every(seconds, chore, what)))
        # -- monitoring and maintenance chores --
        # firmware rollouts move on and updates time out; the first round resumes running
        # rollouts after a restart
        node._tasks.append(
            asyncio.get_running_loop().create_task(_firmware_rounds(maintenance.firmware))
        )
        node.alerts, node.webhooks = monitoring.alerts, monitoring.webhooks
        node._tasks.append(asyncio.get_running_loop().create_task(monitoring.webhooks.run()))
        for seconds, chore, what in (
            (settings.alert_check_seconds, monitoring.alerts.check, "checking alert rules"),
            (3600, monitoring.purge_deliveries, "purging old webhook deliveries"),
        ):
            node._tasks.append(asyncio.get_running_loop().create_task(_every(seconds, chore, what)))
        # -- analytics chores --
        analytics.policy = dataclasses.replace(
            analytics.policy,
            public_base_url=settings.public_base_url or f"http://{host}:{node.http_port}",
        )
        analytics_chores: list[tuple[float, Any, str]] = [
            (settings.analytics_flush_seconds, analytics.flush_due, "writing analytics rollups"),
            (3600, analytics.mail_monthly_reports, "mailing monthly site reports"),
        ]
        for seconds, chore, what in analytics_chores:
            node._tasks.append(asyncio.get_running_loop().create_task(_every(seconds, chore, what)))
        while not http.started:
            if http_task.done():
                await http_task
                raise RuntimeError("the HTTP server did not start")
            await asyncio.sleep(0.01)

        if demo:
            node.demo_admin_key = await _start_demo(node, settings)
        gc.collect()
        gc.freeze()
        return node
    except BaseException:
        # A start that fails half-way leaves nothing running: undo what was started.
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                await closer()
        raise



def _analytics(
    settings: Settings,
    engine: Any,
    writer: Writer,
    clock: SystemClock,
    stations: Any,
    sites: Any,
    sessions: Any,
    mailer: Any,
) -> Analytics:
    """Analytics over its SQL rollups (which also read billing's settled charges)."""
    repository = SqlAnalyticsRepository(engine, writer, clock=clock)
    return Analytics(
        repository=repository,
        stations=stations,
        sites=sites,
        sessions=sessions,
        charges=repository,
        clock=clock,
        policy=AnalyticsPolicy(
            report_recipients=tuple(
                a.strip() for a in settings.report_email_to.split(",") if a.strip()
            ),
            report_time_zone=settings.report_time_zone,
            public_base_url=settings.public_base_url or "",
        ),
        mailer=mailer,
        renderer=SiteReportPdfRenderer(settings.invoice_font),
    )



@contextlib.asynccontextmanager
async def analytics_admin(settings: Settings) -> AsyncIterator[Analytics]:
    """The analytics service over the database, without servers (``evcms analytics ...``)."""
    clock = SystemClock()
    engine = create_engine(settings.database_url)
    try:
        await check_at_head(engine)
        writer = Writer(engine)
        await writer.start()
        try:
            yield _analytics(
                settings,
                engine,
                writer,
                clock,
                SqlStationRepository(engine, writer, clock=clock),
                SqlSiteRepository(engine, writer, clock=clock),
                SqlChargingSessionRepository(engine, writer, clock=clock),
                None,
            )
        finally:
            await writer.close()
    finally:
        await engine.dispose()


@dataclass
class _Money:
    billing: Billing
    wallets: Wallets
    invoicing: Invoicing
    payments: CardPayments | None
    subscriptions: Subscriptions
    closers: list[Any]


def _billing(
    settings: Settings,
    engine: Any,
    writer: Writer,
    clock: SystemClock,
    charging: Charging,
    pricing: Pricing,
    drivers: SqlDriverRepository,
) -> _Money:
    """Wallets, invoices, card payments (when Stripe is configured), plans, and the billing
    service that settles sessions through them."""
    currency = settings.currency.upper()
    wallets = Wallets(ledger=SqlLedgerRepository(engine, writer, clock=clock), clock=clock, currency=currency)
    invoicing = Invoicing(
        invoices=SqlInvoiceRepository(engine, writer, clock=clock),
        renderer=InvoicePdfRenderer(settings.invoice_font, time_zone=settings.invoice_time_zone),
        clock=clock,
        seller=Party(
            name=settings.seller_name,
            address=settings.seller_address,
            vat_id=settings.seller_vat_id or None,
            company_id=settings.seller_company_id or None,
        ),
    )
    closers: list[Any] = []
    payments = None
    if settings.stripe_secret_key is not None:
        webhook_secret = settings.stripe_webhook_secret
        provider = StripeProvider(
            settings.stripe_secret_key.get_secret_value(),
            webhook_secret=None if webhook_secret is None else webhook_secret.get_secret_value(),
            api_base=settings.stripe_api_base,
        )
        closers.append(provider.close)
        payments = CardPayments(
            provider=provider,
            payments=SqlPaymentRepository(engine, writer, clock=clock),
            clock=clock,
            currency=currency,
        )
    fees = _FeesLater()
    subscriptions = Subscriptions(
        subscriptions=SqlSubscriptionRepository(engine, writer, clock=clock), clock=clock, fees=fees
    )
    billing = Billing(
        repository=SqlBillingRepository(engine, writer, clock=clock),
        charging=charging,
        pricing=pricing,
        drivers=drivers,
        clock=clock,
        policy=BillingPolicy(
            currency=currency,
            wallet_min_balance=settings.wallet_min_balance,
            card_preauth_amount=settings.card_preauth_amount,
            decline=DeclinePolicy(settings.card_decline.value),
            default_mode=PaymentMode(settings.default_payment_mode),
            time_zone=settings.invoice_time_zone,
        ),
        wallets=wallets,
        cards=payments,
        invoicing=invoicing,
        plans=subscriptions,
    )
    fees.billing = billing  # plans and billing need each other: fees are billing's to take
    if payments is not None:
        payments.on_succeeded = billing.payment_succeeded
    return _Money(billing, wallets, invoicing, payments, subscriptions, closers)


@dataclass
class _Monitoring:
    alerts: Alerts
    webhooks: Webhooks
    purge_deliveries: Any
    closers: list[Any]


async def _alerts(
    settings: Settings,
    engine: Any,
    writer: Writer,
    clock: SystemClock,
    bus: InProcessBus,
    lifecycle: StationLifecycle,
    stations: SqlStationRepository,
    mailer: OutboxMailer | SmtpMailer,
) -> _Monitoring:
    """Alert rules over the bus and a periodic check; webhooks (the queue and its worker);
    alert e-mail."""
    alerts = Alerts(
        repository=SqlAlertRepository(engine, writer, clock=clock),
        events=bus,
        clock=clock,
        presence=lifecycle,
        stations=stations,
        heartbeat_interval=settings.heartbeat_interval,
    )
    await alerts.start()
    bus.subscribe(alerts.on_event, types=ALERT_FACTS)

    async def site_of(station_id: StationId) -> SiteId | None:
        station = await stations.get(station_id)
        return None if station is None else station.site_id

    def serialise(event: Any) -> tuple[str, dict[str, Any]] | None:
        kind = event_type(event)
        return None if kind is None else (kind, event_json(event))

    sender = HttpxWebhookSender()
    webhooks = Webhooks(
        repository=SqlWebhookRepository(engine, writer, clock=clock),
        sender=sender,
        clock=clock,
        serialise=serialise,
        event_types=EVENT_TYPES,
        site_of=site_of,
        policy=WebhookPolicy(
            retry=RetryPolicy(
                base_seconds=settings.webhook_retry_base_seconds,
                max_seconds=settings.webhook_retry_max_seconds,
                max_attempts=settings.webhook_max_attempts,
            ),
            timeout=settings.webhook_timeout_seconds,
        ),
    )
    await webhooks.start()
    bus.subscribe(webhooks.on_event)
    recipients = parse_recipients(settings.alert_email_to)
    if recipients:
        mail = AlertMail(
            mailer=mailer,
            recipients=recipients,
            min_severity=Severity(settings.alert_email_min_severity),
            console_url=settings.public_base_url,
        )
        bus.subscribe(mail.on_event, types=(AlertChanged,))
    retention = timedelta(days=settings.webhook_retention_days)

    async def purge_deliveries() -> int:
        return await webhooks.purge(clock.now() - retention)

    return _Monitoring(alerts, webhooks, purge_deliveries, [sender.close])


class _FeesLater:
    """The subscriptions' FeeCollector, bound to the billing service once it exists."""

    billing: Billing | None = None

    async def collect(self, subscription: Any, plan: Any, period_start: Any, period_end: Any) -> Any:
        assert self.billing is not None
        return await self.billing.collect(subscription, plan, period_start, period_end)


def _operator_accounts(engine: Any, writer: Writer, clock: SystemClock) -> OperatorAccounts:
    return OperatorAccounts(
        users=SqlOperatorUserRepository(engine, writer, clock=clock),
        sessions=SqlOperatorSessionRepository(engine, writer, clock=clock),
        hasher=operator_hasher(),
        clock=clock,
    )


def _mailer(settings: Settings, outbox: SqlOutbox, clock: SystemClock) -> OutboxMailer | SmtpMailer:
    """SMTP when configured; otherwise mails go to the log and the outbox table only."""
    if not settings.smtp_host:
        return OutboxMailer(outbox=outbox, clock=clock)
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return SmtpMailer(
        outbox=outbox,
        clock=clock,
        config=SmtpConfig(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=password,
            starttls=settings.smtp_starttls,
        ),
    )


@dataclass
class _Maintenance:
    diagnostics: Diagnostics
    firmware: Firmware


def files_directory(settings: Settings) -> Path:
    """EVCMS_FILES_DIR, else 'files' next to the SQLite database, else ./evcms-files."""
    if settings.files_dir:
        return Path(settings.files_dir)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(str(url.database)).parent / "files"
    return Path("evcms-files")


def _maintenance(
    settings: Settings,
    engine: Any,
    writer: Writer,
    clock: SystemClock,
    stations: SqlStationRepository,
    station_commands: AuditedCommands,
    bus: InProcessBus,
    *,
    base_url: Callable[[], str],
) -> _Maintenance:
    """Diagnostics uploads and firmware: files in a local directory."""
    files = LocalFileStore(files_directory(settings))
    commands = MaintenanceCommands(station_commands)
    diagnostics = Diagnostics(
        requests=SqlDiagnosticsRepository(engine, writer, clock=clock),
        stations=stations,
        files=files,
        commands=commands,
        events=bus,
        clock=clock,
        base_url=base_url,
        policy=DiagnosticsPolicy(
            token_ttl=timedelta(seconds=settings.upload_token_ttl),
            max_upload_bytes=settings.upload_max_bytes,
        ),
    )
    firmware = Firmware(
        repository=SqlFirmwareRepository(engine, writer, clock=clock),
        stations=stations,
        files=files,
        commands=commands,
        events=bus,
        clock=clock,
        base_url=base_url,
        policy=FirmwarePolicy(
            max_file_bytes=settings.firmware_max_bytes,
            update_timeout=timedelta(seconds=settings.firmware_update_timeout),
        ),
    )
    return _Maintenance(diagnostics, firmware)


async def _firmware_rounds(firmware: Firmware) -> None:
    """Rollouts move on and updates time out; the first round (soon after start-up) resumes
    the rollouts that were running when evcms stopped."""
    await asyncio.sleep(0.5)
    while True:
        try:
            await firmware.advance_all()
        except Exception:
            log.exception("firmware rollouts and update timeouts failed")
        await asyncio.sleep(ROLLOUT_CHECK_SECONDS)


def _driver_accounts(
    settings: Settings,
    engine: Any,
    writer: Writer,
    mailer: OutboxMailer | SmtpMailer,
    outbox: SqlOutbox,
    clock: SystemClock,
    http_port: int,
    on_deactivated: Any = None,
) -> DriverAccounts:
    return DriverAccounts(
        drivers=SqlDriverRepository(engine, writer, clock=clock),
        tokens=SqlDriverAuthTokenRepository(engine, writer, clock=clock),
        mailer=mailer,
        outbox=outbox,
        hasher=operator_hasher(),
        clock=clock,
        policy=DriverPolicy(
            public_base_url=settings.public_base_url
            or f"http://{settings.display_host()}:{http_port}",
            require_verified_email=settings.require_verified_email,
        ),
        on_deactivated=on_deactivated,
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


async def _every(seconds: float, chore: Any, what: str) -> None:
    """Run ``chore()`` every ``seconds``; a failure is logged and the next round still runs."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await chore()
        except Exception:
            log.exception("%s failed", what)


async def _freeze_heap(gateway: StationGateway) -> None:
    """Keep CPython's full collections off the long-lived heap of connections.

    A full collection walks every tracked object; with 10,000 stations that stalls every one of
    them for ~0.5 s. Objects that survive the ramp-up are long-lived: freeze them (gc.freeze)
    whenever the number of connections has grown and then settled.
    """
    frozen_at = 0
    previous = -1
    while True:
        await asyncio.sleep(10)
        count = gateway.connected_count()
        if count == previous and count > frozen_at * 1.1 + 100:
            gc.collect(1)
            gc.freeze()
            frozen_at = count
            log.debug("froze the heap at %d connections", count)
        previous = count


async def _start_demo(node: Evcms, settings: Settings) -> str:
    """A demo site with simulated stations (real OCPP clients over real sockets)."""
    from evcms.simulator.station import SimulatedStation, StationProfile

    network = node.network
    if await network.site(DEMO_SITE) is None:
        await network.add_site(Site(DEMO_SITE, "Demo car park", "1 Charging Street, Sofia", 42.6977, 23.3219))
    for card in DEMO_CARDS:
        with contextlib.suppress(AlreadyExists):
            await node.tokens.issue(card, label="demo card", max_concurrent=0)
    versions = ["ocpp1.6", "ocpp2.0.1", "ocpp1.6", "ocpp2.0.1", "ocpp2.1", "ocpp1.6"]
    simulated = []
    for n in range(settings.demo_stations):
        version = versions[n % len(versions)]
        station_id = StationId(f"DEMO-{n + 1:02d}")
        password = generate_station_password()
        if await network.station(station_id) is None:
            await network.add_station(
                station_id, site_id=DEMO_SITE, name=f"Demo {n + 1} ({version})", password=password
            )
        else:
            await network.set_password(station_id, password)
        profile = StationProfile(
            station_id, version, password=password, connectors=2, vendor="evcms-demo",
            model=f"Demo-{version[4:]}", cards=DEMO_CARDS,
        )
        simulated.append(SimulatedStation(profile, f"ws://127.0.0.1:{node.ocpp_port}/ocpp/{station_id}", seed=n))
    for key in await node.access.keys():
        if key.name == "demo-admin" and not key.revoked:
            await node.access.revoke(key.id)
    _, secret = await node.access.create_key("demo-admin", Role.ADMIN)
    if node.operators is not None:  # a console sign-in for the demo, with a new password each run
        password = generate_station_password(16)
        try:
            user = await node.operators.add_user(DEMO_OPERATOR, password, Role.ADMIN, name="Demo admin")
        except ServiceError:
            user = await node.operators.user_by_email(DEMO_OPERATOR)
            await node.operators.change(user.id, password=password, disabled=False)
        node.demo_operator = (DEMO_OPERATOR, password)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_task(s.run_forever()) for s in simulated]
    node._tasks.extend(tasks)  # cancelled first when the node stops
    return secret


async def serve(settings: Settings, *, demo: bool = False) -> None:
    """Run until SIGINT/SIGTERM, then shut down gracefully."""
    stripe_fake = None
    if demo and settings.stripe_secret_key is None:
        # The demo shows card payments against a local fake of Stripe (there is no real account).
        stripe_fake = StripeFake(api_key="sk_test_evcms_demo", webhook_secret="whsec_evcms_demo")
        settings = settings.model_copy(
            update={
                "stripe_secret_key": SecretStr("sk_test_evcms_demo"),
                "stripe_webhook_secret": SecretStr("whsec_evcms_demo"),
                "stripe_api_base": await stripe_fake.start(),
            }
        )
    try:
        node = await start(settings, demo=demo)
    except BaseException:
        if stripe_fake is not None:
            await stripe_fake.stop()
        raise
    if stripe_fake is not None:
        stripe_fake.webhook_url = (
            f"http://127.0.0.1:{node.http_port}/api/v1/payments/stripe/webhook"
        )
        node._closers.insert(0, stripe_fake.stop)  # closers run in reverse: the fake goes last
    urls = node.urls()
    lines = [
        "evcms is running",
        f"  console:   {urls['console']}",
        f"  API docs:  {urls['api_docs']}",
        f"  stations:  {urls['ocpp']}  (subprotocols ocpp1.6, ocpp2.0.1, ocpp2.1)",
    ]
    if node.demo_admin_key:
        lines.append(f"  demo admin API key: {node.demo_admin_key}")
    if node.demo_operator:
        lines.append(f"  console sign-in: {node.demo_operator[0]} / {node.demo_operator[1]}")
        lines.append(f"  demo network: {settings.demo_stations} simulated stations on site 'demo'")
    if stripe_fake is not None:
        lines.append("  card payments: a local fake of Stripe (test cards such as pm_card_visa)")
    print("\n".join(lines), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down")
    await node.stop()


class _NoStationsHere:
    """StationCommands for a process without a station gateway (the admin CLI)."""

    def is_connected(self, station_id: StationId) -> bool:
        return False

    def version_of(self, station_id: StationId) -> str | None:
        return None

    async def call(self, station_id: StationId, action: str, payload: dict[str, Any], timeout: float | None = None) -> Any:
        from evcms.services.ports import CommandOutcome, CommandReply

        return CommandReply(CommandOutcome.DISCONNECTED, error_description="no station gateway in this process")


@dataclass
class AdminContext:
    network: NetworkAdmin
    access: AccessControl
    tokens: TokenAdmin
    charging: Charging
    drivers: DriverAccounts
    tariffs: TariffAdmin
    billing: Billing
    wallets: Wallets
    invoicing: Invoicing
    subscriptions: Subscriptions
    operators: OperatorAccounts

    async def driver_id_by_email(self, email: str) -> str:
        driver = await self.drivers.driver_by_email(email)
        if driver is None:
            raise NotFound(f"no driver with the e-mail {email!r}")
        return driver.id


@contextlib.asynccontextmanager
async def admin(settings: Settings) -> AsyncIterator[AdminContext]:
    """Services over the database without servers: for the CLI's admin commands."""
    clock = SystemClock()
    engine = create_engine(settings.database_url)
    try:
        await check_at_head(engine)
    except BaseException:
        await engine.dispose()
        raise
    writer = Writer(engine)
    await writer.start()
    outbox = SqlOutbox(engine, writer, clock=clock)
    money_closers: list[Any] = []  # the card provider's HTTP client, when configured
    mailer = _mailer(settings, outbox, clock)
    try:
        stations = SqlStationRepository(engine, writer, clock=clock)
        tokens = SqlTokenRepository(engine, writer, clock=clock)
        hasher = station_hasher()
        lifecycle = StationLifecycle(
            stations=stations,
            hasher=hasher,
            events=_NullBus(),
            clock=clock,
            policy=LifecyclePolicy("off", False, settings.heartbeat_interval, settings.pending_retry_interval),
        )
        # Token changes from the CLI mark stations' lists stale; they resync at the next boot
        # (or when an operator asks), since no station is connected to this process.
        token_admin = TokenAdmin(
            tokens=tokens,
            clock=clock,
            on_change=LocalLists(
                lists=SqlLocalListRepository(engine, writer),
                tokens=tokens,
                stations=stations,
                commands=LocalListCommands(_NoStationsHere()),
                clock=clock,
                policy=LocalListPolicy(auto_sync=False),
            ).tokens_changed,
        )
        admin_charging = Charging(
            sessions=SqlChargingSessionRepository(engine, writer, clock=clock),
            tokens=tokens,
            stations=stations,
            commands=SessionCommands(_NoStationsHere()),
            events=_NullBus(),
            clock=clock,
        )
        admin_tariffs = TariffAdmin(
            tariffs=SqlTariffRepository(engine, writer, clock=clock),
            stations=stations,
            sites=SqlSiteRepository(engine, writer, clock=clock),
            clock=clock,
        )
        money = _billing(
            settings,
            engine,
            writer,
            clock,
            admin_charging,
            Pricing(charging=admin_charging, tariffs=admin_tariffs, clock=clock),
            SqlDriverRepository(engine, writer, clock=clock),
        )
        money_closers.extend(money.closers)
        yield AdminContext(
            network=NetworkAdmin(
                sites=SqlSiteRepository(engine, writer, clock=clock),
                stations=stations,
                hasher=hasher,
                commands=_NoStationsHere(),
                lifecycle=lifecycle,
                clock=clock,
            ),
            access=AccessControl(keys=SqlApiKeyRepository(engine, writer, clock=clock), clock=clock),
            tokens=token_admin,
            charging=admin_charging,
            drivers=_driver_accounts(
                settings, engine, writer, mailer, outbox, clock, settings.http_port,
                token_admin.block_all_of,
            ),
            tariffs=admin_tariffs,
            billing=money.billing,
            wallets=money.wallets,
            invoicing=money.invoicing,
            subscriptions=money.subscriptions,
            operators=_operator_accounts(engine, writer, clock),
        )
    finally:
        for closer in money_closers:
            await closer()
        await mailer.close()
        await writer.close()
        await engine.dispose()


class _NullBus:
    def publish(self, event: Any) -> None:
        pass

    def subscribe(self, handler: Any, *, types: Any = None) -> Any:
        return lambda: None
