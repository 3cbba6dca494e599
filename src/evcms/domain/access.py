"""Operator roles and what each may do (pure)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    TECHNICIAN = "technician"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    READ = "read"                      # see sites, stations, state, message log
    MANAGE_NETWORK = "manage_network"  # create/update/delete sites and stations, credentials
    OPERATE_STATIONS = "operate_stations"  # send OCPP commands to stations
    MANAGE_ACCESS = "manage_access"    # API keys and operator accounts
    MANAGE_BILLING = "manage_billing"  # tariffs' money side: wallets, invoices, plans, refunds


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {
            Permission.READ,
            Permission.MANAGE_NETWORK,
            Permission.OPERATE_STATIONS,
            Permission.MANAGE_BILLING,
        }
    ),
    Role.TECHNICIAN: frozenset({Permission.READ, Permission.OPERATE_STATIONS}),
    Role.VIEWER: frozenset({Permission.READ}),
}


def may(role: Role, permission: Permission) -> bool:
    return permission in _GRANTS[role]


@dataclass(frozen=True, slots=True)
class ApiKey:
    """An API key as stored: only a hash of the secret is kept."""

    id: str
    name: str
    role: Role
    secret_hash: str
    created_at: datetime
    revoked: bool = False
