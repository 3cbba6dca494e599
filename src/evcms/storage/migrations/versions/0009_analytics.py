"""Analytics: the connector status history and the hourly rollups.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _connector_key() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        _time("hour"),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
    ]


def _big(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=False)


_KEY = ("hour", "station_id", "evse_id", "connector_id")


def upgrade() -> None:
    op.create_table(
        "connector_status_history",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        _time("at"),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=False),
        sa.Column("vendor_error_code", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_status_history")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_connector_status_history_station_id_at",
        "connector_status_history",
        ["station_id", "at"],
        unique=False,
    )
    op.create_table(
        "analytics_status_hours",
        *_connector_key(),
        *(
            _big(f"{name}_us")
            for name in (
                "available", "occupied", "charging", "faulted", "unavailable", "offline", "unknown"
            )
        ),
        sa.PrimaryKeyConstraint(*_KEY, name=op.f("pk_analytics_status_hours")),
    )
    op.create_table(
        "analytics_session_hours",
        *_connector_key(),
        _big("sessions"),
        _big("successful"),
        _big("energy_mwh"),
        _big("duration_us"),
        _big("charging_us"),
        sa.PrimaryKeyConstraint(*_KEY, name=op.f("pk_analytics_session_hours")),
    )
    op.create_table(
        "analytics_revenue_hours",
        *_connector_key(),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _big("sessions"),
        _big("excl_minor"),
        _big("incl_minor"),
        sa.PrimaryKeyConstraint(*_KEY, "currency", name=op.f("pk_analytics_revenue_hours")),
    )
    op.create_table(
        "analytics_token_hours",
        *_connector_key(),
        sa.Column("id_token", sa.String(length=255), nullable=False),
        _big("sessions"),
        _big("energy_mwh"),
        sa.PrimaryKeyConstraint(*_KEY, "id_token", name=op.f("pk_analytics_token_hours")),
    )
    op.create_table(
        "analytics_fault_hours",
        *_connector_key(),
        sa.Column("error_code", sa.String(length=64), nullable=False),
        sa.Column("vendor_error_code", sa.String(length=255), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        _big("faults"),
        sa.PrimaryKeyConstraint(
            *_KEY, "error_code", "vendor_error_code", "model", name=op.f("pk_analytics_fault_hours")
        ),
    )
    op.create_table(
        "analytics_counted_sessions",
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        _time("hour"),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("revenue_counted", sa.Boolean(), nullable=False),
        _time("counted_at"),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_analytics_counted_sessions")),
    )
    op.create_index(
        op.f("ix_analytics_counted_sessions_hour"),
        "analytics_counted_sessions",
        ["hour"],
        unique=False,
    )
    op.create_table(
        "analytics_report_mails",
        sa.Column("site_id", sa.String(length=63), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        _time("sent_at"),
        sa.PrimaryKeyConstraint("site_id", "month", name=op.f("pk_analytics_report_mails")),
    )


def downgrade() -> None:
    op.drop_table("analytics_report_mails")
    op.drop_index(
        op.f("ix_analytics_counted_sessions_hour"), table_name="analytics_counted_sessions"
    )
    op.drop_table("analytics_counted_sessions")
    op.drop_table("analytics_fault_hours")
    op.drop_table("analytics_token_hours")
    op.drop_table("analytics_revenue_hours")
    op.drop_table("analytics_session_hours")
    op.drop_table("analytics_status_hours")
    op.drop_index(
        "ix_connector_status_history_station_id_at", table_name="connector_status_history"
    )
    op.drop_table("connector_status_history")
