"""The ``evcms`` command.

Errors are one clear line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import typer
from pydantic import ValidationError

from evcms.settings import Settings, reference

app = typer.Typer(
    name="evcms",
    help="evcms: a charging management system for EV charging stations (OCPP 1.6J/2.0.1/2.1).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
station_app = typer.Typer(help="Charging stations.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys.", no_args_is_help=True)
driver_app = typer.Typer(help="Driver accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Identification tokens (RFID cards, app tokens).", no_args_is_help=True)
session_app = typer.Typer(help="Charging sessions.", no_args_is_help=True)
tariff_app = typer.Typer(help="Tariffs (OCPI 2.2.1 JSON).", no_args_is_help=True)
wallet_app = typer.Typer(help="Prepaid wallets.", no_args_is_help=True)
plan_app = typer.Typer(help="Subscription plans.", no_args_is_help=True)
invoice_app = typer.Typer(help="Invoices, receipts and credit notes.", no_args_is_help=True)
billing_app = typer.Typer(help="Settling sessions and monthly invoices.", no_args_is_help=True)
analytics_app = typer.Typer(help="Analytics rollups and reports.", no_args_is_help=True)
user_app = typer.Typer(help="Operator accounts of the console.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(station_app, name="station")
app.add_typer(apikey_app, name="apikey")
app.add_typer(driver_app, name="driver")
app.add_typer(token_app, name="token")
app.add_typer(session_app, name="session")
app.add_typer(tariff_app, name="tariff")
app.add_typer(wallet_app, name="wallet")
app.add_typer(plan_app, name="plan")
app.add_typer(invoice_app, name="invoice")
app.add_typer(billing_app, name="billing")
app.add_typer(analytics_app, name="analytics")
app.add_typer(user_app, name="user")

T = TypeVar("T")


class CliError(Exception):
    """A problem to report in one line."""


def _fail(message: str) -> None:
    typer.echo(f"evcms: error: {message}", err=True)
    raise typer.Exit(1)


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'EVCMS_' + str(e['loc'][0]).upper() if e['loc'] else 'settings'}: {e['msg']}"
            for e in exc.errors()
        )
        _fail(f"invalid settings: {problems}")
        raise  # unreachable


def _run(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from evcms.services.network import InvalidRequest
    from evcms.services.ports import AlreadyExists, NotFound, ServiceError

    try:
        return asyncio.run(factory())
    except (CliError, InvalidRequest, AlreadyExists, NotFound, ServiceError, ValueError) as exc:
        _fail(str(exc) or type(exc).__name__)
    except OSError as exc:  # a port in use, a database that does not answer, ...
        _fail(str(exc))
    except Exception as exc:  # the database is unreachable, a migration failed, ...
        _fail(f"{type(exc).__name__}: {exc}".splitlines()[0])
    raise AssertionError("unreachable")


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


@app.command()
def serve(
    demo: bool = typer.Option(False, "--demo/--no-demo", help="Start simulated demo stations."),
    host: str | None = typer.Option(None, help="Listen address (EVCMS_HOST)."),
    http_port: int | None = typer.Option(None, help="REST API and console port (EVCMS_HTTP_PORT)."),
    ocpp_port: int | None = typer.Option(None, help="Station WebSocket port (EVCMS_OCPP_PORT)."),
) -> None:
    """Run evcms: the station gateway and the HTTP API."""
    from evcms import bootstrap
    from evcms.observability import configure_logging

    settings = _settings(host=host, http_port=http_port, ocpp_port=ocpp_port)
    configure_logging(settings.log_level, settings.log_format)
    _use_uvloop()
    _run(lambda: bootstrap.serve(settings, demo=demo))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version."""
    from evcms.storage.migrate import upgrade

    settings = _settings()
    _run(lambda: upgrade(settings.database_url))
    typer.echo(f"database is up to date ({_redact(settings.database_url)})")


