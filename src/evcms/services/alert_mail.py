"""Alert e-mail: alerts that open or resolve, at or above a severity, mailed to the operator.

A bus subscriber (``on_event``) on ``AlertChanged``; the mailer records each mail in the outbox
and sends it in the background (``evcms.mail``), so a slow mail server never holds up alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from evcms.domain.alerts import Severity
from evcms.domain.events import AlertChanged, Event

log = logging.getLogger(__name__)

MAILED_CHANGES = frozenset({"opened", "resolved"})


class Mailer(Protocol):
    async def send(self, to_address: str, subject: str, body: str) -> None: ...


def parse_recipients(text: str) -> list[str]:
    """``"a@x.org, b@y.org"`` -> the addresses (empty: none)."""
    return [part.strip() for part in text.split(",") if part.strip()]


class AlertMail:
    def __init__(
        self,
        *,
        mailer: Mailer,
        recipients: Sequence[str],
        min_severity: Severity,
        console_url: str | None = None,
    ) -> None:
        self._mailer = mailer
        self.recipients = tuple(recipients)
        self.min_severity = min_severity
        self._console_url = console_url

    async def on_event(self, event: Event) -> None:
        if not isinstance(event, AlertChanged) or event.change not in MAILED_CHANGES:
            return
        if not self.recipients or not Severity(event.severity).at_least(self.min_severity):
            return
        subject, body = self.message(event)
        for address in self.recipients:
            try:
                await self._mailer.send(address, subject, body)
            except Exception:
                log.exception("could not mail alert %d to %s", event.alert_id, address)

    def message(self, event: AlertChanged) -> tuple[str, str]:
        word = "OPEN" if event.change == "opened" else "RESOLVED"
        subject = f"[evcms {event.severity}] {word}: {event.station_id}: {event.summary}"
        where = ""
        if event.evse_id is not None:
            where = f"EVSE:      {event.evse_id}" + (
                f", connector {event.connector_id}\n" if event.connector_id is not None else "\n"
            )
        lines = [
            f"Alert {event.alert_id} {event.change} at {event.at.isoformat()}.",
            "",
            f"Station:   {event.station_id}",
            where.rstrip("\n") if where else None,
            f"Kind:      {event.kind}",
            f"Severity:  {event.severity}",
            f"Summary:   {event.summary}",
        ]
        if self._console_url:
            lines += ["", f"Details: {self._console_url.rstrip('/')}/api/v1/alerts/{event.alert_id}"]
        return subject, "\n".join(line for line in lines if line is not None) + "\n"
