"""The database schema: SQLAlchemy Core tables on one MetaData.

Alembic migrations (``storage/migrations``) create exactly this schema; a test compares the
migrated database with this metadata on SQLite and PostgreSQL.

Timestamps are timezone-aware UTC datetimes everywhere (:class:`UTCDateTime`): ``timestamptz``
on PostgreSQL, naive-UTC text on SQLite (which sorts and compares correctly as text).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
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
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
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


class ExactDecimal(TypeDecorator[Decimal]):
    """A Decimal stored exactly: NUMERIC(24, 6) on PostgreSQL, text on SQLite.

    SQLite has no decimal type (NUMERIC there round-trips through float); text keeps every digit.
    Never a float: energy and, later, money are exact.
    """

    impl = String(48)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(24, 6))
        return dialect.type_descriptor(String(48))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"expected a Decimal, got {type(value).__name__}")
        return value if dialect.name == "postgresql" else str(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


DRIVER_ID_LENGTH = 36
TOKEN_ID_LENGTH = 255

drivers = Table(
    "drivers",
    metadata,
    Column("id", String(DRIVER_ID_LENGTH), primary_key=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-cased
    Column("password_hash", String(255), nullable=False),
    Column("name", String(200), nullable=False, default=""),
    Column("language", String(8), nullable=False, default="en"),
    Column("status", String(16), nullable=False),  # active | deactivated
    Column("email_verified_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Bearer sessions of drivers, e-mail verification and password reset: only a hash is stored.
driver_auth_tokens = Table(
    "driver_auth_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "driver_id",
        String(DRIVER_ID_LENGTH),
        ForeignKey("drivers.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("purpose", String(16), nullable=False),  # session | verify_email | reset_password
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=True),
)

email_outbox = Table(
    "email_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("to_address", String(320), nullable=False),
    Column("subject", String(500), nullable=False),
    Column("body", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, index=True),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("error", String(1000), nullable=True),
    sqlite_autoincrement=True,
)

id_tokens = Table(
    "id_tokens",
    metadata,
    Column("id", String(TOKEN_ID_LENGTH), primary_key=True),
    Column("type", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column(
        "driver_id",
        String(DRIVER_ID_LENGTH),
        ForeignKey("drivers.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    Column("group_id", String(TOKEN_ID_LENGTH), nullable=True, index=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("max_concurrent", Integer(), nullable=False, default=1),
    Column("label", String(200), nullable=False, default=""),
    Column("pending_approval", Boolean(), nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# A session outlives its station's registration: no foreign key to stations.
charging_sessions = Table(
    "charging_sessions",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("transaction_id", String(64), nullable=False),
    Column("start_key", String(160), nullable=True),  # 1.6 StartTransaction idempotency
    Column("evse_id", Integer(), nullable=False),
    Column("connector_id", Integer(), nullable=False),
    Column("ocpp_version", String(16), nullable=False),
    Column("driver_id", String(DRIVER_ID_LENGTH), nullable=True, index=True),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime(), nullable=True, index=True),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("id_token", String(TOKEN_ID_LENGTH), nullable=True, index=True),
    Column("stop_id_token", String(TOKEN_ID_LENGTH), nullable=True),
    Column("stop_reason", String(64), nullable=True),
    Column("meter_start_wh", ExactDecimal(), nullable=True),
    Column("meter_stop_wh", ExactDecimal(), nullable=True),
    Column("energy_wh", ExactDecimal(), nullable=False),
    Column("last_register_wh", ExactDecimal(), nullable=True),
    Column("last_seq_no", BigInteger(), nullable=False),
    Column("last_at", UTCDateTime(), nullable=True),
    Column("offline", Boolean(), nullable=False, default=False),
    Column("charging_state", String(32), nullable=True),
    Column("number_of_phases", Integer(), nullable=True),
    Column("power_w", ExactDecimal(), nullable=True),
    Column("soc_percent", ExactDecimal(), nullable=True),
    Column("last_sample_at", UTCDateTime(), nullable=True),
    Column("seen_start", Boolean(), nullable=False, default=False),
    # SessionState.evse_id / connector_id: what the station's events said (None until one did);
    # evse_id / connector_id above are the session's identity, given when it was created.
    Column("state_evse_id", Integer(), nullable=True),
    Column("state_connector_id", Integer(), nullable=True),
    Column("closed_by", String(200), nullable=True),
    Column("close_note", String(1000), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("station_id", "transaction_id"),
    UniqueConstraint("station_id", "start_key"),
    Index("ix_charging_sessions_station_id_status", "station_id", "status"),
    sqlite_autoincrement=True,
)

# Every station message about a session, once per key (see domain.charging_sessions).
session_events = Table(
    "session_events",
    metadata,
    Column(
        "session_id",
        BigInteger().with_variant(Integer(), "sqlite"),
        ForeignKey("charging_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("key", String(80), primary_key=True),
    Column("seq_no", BigInteger(), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("data", Text(), nullable=False),  # the event as JSON: samples, meter, token, reason
)

# Reservations: the id is the OCPP reservationId (an integer in 1.6, 2.0.1 and 2.1).
reservations = Table(
    "reservations",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("evse_id", Integer(), nullable=False),  # 0: any EVSE of the station (1.6 connector 0)
    Column("id_token", String(TOKEN_ID_LENGTH), nullable=False),
    Column("group_id", String(TOKEN_ID_LENGTH), nullable=True),
    Column("driver_id", String(DRIVER_ID_LENGTH), nullable=True, index=True),
    Column("status", String(16), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("session_id", BigInteger(), nullable=True),
    Column("created_by", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_reservations_station_id_status", "station_id", "status"),
    sqlite_autoincrement=True,
)

# Local authorisation lists: what each station was last sent, so updates can be differential.
local_lists = Table(
    "local_lists",
    metadata,
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("version", Integer(), nullable=False),
    Column("status", String(16), nullable=False),  # in_sync | pending | failed
    Column("synced_at", UTCDateTime(), nullable=True),
    Column("error", String(500), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

local_list_entries = Table(
    "local_list_entries",
    metadata,
    Column(
        "station_id",
        String(STATION_ID_LENGTH),
        ForeignKey("local_lists.station_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("token_id", String(TOKEN_ID_LENGTH), primary_key=True),
    Column("info", Text(), nullable=False),  # the entry acknowledged, version-neutral JSON
)

# Tariffs: every imported version, as the OCPI 2.2.1 JSON text it came in (exactly).
TARIFF_ID_LENGTH = 36  # OCPI CiString(36)
tariffs = Table(
    "tariffs",
    metadata,
    Column("id", String(TARIFF_ID_LENGTH), primary_key=True),
    Column("version", Integer(), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("time_zone", String(64), nullable=False),  # for the local-time restrictions
    Column("ocpi", Text(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# Which tariff applies where: scope default (scope_id ''), site or station (scope_id its id).
tariff_assignments = Table(
    "tariff_assignments",
    metadata,
    Column("scope", String(16), primary_key=True),
    Column("scope_id", String(SITE_ID_LENGTH), primary_key=True),  # '' for the default
    Column("tariff_id", String(TARIFF_ID_LENGTH), nullable=False),
    Column("since", UTCDateTime(), nullable=False),
)


# --- Billing -------------------------------------------------------------------------------
# Money is stored as integer minor units (cents) with its currency next to it; never a float.

# How a driver pays and who they are on an invoice.
billing_profiles = Table(
    "billing_profiles",
    metadata,
    Column("driver_id", String(36), primary_key=True),
    Column("mode", String(16), nullable=False),  # wallet | card | postpaid
    Column("language", String(8), nullable=False),  # the invoices' language: en | bg
    Column("name", String(200), nullable=False, default=""),  # person or company
    Column("company_id", String(32), nullable=True),  # e.g. the Bulgarian EIK
    Column("vat_id", String(32), nullable=True),
    Column("address", Text(), nullable=True),
    Column("country", String(2), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# The fixed price of an ended session and how it was settled (one row per priced session).
session_charges = Table(
    "session_charges",
    metadata,
    Column("session_id", BigInteger(), primary_key=True),
    Column("driver_id", String(36), nullable=True, index=True),
    Column("tariff_id", String(TARIFF_ID_LENGTH), nullable=True),
    Column("tariff_version", Integer(), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("total_excl_minor", BigInteger(), nullable=False),
    Column("total_tax_minor", BigInteger(), nullable=False),
    Column("total_incl_minor", BigInteger(), nullable=False),
    Column("breakdown", Text(), nullable=False),  # JSON: the lines as priced (after any plan)
    Column("payment_mode", String(16), nullable=False),  # wallet | card | postpaid | subscription | none
    Column("status", String(16), nullable=False),  # pending | paid | failed | free | unpaid
    Column("subscription_id", String(36), nullable=True),
    Column("payment_id", String(36), nullable=True),
    Column("invoice_id", String(36), nullable=True),
    Column("error", Text(), nullable=True),
    Column("priced_at", UTCDateTime(), nullable=False),
    Column("settled_at", UTCDateTime(), nullable=True),
)

# The ledger: double entry. A transaction's postings sum to zero per currency; balances are
# sums of postings, never stored alone. ``key`` makes every money movement idempotent.
ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("key", String(160), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("driver_id", String(36), nullable=True, index=True),
    Column("session_id", BigInteger(), nullable=True),
    Column("reference", String(160), nullable=True),  # a payment, an invoice number...
    Column("memo", Text(), nullable=True),
)

ledger_postings = Table(
    "ledger_postings",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column(
        "transaction_id",
        BigInteger(),
        ForeignKey("ledger_transactions.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("account", String(80), nullable=False, index=True),  # e.g. "wallet:{driver_id}"
    Column("amount_minor", BigInteger(), nullable=False),  # debit > 0, credit < 0
    Column("currency", String(3), nullable=False),
)

# Card payments (and card top-ups, subscription fees) through a provider (Stripe).
payment_methods = Table(
    "payment_methods",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("driver_id", String(36), nullable=False, index=True),
    Column("provider", String(16), nullable=False),
    Column("customer_ref", String(120), nullable=False),
    Column("method_ref", String(120), nullable=False),
    Column("brand", String(32), nullable=True),
    Column("last4", String(4), nullable=True),
    Column("exp_month", Integer(), nullable=True),
    Column("exp_year", Integer(), nullable=True),
    Column("is_default", Boolean(), nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime(), nullable=True),
)

payments = Table(
    "payments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key", String(160), nullable=False, unique=True),  # idempotency: "session:42", ...
    Column("purpose", String(16), nullable=False),  # session | top_up | subscription
    Column("driver_id", String(36), nullable=False, index=True),
    Column("session_id", BigInteger(), nullable=True, index=True),
    Column("provider", String(16), nullable=False),
    Column("intent_ref", String(120), nullable=True, unique=True),
    Column("method_id", String(36), nullable=True),
    Column("status", String(24), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("authorized_minor", BigInteger(), nullable=False, default=0),
    Column("captured_minor", BigInteger(), nullable=False, default=0),
    Column("error", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Provider webhooks seen (the provider's event id): a redelivered webhook is applied once.
payment_webhook_events = Table(
    "payment_webhook_events",
    metadata,
    Column("provider", String(16), primary_key=True),
    Column("event_id", String(120), primary_key=True),
    Column("type", String(64), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
)

# Invoices, receipts and credit notes: immutable once issued; numbers are gapless per series.
invoice_series = Table(
    "invoice_series",
    metadata,
    Column("series", String(16), primary_key=True),
    Column("last_number", BigInteger(), nullable=False),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("key", String(160), nullable=False, unique=True),  # "receipt:session:42", ...
    Column("kind", String(16), nullable=False),  # receipt | invoice | credit_note
    Column("series", String(16), nullable=False),
    Column("number", BigInteger(), nullable=False),
    Column("number_text", String(40), nullable=False),
    Column("driver_id", String(36), nullable=True, index=True),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("language", String(8), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("seller", Text(), nullable=False),  # JSON
    Column("buyer", Text(), nullable=False),  # JSON
    Column("lines", Text(), nullable=False),  # JSON
    Column("total_excl_minor", BigInteger(), nullable=False),
    Column("total_tax_minor", BigInteger(), nullable=False),
    Column("total_incl_minor", BigInteger(), nullable=False),
    Column("corrects_id", String(36), nullable=True),  # a credit note's invoice
    Column("period_start", UTCDateTime(), nullable=True),  # monthly invoices
    Column("period_end", UTCDateTime(), nullable=True),
    Column("payment_status", String(16), nullable=False, default="paid"),  # paid | due
    UniqueConstraint("series", "number"),
)

# Subscription plans and drivers' subscriptions.
subscription_plans = Table(
    "subscription_plans",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("monthly_fee_minor", BigInteger(), nullable=False),
    Column("fee_vat_percent", ExactDecimal(), nullable=False),
    Column("included_kwh", ExactDecimal(), nullable=False),  # 0: none included
    Column("discount_percent", ExactDecimal(), nullable=False),  # off the session price
    Column("tariff_id", String(TARIFF_ID_LENGTH), nullable=True),  # a tariff of its own
    Column("active", Boolean(), nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("driver_id", String(36), nullable=False, index=True),
    Column("plan_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),  # active | past_due | cancelled | ended
    Column("period_start", UTCDateTime(), nullable=False),
    Column("period_end", UTCDateTime(), nullable=False),
    Column("cancel_at_period_end", Boolean(), nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# What each session took from a subscription period's included energy.
subscription_usage = Table(
    "subscription_usage",
    metadata,
    Column("subscription_id", String(36), primary_key=True),
    Column("session_id", BigInteger(), primary_key=True),
    Column("period_start", UTCDateTime(), nullable=False),
    Column("included_wh", ExactDecimal(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)


# -- issue 5: operations (migration 0006) -------------------------------------------------


# -- issue 5: alerts (migration 0007) -----------------------------------------------------


# -- issue 5: maintenance (migration 0008) ------------------------------------------------
