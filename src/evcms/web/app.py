"""The HTTP application: REST API under /api/v1, /health, /metrics and the console at /."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends, FastAPI

from evcms.web import console, driver_app, events_stream, file_transfer, probes
from evcms.web.api import (
    alerts,
    api_keys,
    billing,
    configuration,
    diagnostics,
    driver_sites,
    drivers,
    firmware,
    invoices,
    local_lists,
    operations,
    operator_auth,
    payments,
    reservations,
    session_prices,
    sessions,
    sites,
    stations,
    subscriptions,
    tariffs,
    tokens,
    users,
    wallets,
    webhooks,
)
from evcms.web.api import analytics as analytics_api
from evcms.web.auth import current_key
from evcms.web.deps import WebDeps
from evcms.web.driver_auth import refuse_driver_tokens
from evcms.web.errors import install_error_handlers

API_PREFIX = "/api/v1"

_DESCRIPTION = """\
The REST API of evcms, a charging management system (CSMS) for OCPP 1.6J, 2.0.1 and 2.1.

**Authentication.** Every `/api/v1` request needs an API key:
`Authorization: Bearer evk_...`. A key has a role (admin, operator, technician, viewer) that
grants permissions: `read`, `manage_network`, `operate_stations`, `manage_access`.
Without a valid key the answer is 401; with a key whose role lacks the permission, 403.

**Errors** are JSON `{"detail": "..."}` saying what to fix; request validation errors (422)
also list each problem in `errors`.

**Monitoring.** `GET /health` (readiness, 503 when not ready) and `GET /metrics` (Prometheus
text format) need no key: expose them only where your load balancer and scraper reach.
"""


def package_version() -> str:
    try:
        return version("evcms")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def create_app(deps: WebDeps) -> FastAPI:
    app = FastAPI(
        title="evcms",
        version=package_version(),
        description=_DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.deps = deps
    install_error_handlers(app)
    drivers.install_error_handlers(app)

    api = APIRouter(
        prefix=API_PREFIX, dependencies=[Depends(refuse_driver_tokens), Depends(current_key)]
    )
    api.include_router(sites.router)
    api.include_router(stations.router)
    api.include_router(api_keys.router)
    api.include_router(tokens.router)
    api.include_router(sessions.router)
    api.include_router(session_prices.router)
    api.include_router(reservations.router)
    api.include_router(local_lists.router)
    api.include_router(tariffs.router)
    for billing_module in (billing, wallets, invoices, payments, subscriptions):
        api.include_router(billing_module.router)
    api.include_router(events_stream.router)
    api.include_router(users.router)
    api.include_router(operations.router)
    api.include_router(configuration.router)
    api.include_router(diagnostics.router)
    api.include_router(firmware.router)
    api.include_router(alerts.router)
    api.include_router(webhooks.router)
    # -- analytics --
    api.include_router(analytics_api.router)
    app.include_router(api)
    app.include_router(drivers.router, prefix=API_PREFIX)  # its own driver/operator auth
    app.include_router(tokens.me_router, prefix=API_PREFIX)  # driver tokens (drv_...)
    app.include_router(sessions.me_router, prefix=API_PREFIX)
    app.include_router(session_prices.me_router, prefix=API_PREFIX)
    app.include_router(reservations.me_router, prefix=API_PREFIX)
    for billing_module in (billing, wallets, invoices, payments, subscriptions):
        app.include_router(billing_module.me_router, prefix=API_PREFIX)  # driver tokens
    # -- driver app --
    app.include_router(driver_sites.me_router, prefix=API_PREFIX)  # driver tokens
    app.include_router(driver_app.router)  # the driver app's pages at /app
    # provider webhooks: no API key, the provider's signature is the authentication
    app.include_router(payments.webhook_router, prefix=API_PREFIX)
    # stations' upload/download links: the token in the path is the credential
    app.include_router(file_transfer.router)
    # the console's sign-in: how a browser gets its credential
    app.include_router(operator_auth.router, prefix=API_PREFIX)
    app.include_router(probes.router)
    app.include_router(console.router)
    return app
