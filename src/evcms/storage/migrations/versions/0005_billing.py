"""Billing: session charges, the ledger, card payments, invoices, subscriptions.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 05:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    """ExactDecimal: NUMERIC(24, 6) on PostgreSQL, text on SQLite."""
    return sa.String(length=48).with_variant(sa.Numeric(24, 6), "postgresql")


def _id() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "billing_profiles",
        sa.Column("driver_id", sa.String(length=36), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("company_id", sa.String(length=32), nullable=True),
        sa.Column("vat_id", sa.String(length=32), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("driver_id", name=op.f("pk_billing_profiles")),
    )
    op.create_table(
        "invoice_series",
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("last_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("series", name=op.f("pk_invoice_series")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("series", sa.String(length=16), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("number_text", sa.String(length=40), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("seller", sa.Text(), nullable=False),
        sa.Column("buyer", sa.Text(), nullable=False),
        sa.Column("lines", sa.Text(), nullable=False),
        sa.Column("total_excl_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_incl_minor", sa.BigInteger(), nullable=False),
        sa.Column("corrects_id", sa.String(length=36), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("payment_status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("key", name=op.f("uq_invoices_key")),
        sa.UniqueConstraint("series", "number", name=op.f("uq_invoices_series_number")),
    )
    op.create_index(op.f("ix_invoices_driver_id"), "invoices", ["driver_id"], unique=False)
    op.create_table(
        "ledger_transactions",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=True),
        sa.Column("session_id", sa.BigInteger(), nullable=True),
        sa.Column("reference", sa.String(length=160), nullable=True),
        sa.Column("memo", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transactions")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_transactions_key")),
    )
    op.create_index(
        op.f("ix_ledger_transactions_driver_id"), "ledger_transactions", ["driver_id"], unique=False
    )
    op.create_table(
        "payment_methods",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("customer_ref", sa.String(length=120), nullable=False),
        sa.Column("method_ref", sa.String(length=120), nullable=False),
        sa.Column("brand", sa.String(length=32), nullable=True),
        sa.Column("last4", sa.String(length=4), nullable=True),
        sa.Column("exp_month", sa.Integer(), nullable=True),
        sa.Column("exp_year", sa.Integer(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_methods")),
    )
    op.create_index(
        op.f("ix_payment_methods_driver_id"), "payment_methods", ["driver_id"], unique=False
    )
    op.create_table(
        "payment_webhook_events",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_payment_webhook_events")),
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=True),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("intent_ref", sa.String(length=120), nullable=True),
        sa.Column("method_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("authorized_minor", sa.BigInteger(), nullable=False),
        sa.Column("captured_minor", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint("intent_ref", name=op.f("uq_payments_intent_ref")),
        sa.UniqueConstraint("key", name=op.f("uq_payments_key")),
    )
    op.create_index(op.f("ix_payments_driver_id"), "payments", ["driver_id"], unique=False)
    op.create_index(op.f("ix_payments_session_id"), "payments", ["session_id"], unique=False)
    op.create_table(
        "session_charges",
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=True),
        sa.Column("tariff_id", sa.String(length=36), nullable=True),
        sa.Column("tariff_version", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_excl_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_tax_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_incl_minor", sa.BigInteger(), nullable=False),
        sa.Column("breakdown", sa.Text(), nullable=False),
        sa.Column("payment_mode", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=True),
        sa.Column("payment_id", sa.String(length=36), nullable=True),
        sa.Column("invoice_id", sa.String(length=36), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("priced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_session_charges")),
    )
    op.create_index(
        op.f("ix_session_charges_driver_id"), "session_charges", ["driver_id"], unique=False
    )
    op.create_table(
        "subscription_plans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("monthly_fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_vat_percent", _decimal(), nullable=False),
        sa.Column("included_kwh", _decimal(), nullable=False),
        sa.Column("discount_percent", _decimal(), nullable=False),
        sa.Column("tariff_id", sa.String(length=36), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscription_plans")),
    )
    op.create_table(
        "subscription_usage",
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("included_wh", _decimal(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "subscription_id", "session_id", name=op.f("pk_subscription_usage")
        ),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("driver_id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(
        op.f("ix_subscriptions_driver_id"), "subscriptions", ["driver_id"], unique=False
    )
    op.create_table(
        "ledger_postings",
        sa.Column("id", _id(), autoincrement=True, nullable=False),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.String(length=80), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["transaction_id"],
            ["ledger_transactions.id"],
            name=op.f("fk_ledger_postings_transaction_id_ledger_transactions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_postings")),
    )
    op.create_index(
        op.f("ix_ledger_postings_account"), "ledger_postings", ["account"], unique=False
    )
    op.create_index(
        op.f("ix_ledger_postings_transaction_id"),
        "ledger_postings",
        ["transaction_id"],
        unique=False,
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_ledger_postings_transaction_id"), table_name="ledger_postings")
    op.drop_index(op.f("ix_ledger_postings_account"), table_name="ledger_postings")
    op.drop_table("ledger_postings")
    op.drop_index(op.f("ix_subscriptions_driver_id"), table_name="subscriptions")
    op.drop_table("subscriptions")
    op.drop_table("subscription_usage")
    op.drop_table("subscription_plans")
    op.drop_index(op.f("ix_session_charges_driver_id"), table_name="session_charges")
    op.drop_table("session_charges")
    op.drop_index(op.f("ix_payments_session_id"), table_name="payments")
    op.drop_index(op.f("ix_payments_driver_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_table("payment_webhook_events")
    op.drop_index(op.f("ix_payment_methods_driver_id"), table_name="payment_methods")
    op.drop_table("payment_methods")
    op.drop_index(op.f("ix_ledger_transactions_driver_id"), table_name="ledger_transactions")
    op.drop_table("ledger_transactions")
    op.drop_index(op.f("ix_invoices_driver_id"), table_name="invoices")
    op.drop_table("invoices")
    op.drop_table("invoice_series")
    op.drop_table("billing_profiles")
