"""The mailers: the dev one (outbox + log) and SMTP against a tiny SMTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from evcms.mail import OutboxMailer, SmtpConfig, SmtpMailer
from evcms.services.clock import FixedClock
from evcms.storage.drivers import MemoryOutbox

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BODY = "Здравейте Ана,\n\nhttps://charge.example.com/app/verify-email?token=" + "A" * 43 + "\n"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class TinySmtpServer:
    """Speaks just enough SMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, RSET, QUIT."""

    refuse_recipients: bool = False
    auth: tuple[str, str] | None = None  # (user, password) to require
    delay: float = 0.0  # seconds before answering DATA
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        sender, recipients = "", []
        await say("220 tiny.test ESMTP")
        try:
            while line := (await reader.readline()).decode().rstrip("\r\n"):
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    extensions = ["8BITMIME"] + (["AUTH PLAIN"] if self.auth else [])
                    await say("250-tiny.test")
                    for ext in extensions[:-1]:
                        await say(f"250-{ext}")
                    await say(f"250 {extensions[-1]}")
                elif verb == "AUTH":
                    _, _, payload = line.split(" ", 2)
                    _, user, password = base64.b64decode(payload).decode().split("\0")
                    self.logins.append((user, password))
                    if (user, password) == self.auth:
                        await say("235 2.7.0 Authentication successful")
                    else:
                        await say("535 5.7.8 Authentication credentials invalid")
                elif verb == "MAIL":
                    sender = line.split(":", 1)[1].strip().strip("<>").split(">")[0]
                    await say("250 OK")
                elif verb == "RCPT":
                    if self.refuse_recipients:
                        await say("550 5.1.1 No such user here")
                    else:
                        recipients.append(line.split(":", 1)[1].strip().strip("<>"))
                        await say("250 OK")
                elif verb == "DATA":
                    await say("354 End data with <CR><LF>.<CR><LF>")
                    data = bytearray()
                    while (chunk := await reader.readline()) != b".\r\n":
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    await asyncio.sleep(self.delay)
                    parsed = message_from_bytes(bytes(data), policy=policy.default)
                    assert isinstance(parsed, EmailMessage)
                    self.received.append(Received(sender, recipients, parsed))
                    await say("250 OK queued")
                elif verb == "RSET":
                    sender, recipients = "", []
                    await say("250 OK")
                elif verb == "QUIT":
                    await say("221 Bye")
                    break
                else:
                    await say("502 Command not implemented")
        finally:
            writer.close()


@pytest.fixture
async def smtp() -> AsyncIterator[TinySmtpServer]:
    server = TinySmtpServer()
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server
        listener.close()


def smtp_mailer(server: TinySmtpServer, outbox: MemoryOutbox, clock: FixedClock, **config: object) -> SmtpMailer:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": server.port,
        "sender": "noreply@charge.example.com",
        "starttls": False,
        "timeout": 5.0,
    }
    settings.update(config)
    return SmtpMailer(outbox=outbox, clock=clock, config=SmtpConfig(**settings))  # type: ignore[arg-type]


async def test_the_dev_mailer_writes_the_outbox_and_the_log(caplog: pytest.LogCaptureFixture) -> None:
    outbox, clock = MemoryOutbox(), FixedClock(T0)
    mailer = OutboxMailer(outbox=outbox, clock=clock)
    with caplog.at_level(logging.INFO, logger="evcms.mail"):
        await mailer.send("ana@example.com", "Потвърдете имейл адреса си", BODY)
    [mail] = await outbox.list()
    assert (mail.to_address, mail.subject, mail.body) == (
        "ana@example.com",
        "Потвърдете имейл адреса си",
        BODY,
    )
    assert mail.created_at == T0 and mail.sent_at is None and mail.error is None
    assert "ana@example.com" in caplog.text and BODY in caplog.text  # the link is in the log


async def test_smtp_delivers_the_mail_and_records_when(smtp: TinySmtpServer) -> None:
    outbox, clock = MemoryOutbox(), FixedClock(T0)
    mailer = smtp_mailer(smtp, outbox, clock)
    await mailer.send("ana@example.com", "Потвърдете имейл адреса си", BODY)
    clock.advance(3)
    await mailer.drain()

    [received] = smtp.received
    assert received.sender == "noreply@charge.example.com"
    assert received.recipients == ["ana@example.com"]
    message = received.message
    assert message["From"] == "noreply@charge.example.com" and message["To"] == "ana@example.com"
    assert message["Subject"] == "Потвърдете имейл адреса си"
    assert message["Message-ID"].endswith("@charge.example.com>")
    assert message.get_content().replace("\r\n", "\n") == BODY  # CRLF on the wire
    [mail] = await outbox.list()
    assert mail.sent_at == T0 + timedelta(seconds=3) and mail.error is None
    assert mailer.in_flight == 0


async def test_smtp_logs_in_when_a_user_is_configured(smtp: TinySmtpServer) -> None:
    smtp.auth = ("evcms", "s3cret")
    outbox, clock = MemoryOutbox(), FixedClock(T0)
    mailer = smtp_mailer(smtp, outbox, clock, user="evcms", password="s3cret")
    await mailer.send("ana@example.com", "Hi", "Hello")
    await mailer.drain()
    assert smtp.logins == [("evcms", "s3cret")] and len(smtp.received) == 1
    assert (await outbox.list())[0].sent_at == T0


async def test_a_wrong_smtp_password_is_recorded_on_the_mail(smtp: TinySmtpServer) -> None:
    smtp.auth = ("evcms", "s3cret")
    outbox = MemoryOutbox()
    mailer = smtp_mailer(smtp, outbox, FixedClock(T0), user="evcms", password="wrong")
    await mailer.send("ana@example.com", "Hi", "Hello")
    await mailer.drain()
    [mail] = await outbox.list()
    assert mail.sent_at is None and mail.error is not None
    assert "SMTPAuthenticationError" in mail.error and not smtp.received


async def test_a_refused_recipient_is_recorded_on_the_mail(
    smtp: TinySmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    smtp.refuse_recipients = True
    outbox = MemoryOutbox()
    mailer = smtp_mailer(smtp, outbox, FixedClock(T0))
    with caplog.at_level(logging.WARNING, logger="evcms.mail"):
        await mailer.send("nobody@example.com", "Hi", "Hello")
        await mailer.drain()
    [mail] = await outbox.list()
    assert mail.sent_at is None
    assert mail.error is not None and "SMTPRecipientsRefused" in mail.error
    assert "No such user here" in mail.error
    assert "was not sent" in caplog.text


async def test_an_unreachable_server_is_recorded_and_the_mail_stays_in_the_outbox() -> None:
    probe = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()  # nothing listens on this port any more
    outbox = MemoryOutbox()
    mailer = SmtpMailer(
        outbox=outbox,
        clock=FixedClock(T0),
        config=SmtpConfig(host="127.0.0.1", port=port, starttls=False, timeout=2.0),
    )
    await mailer.send("ana@example.com", "Hi", "Hello")
    await mailer.drain()
    [mail] = await outbox.list()
    assert mail.body == "Hello" and mail.sent_at is None
    assert mail.error is not None and "ConnectionRefusedError" in mail.error


async def test_sending_does_not_wait_for_a_slow_server(smtp: TinySmtpServer) -> None:
    smtp.delay = 0.5
    outbox = MemoryOutbox()
    mailer = smtp_mailer(smtp, outbox, FixedClock(T0))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await mailer.send("ana@example.com", "Hi", "Hello")
    handed_over = loop.time() - started
    assert mailer.in_flight == 1 and (await outbox.list())[0].sent_at is None
    await mailer.close()
    assert len(smtp.received) == 1 and (await outbox.list())[0].sent_at == T0
    assert handed_over < smtp.delay
