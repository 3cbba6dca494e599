"""The price of a charging session: live while it charges, final once it ended.

The tariff is the one assigned to the station (its own, else its site's, else the default) in
the version that was in force when the session started. Charging periods come from the session's
energy-register samples (``domain.tariffs.periods_from_meter_samples``); the price is
``domain.tariffs.price`` — this service only fetches and assembles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from evcms.domain.charging_sessions import ChargingSession, SessionStatus
from evcms.domain.metering import Measurand
from evcms.domain.tariffs import PriceBreakdown, periods_from_meter_samples, price
from evcms.services.charging import Charging
from evcms.services.ports import Clock
from evcms.services.tariffs import StoredTariff, TariffAdmin


@dataclass(frozen=True, slots=True)
class SessionPrice:
    session: ChargingSession
    tariff: StoredTariff
    breakdown: PriceBreakdown
    final: bool  # the session ended: this is its price; else the running price so far


class Pricing:
    def __init__(self, *, charging: Charging, tariffs: TariffAdmin, clock: Clock) -> None:
        self._charging = charging
        self._tariffs = tariffs
        self._clock = clock

    async def session_price(
        self, session_id: int, *, driver_id: str | None = None, tariff_id: str | None = None
    ) -> SessionPrice | None:
        """None when no tariff applies to the session's station (or it never started).
        ``tariff_id``: price with that tariff instead of the station's (a subscription plan's)."""
        session = await self._charging.session(session_id, driver_id=driver_id)
        return await self.price_session(session, tariff_id=tariff_id)

    async def price_session(
        self, session: ChargingSession, *, tariff_id: str | None = None
    ) -> SessionPrice | None:
        """:meth:`session_price` of a session the caller has read already."""
        state = session.state
        if state.started_at is None:
            return None
        # The earlier of the station's start time and when evcms heard of the session: right for
        # sessions replayed after being offline, and for stations whose clock runs ahead.
        began = min(state.started_at, session.created_at)
        stored = await self._tariffs.tariff_in_force(session.station_id, began, tariff_id=tariff_id)
        if stored is None:
            return None
        events = await self._charging.session_events(session)
        power_at: dict[datetime, Decimal] = {}
        registers: list[tuple[datetime, Decimal]] = []
        for event in events:
            for sample in event.samples:
                if sample.is_energy_register:
                    registers.append((sample.at, sample.value))
                elif sample.measurand == Measurand.POWER_IMPORT and sample.phase is None:
                    power_at[sample.at] = sample.value
        registers.sort(key=lambda r: r[0])
        # While charging: up to now, or to the newest sample when the station's clock runs ahead.
        end = state.ended_at or max(self._clock.now(), state.last_sample_at or state.started_at)
        start_register = state.meter_start_wh
        if start_register is None:
            start_register = registers[0][1] if registers else Decimal(0)
        periods = periods_from_meter_samples(
            state.started_at,
            max(end, state.started_at),
            [(at, wh, power_at.get(at)) for at, wh in registers],
            meter_start_wh=start_register,
            # while charging, the register so far is the latest reading
            meter_stop_wh=state.meter_stop_wh
            if state.meter_stop_wh is not None or not registers
            else registers[-1][1],
        )
        breakdown = price(stored.tariff(), periods)
        return SessionPrice(session, stored, breakdown, final=state.status is SessionStatus.ENDED)

    async def total_incl_vat(self, session: ChargingSession) -> Decimal | None:
        """The session's price including VAT so far (what a 2.0.1 station shows as totalCost)."""
        found = await self.price_session(session)
        return None if found is None else found.breakdown.total_incl_vat