@station_app.command("add")
def station_add(
    station_id: str = typer.Argument(..., help="The station's identity (last URL segment)."),
    password: str | None = typer.Option(None, help="Basic-auth password (16-40 characters)."),
    generate_password: bool = typer.Option(False, "--generate-password", help="Generate a password and print it."),
    site: str | None = typer.Option(None, help="Site id the station belongs to."),
    name: str = typer.Option("", help="A name operators recognise."),
) -> None:
    """Register a station so it may connect."""
    from evcms import bootstrap
    from evcms.domain.ids import InvalidIdentifier, parse_site_id, parse_station_id
    from evcms.passwords import generate_station_password

    if password is not None and generate_password:
        _fail("give --password or --generate-password, not both")
    try:
        sid = parse_station_id(station_id)
        site_id = parse_site_id(site) if site else None
    except InvalidIdentifier as exc:
        _fail(str(exc))
        return
    secret = generate_station_password() if generate_password else password
    settings = _settings()

    async def add() -> None:
        async with bootstrap.admin(settings) as ctx:
            await ctx.network.add_station(sid, site_id=site_id, name=name, password=secret)

    _run(add)
    host = settings.display_host()
    typer.echo(f"station {sid} added; it connects to ws://{host}:{settings.ocpp_port}/ocpp/{sid}")
    if secret is not None:
        typer.echo(f"Basic auth: user {sid}, password {secret}")
    elif not settings.allow_unsecured_stations:
        typer.echo("note: it has no password; set EVCMS_ALLOW_UNSECURED_STATIONS=true to let it connect")


@station_app.command("list")
def station_list() -> None:
    """List registered stations."""
    from evcms import bootstrap

    settings = _settings()

    async def rows() -> list[Any]:
        async with bootstrap.admin(settings) as ctx:
            return [await ctx.network.view(s.id) for s in await ctx.network.stations()]

    views = _run(rows)
    if not views:
        typer.echo("no stations")
        return
    typer.echo(f"{'ID':<24} {'SITE':<12} {'REGISTRATION':<12} {'ONLINE':<7} {'VERSION':<10} MODEL")
    for v in views:
        s = v.station
        online = "yes" if v.presence and v.presence.connected else "no"
        model = f"{s.info.vendor} {s.info.model}" if s.info else ""
        typer.echo(
            f"{s.id:<24} {s.site_id or '-':<12} {s.registration.value:<12} {online:<7} "
            f"{s.ocpp_version or '-':<10} {model}"
        )


@apikey_app.command("create")
def apikey_create(
    role: str = typer.Option("admin", help="admin, operator, technician or viewer."),
    name: str = typer.Option("cli", help="What the key is for."),
) -> None:
    """Create an API key and print it (it is shown only once)."""
    from evcms import bootstrap
    from evcms.domain.access import Role

    try:
        role_value = Role(role)
    except ValueError:
        _fail(f"unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}")
        return
    settings = _settings()

    async def create() -> str:
        async with bootstrap.admin(settings) as ctx:
            _, secret = await ctx.access.create_key(name, role_value)
            return secret

    typer.echo(_run(create))


def _role(role: str) -> Any:
    from evcms.domain.access import Role

    try:
        return Role(role)
    except ValueError:
        _fail(f"unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}")


@user_app.command("add")
def user_add(
    email: str = typer.Argument(..., help="The operator's e-mail address (their login)."),
    role: str = typer.Option(..., help="admin, operator, technician or viewer."),
    password: str | None = typer.Option(None, help="Initial password; generated when left out."),
    name: str = typer.Option("", help="The operator's name."),
) -> None:
    """Create an operator account for the console."""
    import secrets

    from evcms import bootstrap

    role_value = _role(role)
    generated = None if password is not None else secrets.token_urlsafe(12)
    settings = _settings()

    async def add() -> Any:
        async with bootstrap.admin(settings) as ctx:
            return await ctx.operators.add_user(
                email, password if password is not None else str(generated), role_value, name=name
            )

    user = _run(add)
    typer.echo(f"operator {user.email} added with role {user.role.value} (id {user.id})")
    if generated is not None:
        typer.echo(f"password: {generated}")


