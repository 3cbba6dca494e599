"""/api/v1/api-keys: issuing and revoking API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from evcms.services.ports import NotFound
from evcms.web.auth import AccessManager
from evcms.web.deps import WebDeps, web_deps
from evcms.web.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, ErrorOut

router = APIRouter(prefix="/api-keys", tags=["api keys"])

Deps = Annotated[WebDeps, Depends(web_deps)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_api_key(body: ApiKeyCreate, deps: Deps, _: AccessManager) -> ApiKeyCreated:
    """Issue a key. Its secret is in this answer only; evcms keeps just a hash of it."""
    key, secret = await deps.access.create_key(body.name, body.role)
    return ApiKeyCreated(**ApiKeyOut.of(key).model_dump(), secret=secret)


@router.get("")
async def list_api_keys(deps: Deps, _: AccessManager) -> list[ApiKeyOut]:
    """Every key, revoked ones included; never their secrets."""
    return [ApiKeyOut.of(k) for k in sorted(await deps.access.keys(), key=lambda k: k.created_at)]


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorOut, "description": "No such key"}},
)
async def revoke_api_key(key_id: str, deps: Deps, _: AccessManager) -> Response:
    """Revoke a key: requests with it are refused from now on."""
    if not await deps.access.revoke(key_id):
        raise NotFound(f"API key {key_id!r} does not exist")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
