"""/api/v1/tokens: identification tokens (RFID cards, app tokens, ...) for operators, and
/api/v1/me/tokens: a driver's own tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status

from evcms.domain.tokens import TOKEN_ID_MAX_LENGTH, IdToken, InvalidToken
from evcms.services.network import InvalidRequest
from evcms.services.ports import AlreadyExists, NotFound
from evcms.services.tokens import TokenAdmin
from evcms.web.auth import NetworkManager, Reader
from evcms.web.deps import WebDeps, web_deps
from evcms.web.driver_auth import CurrentDriver
from evcms.web.schemas import MAX_PAGE, ErrorOut
from evcms.web.session_schemas import OwnTokenIn, TokenCreate, TokenOut, TokenPage, TokenPatch

_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorOut, "description": "Input that breaks a rule; says what to fix"}
}

router = APIRouter(
    prefix="/tokens",
    tags=["tokens"],
    responses={404: {"model": ErrorOut, "description": "No such token"}},
)
me_router = APIRouter(
    prefix="/me/tokens",
    tags=["driver tokens"],
    responses={404: {"model": ErrorOut, "description": "You have no such token"}},
)


def token_admin(deps: Annotated[WebDeps, Depends(web_deps)]) -> TokenAdmin:
    """The token service; 503 when this evcms runs without it."""
    if deps.tokens is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "tokens are not enabled on this server"
        )
    return deps.tokens


Tokens = Annotated[TokenAdmin, Depends(token_admin)]


@contextmanager
def _invalid_as_422() -> Iterator[None]:
    try:
        yield
    except InvalidToken as exc:
        raise InvalidRequest(str(exc)) from exc


def _page(tokens: list[IdToken], limit: int) -> TokenPage:
    return TokenPage(
        tokens=[TokenOut.of(t) for t in tokens],
        next_after_id=tokens[-1].id if len(tokens) == limit else None,
    )


_Limit = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Tokens per page")]
_AfterId = Annotated[
    str | None,
    Query(max_length=TOKEN_ID_MAX_LENGTH, description="Only tokens after this id (paging)"),
]


# -- operators -----------------------------------------------------------------------------------


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={**_INVALID, 409: {"model": ErrorOut, "description": "A token with this id exists"}},
)
async def create_token(body: TokenCreate, tokens: Tokens, _: NetworkManager) -> TokenOut:
    """Register a token, optionally for a driver (who must exist)."""
    try:
        with _invalid_as_422():
            token = await tokens.issue(
                body.id,
                type=body.type,
                status=body.status,
                driver_id=body.driver_id,
                group_id=body.group_id,
                expires_at=body.expires_at,
                max_concurrent=body.max_concurrent,
                label=body.label,
            )
    except AlreadyExists as exc:
        raise AlreadyExists(f"token {body.id!r} already exists") from exc
    except NotFound as exc:  # the repository's word for an unknown driver
        raise InvalidRequest(f"driver {body.driver_id!r} does not exist") from exc
    return TokenOut.of(token)


@router.get("")
async def list_tokens(
    tokens: Tokens,
    _: Reader,
    driver_id: Annotated[str | None, Query(description="Only this driver's tokens")] = None,
    limit: _Limit = 100,
    after_id: _AfterId = None,
) -> TokenPage:
    """Tokens ordered by id, a page at a time."""
    found = await tokens.list(driver_id=driver_id, limit=limit, after_id=after_id)
    return _page(found, limit)


@router.get("/{token_id}")
async def get_token(token_id: str, tokens: Tokens, _: Reader) -> TokenOut:
    return TokenOut.of(await tokens.get(token_id))


@router.patch("/{token_id}", responses=_INVALID)
async def update_token(
    token_id: str, body: TokenPatch, tokens: Tokens, _: NetworkManager
) -> TokenOut:
    """Change a token: block it, move it to another driver, set its expiry, ..."""
    await tokens.get(token_id)  # 404 before anything else
    given = body.model_fields_set
    clearable: dict[str, Any] = {
        name: getattr(body, name)
        for name in ("driver_id", "group_id", "expires_at")
        if name in given
    }
    try:
        with _invalid_as_422():
            token = await tokens.change(
                token_id,
                status=body.status,
                max_concurrent=body.max_concurrent,
                label=body.label,
                **clearable,
            )
    except NotFound as exc:
        if clearable.get("driver_id") is None:
            raise  # the token went away meanwhile
        raise InvalidRequest(f"driver {body.driver_id!r} does not exist") from exc
    return TokenOut.of(token)


@router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_token(token_id: str, tokens: Tokens, _: NetworkManager) -> Response:
    """Remove a token; its past sessions keep the token id they were started with."""
    if not await tokens.remove(token_id):
        raise NotFound(f"token {token_id!r} does not exist")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/{token_id}/approve")
async def approve_token(token_id: str, tokens: Tokens, _: NetworkManager) -> TokenOut:
    """Approve a card a driver added: from now on it can charge."""
    return TokenOut.of(await tokens.approve(token_id))


# -- the driver's own tokens ---------------------------------------------------------------------


@me_router.get("")
async def my_tokens(
    session: CurrentDriver, tokens: Tokens, limit: _Limit = 100, after_id: _AfterId = None
) -> TokenPage:
    """Your tokens, ordered by id."""
    found = await tokens.list(driver_id=session.driver.id, limit=limit, after_id=after_id)
    return _page(found, limit)


@me_router.post("", status_code=status.HTTP_201_CREATED)
async def add_my_token(body: OwnTokenIn, session: CurrentDriver, tokens: Tokens) -> TokenOut:
    """Register one of your cards. Unless this network lets drivers' cards charge at once, it
    waits for an operator's approval (``pending_approval``)."""
    with _invalid_as_422():
        token = await tokens.add_own(
            session.driver.id, body.id, type=body.type, label=body.label
        )
    return TokenOut.of(token)


@me_router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_my_token(token_id: str, session: CurrentDriver, tokens: Tokens) -> Response:
    """Remove one of your cards; your past sessions keep the card's id."""
    await tokens.remove_own(token_id, driver_id=session.driver.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@me_router.post("/{token_id}/block")
async def block_my_token(token_id: str, session: CurrentDriver, tokens: Tokens) -> TokenOut:
    """Block one of your tokens, e.g. a lost card: it cannot start charging any more."""
    return TokenOut.of(await tokens.block(token_id, driver_id=session.driver.id))
