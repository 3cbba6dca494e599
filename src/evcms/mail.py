"""Mailers: how evcms's mails leave the building.

Every mail is first written to the outbox table (the record an operator can read). Then:

- :class:`OutboxMailer` (development, no SMTP server configured) logs the whole mail at INFO —
  its links included — and stops there.
- :class:`SmtpMailer` (``EVCMS_SMTP_HOST`` set) hands it to the SMTP server in the background
  (stdlib ``smtplib`` in a worker thread) and records ``sent_at`` or the error on the outbox
  row. The caller never waits for the mail server, so a slow or dead server neither slows
  requests down nor tells an observer (by timing) whether a mail went out.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Awaitable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from evcms.services.drivers import Outbox
from evcms.services.ports import Clock

log = logging.getLogger(__name__)

SMTPS_PORT = 465  # implicit TLS; other ports speak plain SMTP, upgraded with STARTTLS if asked


class OutboxMailer:
    """Records the mail in the outbox and writes it to the log; sends nothing."""

    def __init__(self, *, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    async def send(self, to_address: str, subject: str, body: str) -> None:
        mail_id = await self._outbox.add(to_address, subject, body, self._clock.now())
        log.info(
            "mail %d (not sent: no SMTP server configured) to %s\nSubject: %s\n\n%s",
            mail_id,
            to_address,
            subject,
            body,
        )

    async def drain(self) -> None:
        """Nothing is ever in flight; here so both mailers close the same way."""

    async def close(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 587
    sender: str = "evcms@localhost"  # the From: address
    user: str | None = None
    password: str | None = None
    starttls: bool = True  # upgrade the connection with STARTTLS (ignored on port 465)
    timeout: float = 30.0  # seconds for the connection and each command


def build_message(sender: str, to_address: str, subject: str, body: str, at_domain: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to_address
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=at_domain)
    message.set_content(body, cte="quoted-printable")
    return message


class SmtpMailer:
    """Records the mail in the outbox, then delivers it over SMTP in the background."""

    def __init__(
        self, *, outbox: Outbox, clock: Clock, config: SmtpConfig, tls_context: ssl.SSLContext | None = None
    ) -> None:
        self._outbox = outbox
        self._clock = clock
        self.config = config
        self._tls_context = tls_context
        self._in_flight: set[asyncio.Task[None]] = set()

    async def send(self, to_address: str, subject: str, body: str) -> None:
        mail_id = await self._outbox.add(to_address, subject, body, self._clock.now())
        log.info("mail %d to %s queued for %s: %s", mail_id, to_address, self.config.host, subject)
        task = asyncio.create_task(
            self._deliver(mail_id, to_address, subject, body), name=f"evcms-mail-{mail_id}"
        )
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def drain(self) -> None:
        """Wait until every mail handed over so far was delivered or failed."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    async def close(self) -> None:
        await self.drain()

    async def _deliver(self, mail_id: int, to_address: str, subject: str, body: str) -> None:
        domain = self.config.sender.rpartition("@")[2] or "localhost"
        message = build_message(self.config.sender, to_address, subject, body, domain)
        message["Date"] = format_datetime(self._clock.now())
        try:
            await asyncio.to_thread(self._send_blocking, message)
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("mail %d to %s was not sent: %s", mail_id, to_address, error)
            await self._record(self._outbox.mark_failed(mail_id, error))
            return
        log.info("mail %d to %s sent", mail_id, to_address)
        await self._record(self._outbox.mark_sent(mail_id, self._clock.now()))

    @staticmethod
    async def _record(update: Awaitable[None]) -> None:
        try:
            await update
        except Exception:
            log.exception("could not record the outcome of a mail in the outbox")

    def _send_blocking(self, message: EmailMessage) -> None:
        config = self.config
        context = self._tls_context or ssl.create_default_context()
        client: smtplib.SMTP
        if config.port == SMTPS_PORT:
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        with client:
            client.ehlo()
            if config.starttls and config.port != SMTPS_PORT:
                client.starttls(context=context)
                client.ehlo()
            if config.user:
                client.login(config.user, config.password or "")
            client.send_message(message)
