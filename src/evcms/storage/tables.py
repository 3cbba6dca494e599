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


# -- remote operations and station configuration (migration 0006) --------------------------
# The audit trail of CSMS-initiated operations (no foreign key: it outlives a station).
operations = Table(
    "operations",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("action", String(64), nullable=False),
    Column("operation", String(40), nullable=True),  # the neutral operation's name
    Column("ocpp_version", String(16), nullable=True),
    Column("request", Text(), nullable=False),  # JSON
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("outcome", String(16), nullable=False),  # pending | result | error | timeout | ...
    Column("status", String(40), nullable=True),
    Column("response", Text(), nullable=True),  # JSON
    Column("error_code", String(64), nullable=True),
    Column("error_description", Text(), nullable=True),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("bulk_id", BigInteger(), nullable=True, index=True),
    Index("ix_operations_station_id_id", "station_id", "id"),
    sqlite_autoincrement=True,
)

bulk_operations = Table(
    "bulk_operations",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("operation", String(40), nullable=False),
    Column("params", Text(), nullable=False),  # JSON
    Column("target", Text(), nullable=False),  # JSON: station_ids / site_id / model
    Column("station_ids", Text(), nullable=False),  # JSON: what the target resolved to
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    sqlite_autoincrement=True,
)

# What stations last reported of their configuration (no foreign key: kept with the audit).
station_config_keys = Table(  # OCPP 1.6
    "station_config_keys",
    metadata,
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", Text(), nullable=True),
    Column("readonly", Boolean(), nullable=False),
    Column("reported_at", UTCDateTime(), nullable=False),
)

device_variables = Table(  # OCPP 2.0.1 device model; "" / 0: no instance / EVSE / connector
    "device_variables",
    metadata,
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("component", String(64), primary_key=True),
    Column("component_instance", String(64), primary_key=True),
    Column("evse_id", Integer(), primary_key=True),
    Column("connector_id", Integer(), primary_key=True),
    Column("variable", String(64), primary_key=True),
    Column("variable_instance", String(64), primary_key=True),
    Column("attribute_type", String(8), primary_key=True),
    Column("value", Text(), nullable=True),
    Column("mutability", String(16), nullable=True),
    Column("data_type", String(32), nullable=True),
    Column("unit", String(32), nullable=True),
    Column("values_list", Text(), nullable=True),
    Column("min_limit", String(48), nullable=True),
    Column("max_limit", String(48), nullable=True),
    Column("supports_monitoring", Boolean(), nullable=True),
    Column("source", String(16), nullable=False),
    Column("reported_at", UTCDateTime(), nullable=False),
)