@user_app.command("list")
def user_list() -> None:
    """Operator accounts with role and last sign-in."""
    from evcms import bootstrap

    settings = _settings()

    async def users() -> list[Any]:
        async with bootstrap.admin(settings) as ctx:
            return list(await ctx.operators.users())

    for user in _run(users):
        state = "disabled" if user.disabled else "active"
        last = user.last_login_at.isoformat() if user.last_login_at else "never"
        typer.echo(f"{user.email}\t{user.role.value}\t{state}\tlast sign-in {last}\t{user.name}")


@user_app.command("set")
def user_set(
    email: str = typer.Argument(..., help="The operator's e-mail address."),
    role: str | None = typer.Option(None, help="A new role."),
    password: str | None = typer.Option(None, help="A new password (their sessions end)."),
    disable: bool | None = typer.Option(
        None, "--disable/--enable", help="Whether the account may sign in."
    ),
) -> None:
    """Change an operator's role or password, or disable/enable the account."""
    from evcms import bootstrap

    role_value = _role(role) if role is not None else None
    settings = _settings()

    async def change() -> Any:
        async with bootstrap.admin(settings) as ctx:
            user = await ctx.operators.user_by_email(email)
            return await ctx.operators.change(
                user.id, role=role_value, password=password, disabled=disable
            )

    user = _run(change)
    state = "disabled" if user.disabled else "active"
    typer.echo(f"operator {user.email}: role {user.role.value}, {state}")


@driver_app.command("add")
def driver_add(
    email: str = typer.Argument(..., help="The driver's e-mail address (their login)."),
    password: str | None = typer.Option(None, help="Initial password; generated when left out."),
    name: str = typer.Option("", help="The driver's name."),
    language: str = typer.Option("en", help="en or bg: the language of mails and receipts."),
) -> None:
    """Create a driver account (its e-mail counts as confirmed)."""
    from evcms import bootstrap

    settings = _settings()

    async def add() -> tuple[Any, str | None]:
        async with bootstrap.admin(settings) as ctx:
            result: tuple[Any, str | None] = await ctx.drivers.add_by_operator(
                email, password, name, language
            )
            return result

    driver, generated = _run(add)
    typer.echo(f"driver {driver.email} added (id {driver.id})")
    if generated is not None:
        typer.echo(f"password: {generated}")


@token_app.command("add")
def token_add(
    token_id: str = typer.Argument(..., help="The card's UID or token value."),
    type: str = typer.Option("ISO14443", "--type", help="ISO14443, ISO15693, KeyCode, eMAID, MacAddress, Local, Central."),
    driver: str | None = typer.Option(None, help="E-mail of the driver who owns it."),
    status: str = typer.Option("Accepted", help="Accepted, Blocked, Expired or Invalid."),
    expires: str | None = typer.Option(None, help="Expiry, ISO 8601 with a zone: 2027-01-01T00:00:00Z."),
    group: str | None = typer.Option(None, help="Group token id (1.6 parentIdTag / 2.0.1 groupIdToken)."),
    max_concurrent: int = typer.Option(1, help="Sessions at once; 0 for no limit."),
    label: str = typer.Option("", help="A note operators recognise."),
) -> None:
    """Issue an identification token."""
    from datetime import datetime

    from evcms import bootstrap
    from evcms.domain.tokens import TokenStatus, TokenType

    try:
        token_type = TokenType(type)
    except ValueError:
        _fail(f"unknown token type {type!r}; use one of: {', '.join(t.value for t in TokenType)}")
        return
    try:
        token_status = TokenStatus(status)
    except ValueError:
        _fail(f"unknown status {status!r}; use one of: {', '.join(s.value for s in TokenStatus)}")
        return
    expires_at = None
    if expires is not None:
        try:
            expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00"))
        except ValueError:
            _fail(f"--expires {expires!r} is not an ISO 8601 date-time")
        if expires_at is not None and expires_at.tzinfo is None:
            _fail("--expires needs a time zone, e.g. 2027-01-01T00:00:00Z")
    settings = _settings()

    async def add() -> None:
        async with bootstrap.admin(settings) as ctx:
            driver_id = None
            if driver is not None:
                driver_id = await ctx.driver_id_by_email(driver)
            await ctx.tokens.issue(
                token_id, type=token_type, status=token_status, driver_id=driver_id,
                group_id=group, expires_at=expires_at, max_concurrent=max_concurrent, label=label,
            )

    _run(add)
    typer.echo(f"token {token_id} issued ({token_type.value}, {token_status.value})")


