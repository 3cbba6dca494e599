"""Bearer API keys on every /api/v1 endpoint, and the permission each endpoint needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evcms.domain.access import ApiKey, Permission, may
from evcms.web.deps import WebDeps, web_deps

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An evcms API key: `Authorization: Bearer evk_...` (create one with the CLI or"
    " POST /api/v1/api-keys).",
)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    deps: Annotated[WebDeps, Depends(web_deps)],
) -> ApiKey:
    """The API key that authenticates this request; 401 without a valid one."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send the header 'Authorization: Bearer evk_...'",
            headers=_CHALLENGE,
        )
    key = await deps.access.authenticate(credentials.credentials)
    if key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.api_key = key
    return key


def require(permission: Permission) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency that passes when the caller's role grants ``permission``, else 403."""

    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if not may(key.role, permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"API key {key.name!r} has role {key.role.value!r}, which lacks the"
                f" {permission.value!r} permission this request needs",
            )
        return key

    check.__name__ = f"require_{permission.value}"
    return check


Reader = Annotated[ApiKey, Depends(require(Permission.READ))]
NetworkManager = Annotated[ApiKey, Depends(require(Permission.MANAGE_NETWORK))]
StationOperator = Annotated[ApiKey, Depends(require(Permission.OPERATE_STATIONS))]
AccessManager = Annotated[ApiKey, Depends(require(Permission.MANAGE_ACCESS))]
BillingManager = Annotated[ApiKey, Depends(require(Permission.MANAGE_BILLING))]
