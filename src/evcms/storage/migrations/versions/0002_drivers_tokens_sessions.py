"""Drivers, their identification tokens, charging sessions and their events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 03:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    """ExactDecimal: NUMERIC(24, 6) on PostgreSQL, text on SQLite."""
    return sa.String(length=48).with_variant(sa.Numeric(24, 6), "postgresql")


def _id() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drivers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drivers")),
        sa.UniqueConstraint("email", name=op.f("uq_drivers_email")),
    )
    op.create_table(
        "driver_auth_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["drivers.id"],
            name=op.f("fk_driver_auth_tokens_driver_id_drivers"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_driver_auth_tokens")),
    )
    op.create_index(
        op.f("ix_driver_auth_tokens_driver_id"), "driver_auth_tokens", ["driver_id"], unique=False
    )
    op.create_table(
        "email_outbox",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(length=1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_email_outbox_created_at"), "email_outbox", ["created_at"], unique=False)
    op.create_table(
        "id_tokens",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=True),
        sa.Column("group_id", sa.String(length=255), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("max_concurrent", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("pending_approval", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["drivers.id"],
            name=op.f("fk_id_tokens_driver_id_drivers"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_id_tokens")),
    )
    op.create_index(op.f("ix_id_tokens_driver_id"), "id_tokens", ["driver_id"], unique=False)
    op.create_index(op.f("ix_id_tokens_group_id"), "id_tokens", ["group_id"], unique=False)
    op.create_table(
        "charging_sessions",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=False),
        sa.Column("start_key", sa.String(length=160), nullable=True),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("ocpp_version", sa.String(length=16), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id_token", sa.String(length=255), nullable=True),
        sa.Column("stop_id_token", sa.String(length=255), nullable=True),
        sa.Column("stop_reason", sa.String(length=64), nullable=True),
        sa.Column("meter_start_wh", _decimal(), nullable=True),
        sa.Column("meter_stop_wh", _decimal(), nullable=True),
        sa.Column("energy_wh", _decimal(), nullable=False),
        sa.Column("last_register_wh", _decimal(), nullable=True),
        sa.Column("last_seq_no", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offline", sa.Boolean(), nullable=False),
        sa.Column("charging_state", sa.String(length=32), nullable=True),
        sa.Column("number_of_phases", sa.Integer(), nullable=True),
        sa.Column("power_w", _decimal(), nullable=True),
        sa.Column("soc_percent", _decimal(), nullable=True),
        sa.Column("last_sample_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_start", sa.Boolean(), nullable=False),
        sa.Column("state_evse_id", sa.Integer(), nullable=True),
        sa.Column("state_connector_id", sa.Integer(), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("close_note", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_charging_sessions")),
        sa.UniqueConstraint(
            "station_id", "transaction_id", name=op.f("uq_charging_sessions_station_id_transaction_id")
        ),
        sa.UniqueConstraint(
            "station_id", "start_key", name=op.f("uq_charging_sessions_station_id_start_key")
        ),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_charging_sessions_driver_id"), "charging_sessions", ["driver_id"], unique=False)
    op.create_index(op.f("ix_charging_sessions_id_token"), "charging_sessions", ["id_token"], unique=False)
    op.create_index(op.f("ix_charging_sessions_started_at"), "charging_sessions", ["started_at"], unique=False)
    op.create_index(
        "ix_charging_sessions_station_id_status", "charging_sessions", ["station_id", "status"], unique=False
    )
    op.create_table(
        "session_events",
        sa.Column("session_id", _id(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("seq_no", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["charging_sessions.id"],
            name=op.f("fk_session_events_session_id_charging_sessions"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", "key", name=op.f("pk_session_events")),
    )


def downgrade() -> None:
    op.drop_table("session_events")
    op.drop_index("ix_charging_sessions_station_id_status", table_name="charging_sessions")
    op.drop_index(op.f("ix_charging_sessions_started_at"), table_name="charging_sessions")
    op.drop_index(op.f("ix_charging_sessions_id_token"), table_name="charging_sessions")
    op.drop_index(op.f("ix_charging_sessions_driver_id"), table_name="charging_sessions")
    op.drop_table("charging_sessions")
    op.drop_index(op.f("ix_id_tokens_group_id"), table_name="id_tokens")
    op.drop_index(op.f("ix_id_tokens_driver_id"), table_name="id_tokens")
    op.drop_table("id_tokens")
    op.drop_index(op.f("ix_email_outbox_created_at"), table_name="email_outbox")
    op.drop_table("email_outbox")
    op.drop_index(op.f("ix_driver_auth_tokens_driver_id"), table_name="driver_auth_tokens")
    op.drop_table("driver_auth_tokens")
    op.drop_table("drivers")
