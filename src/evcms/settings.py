"""Typed settings from EVCMS_* environment variables and an optional .env-style file.

No side effects: reading settings opens no sockets and creates no files.
"""

from __future__ import annotations

import enum
from decimal import Decimal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class AutoOnboard(enum.StrEnum):
    OFF = "off"  # unknown station ids are refused at the handshake (HTTP 404)
    PENDING = "pending"  # created, BootNotification answered Pending until an operator accepts
    ACCEPT = "accept"  # created and accepted (labs and benchmarks only)


class CardDeclinePolicy(enum.StrEnum):
    REFUSE = "refuse"  # pre-authorise before answering the start; declined: NoCredit / Blocked
    STOP = "stop"  # answer at once, pre-authorise after; declined: evcms stops the session


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVCMS_", env_file=None, extra="ignore")

    host: str = Field("127.0.0.1", description="Address both servers listen on")
    http_port: int = Field(8000, ge=0, le=65535, description="REST API, docs and console")
    ocpp_port: int = Field(9000, ge=0, le=65535, description="Station WebSocket server")
    public_host: str | None = Field(
        None, description="Host name printed in URLs (defaults to the listen address)"
    )
    database_url: str = Field(
        "sqlite+aiosqlite:///var/evcms.db",
        description="SQLAlchemy async URL: sqlite+aiosqlite:///path or postgresql+asyncpg://...",
    )

    auto_onboard: AutoOnboard = Field(
        AutoOnboard.OFF, description="What to do with a station id that is not registered"
    )
    allow_unsecured_stations: bool = Field(
        False, description="Let stations without a password (security profile 0) connect"
    )
    heartbeat_interval: int = Field(300, ge=1, description="Seconds, sent in BootNotification")
    pending_retry_interval: int = Field(
        60, ge=1, description="Seconds a Pending/Rejected station waits before booting again"
    )
    call_timeout: float = Field(30.0, gt=0, description="Seconds to wait for a station's answer")
    ws_ping_interval: float | None = Field(
        60.0, description="Seconds between WebSocket pings (none: off)"
    )
    ws_ping_timeout: float | None = Field(30.0, description="Seconds to wait for a pong")
    ws_max_message_size: int = Field(
        256 * 1024, ge=1024, description="Largest OCPP frame accepted, in bytes"
    )
    ws_compression: bool = Field(False, description="permessage-deflate (costs memory)")

    message_log_retention_days: float = Field(
        14, gt=0, description="Days the raw OCPP message log is kept"
    )
    write_batch_wait_ms: float = Field(
        2.0, ge=0, description="Group commit: how long the writer waits to gather writes"
    )

    driver_tokens_need_approval: bool = Field(
        True, description="Cards drivers add themselves charge only after an operator approves them"
    )
    demo_stations: int = Field(6, ge=0, le=200, description="Simulated stations with --demo")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR")
    log_format: str = Field("text", description="text or json (structured logs)")

    # Driver accounts and their mails.
    public_base_url: str | None = Field(
        None,
        description="Where people reach evcms, for links in mails, e.g. https://charge.example.com"
        " (defaults to http://<public host>:<HTTP port>)",
    )
    require_verified_email: bool = Field(
        True, description="Drivers may log in only after confirming their e-mail address"
    )
    smtp_host: str | None = Field(
        None, description="SMTP server for mails; unset: mails only go to the log and the outbox"
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (465: implicit TLS)")
    smtp_user: str | None = Field(None, description="SMTP user name (none: no login)")
    smtp_password: SecretStr | None = Field(None, description="SMTP password")
    smtp_from: str = Field("evcms@localhost", description="The From: address of mails")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS")

    # Billing and payments
    currency: str = Field(
        "EUR",
        min_length=3,
        max_length=3,
        description="Currency of wallets, plans and invoices (ISO 4217)",
    )
    wallet_min_balance: Decimal = Field(
        Decimal("5.00"),
        ge=0,
        description="A wallet driver may start charging only with at least this balance",
    )
    card_preauth_amount: Decimal = Field(
        Decimal("50.00"),
        gt=0,
        description="Amount pre-authorised on the card when a session starts",
    )
    card_decline: CardDeclinePolicy = Field(
        CardDeclinePolicy.REFUSE,
        description="A declined pre-authorisation: refuse = the start is answered NoCredit/Blocked at once; stop = accept, pre-authorise after the answer, stop the session if declined",
    )
    default_payment_mode: str = Field(
        "postpaid",
        pattern="^(wallet|card|postpaid)$",
        description="How a driver who has not chosen pays: postpaid (a monthly invoice), wallet or card",
    )
    stripe_secret_key: SecretStr | None = Field(
        None, description="Stripe secret API key (none: card payments are off)"
    )
    stripe_webhook_secret: SecretStr | None = Field(
        None, description="Stripe webhook signing secret (whsec_...)"
    )
    stripe_api_base: str = Field(
        "https://api.stripe.com",
        description="Stripe API base URL (a local fake in tests and the demo)",
    )
    seller_name: str = Field("evcms demo operator", description="The seller on invoices")
    seller_address: str = Field("", description="The seller's address on invoices")
    seller_vat_id: str = Field("", description="The seller's VAT number on invoices")
    seller_company_id: str = Field(
        "", description="The seller's company number on invoices (e.g. EIK)"
    )
    invoice_time_zone: str = Field("Europe/Sofia", description="IANA time zone of dates on invoices and receipts")
    invoice_font: str | None = Field(
        None,
        description="A TrueType font with Latin and Cyrillic for invoice PDFs (default: DejaVu Sans from the system)",
    )

    # -- remote operations and station configuration --
    bulk_operation_concurrency: int = Field(
        10, ge=1, le=500, description="Stations a bulk operation works on at once"
    )

    # -- alerts and webhooks --
    alert_check_seconds: float = Field(
        10.0, gt=0, le=3600, description="How often the alert rules look at stations (offline, stuck sessions)"
    )
    alert_email_to: str = Field(
        "", description="Comma-separated addresses that get alert e-mails (empty: none)"
    )
    alert_email_min_severity: str = Field(
        "warning",
        pattern="^(info|warning|critical)$",
        description="Alerts mailed from this severity up: info, warning or critical",
    )
    webhook_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Seconds a webhook receiver has to answer"
    )
    webhook_retry_base_seconds: float = Field(
        10.0, gt=0, description="First retry delay of a failed webhook delivery (doubles each time)"
    )
    webhook_retry_max_seconds: float = Field(
        3600.0, gt=0, description="Longest delay between webhook retries"
    )
    webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Attempts of a webhook delivery before it is marked failed"
    )
    webhook_retention_days: float = Field(
        30.0, gt=0, description="Delivered and failed webhook deliveries are kept this long"
    )

    # -- diagnostics and firmware --
    files_dir: str | None = Field(
        None,
        description="Directory for diagnostics uploads and firmware files (default: 'files' next"
        " to the SQLite database; ./evcms-files with PostgreSQL)",
    )
    upload_token_ttl: int = Field(
        3600, ge=1, description="Seconds a diagnostics upload link stays valid"
    )
    upload_max_bytes: int = Field(
        100 * 1024 * 1024, ge=1, description="Largest diagnostics/log upload accepted, in bytes"
    )
    firmware_max_bytes: int = Field(
        512 * 1024 * 1024, ge=1, description="Largest firmware file accepted, in bytes"
    )
    firmware_update_timeout: int = Field(
        7200,
        ge=1,
        description="Seconds after the retrieve time a firmware update may take before it counts"
        " as failed (timed out)",
    )

    # -- analytics --
    report_email_to: str = Field(
        "", description="Comma-separated addresses that get each site's monthly report (empty: none)"
    )
    report_time_zone: str = Field(
        "Europe/Sofia", description="IANA time zone of the monthly site reports (their month and days)"
    )
    analytics_flush_seconds: float = Field(
        5.0, description="How often the analytics rollups are written (and open status intervals counted up to now)"
    )

    def display_host(self) -> str:
        if self.public_host:
            return self.public_host
        return "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host


def reference() -> list[tuple[str, str, str]]:
    """(variable, default, description) for every setting: the README's table and --help."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, enum.Enum):
            default = default.value
        rows.append((f"EVCMS_{name.upper()}", str(default), field.description or ""))
    return rows
