"""/api/v1/auth: the console's sign-in for operator accounts (a session cookie + a CSRF token).

Outside the API-key dependency: logging in is how a browser gets its credential."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from evcms.domain.access import ApiKey, Permission, Role, may
from evcms.domain.operators import OperatorUser
from evcms.services.operators import OperatorAccounts, csrf_token_of
from evcms.web.auth import SESSION_COOKIE, current_key
from evcms.web.deps import WebDeps, web_deps

router = APIRouter(prefix="/auth", tags=["console sign-in"])


def operator_accounts(deps: Annotated[WebDeps, Depends(web_deps)]) -> OperatorAccounts:
    if deps.operators is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "operator accounts are not enabled on this server"
        )
    return deps.operators


Operators = Annotated[OperatorAccounts, Depends(operator_accounts)]


class LoginIn(BaseModel):
    email: str = Field(max_length=320, examples=["ops@example.com"])
    password: str = Field(max_length=1024)


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: Role
    disabled: bool
    created_at: datetime
    last_login_at: datetime | None
    permissions: list[str] = Field(description="What this user's role may do")

    @classmethod
    def of(cls, user: OperatorUser) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            disabled=user.disabled,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
            permissions=[p.value for p in Permission if may(user.role, p)],
        )


class SignedInOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(description="Send it as X-CSRF-Token on requests that change something")
    expires_at: datetime | None = None


@router.post("/login")
async def login(body: LoginIn, request: Request, response: Response, operators: Operators) -> SignedInOut:
    """Sign in with an operator account: sets the session cookie (HttpOnly, SameSite=Strict)."""
    signed_in = await operators.login(body.email, body.password)
    signed_at = signed_in.user.last_login_at or signed_in.expires_at
    max_age = int((signed_in.expires_at - signed_at).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        max_age=max(0, max_age),
        expires=signed_in.expires_at,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return SignedInOut(
        user=UserOut.of(signed_in.user),
        csrf_token=signed_in.csrf_token,
        expires_at=signed_in.expires_at,
    )


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(request: Request, operators: Operators) -> Response:
    """End this browser's session (harmless without one)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await operators.logout(token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/me")
async def me(
    request: Request, key: Annotated[ApiKey, Depends(current_key)], operators: Operators
) -> SignedInOut:
    """The signed-in user and the session's CSRF token (the console calls it on load)."""
    token = request.cookies.get(SESSION_COOKIE)
    if not key.id.startswith("user:") or not token:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            "this request is authenticated by an API key, not a console sign-in",
        )
    user = await operators.user(key.id.removeprefix("user:"))
    return SignedInOut(user=UserOut.of(user), csrf_token=csrf_token_of(token))
