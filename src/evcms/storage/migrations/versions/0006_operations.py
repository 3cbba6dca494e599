"""Remote operations: the audit trail, bulk operations, stations' reported configuration
(1.6 keys, 2.0.1 device model, monitors), device and security events, inbound data transfers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _time(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _station() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("station_id", sa.String(length=48), nullable=False)


def _component_variable() -> list[sa.Column]:  # type: ignore[type-arg]
    return [
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("component_instance", sa.String(length=64), nullable=False),
        sa.Column("evse_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("variable", sa.String(length=64), nullable=False),
        sa.Column("variable_instance", sa.String(length=64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "operations",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _station(),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=True),
        sa.Column("ocpp_version", sa.String(length=16), nullable=True),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        _time("requested_at"),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_description", sa.Text(), nullable=True),
        _time("finished_at", nullable=True),
        sa.Column("bulk_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operations")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_operations_bulk_id"), "operations", ["bulk_id"], unique=False)
    op.create_index("ix_operations_station_id_id", "operations", ["station_id", "id"])
    op.create_table(
        "bulk_operations",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("station_ids", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        _time("requested_at"),
        _time("finished_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_operations")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "station_config_keys",
        _station(),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("readonly", sa.Boolean(), nullable=False),
        _time("reported_at"),
        sa.PrimaryKeyConstraint("station_id", "key", name=op.f("pk_station_config_keys")),
    )
    op.create_table(
        "device_variables",
        _station(),
        *_component_variable(),
        sa.Column("attribute_type", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("mutability", sa.String(length=16), nullable=True),
        sa.Column("data_type", sa.String(length=32), nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("values_list", sa.Text(), nullable=True),
        sa.Column("min_limit", sa.String(length=48), nullable=True),
        sa.Column("max_limit", sa.String(length=48), nullable=True),
        sa.Column("supports_monitoring", sa.Boolean(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        _time("reported_at"),
        sa.PrimaryKeyConstraint(
            "station_id",
            "component",
            "component_instance",
            "evse_id",
            "connector_id",
            "variable",
            "variable_instance",
            "attribute_type",
            name=op.f("pk_device_variables"),
        ),
    )
    op.create_table(
        "device_reports",
        _station(),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("last_seq_no", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("variables", sa.Integer(), nullable=False),
        _time("started_at"),
        _time("updated_at"),
        _time("generated_at", nullable=True),
        sa.PrimaryKeyConstraint("station_id", "request_id", name=op.f("pk_device_reports")),
    )
    op.create_table(
        "variable_monitors",
        _station(),
        sa.Column("id", sa.BigInteger(), nullable=False),
        *_component_variable(),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=48), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("transaction", sa.Boolean(), nullable=False),
        _time("reported_at"),
        sa.PrimaryKeyConstraint("station_id", "id", name=op.f("pk_variable_monitors")),
    )
    op.create_table(
        "device_events",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _station(),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        _time("at"),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.BigInteger(), nullable=True),
        sa.Column("actual_value", sa.Text(), nullable=False),
        sa.Column("tech_code", sa.String(length=64), nullable=True),
        sa.Column("tech_info", sa.Text(), nullable=True),
        sa.Column("cleared", sa.Boolean(), nullable=False),
        sa.Column("transaction_id", sa.String(length=64), nullable=True),
        sa.Column("variable_monitoring_id", sa.BigInteger(), nullable=True),
        sa.Column("event_notification_type", sa.String(length=32), nullable=True),
        *_component_variable(),
        _time("received_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_events")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_device_events_station_id_id", "device_events", ["station_id", "id"])
    op.create_table(
        "security_events",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _station(),
        sa.Column("kind", sa.String(length=64), nullable=False),
        _time("at"),
        sa.Column("tech_info", sa.Text(), nullable=True),
        _time("received_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_events")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_security_events_station_id_id", "security_events", ["station_id", "id"])
    op.create_table(
        "inbound_data_transfers",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        _station(),
        sa.Column("vendor_id", sa.String(length=255), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("data", sa.Text(), nullable=True),
        sa.Column("answer_status", sa.String(length=32), nullable=False),
        _time("received_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_data_transfers")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_inbound_data_transfers_station_id_id",
        "inbound_data_transfers",
        ["station_id", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_data_transfers_station_id_id", table_name="inbound_data_transfers")
    op.drop_table("inbound_data_transfers")
    op.drop_index("ix_security_events_station_id_id", table_name="security_events")
    op.drop_table("security_events")
    op.drop_index("ix_device_events_station_id_id", table_name="device_events")
    op.drop_table("device_events")
    op.drop_table("variable_monitors")
    op.drop_table("device_reports")
    op.drop_table("device_variables")
    op.drop_table("station_config_keys")
    op.drop_table("bulk_operations")
    op.drop_index("ix_operations_station_id_id", table_name="operations")
    op.drop_index(op.f("ix_operations_bulk_id"), table_name="operations")
    op.drop_table("operations")