@token_app.command("list")
def token_list(driver: str | None = typer.Option(None, help="Only this driver's (e-mail).")) -> None:
    """List identification tokens."""
    from evcms import bootstrap

    settings = _settings()

    async def rows() -> list[Any]:
        async with bootstrap.admin(settings) as ctx:
            driver_id = await ctx.driver_id_by_email(driver) if driver else None
            return await ctx.tokens.list(driver_id=driver_id, limit=1000)

    tokens = _run(rows)
    if not tokens:
        typer.echo("no tokens")
        return
    typer.echo(f"{'ID':<24} {'TYPE':<10} {'STATUS':<9} {'EXPIRES':<21} {'MAX':<4} DRIVER")
    for t in tokens:
        expires_text = t.expires_at.strftime("%Y-%m-%dT%H:%M:%SZ") if t.expires_at else "-"
        typer.echo(
            f"{t.id:<24} {t.type.value:<10} {t.status.value:<9} {expires_text:<21} "
            f"{t.max_concurrent:<4} {t.driver_id or '-'}"
        )


@session_app.command("list")
def session_list(
    active: bool = typer.Option(False, "--active", help="Only sessions in progress."),
    station: str | None = typer.Option(None, help="Only this station's."),
    limit: int = typer.Option(50, min=1, max=1000, help="How many, newest first."),
) -> None:
    """List charging sessions, newest first."""
    from evcms import bootstrap
    from evcms.domain.charging_sessions import SessionStatus
    from evcms.domain.ids import StationId
    from evcms.services.ports import SessionFilter

    settings = _settings()
    filter = SessionFilter(
        station_id=StationId(station) if station else None,
        status=SessionStatus.ACTIVE if active else None,
    )

    async def rows() -> list[Any]:
        async with bootstrap.admin(settings) as ctx:
            return await ctx.charging.list(filter, limit=limit)

    sessions = _run(rows)
    if not sessions:
        typer.echo("no sessions")
        return
    typer.echo(f"{'ID':<7} {'STATION':<20} {'EVSE':<5} {'STATUS':<7} {'STARTED':<21} {'KWH':>10}  TOKEN")
    for s in sessions:
        started = s.state.started_at.strftime("%Y-%m-%dT%H:%M:%SZ") if s.state.started_at else "-"
        kwh = s.state.energy_wh / 1000
        typer.echo(
            f"{s.id:<7} {s.station_id:<20} {s.evse_id:<5} {s.state.status.value:<7} {started:<21} "
            f"{kwh:>10.3f}  {s.state.id_token or '-'}"
        )


def _tariff_admin(ctx: Any) -> Any:
    tariffs = getattr(ctx, "tariffs", None)
    if tariffs is None:
        raise CliError("tariffs are not available in this build")
    return tariffs


