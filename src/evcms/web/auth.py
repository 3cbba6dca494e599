"""Who calls /api/v1, and the permission each endpoint needs.

Programs send an API key (``Authorization: Bearer evk_...``). The console's pages send the
cookie of a signed-in operator (``evcms_session``); a cookie-authenticated request that changes
something must also carry the session's CSRF token in the ``X-CSRF-Token`` header. Either way
the caller is an :class:`ApiKey` with a role (a signed-in user is ``user:<id>`` named by their
e-mail), so every endpoint checks permissions the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from evcms.domain.access import ApiKey, Permission, may
from evcms.domain.operators import USER_PRINCIPAL_PREFIX, principal_of
from evcms.services.operators import OperatorAccounts
from evcms.services.remote_operations import REQUESTER
from evcms.web.deps import WebDeps, web_deps

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An evcms API key: `Authorization: Bearer evk_...` (create one with the CLI or"
    " POST /api/v1/api-keys).",
)

SESSION_COOKIE = "evcms_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_cookie = APIKeyCookie(
    name=SESSION_COOKIE,
    auto_error=False,
    scheme_name="ConsoleSession",
    description="The console's sign-in cookie (POST /api/v1/auth/login); requests that change"
    f" something also need the session's CSRF token in the {CSRF_HEADER} header.",
)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def _signed_in(
    request: Request, cookie: str, operators: OperatorAccounts | None
) -> ApiKey:
    found = None if operators is None else await operators.authenticate(cookie)
    if found is None or operators is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "your console session has ended or expired: sign in again",
            headers=_CHALLENGE,
        )
    if request.method not in SAFE_METHODS and not operators.csrf_matches(
        cookie, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"missing or wrong {CSRF_HEADER} header: requests that change something need the"
            " csrf_token of your session (from POST /api/v1/auth/login or GET /api/v1/auth/me)",
        )
    user, _ = found
    return principal_of(user)


async def current_key(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
    deps: Annotated[WebDeps, Depends(web_deps)],
) -> ApiKey:
    """The API key (or signed-in operator) of this request; 401 without a valid one."""
    if credentials is None and cookie:
        key = await _signed_in(request, cookie, deps.operators)
        request.state.api_key = key
        REQUESTER.set(key.name)  # the audit trail of the calls this request makes to stations
        return key
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send the header 'Authorization: Bearer evk_...' (or sign in to"
            " the console)",
            headers=_CHALLENGE,
        )
    found = await deps.access.authenticate(credentials.credentials)
    if found is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.api_key = found
    REQUESTER.set(found.name)  # the audit trail of the calls this request makes to stations
    return found


def _caller(key: ApiKey) -> str:
    if key.id.startswith(USER_PRINCIPAL_PREFIX):
        return f"user {key.name!r}"
    return f"API key {key.name!r}"


def require(permission: Permission) -> Callable[[ApiKey], Awaitable[ApiKey]]:
    """A dependency that passes when the caller's role grants ``permission``, else 403."""

    async def check(key: Annotated[ApiKey, Depends(current_key)]) -> ApiKey:
        if not may(key.role, permission):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"{_caller(key)} has role {key.role.value!r}, which lacks the"
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
