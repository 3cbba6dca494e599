"""Driver bearer tokens (``drv_...``) on the driver endpoints, and keeping the two kinds of
credentials apart: an operator API key on a driver endpoint, or a driver token on an operator
endpoint, is refused with 403 and a message saying which credential the endpoint needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evcms.domain.drivers import Driver
from evcms.services.access import KEY_PREFIX
from evcms.services.drivers import SESSION_PREFIX, DriverAccounts
from evcms.services.remote_operations import REQUESTER
from evcms.web.deps import WebDeps, web_deps

_driver_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="DriverToken",
    description="A driver's session token: `Authorization: Bearer drv_...`, from"
    " POST /api/v1/drivers/login.",
)


def driver_accounts(deps: Annotated[WebDeps, Depends(web_deps)]) -> DriverAccounts:
    """The driver-accounts service; 503 when this evcms runs without it."""
    if deps.drivers is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "driver accounts are not enabled on this server"
        )
    return deps.drivers


Accounts = Annotated[DriverAccounts, Depends(driver_accounts)]


@dataclass(frozen=True, slots=True)
class DriverSession:
    driver: Driver
    token: str  # the bearer secret of this request


async def current_driver(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_driver_bearer)],
    accounts: Accounts,
) -> DriverSession:
    """The driver whose session token authenticates this request: 401 without a valid one,
    403 for an operator API key."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing driver token: log in with POST /api/v1/drivers/login and send the header"
            " 'Authorization: Bearer drv_...'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    secret = credentials.credentials
    if secret.startswith(KEY_PREFIX):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this is an operator API key (evk_...); this endpoint is for drivers and needs a"
            " driver token (drv_...) from POST /api/v1/drivers/login",
        )
    driver = await accounts.authenticate(secret)
    if driver is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid, expired or logged-out driver token; log in again",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    REQUESTER.set(f"driver:{driver.email}")  # the audit trail of what this request sends
    return DriverSession(driver, secret)


CurrentDriver = Annotated[DriverSession, Depends(current_driver)]


async def refuse_driver_tokens(request: Request) -> None:
    """Put on operator endpoints (before the API-key check): a driver token gets 403. Reads
    the header itself so that OpenAPI lists only the API key for these endpoints."""
    scheme, _, secret = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and secret.strip().startswith(SESSION_PREFIX):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "this is a driver token (drv_...); operator endpoints need an operator API key"
            " (evk_...). Drivers see their own data under /api/v1/me",
        )