@tariff_app.command("import")
def tariff_import(
    file: str = typer.Argument(..., help="An OCPI 2.2.1 Tariff object as a JSON file."),
    site: str | None = typer.Option(None, help="Make it this site's tariff."),
    station: str | None = typer.Option(None, help="Make it this station's tariff."),
    default: bool = typer.Option(False, "--default", help="Make it the network's default tariff."),
    time_zone: str | None = typer.Option(None, help="IANA zone of its local-time restrictions (default UTC)."),
) -> None:
    """Import a tariff (a new version if its id exists) and optionally assign it."""
    from pathlib import Path

    from evcms import bootstrap
    from evcms.services.tariffs import AssignmentScope

    if sum((site is not None, station is not None, default)) > 1:
        _fail("give at most one of --site, --station and --default")
    try:
        text = Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"no such file: {file}")
        return
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {file}: {exc}")
        return
    scope: tuple[AssignmentScope, str | None] | None = None
    if site is not None:
        scope = (AssignmentScope.SITE, site)
    elif station is not None:
        scope = (AssignmentScope.STATION, station)
    elif default:
        scope = (AssignmentScope.DEFAULT, None)
    settings = _settings()

    async def run() -> Any:
        async with bootstrap.admin(settings) as ctx:
            tariffs = _tariff_admin(ctx)
            stored = await tariffs.import_ocpi(text, time_zone=time_zone)
            if scope is not None:
                await tariffs.assign(stored.id, scope[0], scope[1])
            return stored

    stored = _run(run)
    typer.echo(f"tariff {stored.id} version {stored.version} imported ({stored.currency})")
    if scope is not None:
        where = "the default" if scope[1] is None else f"{scope[0].value} {scope[1]}"
        typer.echo(f"assigned to {where}")


@tariff_app.command("list")
def tariff_list() -> None:
    """List tariffs (their latest versions)."""
    from evcms import bootstrap

    settings = _settings()

    async def rows() -> list[Any]:
        async with bootstrap.admin(settings) as ctx:
            found: list[Any] = await _tariff_admin(ctx).list()
            return found

    tariffs = _run(rows)
    if not tariffs:
        typer.echo("no tariffs")
        return
    typer.echo(f"{'ID':<36} {'VERSION':<8} {'CURRENCY':<9} {'TIME ZONE':<20} NAME")
    for t in tariffs:
        typer.echo(f"{t.id:<36} {t.version:<8} {t.currency:<9} {t.time_zone:<20} {t.name}")


def _amount(text: str, what: str = "amount") -> Any:
    from decimal import Decimal, InvalidOperation

    try:
        value = Decimal(text)
    except InvalidOperation:
        _fail(f"{what} must be a number like 20.00, not {text!r}")
    if not value.is_finite():
        _fail(f"{what} must be a number like 20.00, not {text!r}")
    return value


@wallet_app.command("top-up")
def wallet_top_up(
    email: str = typer.Argument(..., help="The driver's e-mail."),
    amount: str = typer.Argument(..., help="e.g. 20.00 (in EVCMS_CURRENCY)."),
    reference: str | None = typer.Option(None, help="e.g. the bank transfer's reference."),
    key: str | None = typer.Option(None, help="Idempotency key: the same key books once (default: a new one)."),
) -> None:
    """Book money a driver paid outside evcms (cash, bank transfer) into their wallet."""
    import uuid

    from evcms import bootstrap

    value = _amount(amount)
    settings = _settings()

    async def run() -> Any:
        async with bootstrap.admin(settings) as ctx:
            driver_id = await ctx.driver_id_by_email(email)
            await ctx.wallets.top_up(
                driver_id, value, key=f"top_up:cli:{key or uuid.uuid4()}", source="manual",
                reference=reference, memo="booked with the evcms CLI",
            )
            return await ctx.wallets.balance(driver_id)

    balance = _run(run)
    typer.echo(f"booked {value} for {email}; balance {balance} {settings.currency}")


@wallet_app.command("show")
def wallet_show(email: str = typer.Argument(..., help="The driver's e-mail.")) -> None:
    """A driver's wallet balance and latest entries."""
    from evcms import bootstrap

    settings = _settings()

    async def run() -> Any:
        async with bootstrap.admin(settings) as ctx:
            driver_id = await ctx.driver_id_by_email(email)
            return await ctx.wallets.balance(driver_id), await ctx.wallets.statement(driver_id, limit=20)

    balance, entries = _run(run)
    typer.echo(f"balance {balance} {settings.currency}")
    for entry in entries:
        typer.echo(f"{entry.at:%Y-%m-%d %H:%M} {entry.kind.value:<20} {entry.key}")