device_reports = Table(  # NotifyReport series by requestId
    "device_reports",
    metadata,
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("request_id", BigInteger(), primary_key=True),
    Column("parts", Integer(), nullable=False),
    Column("last_seq_no", Integer(), nullable=False),
    Column("complete", Boolean(), nullable=False),
    Column("variables", Integer(), nullable=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("generated_at", UTCDateTime(), nullable=True),
)

variable_monitors = Table(
    "variable_monitors",
    metadata,
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("id", BigInteger(), primary_key=True),  # the station's monitor id
    Column("component", String(64), nullable=False),
    Column("component_instance", String(64), nullable=False),
    Column("evse_id", Integer(), nullable=False),
    Column("connector_id", Integer(), nullable=False),
    Column("variable", String(64), nullable=False),
    Column("variable_instance", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("value", String(48), nullable=False),
    Column("severity", Integer(), nullable=False),
    Column("transaction", Boolean(), nullable=False),
    Column("reported_at", UTCDateTime(), nullable=False),
)

device_events = Table(  # every EventData of NotifyEvent
    "device_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("event_id", BigInteger(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("trigger", String(16), nullable=False),
    Column("cause", BigInteger(), nullable=True),
    Column("actual_value", Text(), nullable=False),
    Column("tech_code", String(64), nullable=True),
    Column("tech_info", Text(), nullable=True),
    Column("cleared", Boolean(), nullable=False),
    Column("transaction_id", String(64), nullable=True),
    Column("variable_monitoring_id", BigInteger(), nullable=True),
    Column("event_notification_type", String(32), nullable=True),
    Column("component", String(64), nullable=False),
    Column("component_instance", String(64), nullable=False),
    Column("evse_id", Integer(), nullable=False),
    Column("connector_id", Integer(), nullable=False),
    Column("variable", String(64), nullable=False),
    Column("variable_instance", String(64), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_device_events_station_id_id", "station_id", "id"),
    sqlite_autoincrement=True,
)

security_events = Table(
    "security_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("tech_info", Text(), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_security_events_station_id_id", "station_id", "id"),
    sqlite_autoincrement=True,
)

inbound_data_transfers = Table(
    "inbound_data_transfers",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("vendor_id", String(255), nullable=False),
    Column("message_id", String(64), nullable=True),
    Column("data", Text(), nullable=True),  # JSON
    Column("answer_status", String(32), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
    Index("ix_inbound_data_transfers_station_id_id", "station_id", "id"),
    sqlite_autoincrement=True,
)


# -- alerts and webhooks (migration 0007) --------------------------------------------------

# Rules an operator changed (the others are the defaults of domain.alerts).
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("kind", String(32), primary_key=True),
    Column("enabled", Boolean(), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("thresholds", Text(), nullable=False),  # JSON object: name -> whole number
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("evse_id", Integer(), nullable=True),
    Column("connector_id", Integer(), nullable=True),
    Column("subject", String(200), nullable=False),
    # AlertKey.text() while open, NULL once resolved: at most one open alert per key
    Column("open_key", String(400), nullable=True, unique=True),
    Column("severity", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("summary", String(1000), nullable=False),
    Column("details", Text(), nullable=False),  # JSON object of strings
    Column("opened_at", UTCDateTime(), nullable=False, index=True),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("count", Integer(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("resolution", String(1000), nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Index("ix_alerts_station_id_opened_at", "station_id", "opened_at"),
    Index("ix_alerts_status_opened_at", "status", "opened_at"),
    sqlite_autoincrement=True,
)

alert_comments = Table(
    "alert_comments",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger(), ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("author", String(200), nullable=False),
    Column("text", Text(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", Text(), nullable=False),  # JSON list
    Column("secret", String(200), nullable=False),  # needed in clear to sign deliveries
    Column("enabled", Boolean(), nullable=False),
    Column("description", String(500), nullable=False),
    Column("site_id", String(SITE_ID_LENGTH), nullable=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# The queue and history of webhook deliveries: pending ones are sent by the worker (also after
# a restart), delivered and failed ones are kept for the delivery log.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("delivery_key", String(36), nullable=False, unique=True),
    Column("subscription_id", String(36), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("body", Text(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer(), nullable=False),
    Column("max_attempts", Integer(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("next_attempt_at", UTCDateTime(), nullable=True),
    Column("delivered_at", UTCDateTime(), nullable=True),
    Column("last_status_code", Integer(), nullable=True),
    Column("last_error", String(1000), nullable=True),
    Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
    Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    sqlite_autoincrement=True,
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", BigInteger(), primary_key=True),
    Column("number", Integer(), primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("status_code", Integer(), nullable=True),
    Column("error", String(1000), nullable=True),
    Column("duration_ms", Integer(), nullable=False),
)


# -- diagnostics and firmware (migration 0008) ---------------------------------------------

# Diagnostics / log uploads evcms asked stations for (GetDiagnostics, GetLog).
diagnostics_requests = Table(
    "diagnostics_requests",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("ocpp_version", String(16), nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("token_expires_at", UTCDateTime(), nullable=False),
    Column("requested_by", String(200), nullable=False, default=""),
    Column("log_type", String(16), nullable=False),
    Column("since", UTCDateTime(), nullable=True),
    Column("until", UTCDateTime(), nullable=True),
    Column("retries", Integer(), nullable=True),
    Column("retry_interval", Integer(), nullable=True),
    Column("command_outcome", String(16), nullable=True),
    Column("answer_status", String(32), nullable=True),
    Column("answer_file_name", String(255), nullable=True),
    Column("station_status", String(32), nullable=True),
    Column("station_status_at", UTCDateTime(), nullable=True),
    Column("file_name", String(255), nullable=True),
    Column("file_size", BigInteger(), nullable=True),
    Column("file_sha256", String(64), nullable=True),
    Column("file_received_at", UTCDateTime(), nullable=True),
    Column("file_key", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_diagnostics_requests_station_id_id", "station_id", "id"),
    sqlite_autoincrement=True,
)

firmware_files = Table(
    "firmware_files",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("version", String(100), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("md5", String(32), nullable=False),
    Column("models", Text(), nullable=False),  # JSON list of model names; []: every model
    Column("signing_certificate", Text(), nullable=True),
    Column("signature", Text(), nullable=True),
    Column("notes", Text(), nullable=False, default=""),
    Column("created_by", String(200), nullable=False, default=""),
    Column("file_key", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

firmware_updates = Table(
    "firmware_updates",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("firmware_id", BigInteger(), nullable=False, index=True),
    Column("ocpp_version", String(16), nullable=False),
    Column("token", String(64), nullable=False, unique=True),
    Column("token_expires_at", UTCDateTime(), nullable=False),
    Column("retrieve_at", UTCDateTime(), nullable=False),
    Column("install_at", UTCDateTime(), nullable=True),
    Column("deadline", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("requested_by", String(200), nullable=False, default=""),
    Column("retries", Integer(), nullable=True),
    Column("retry_interval", Integer(), nullable=True),
    Column("rollout_id", BigInteger(), nullable=True, index=True),
    Column("station_status", String(32), nullable=True),
    Column("station_status_at", UTCDateTime(), nullable=True),
    Column("detail", Text(), nullable=True),
    Column("downloads", Integer(), nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_firmware_updates_station_id_state", "station_id", "state"),
    sqlite_autoincrement=True,
)

firmware_rollouts = Table(
    "firmware_rollouts",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("firmware_id", BigInteger(), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("wave_size", Integer(), nullable=False),
    Column("max_failure_rate", ExactDecimal(), nullable=False),
    Column("wave_timeout", Integer(), nullable=False),  # seconds
    Column("current_wave", Integer(), nullable=False, default=0),
    Column("wave_started_at", UTCDateTime(), nullable=True),
    Column("created_by", String(200), nullable=False, default=""),
    Column("target", Text(), nullable=False, default=""),
    Column("retries", Integer(), nullable=True),
    Column("retry_interval", Integer(), nullable=True),
    Column("force", Boolean(), nullable=False, default=False),
    Column("detail", Text(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    sqlite_autoincrement=True,
)

firmware_rollout_stations = Table(
    "firmware_rollout_stations",
    metadata,
    Column("rollout_id", BigInteger(), primary_key=True),
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("position", Integer(), nullable=False),
    Column("wave", Integer(), nullable=False),
    Column("state", String(16), nullable=False),
    Column("update_id", BigInteger(), nullable=True),
    Column("station_status", String(32), nullable=True),
    Column("detail", Text(), nullable=True),
)


# -- analytics (migration 0009) ------------------------------------------------------------
# The status history of every connector (and each station's connection): one row per change.
# source: status (StatusNotification) | session (2.0.1 chargingState) | connection.
connector_status_history = Table(
    "connector_status_history",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("evse_id", Integer(), nullable=False),
    Column("connector_id", Integer(), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("source", String(16), nullable=False),
    Column("status", String(32), nullable=False),
    Column("error_code", String(64), nullable=False),
    Column("vendor_error_code", String(255), nullable=False),
    Index("ix_connector_status_history_station_id_at", "station_id", "at"),
    sqlite_autoincrement=True,
)

# Rollups per connector and UTC hour, kept as events arrive (and rebuilt from the raw rows).
# Time in microseconds; energy in milliwatt-hours; money in minor units with its currency.
analytics_status_hours = Table(
    "analytics_status_hours",
    metadata,
    Column("hour", UTCDateTime(), primary_key=True),
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("evse_id", Integer(), primary_key=True),
    Column("connector_id", Integer(), primary_key=True),
    Column("available_us", BigInteger(), nullable=False),
    Column("occupied_us", BigInteger(), nullable=False),
    Column("charging_us", BigInteger(), nullable=False),
    Column("faulted_us", BigInteger(), nullable=False),
    Column("unavailable_us", BigInteger(), nullable=False),
    Column("offline_us", BigInteger(), nullable=False),
    Column("unknown_us", BigInteger(), nullable=False),
)

# Sessions by the UTC hour they started in.
analytics_session_hours = Table(
    "analytics_session_hours",
    metadata,
    Column("hour", UTCDateTime(), primary_key=True),
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("evse_id", Integer(), primary_key=True),
    Column("connector_id", Integer(), primary_key=True),
    Column("sessions", BigInteger(), nullable=False),
    Column("successful", BigInteger(), nullable=False),
    Column("energy_mwh", BigInteger(), nullable=False),
    Column("duration_us", BigInteger(), nullable=False),
    Column("charging_us", BigInteger(), nullable=False),
)

analytics_revenue_hours = Table(
    "analytics_revenue_hours",
    metadata,
    Column("hour", UTCDateTime(), primary_key=True),
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("evse_id", Integer(), primary_key=True),
    Column("connector_id", Integer(), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("sessions", BigInteger(), nullable=False),
    Column("excl_minor", BigInteger(), nullable=False),
    Column("incl_minor", BigInteger(), nullable=False),
)

analytics_token_hours = Table(
    "analytics_token_hours",
    metadata,
    Column("hour", UTCDateTime(), primary_key=True),
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("evse_id", Integer(), primary_key=True),
    Column("connector_id", Integer(), primary_key=True),
    Column("id_token", String(TOKEN_ID_LENGTH), primary_key=True),
    Column("sessions", BigInteger(), nullable=False),
    Column("energy_mwh", BigInteger(), nullable=False),
)

analytics_fault_hours = Table(
    "analytics_fault_hours",
    metadata,
    Column("hour", UTCDateTime(), primary_key=True),
    Column("station_id", String(STATION_ID_LENGTH), primary_key=True),
    Column("evse_id", Integer(), primary_key=True),
    Column("connector_id", Integer(), primary_key=True),
    Column("error_code", String(64), primary_key=True),
    Column("vendor_error_code", String(255), primary_key=True),
    Column("model", String(255), primary_key=True),
    Column("faults", BigInteger(), nullable=False),
)

# Which sessions the rollups count (once each), and whether their revenue is in.
analytics_counted_sessions = Table(
    "analytics_counted_sessions",
    metadata,
    Column("session_id", BigInteger(), primary_key=True),
    Column("hour", UTCDateTime(), nullable=False, index=True),
    Column("station_id", String(STATION_ID_LENGTH), nullable=False),
    Column("evse_id", Integer(), nullable=False),
    Column("connector_id", Integer(), nullable=False),
    Column("revenue_counted", Boolean(), nullable=False),
    Column("counted_at", UTCDateTime(), nullable=False),
)

# Monthly site reports mailed (once per site and month).
analytics_report_mails = Table(
    "analytics_report_mails",
    metadata,
    Column("site_id", String(SITE_ID_LENGTH), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("sent_at", UTCDateTime(), nullable=False),
)


# -- operator accounts (migration 0010) ----------------------------------------------------

operator_users = Table(
    "operator_users",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("disabled", Boolean(), nullable=False),
    Column("last_login_at", UTCDateTime(), nullable=True),
)

operator_sessions = Table(
    "operator_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "user_id",
        String(36),
        ForeignKey("operator_users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False, index=True),
    Column("ended_at", UTCDateTime(), nullable=True),
)
