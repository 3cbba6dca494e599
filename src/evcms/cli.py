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
app.add_typer(db_app, name="db")
app.add_typer(station_app, name="station")
app.add_typer(apikey_app, name="apikey")
app.add_typer(driver_app, name="driver")
app.add_typer(token_app, name="token")
app.add_typer(session_app, name="session")
app.add_typer(tariff_app, name="tariff")

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
    from evcms.services.ports import AlreadyExists, NotFound

    try:
        return asyncio.run(factory())
    except (CliError, InvalidRequest, AlreadyExists, NotFound, ValueError) as exc:
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