@plan_app.command("add")
def plan_add(
    name: str = typer.Argument(..., help="What drivers see, e.g. Commuter."),
    fee: str = typer.Option(..., help="Monthly fee excluding VAT, e.g. 10.00."),
    vat: str = typer.Option("20", help="VAT % of the fee."),
    included_kwh: str = typer.Option("0", help="kWh included each month."),
    discount: str = typer.Option("0", help="% off the price of sessions."),
    tariff: str | None = typer.Option(None, help="A tariff of the plan's own (its id)."),
) -> None:
    """Create a subscription plan."""
    from evcms import bootstrap

    settings = _settings()

    async def run() -> Any:
        async with bootstrap.admin(settings) as ctx:
            return await ctx.subscriptions.add_plan(
                name=name, currency=settings.currency.upper(), monthly_fee=_amount(fee, "--fee"),
                fee_vat_percent=_amount(vat, "--vat"), included_kwh=_amount(included_kwh, "--included-kwh"),
                discount_percent=_amount(discount, "--discount"), tariff_id=tariff,
            )

    plan = _run(run)
    typer.echo(f"plan {plan.id} created: {plan.name}, {plan.monthly_fee} {plan.currency} a month")


@plan_app.command("list")
def plan_list() -> None:
    """List active subscription plans."""
    from evcms import bootstrap

    settings = _settings()

    async def run() -> Any:
        async with bootstrap.admin(settings) as ctx:
            return await ctx.subscriptions.plans()

    plans = _run(run)
    if not plans:
        typer.echo("no plans")
        return
    typer.echo(f"{'ID':<36} {'FEE':>10} {'KWH':>6} {'DISC%':>6} NAME")
    for p in plans:
        typer.echo(f"{p.id:<36} {p.monthly_fee:>10} {p.included_kwh:>6} {p.discount_percent:>6} {p.name}")


@invoice_app.command("list")
def invoice_list(
    driver: str | None = typer.Option(None, help="Only this driver's (e-mail)."),
    limit: int = typer.Option(50, min=1, max=1000),
) -> None:
    """List invoices, receipts and credit notes, newest first."""
    from evcms import bootstrap

    settings = _settings()

    async def run() -> Any:
        async with bootstrap.admin(settings) as ctx:
            driver_id = None if driver is None else await ctx.driver_id_by_email(driver)
            return await ctx.invoicing.list(driver_id=driver_id, limit=limit)

    invoices = _run(run)
    if not invoices:
        typer.echo("no invoices")
        return
    typer.echo(f"{'NUMBER':<16} {'KIND':<12} {'ISSUED':<17} {'TOTAL':>10} ID")
    for i in invoices:
        typer.echo(
            f"{i.number_text:<16} {i.kind.value:<12} {i.issued_at:%Y-%m-%d %H:%M} "
            f"{i.total_incl_vat:>10} {i.id}"
        )


@invoice_app.command("pdf")
def invoice_pdf(
    invoice_id: str = typer.Argument(..., help="The invoice's id (see `evcms invoice list`)."),
    out: str = typer.Argument(..., help="Where to write the PDF."),
) -> None:
    """Write an invoice's PDF to a file."""
    from pathlib import Path

    from evcms import bootstrap

    settings = _settings()

    async def run() -> bytes:
        async with bootstrap.admin(settings) as ctx:
            pdf: bytes = await ctx.invoicing.pdf(invoice_id)
            return pdf

    data = _run(run)
    try:
        Path(out).write_bytes(data)
    except OSError as exc:
        _fail(f"cannot write {out}: {exc}")
    typer.echo(f"wrote {out} ({len(data)} bytes)")


