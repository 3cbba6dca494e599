"/api/v1/users: operator accounts of the console (admins: MANAGE_ACCESS)."

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from evcms.domain.access import Role
from evcms.services.operators import OperatorAccounts
from evcms.web.api.operator_auth import UserOut
from evcms.web.auth import AccessManager
from evcms.web.deps import WebDeps, web_deps

router = APIRouter(prefix="/users", tags=["operator accounts"])


def _operators(deps: Annotated[WebDeps, Depends(web_deps)]) -> OperatorAccounts:
    if deps.operators is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "operator accounts are not enabled on this server"
        )
    return deps.operators


Operators = Annotated[OperatorAccounts, Depends(_operators)]


class UserIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024, description="At least 10 characters")
    role: Role
    name: str = Field("", max_length=200)


class UserPatch(BaseModel):
    role: Role | None = None
    name: str | None = Field(None, max_length=200)
    disabled: bool | None = Field(None, description="A disabled user cannot sign in; their sessions end")
    password: str | None = Field(None, max_length=1024, description="A new password; their sessions end")


@router.get("")
async def list_users(operators: Operators, _: AccessManager) -> list[UserOut]:
    return [UserOut.of(u) for u in await operators.users()]


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_user(body: UserIn, operators: Operators, _: AccessManager) -> UserOut:
    user = await operators.add_user(body.email, body.password, body.role, name=body.name)
    return UserOut.of(user)


@router.get("/{user_id}")
async def get_user(user_id: str, operators: Operators, _: AccessManager) -> UserOut:
    return UserOut.of(await operators.user(user_id))


@router.patch("/{user_id}")
async def change_user(user_id: str, body: UserPatch, operators: Operators, key: AccessManager) -> UserOut:
    """Change a user's role, name, password, or disable them."""
    if key.id == f"user:{user_id}" and (body.disabled or (body.role not in (None, Role.ADMIN))):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            "you cannot disable yourself or take your own admin role: ask another admin",
        )
    user = await operators.change(
        user_id, role=body.role, name=body.name, disabled=body.disabled, password=body.password
    )
    return UserOut.of(user)
