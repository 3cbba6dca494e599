"""Driver accounts over HTTP.

- ``/api/v1/drivers/...`` without credentials: register, confirm the e-mail address, log in,
  reset a forgotten password; ``logout`` with the driver's token.
- ``/api/v1/me``: the driver's own profile, password and account (driver token ``drv_...``).
- Operators (API key ``evk_...``): list, read and deactivate drivers, read the mail outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from evcms.domain.drivers import (
    EMAIL_MAX_LENGTH,
    NAME_MAX_LENGTH,
    PASSWORD_MAX_LENGTH,
    Driver,
    DriverStatus,
    InvalidDriver,
    Language,
)
from evcms.services.drivers import (
    AccountDeactivated,
    DriverAccountError,
    EmailNotVerified,
    InvalidLink,
    LoginFailed,
    OutboxMail,
    WrongPassword,
)
from evcms.services.ports import NotFound
from evcms.web.auth import AccessManager, NetworkManager, Reader
from evcms.web.driver_auth import Accounts, CurrentDriver, refuse_driver_tokens
from evcms.web.schemas import MAX_PAGE, ErrorOut

# -- bodies -----------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_Email = Field(max_length=EMAIL_MAX_LENGTH, examples=["ana@example.com"])
_Password = Field(
    max_length=PASSWORD_MAX_LENGTH,
    description="At least 10 characters, mixing at least two kinds: lower-case, upper-case,"
    " digits, symbols",
)
_Token = Field(min_length=1, max_length=200, description="The token from the mailed link")


class RegisterIn(_Strict):
    email: str = _Email
    password: str = _Password
    name: str = Field("", max_length=NAME_MAX_LENGTH)
    language: Language = Field(Language.EN, description="Language of mails and pages")


class EmailIn(_Strict):
    email: str = _Email


class TokenIn(_Strict):
    token: str = _Token


class LoginIn(_Strict):
    email: str = _Email
    password: str = Field(max_length=PASSWORD_MAX_LENGTH)


class ResetConfirmIn(_Strict):
    token: str = _Token
    password: str = _Password


class ProfilePatch(_Strict):
    """Only the fields given change."""

    name: str | None = Field(None, max_length=NAME_MAX_LENGTH)
    language: Language | None = None


class PasswordChangeIn(_Strict):
    current_password: str = Field(max_length=PASSWORD_MAX_LENGTH)
    new_password: str = _Password


class PasswordConfirmIn(_Strict):
    password: str = Field(max_length=PASSWORD_MAX_LENGTH, description="The current password")


class DriverOut(BaseModel):
    id: str
    email: str
    name: str
    language: Language
    status: DriverStatus
    email_verified: bool
    email_verified_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, driver: Driver) -> DriverOut:
        return cls(
            id=driver.id,
            email=driver.email,
            name=driver.name,
            language=driver.language,
            status=driver.status,
            email_verified=driver.email_verified,
            email_verified_at=driver.email_verified_at,
            created_at=driver.created_at,
            updated_at=driver.updated_at,
        )


class LoginOut(BaseModel):
    token: str = Field(description="Send as 'Authorization: Bearer drv_...'; shown only here")
    token_type: str = "bearer"
    expires_at: datetime
    driver: DriverOut


class NoticeOut(BaseModel):
    detail: str


class DriverPage(BaseModel):
    drivers: list[DriverOut] = Field(description="Ordered by e-mail address")
    next_after: str | None = Field(
        description="Pass as after for the next page; null on the last page"
    )


class OutboxMailOut(BaseModel):
    id: int
    to_address: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None = Field(description="When the SMTP server took it")
    error: str | None = Field(description="Why sending failed")

    @classmethod
    def of(cls, mail: OutboxMail) -> OutboxMailOut:
        return cls(
            id=mail.id,
            to_address=mail.to_address,
            subject=mail.subject,
            body=mail.body,
            created_at=mail.created_at,
            sent_at=mail.sent_at,
            error=mail.error,
        )


class OutboxPage(BaseModel):
    mails: list[OutboxMailOut] = Field(description="Newest first")
    next_before_id: int | None = Field(
        description="Pass as before_id for the next (older) page; null on the last page"
    )


# -- errors -----------------------------------------------------------------------------------

_STATUS: list[tuple[type[DriverAccountError], int]] = [
    (LoginFailed, status.HTTP_401_UNAUTHORIZED),
    (AccountDeactivated, status.HTTP_403_FORBIDDEN),
    (EmailNotVerified, status.HTTP_403_FORBIDDEN),
    (WrongPassword, status.HTTP_403_FORBIDDEN),
    (InvalidLink, status.HTTP_400_BAD_REQUEST),
]


async def _account_error(request: Request, exc: Exception) -> JSONResponse:
    code = next(
        (code for kind, code in _STATUS if isinstance(exc, kind)), status.HTTP_400_BAD_REQUEST
    )
    return JSONResponse({"detail": str(exc)}, status_code=code)


async def _invalid_driver(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DriverAccountError, _account_error)
    app.add_exception_handler(InvalidDriver, _invalid_driver)


# -- without credentials (and logout) ---------------------------------------------------------

accounts_router = APIRouter(prefix="/drivers", tags=["driver accounts"])

_INVALID: dict[int | str, dict[str, Any]] = {422: {"model": ErrorOut, "description": "Input that breaks a rule; says what to fix"}}
_LINK: dict[int | str, dict[str, Any]] = {400: {"model": ErrorOut, "description": "The link is unknown, expired or used"}}


@accounts_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses={**_INVALID, 409: {"model": ErrorOut, "description": "The e-mail has an account"}},
)
async def register(body: RegisterIn, accounts: Accounts) -> DriverOut:
    """Create a driver account; a mail with a link to confirm the address goes out."""
    driver = await accounts.register(body.email, body.password, body.name, body.language.value)
    return DriverOut.of(driver)


@accounts_router.post("/verify-email", responses=_LINK)
async def verify_email(body: TokenIn, accounts: Accounts) -> DriverOut:
    """Confirm the e-mail address with the token of the mailed link (works once)."""
    return DriverOut.of(await accounts.verify_email(body.token))


@accounts_router.post("/verify-email/resend", status_code=status.HTTP_202_ACCEPTED)
async def resend_verification(body: EmailIn, accounts: Accounts) -> NoticeOut:
    """Mail a new confirmation link; the answer is the same for every address."""
    await accounts.resend_verification(body.email)
    return NoticeOut(
        detail="if an unconfirmed account has this address, a new link is on its way"
    )


@accounts_router.post(
    "/login",
    responses={
        401: {"model": ErrorOut, "description": "Wrong e-mail or password"},
        403: {"model": ErrorOut, "description": "Deactivated, or e-mail not confirmed yet"},
    },
)
async def login(body: LoginIn, accounts: Accounts) -> LoginOut:
    """Exchange e-mail and password for a bearer token (drv_...)."""
    done = await accounts.login(body.email, body.password)
    return LoginOut(token=done.token, expires_at=done.expires_at, driver=DriverOut.of(done.driver))


@accounts_router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(session: CurrentDriver, accounts: Accounts) -> Response:
    """End the session of the token this request carries."""
    await accounts.logout(session.token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@accounts_router.post("/password-reset/request", status_code=status.HTTP_202_ACCEPTED)
async def request_password_reset(body: EmailIn, accounts: Accounts) -> NoticeOut:
    """Mail a link to choose a new password; the answer is the same for every address."""
    await accounts.request_password_reset(body.email)
    return NoticeOut(
        detail="if an account has this address, a link to reset its password is on its way"
    )


@accounts_router.post("/password-reset/confirm", responses={**_LINK, **_INVALID})
async def confirm_password_reset(body: ResetConfirmIn, accounts: Accounts) -> NoticeOut:
    """Set a new password with the token of the mailed link; every session ends."""
    await accounts.reset_password(body.token, body.password)
    return NoticeOut(detail="password changed; log in with the new one")


# -- the driver's own account -----------------------------------------------------------------

me_router = APIRouter(prefix="/me", tags=["driver accounts"])


@me_router.get("")
async def my_profile(session: CurrentDriver) -> DriverOut:
    return DriverOut.of(session.driver)


@me_router.patch("", responses=_INVALID)
async def update_my_profile(
    body: ProfilePatch, session: CurrentDriver, accounts: Accounts
) -> DriverOut:
    driver = await accounts.update_profile(
        session.driver.id,
        name=body.name,
        language=None if body.language is None else body.language.value,
    )
    return DriverOut.of(driver)


@me_router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_INVALID, 403: {"model": ErrorOut, "description": "Wrong current password"}},
)
async def change_my_password(
    body: PasswordChangeIn, session: CurrentDriver, accounts: Accounts
) -> Response:
    """Needs the current password; every other session of the driver ends."""
    await accounts.change_password(
        session.driver.id, body.current_password, body.new_password, keep_session=session.token
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.post(
    "/deactivate", responses={403: {"model": ErrorOut, "description": "Wrong password"}}
)
async def deactivate_me(
    body: PasswordConfirmIn, session: CurrentDriver, accounts: Accounts
) -> DriverOut:
    """Close the account (the password confirms it); every session ends."""
    return DriverOut.of(await accounts.deactivate_self(session.driver.id, body.password))


# -- operators --------------------------------------------------------------------------------

# The credential is checked before the service is needed (no key: 401, even without drivers).
operator_router = APIRouter(dependencies=[Depends(refuse_driver_tokens)])


async def _require(accounts: Accounts, driver_id: str) -> Driver:
    driver = await accounts.driver(driver_id)
    if driver is None:
        raise NotFound(f"driver {driver_id!r} does not exist")
    return driver


@operator_router.get("/drivers", tags=["drivers"])
async def list_drivers(
    _: Reader,
    accounts: Accounts,
    status_: Annotated[DriverStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Drivers per page")] = 100,
    after: Annotated[
        str | None, Query(max_length=EMAIL_MAX_LENGTH, description="Only e-mails after this")
    ] = None,
) -> DriverPage:
    """Driver accounts ordered by e-mail address."""
    found = await accounts.drivers(status=status_, limit=limit, after_email=after)
    return DriverPage(
        drivers=[DriverOut.of(d) for d in found],
        next_after=found[-1].email if len(found) == limit else None,
    )


@operator_router.get(
    "/drivers/{driver_id}",
    tags=["drivers"],
    responses={404: {"model": ErrorOut, "description": "No such driver"}},
)
async def get_driver(driver_id: str, _: Reader, accounts: Accounts) -> DriverOut:
    return DriverOut.of(await _require(accounts, driver_id))


@operator_router.post(
    "/drivers/{driver_id}/deactivate",
    tags=["drivers"],
    responses={404: {"model": ErrorOut, "description": "No such driver"}},
)
async def deactivate_driver(driver_id: str, key: NetworkManager, accounts: Accounts) -> DriverOut:
    """The driver can no longer log in; their sessions and pending links stop working."""
    return DriverOut.of(await accounts.deactivate(driver_id, by=f"API key {key.name!r}"))


@operator_router.get("/outbox", tags=["drivers"])
async def mail_outbox(
    _: AccessManager,
    accounts: Accounts,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Mails per page")] = 100,
    before_id: Annotated[
        int | None, Query(ge=1, description="Only mails older than this id (paging)")
    ] = None,
) -> OutboxPage:
    """Every mail evcms sent (or, without SMTP, would have sent), newest first. The mails hold
    live confirmation and password-reset links, so this needs the manage_access permission."""
    mails = await accounts.outbox(limit=limit, before_id=before_id)
    return OutboxPage(
        mails=[OutboxMailOut.of(m) for m in mails],
        next_before_id=mails[-1].id if len(mails) == limit else None,
    )


router = APIRouter()
router.include_router(accounts_router)
router.include_router(me_router)
router.include_router(operator_router)