@billing_app.command("settle")
def billing_settle(days: int = typer.Option(7, min=1, max=90, help="Look back this many days.")) -> None:
    """Settle ended sessions that have no settled charge yet (evcms serve does this by itself)."""
    from evcms import bootstrap

    settings = _settings()

    async def run() -> int:
        async with bootstrap.admin(settings) as ctx:
            count: int = await ctx.billing.settle_missed(days=days)
            return count

    typer.echo(f"settled {_run(run)} session(s)")


@billing_app.command("invoice-month")
def billing_invoice_month(month: str = typer.Argument(..., help="YYYY-MM, e.g. 2026-10.")) -> None:
    """Issue the monthly invoices of postpaid drivers for a month that has ended."""
    import re

    from evcms import bootstrap

    found = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if found is None:
        _fail(f"month must look like 2026-10, not {month!r}")
        return
    year, number = int(found.group(1)), int(found.group(2))
    settings = _settings()

    async def run() -> int:
        async with bootstrap.admin(settings) as ctx:
            count: int = await ctx.billing.invoice_month(year, number)
            return count

    typer.echo(f"issued {_run(run)} invoice(s) for {month}")



@analytics_app.command("rebuild")
def analytics_rebuild(
    start: str = typer.Option(None, "--from", help="First UTC day, YYYY-MM-DD (default: 400 days ago)."),
    end: str = typer.Option(None, "--to", help="Day after the last, YYYY-MM-DD (default: tomorrow)."),
) -> None:
    """Recompute the analytics rollups of a period from the raw rows (status history, sessions,
    settled charges): for an existing install, or after a loss."""
    from datetime import UTC, date, datetime, timedelta

    from evcms import bootstrap

    today = datetime.now(UTC).date()
    try:
        first = date.fromisoformat(start) if start else today - timedelta(days=400)
        last = date.fromisoformat(end) if end else today + timedelta(days=1)
    except ValueError as exc:
        _fail(f"dates are YYYY-MM-DD: {exc}")
        return
    settings = _settings()

    async def run() -> dict[str, int]:
        async with bootstrap.analytics_admin(settings) as analytics:
            return await analytics.rebuild(
                datetime(first.year, first.month, first.day, tzinfo=UTC),
                datetime(last.year, last.month, last.day, tzinfo=UTC),
            )

    found = _run(run)
    typer.echo(
        f"rebuilt {first} .. {last} (UTC): {found['sessions']} session(s), {found['faults']} fault(s),"
        f" {found['revenue']} priced session(s)"
    )


@app.command()
def simulate(
    stations: int = typer.Option(1, min=1, help="How many stations."),
    url: str = typer.Option("ws://127.0.0.1:9000/ocpp", help="Base URL; /{station_id} is added."),
    version: str = typer.Option("ocpp1.6", help="ocpp1.6, ocpp2.0.1 or ocpp2.1."),
    prefix: str = typer.Option("SIM", help="Station ids are PREFIX-1, PREFIX-2, ..."),
    password: str | None = typer.Option(None, help="Basic-auth password for every station."),
) -> None:
    """Run simulated stations against an evcms (or any CSMS) until interrupted."""
    from evcms.simulator.station import SimulatedStation, StationProfile

    if version not in ("ocpp1.6", "ocpp2.0.1", "ocpp2.1"):
        _fail(f"unknown OCPP version {version!r}; use ocpp1.6, ocpp2.0.1 or ocpp2.1")

    async def run() -> None:
        sims = [
            SimulatedStation(
                StationProfile(f"{prefix}-{n}", version, password=password),
                f"{url.rstrip('/')}/{prefix}-{n}",
                seed=n,
            )
            for n in range(1, stations + 1)
        ]
        await asyncio.gather(*(s.run_forever() for s in sims))

    try:
        _run(run)
    except KeyboardInterrupt:
        pass


@app.command("settings")
def show_settings() -> None:
    """Print every setting: environment variable, default, meaning."""
    for variable, default, description in reference():
        typer.echo(f"{variable:<36} {default:<32} {description}")


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
