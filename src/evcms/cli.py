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
app.add_typer(db_app, name="db")
app.add_typer(station_app, name="station")
app.add_typer(apikey_app, name="apikey")

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
