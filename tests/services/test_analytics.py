"""Analytics against a hand-built history whose right answers are known.

Two stations of one site, Europe/Sofia, on the local day 2026-10-25: the last Sunday of October,
when clocks go back at 04:00 EEST -> 03:00 EET (01:00 UTC), so the local day has 25 hours.

CP-A (1.6 style, model M1), connector 1/1, times in UTC:
  21:00 (24th) connected, Available; 23:30 Preparing; 23:45 Charging; session S1 23:40-01:45,
  12 kWh, TOK-1, stopped Local, 3.60 EUR (3.00 + 0.60 VAT); 01:30 Finishing; 01:45 Available;
  05:00-06:00 Faulted (GroundFailure); 10:00-12:00 Unavailable (maintenance, excluded);
  15:00-16:00 disconnected (offline).
CP-B (2.0.1 style, model M2), connector 1/1:
  21:00 connected, Available; 08:00 Occupied + session S2 chargingState Charging, 09:00
  SuspendedEV, 09:30 ended, 7000.5 Wh, TOK-2, 2.40 EUR (2.00 + 0.40); 09:30 Available;
  14:00-14:10 Occupied, session S3 with no energy (TOK-1, free); 18:00-18:30 Faulted (no code).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from evcms.domain.analytics import Grain, StatusClass
from evcms.domain.billing import ChargeLine, LineKind, SessionCharge
from evcms.domain.charging_sessions import ChargingSession, SessionState, SessionStatus
from evcms.domain.events import (
    ConnectorStatusChanged,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
    StationBooted,
    StationConnected,
    StationDisconnected,
)
from evcms.domain.ids import SiteId, StationId
from evcms.domain.metering import EnergyCounter
from evcms.domain.stations import (
    ConnectorState,
    ConnectorStatus,
    RegistrationStatus,
    Site,
    Station,
    StationInfo,
)
from evcms.services.analytics import Analytics, AnalyticsPolicy, AnalyticsRepository, Period, Scope
from evcms.services.billing import ChargeStatus, StoredCharge
from evcms.services.ports import ServiceError
from evcms.storage.analytics import BillingChargeLookup, MemoryAnalyticsRepository
from evcms.storage.billing import MemoryBillingRepository
from evcms.storage.memory import (
    MemoryChargingSessionRepository,
    MemoryDatabase,
    MemorySiteRepository,
    MemoryStationRepository,
)

A, B = StationId("CP-A"), StationId("CP-B")
DAY = date(2026, 10, 25)
ZONE = "Europe/Sofia"


def t(text: str) -> datetime:
    """'24 21:00' -> 2026-10-24T21:00Z."""
    day, clock = text.split()
    hour, minute = clock.split(":")
    return datetime(2026, 10, int(day), int(hour), int(minute), tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.value = now

    def now(self) -> datetime:
        return self.value


class Mailer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    async def send(self, to_address: str, subject: str, body: str) -> None:
        self.sent.append((to_address, subject, body))


class World:
    def __init__(self, repo: AnalyticsRepository | None = None) -> None:
        db = MemoryDatabase()
        self.clock = Clock(t("24 20:00"))
        self.sites = MemorySiteRepository(db)
        self.stations = MemoryStationRepository(db)
        self.sessions = MemoryChargingSessionRepository(db)
        self.billing = MemoryBillingRepository()
        self.repo: Any = repo or MemoryAnalyticsRepository()
        self.mailer = Mailer()
        self.analytics = Analytics(
            repository=self.repo,
            stations=self.stations,
            sites=self.sites,
            sessions=self.sessions,
            charges=BillingChargeLookup(self.billing),
            clock=self.clock,
            policy=AnalyticsPolicy(
                report_recipients=("ops@example.com",), public_base_url="https://cms.example.com"
            ),
            mailer=self.mailer,
        )

    async def at(self, when: str, event: object) -> None:
        self.clock.value = max(self.clock.value, t(when))
        await self.analytics.on_event(event)  # type: ignore[arg-type]

    async def status(self, when: str, station: StationId, status: str, error: str = "NoError") -> None:
        state = ConnectorState(station, 1, 1, ConnectorStatus(status), t(when), error_code=error)
        await self.at(when, ConnectorStatusChanged(state))

    async def session(
        self, station: StationId, start: str, *, token: str, version: str
    ) -> ChargingSession:
        created, _ = await self.sessions.create(
            station_id=station, evse_id=1, connector_id=1, ocpp_version=version,
            transaction_id=None, start_key=f"{station}-{start}", driver_id=None, at=t(start),
        )
        state = SessionState(started_at=t(start), id_token=token, last_at=t(start), seen_start=True)
        return replace(created, state=state)

    async def save(self, session: ChargingSession) -> None:
        await self.sessions.save_state(session.id, session.state, session.state.last_at or t("24 00:00"))

    async def price(self, session_id: int, excl: str, vat: str) -> None:
        lines = () if Decimal(excl) == 0 else (
            ChargeLine(LineKind.ENERGY, Decimal(1), Decimal(excl), Decimal(vat), Decimal(20)),
        )
        await self.billing.save_charge(
            StoredCharge(
                session_id=session_id, driver_id="d1", tariff_id=None, tariff_version=None,
                charge=SessionCharge(session_id, "EUR", lines), payment_mode="wallet",
                status=ChargeStatus.PAID if lines else ChargeStatus.FREE, priced_at=self.clock.value,
            )
        )


def ended(session: ChargingSession, when: str, energy: str, reason: str) -> ChargingSession:
    state = replace(
        session.state,
        status=SessionStatus.ENDED,
        ended_at=t(when),
        last_at=t(when),
        stop_reason=reason,
        energy=EnergyCounter(Decimal(energy)),
        charging_state=None,
    )
    return replace(session, state=state)


async def build(repo: AnalyticsRepository | None = None) -> World:
    w = World(repo)
    await w.sites.add(Site(SiteId("S1"), "Car park", "Sofia"))
    for station, model in ((A, "M1"), (B, "M2")):
        await w.stations.add(
            Station(station, t("24 00:00"), site_id=SiteId("S1"), info=StationInfo("V", model))
        )
    await w.stations.add(Station(StationId("CP-ELSEWHERE"), t("24 00:00")))
    an = w.analytics
    for station, model in ((A, "M1"), (B, "M2")):
        await w.at("24 21:00", StationConnected(station, "ocpp1.6", t("24 21:00")))
        await w.at("24 21:00", StationBooted(station, StationInfo("V", model), RegistrationStatus.ACCEPTED, t("24 21:00")))
        await w.status("24 21:00", station, "Available")
    # CP-A
    await w.status("24 23:30", A, "Preparing")
    s1 = await w.session(A, "24 23:40", token="TOK-1", version="ocpp1.6")
    await w.at("24 23:40", SessionStarted(s1))
    await w.status("24 23:45", A, "Charging")
    await an.flush()  # a flush in the middle changes nothing in the totals
    await w.status("25 01:30", A, "Finishing")
    await w.status("25 01:45", A, "Available")
    s1 = ended(s1, "25 01:45", "12000", "Local")
    await w.save(s1)
    await w.at("25 01:45", SessionEnded(s1))
    await w.price(s1.id, "3.00", "0.60")
    await w.status("25 05:00", A, "Faulted", "GroundFailure")
    await w.status("25 05:30", A, "Faulted", "GroundFailure")  # repeated: the same fault
    await w.status("25 06:00", A, "Available")
    await w.status("25 10:00", A, "Unavailable")
    await w.status("25 12:00", A, "Available")
    await w.at("25 15:00", StationDisconnected(A, t("25 15:00"), "closed"))
    await w.at("25 16:00", StationConnected(A, "ocpp1.6", t("25 16:00")))
    # CP-B
    await w.status("25 08:00", B, "Occupied")
    s2 = await w.session(B, "25 08:00", token="TOK-2", version="ocpp2.0.1")
    s2 = replace(s2, state=replace(s2.state, charging_state="Charging"))
    await w.at("25 08:00", SessionStarted(s2))
    s2 = replace(s2, state=replace(s2.state, charging_state="SuspendedEV", last_at=t("25 09:00")))
    await w.at("25 09:00", SessionUpdated(s2))
    s2 = ended(s2, "25 09:30", "7000.5", "EVDisconnected")
    await w.save(s2)
    await w.at("25 09:30", SessionEnded(s2))
    await w.at("25 09:30", SessionEnded(s2))  # republished (a restart): counted once
    await w.status("25 09:30", B, "Available")
    await w.price(s2.id, "2.00", "0.40")
    await w.status("25 14:00", B, "Occupied")
    s3 = await w.session(B, "25 14:00", token="TOK-1", version="ocpp2.0.1")
    await w.at("25 14:00", SessionStarted(s3))
    s3 = ended(s3, "25 14:10", "0", "EVDisconnected")
    await w.save(s3)
    await w.at("25 14:10", SessionEnded(s3))
    await w.status("25 14:10", B, "Available")
    await w.price(s3.id, "0", "0")
    await w.status("25 18:00", B, "Faulted")
    await w.status("25 18:30", B, "Available")
    w.clock.value = t("25 22:00")
    await an.flush()
    return w


H = 3600 * 1_000_000  # an hour in microseconds


async def check_answers(w: World) -> None:
    an = w.analytics
    period = an.period(DAY, DAY + timedelta(days=1), ZONE)
    assert (period.start, period.end) == (t("24 21:00"), t("25 22:00"))  # 25 hours
    site = await an.scope(site_id="S1")
    cp_a = await an.scope(station_id="CP-A", evse_id=1, connector_id=1)
    network = await an.scope()

    use_a = await an.utilisation(cp_a, period)
    assert use_a.totals_us == {
        StatusClass.AVAILABLE: 18 * H + 3 * H // 4,
        StatusClass.OCCUPIED: H // 2,
        StatusClass.CHARGING: 7 * H // 4,
        StatusClass.FAULTED: H,
        StatusClass.UNAVAILABLE: 2 * H,
        StatusClass.OFFLINE: H,
        StatusClass.UNKNOWN: 0,
    }
    assert (use_a.occupied_percent, use_a.charging_percent) == (Decimal("9.00"), Decimal("7.00"))
    assert sum(use_a.class_percent.values()) == Decimal("100.00")
    assert use_a.buckets == [("2026-10-25", Decimal("9.00"), Decimal("7.00"))]

    use_site = await an.utilisation(site, period)
    # CP-B: charging 1 h (2.0.1 chargingState), occupied 30 + 10 min
    assert use_site.totals_us[StatusClass.CHARGING] == 7 * H // 4 + H
    assert use_site.totals_us[StatusClass.OCCUPIED] == H // 2 + H // 2 + H // 6
    assert sum(use_site.totals_us.values()) == 50 * H

    total, connectors = await an.uptime(site, period)
    by_station = {c.station_id: c for c in connectors}
    a = by_station["CP-A"]
    assert (a.uptime.total, a.uptime.outage) == (25 * H, 4 * H)
    assert dict(a.uptime.excluded) == {"operator_unavailable": 2 * H}
    assert a.uptime_percent == Decimal("92.000")  # (1500 - (240 - 120)) / 1500
    assert a.availability_percent == Decimal("84.000")
    b = by_station["CP-B"]
    assert (b.uptime_percent, b.availability_percent) == (Decimal("98.000"), Decimal("98.000"))
    assert total.uptime_percent == Decimal("95.000")  # (3000 - 150) / 3000

    hours = await an.sessions(site, period, Grain.HOUR_OF_DAY)
    energy = {b.bucket: b.energy_wh for b in hours if b.sessions}
    # S1 started 23:40 UTC = 02:40 EEST; S2 08:00 UTC = 10:00 EET; S3 14:00 UTC = 16:00 EET
    assert energy == {"2": Decimal("12000.000"), "10": Decimal("7000.500"), "16": Decimal("0.000")}
    local_hours = await an.sessions(site, period, Grain.HOUR)
    assert len(local_hours) == 25  # the day has 25 local hours: 03:00 twice
    assert [b.bucket for b in local_hours[3:5]] == ["2026-10-25T03:00:00+03:00", "2026-10-25T03:00:00+02:00"]
    days = await an.sessions(network, period, Grain.DAY)
    assert [(d.bucket, d.sessions, d.successful, d.energy_wh) for d in days] == [
        ("2026-10-25", 3, 2, Decimal("19000.500"))
    ]
    week = await an.sessions(site, period, Grain.DAY_OF_WEEK)
    assert [b.sessions for b in week] == [0, 0, 0, 0, 0, 0, 3]  # a Sunday

    summary = await an.summary(site, period)
    assert (summary.sessions, summary.successful, summary.success_percent) == (3, 2, Decimal("66.67"))
    assert summary.average_energy_wh == Decimal("6333.500")
    # durations 2 h 05 min, 1 h 30 min, 10 min; charging 1 h 45 min, 1 h, 0
    assert summary.average_duration_s == Decimal("4500.000")
    assert summary.average_charging_s == Decimal("3300.000")
    assert summary.revenue == {"EUR": Decimal("6.00")}
    assert summary.average_revenue == {"EUR": Decimal("2.00")}

    revenue = await an.revenue(site, period, Grain.DAY)
    assert [(r.bucket, r.currency, r.sessions, r.excl_vat, r.incl_vat) for r in revenue] == [
        ("2026-10-25", "EUR", 3, Decimal("5.00"), Decimal("6.00"))
    ]
    faults = await an.faults(site, period)
    assert [(f.error_code, f.model, f.faults) for f in faults] == [
        ("Faulted", "M2", 1),
        ("GroundFailure", "M1", 1),
    ]
    tokens = await an.top_tokens(site, period)
    assert [(x.id_token, x.sessions, x.energy_mwh) for x in tokens] == [
        ("TOK-1", 2, 12_000_000),
        ("TOK-2", 1, 7_000_500),
    ]
    # the day before in Sofia holds none of it
    before = an.period(DAY - timedelta(days=1), DAY, ZONE)
    assert (await an.summary(site, before)).sessions == 0


async def test_the_rollups_fed_by_events_give_the_known_answers() -> None:
    world = await build()
    await check_answers(world)


async def test_a_rebuild_from_raw_rows_gives_the_same_answers() -> None:
    world = await build()
    before = dict(world.repo.status)
    result = await world.analytics.rebuild(t("24 00:00"), t("26 00:00"))
    assert result["sessions"] == 3 and result["revenue"] == 3
    assert world.repo.status == before
    await check_answers(world)
    await world.analytics.rebuild(t("24 00:00"), t("26 00:00"))  # twice: the same
    await check_answers(world)


async def test_an_ended_session_seen_again_later_is_not_counted_twice() -> None:
    world = await build()
    s2 = next(s for s in world.sessions.db.charging_sessions.values() if s.station_id == B)
    await world.analytics.on_event(SessionEnded(s2))
    await world.analytics.flush()
    await check_answers(world)


async def test_bad_scopes_and_periods_say_what_to_fix() -> None:
    an = (await build()).analytics
    with pytest.raises(ServiceError, match="unknown time zone 'Mars/Base'") as bad_zone:
        an.period(DAY, DAY + timedelta(days=1), "Mars/Base")
    assert bad_zone.value.status == 422
    with pytest.raises(ServiceError, match="'to' must be after 'from'"):
        an.period(DAY, DAY, ZONE)
    with pytest.raises(ServiceError, match="no site 'nowhere'") as missing:
        await an.scope(site_id="nowhere")
    assert missing.value.status == 404
    with pytest.raises(ServiceError, match="station, evse and connector together"):
        await an.scope(station_id="CP-A", evse_id=1)
    with pytest.raises(ServiceError, match="YYYY-MM"):
        an.month_period("2026-13", ZONE)


async def test_the_monthly_report_is_mailed_once_per_site_and_month() -> None:
    world = await build()
    world.clock.value = t("25 22:00") + timedelta(days=10)  # November in Sofia
    assert await world.analytics.mail_monthly_reports() == 1
    assert await world.analytics.mail_monthly_reports() == 0
    [(to, subject, body)] = world.mailer.sent
    assert to == "ops@example.com" and "2026-10" in subject and "Car park" in subject
    assert "Sessions: 3 (2 successful, 66.67 %)" in body
    assert "Revenue: 6.00 EUR incl. VAT" in body
    assert "/api/v1/analytics/sites/S1/monthly-report.pdf?month=2026-10" in body
    report = await world.analytics.site_report("S1", "2026-10")
    assert [(sid, s.sessions) for sid, s, _ in report.stations] == [("CP-A", 1), ("CP-B", 2)]


async def test_running_statuses_are_written_once_a_minute_and_when_the_hour_turns() -> None:
    """The periodic flush writes the time of statuses that have not changed (one row per
    connector) only every minute or at a new UTC hour; a status query counts them up to now."""
    world = World()
    await world.at("24 21:00", StationConnected(A, "ocpp1.6", t("24 21:00")))
    await world.status("24 21:00", A, "Available")
    await world.analytics.flush_due()  # the first round accounts them
    written = dict(world.repo.status)
    world.clock.value = t("24 21:00") + timedelta(seconds=30)
    await world.analytics.flush_due()
    assert world.repo.status == written  # half a minute later: nothing new
    world.clock.value = t("24 21:01")
    await world.analytics.flush_due()
    assert world.repo.status != written  # a minute later: the running Available time
    world.clock.value = t("24 21:59") + timedelta(seconds=59)
    await world.analytics.flush_due()
    before_hour = dict(world.repo.status)
    world.clock.value = t("24 22:00") + timedelta(seconds=1)
    await world.analytics.flush_due()  # a new hour: written at once
    assert world.repo.status != before_hour
    hours = {key[0] for key in world.repo.status}
    assert t("24 22:00") in hours

    world.clock.value = t("24 22:00") + timedelta(seconds=31)
    scope = Scope("station", station_ids=(A,), label=A)
    period = Period(t("24 21:00"), t("24 23:00"), UTC, "UTC")
    use = await world.analytics.utilisation(scope, period, Grain.HOUR)
    assert sum(use.totals_us.values()) == (60 * 60 + 31) * 1_000_000  # up to now, exactly
