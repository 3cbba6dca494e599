"""The cost a station shows while it charges (OCPP 2.0.1/2.1 ``totalCost``).

2.0.1 TransactionEventResponse carries ``totalCost``: the running cost for an Updated event, the
final one for Ended. Pricing a session reads all its samples, too much for every meter update on
the station message path, so the running cost comes from a cache that a background refresh
keeps at most ``refresh_seconds`` old: answering costs a dict lookup. The final cost is priced
when the Ended event comes (once per session).

The figure is the tariff's price including VAT. A subscription plan's included energy and
discount are applied when the session is settled (``services.billing``): the receipt shows them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from evcms.domain.charging_sessions import ChargingSession
from evcms.services.ports import Clock

log = logging.getLogger(__name__)

# session -> its price incl. VAT so far, or None when no tariff applies
PriceOf = Callable[[ChargingSession], Awaitable[Decimal | None]]


@dataclass(slots=True)
class _Cached:
    total: Decimal | None
    at: datetime


class LiveCost:
    def __init__(self, *, price_of: PriceOf, clock: Clock, refresh_seconds: float = 15.0) -> None:
        self._price_of = price_of
        self._clock = clock
        self._refresh = refresh_seconds
        self._cache: dict[int, _Cached] = {}
        self._refreshing: dict[int, asyncio.Task[Any]] = {}

    def running(self, session: ChargingSession) -> Decimal | None:
        """The latest known running cost (None until the first refresh); schedules a refresh
        when it is older than ``refresh_seconds``. Never waits."""
        cached = self._cache.get(session.id)
        now = self._clock.now()
        if (cached is None or (now - cached.at).total_seconds() >= self._refresh) and (
            session.id not in self._refreshing
        ):
            if len(self._cache) > 100_000:  # sessions that ended without an Ended answer here
                self._cache.clear()
            task = asyncio.get_running_loop().create_task(self._update(session))
            self._refreshing[session.id] = task
        return None if cached is None else cached.total

    async def final(self, session: ChargingSession) -> Decimal | None:
        """The session's price now that it ended (and forget its running cost)."""
        self._cache.pop(session.id, None)
        try:
            return await self._price_of(session)
        except Exception:
            log.exception("pricing ended session %s failed", session.id)
            return None

    async def _update(self, session: ChargingSession) -> None:
        session_id = session.id
        try:
            total = await self._price_of(session)
            self._cache[session_id] = _Cached(total, self._clock.now())
        except Exception:
            log.exception("pricing session %s failed", session_id)
        finally:
            self._refreshing.pop(session_id, None)

    async def close(self) -> None:
        tasks = list(self._refreshing.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
