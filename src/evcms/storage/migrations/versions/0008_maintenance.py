"""Maintenance: diagnostics uploads, firmware files, updates and rollouts.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    """ExactDecimal: NUMERIC(24, 6) on PostgreSQL, text on SQLite."""
    return sa.String(length=48).with_variant(sa.Numeric(24, 6), "postgresql")


def _id() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "diagnostics_requests",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("ocpp_version", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        _time("token_expires_at"),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("log_type", sa.String(length=16), nullable=False),
        _time("since", True),
        _time("until", True),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("command_outcome", sa.String(length=16), nullable=True),
        sa.Column("answer_status", sa.String(length=32), nullable=True),
        sa.Column("answer_file_name", sa.String(length=255), nullable=True),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        _time("station_status_at", True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_size", sa.BigInteger(), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        _time("file_received_at", True),
        sa.Column("file_key", sa.String(length=200), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diagnostics_requests")),
        sa.UniqueConstraint("token", name=op.f("uq_diagnostics_requests_token")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_diagnostics_requests_station_id_id",
        "diagnostics_requests",
        ["station_id", "id"],
        unique=False,
    )
    op.create_table(
        "firmware_files",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("version", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=False),
        sa.Column("models", sa.Text(), nullable=False),
        sa.Column("signing_certificate", sa.Text(), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("file_key", sa.String(length=200), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_files")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "firmware_updates",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("firmware_id", sa.BigInteger(), nullable=False),
        sa.Column("ocpp_version", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        _time("token_expires_at"),
        _time("retrieve_at"),
        _time("install_at", True),
        _time("deadline"),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("rollout_id", sa.BigInteger(), nullable=True),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        _time("station_status_at", True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("downloads", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_updates")),
        sa.UniqueConstraint("token", name=op.f("uq_firmware_updates_token")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_firmware_updates_firmware_id"), "firmware_updates", ["firmware_id"], unique=False
    )
    op.create_index(
        op.f("ix_firmware_updates_rollout_id"), "firmware_updates", ["rollout_id"], unique=False
    )
    op.create_index(
        "ix_firmware_updates_station_id_state",
        "firmware_updates",
        ["station_id", "state"],
        unique=False,
    )
    op.create_table(
        "firmware_rollouts",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("firmware_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("wave_size", sa.Integer(), nullable=False),
        sa.Column("max_failure_rate", _decimal(), nullable=False),
        sa.Column("wave_timeout", sa.Integer(), nullable=False),
        sa.Column("current_wave", sa.Integer(), nullable=False),
        _time("wave_started_at", True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=True),
        sa.Column("retry_interval", sa.Integer(), nullable=True),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_firmware_rollouts")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_firmware_rollouts_firmware_id"), "firmware_rollouts", ["firmware_id"], unique=False
    )
    op.create_table(
        "firmware_rollout_stations",
        sa.Column("rollout_id", sa.BigInteger(), nullable=False),
        sa.Column("station_id", sa.String(length=48), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=True),
        sa.Column("station_status", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "rollout_id", "station_id", name=op.f("pk_firmware_rollout_stations")
        ),
    )


def downgrade() -> None:
    op.drop_table("firmware_rollout_stations")
    op.drop_index(op.f("ix_firmware_rollouts_firmware_id"), table_name="firmware_rollouts")
    op.drop_table("firmware_rollouts")
    op.drop_index("ix_firmware_updates_station_id_state", table_name="firmware_updates")
    op.drop_index(op.f("ix_firmware_updates_rollout_id"), table_name="firmware_updates")
    op.drop_index(op.f("ix_firmware_updates_firmware_id"), table_name="firmware_updates")
    op.drop_table("firmware_updates")
    op.drop_index("ix_diagnostics_requests_station_id_id", table_name="diagnostics_requests")
    op.drop_table("diagnostics_requests")
