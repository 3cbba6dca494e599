"""The database schema: SQLAlchemy Core tables on one MetaData.

Alembic migrations (``storage/migrations``) create exactly this schema; a test compares the
migrated database with this metadata on SQLite and PostgreSQL.

Timestamps are timezone-aware UTC datetimes everywhere (:class:`UTCDateTime`): ``timestamptz``
on PostgreSQL, naive-UTC text on SQLite (which sorts and compares correctly as text).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    Binding a naive datetime is an error (we never guess a zone); aware values in any zone are
    converted to UTC. Results are always aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; use an aware UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if not isinstance(moment, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


# Lengths: identifiers follow domain.ids; station-reported fields are generous multiples of the
# OCPP limits (the schemas validate them before they get here).
STATION_ID_LENGTH = 48
SITE_ID_LENGTH = 63

sites = Table(
    "sites",
    metadata,
    Column("id", String(SITE_ID_LENGTH), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("address", String(500), nullable=False, default=""),
    Column("latitude", Double(), nullable=True),
    Column("longitude", Double(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

stations = Table(
    "stations",
    metadata,
    Column("id", String(STATION_ID_LENGTH), primary_key=True),
    Column(
        "site_id",
        String(SITE_ID_LENGTH),
        ForeignKey("sites.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    Column("name", String(200), nullable=False, default=""),
    Column("registration", String(16), nullable=False),
    Column("password_hash", String(255), nullable=True),
    Column("ocpp_version", String(16), nullable=True),
    # StationInfo (from the last BootNotification); all NULL when the station never booted.
    Column("vendor", String(255), nullable=True),
    Column("model", String(255), nullable=True),
    Column("serial_number", String(255), nullable=True),
    Column("firmware_version", String(255), nullable=True),
    Column("iccid", String(255), nullable=True),
    Column("imsi", String(255), nullable=True),
    Column("meter_type", String(255), nullable=True),
    Column("meter_serial_number", String(255), nullable=True),
    Column("last_boot_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

connector_states = Table(
    "connector_states",
    metadata,
    Column(
        "station_id",
        String(STATION_ID_LENGTH),
        ForeignKey("stations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("evse_id", Integer(), primary_key=True),
    Column("connector_id", Integer(), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("info", String(1000), nullable=True),
    Column("vendor_id", String(255), nullable=True),
    Column("vendor_error_code", String(255), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

station_presence = Table(
    "station_presence",
    metadata,
    Column(
        "station_id",
        String(STATION_ID_LENGTH),
        ForeignKey("stations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("connected", Boolean(), nullable=False),
    Column("connected_since", UTCDateTime(), nullable=True),
    Column("last_message_at", UTCDateTime(), nullable=True),
    Column("ocpp_version", String(16), nullable=True),
)

# No foreign key to stations: the log of a deleted station stays until retention purges it.
# sqlite_autoincrement: ids are never reused, so keyset pagination by id stays monotonic.
message_log = Table(
    "message_log",
    metadata,
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("direction", String(3), nullable=False),
    Column("frame", Text(), nullable=False),
    Index("ix_message_log_station_id_id", "station_id", "id"),
    Index("ix_message_log_at", "at"),
    sqlite_autoincrement=True,
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("secret_hash", String(255), nullable=False, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked", Boolean(), nullable=False, default=False),
)
