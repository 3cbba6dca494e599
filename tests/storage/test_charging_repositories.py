"""Tokens and charging sessions: one contract, run against the memory twins, SQLite and PostgreSQL;
and the JSON form of session events (pure, with hypothesis)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from storage_fixtures import ChargingBackend

from evcms.domain.charging_sessions import (
    STOP_SEQ,
    ChargingSession,
    EventKind,
    SessionEvent,
    SessionState,
    SessionStatus,
    apply,
    fold,
)
from evcms.domain.ids import StationId
from evcms.domain.metering import EnergyCounter, MeterSample
from evcms.domain.tokens import IdToken, TokenStatus, TokenType
from evcms.services.ports import AlreadyExists, NotFound, SessionFilter
from evcms.storage.charging import SqlChargingSessionRepository, event_from_json, event_to_json
from evcms.storage.writer import Writer

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
SOFIA = timezone(timedelta(hours=2))
CP1, CP2 = StationId("CP-1"), StationId("CP-2")
OCMF = 'OCMF|{"FV":"1.0","RD":[{"TM":"2025-03-01T12:00:00,000+0000 S","RV":1.234}]}|{"SD":"3045"}'


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0)


def token(token_id: str, driver: str | None = None, **changes: object) -> IdToken:
    base = IdToken(token_id, TokenType.ISO14443, T0, driver_id=driver)
    return replace(base, **changes) if changes else base  # type: ignore[arg-type]


async def new_session(
    backend: ChargingBackend,
    station: StationId = CP1,
    transaction_id: str | None = "tx-1",
    start_key: str | None = None,
    *,
    evse: int = 1,
    driver: str | None = None,
    at: datetime = T0,
) -> ChargingSession:
    session, created = await backend.sessions.create(
        station_id=station,
        evse_id=evse,
        connector_id=1,
        ocpp_version="2.0.1" if transaction_id else "1.6",
        transaction_id=transaction_id,
        start_key=start_key,
        driver_id=driver,
        at=at,
    )
    assert created
    return session


def samples(at: datetime, register_wh: Decimal) -> tuple[MeterSample, ...]:
    """Eight samples, like a MeterValues of a three-phase charger."""
    return (
        MeterSample(at, "Energy.Active.Import.Register", register_wh, "Wh", signed=OCMF),
        MeterSample(at, "Power.Active.Import", Decimal("11040.5"), "W"),
        MeterSample(at, "Current.Import", Decimal("16.01"), "A", phase="L1"),
        MeterSample(at, "Current.Import", Decimal("16.02"), "A", phase="L2"),
        MeterSample(at, "Current.Import", Decimal("15.99"), "A", phase="L3"),
        MeterSample(at, "Voltage", Decimal("230.1"), "V", phase="L1-N", location="Outlet"),
        MeterSample(at, "SoC", Decimal("42"), "Percent", location="EV"),
        MeterSample(at, "Temperature", Decimal("-3.5"), "Celsius", location="Body", context="Sample.Periodic"),
    )


def started(at: datetime = T0, meter: Decimal = Decimal("1000")) -> SessionEvent:
    return SessionEvent("seq:0", EventKind.STARTED, 0, at, meter_wh=meter, id_token="TAG-1", evse_id=1, connector_id=1)


def meter(seq: int, at: datetime, register_wh: Decimal) -> SessionEvent:
    return SessionEvent(f"seq:{seq}", EventKind.UPDATED, seq, at, samples=samples(at, register_wh))


def ended(seq: int, at: datetime, meter_wh: Decimal) -> SessionEvent:
    return SessionEvent(f"seq:{seq}", EventKind.ENDED, seq, at, meter_wh=meter_wh, reason="Local", id_token="TAG-1")


FULL_STATE = SessionState(
    status=SessionStatus.ENDED,
    started_at=datetime(2025, 3, 1, 14, 0, 0, 1, tzinfo=SOFIA),
    ended_at=T0 + timedelta(hours=2),
    id_token="TAG-1",
    stop_id_token="TAG-2",
    stop_reason="EVDisconnected",
    meter_start_wh=Decimal("12345.678"),
    meter_stop_wh=Decimal("23456.001"),
    energy=EnergyCounter(Decimal("11110.323"), Decimal("23456.001")),
    last_seq_no=STOP_SEQ,
    last_at=T0 + timedelta(hours=2),
    offline=True,
    charging_state="SuspendedEV",
    power_w=Decimal("0.001"),
    soc_percent=Decimal("80.5"),
    last_sample_at=T0 + timedelta(hours=1, microseconds=7),
    evse_id=2,
    connector_id=3,
    seen_start=True,
)


# -- tokens -----------------------------------------------------------------------------------


async def test_a_token_round_trips_with_every_field(charging: ChargingBackend) -> None:
    await charging.add_driver("d-1")
    full = IdToken(
        id="04A2B3C4D5E6F7",
        type=TokenType.ISO15693,
        created_at=datetime(2025, 3, 1, 14, 0, 0, 42, tzinfo=SOFIA),
        status=TokenStatus.BLOCKED,
        driver_id="d-1",
        group_id="FLEET-7",
        expires_at=datetime(2026, 1, 1, 2, 0, tzinfo=SOFIA),
        max_concurrent=0,
        label="Blue card",
    )
    await charging.tokens.add(full)
    got = await charging.tokens.get(full.id)
    assert got == full
    assert got is not None
    assert_utc(got.created_at)
    assert_utc(got.expires_at)
    bare = token("app:1234")
    await charging.tokens.add(bare)
    assert await charging.tokens.get("app:1234") == bare
    assert await charging.tokens.get("nobody") is None


async def test_adding_a_token_twice_is_refused(charging: ChargingBackend) -> None:
    await charging.tokens.add(token("TAG-1", label="first"))
    with pytest.raises(AlreadyExists):
        await charging.tokens.add(token("TAG-1", label="second"))
    assert await charging.tokens.get("TAG-1") == token("TAG-1", label="first")


async def test_a_token_of_an_unknown_driver_is_not_found(charging: ChargingBackend) -> None:
    with pytest.raises(NotFound, match="ghost"):
        await charging.tokens.add(token("TAG-1", "ghost"))
    assert await charging.tokens.get("TAG-1") is None


async def test_updating_a_token_replaces_it_but_keeps_its_creation_time(
    charging: ChargingBackend,
) -> None:
    await charging.add_driver("d-1")
    await charging.tokens.add(token("TAG-1"))
    changed = token(
        "TAG-1",
        "d-1",
        type=TokenType.KEY_CODE,
        status=TokenStatus.EXPIRED,
        group_id="G",
        expires_at=T0,
        max_concurrent=3,
        label="moved",
        created_at=T0 + timedelta(days=9),
    )
    await charging.tokens.update(changed)
    assert await charging.tokens.get("TAG-1") == replace(changed, created_at=T0)

    with pytest.raises(NotFound):
        await charging.tokens.update(token("ghost"))
    with pytest.raises(NotFound, match="nobody"):
        await charging.tokens.update(token("TAG-1", "nobody"))
    assert await charging.tokens.get("TAG-1") == replace(changed, created_at=T0)


async def test_deleting_a_token(charging: ChargingBackend) -> None:
    await charging.tokens.add(token("TAG-1"))
    assert await charging.tokens.delete("TAG-1") is True
    assert await charging.tokens.delete("TAG-1") is False
    assert await charging.tokens.get("TAG-1") is None


async def test_tokens_are_listed_by_id_per_driver_and_paged(charging: ChargingBackend) -> None:
    await charging.add_driver("d-1")
    await charging.add_driver("d-2")
    ids = ["b", "a_1", "B", "a-1", "Z9", "a"]
    for n, token_id in enumerate(ids):
        await charging.tokens.add(token(token_id, "d-1" if n % 3 else "d-2"))
    await charging.tokens.add(token("free"))

    everything = [t.id for t in await charging.tokens.list()]
    assert everything == ["B", "Z9", "a", "a-1", "a_1", "b", "free"]  # code point order
    assert [t.id for t in await charging.tokens.list(driver_id="d-1")] == ["B", "Z9", "a", "a_1"]
    assert [t.id for t in await charging.tokens.list(driver_id="d-2")] == ["a-1", "b"]
    assert await charging.tokens.list(driver_id="nobody") == []

    page1 = await charging.tokens.list(driver_id="d-1", limit=3)
    page2 = await charging.tokens.list(driver_id="d-1", limit=3, after_id=page1[-1].id)
    assert [t.id for t in page1] == ["B", "Z9", "a"]
    assert [t.id for t in page2] == ["a_1"]
    assert [t.id for t in await charging.tokens.list(after_id="a", limit=2)] == ["a-1", "a_1"]
    assert await charging.tokens.list(limit=0) == []


# -- creating sessions ------------------------------------------------------------------------


async def test_a_new_session_is_active_with_an_empty_state(charging: ChargingBackend) -> None:
    at = datetime(2025, 3, 1, 14, 0, 0, 5, tzinfo=SOFIA)
    session = await new_session(charging, CP1, "tx-1", "start-1", evse=2, driver="d-9", at=at)
    assert session.state == SessionState()
    assert session.state.status is SessionStatus.ACTIVE
    assert session.state.energy_wh == 0 and session.state.last_seq_no == -1
    assert (session.station_id, session.transaction_id) == (CP1, "tx-1")
    assert (session.evse_id, session.connector_id, session.ocpp_version) == (2, 1, "2.0.1")
    assert session.driver_id == "d-9" and session.closed_by is None and session.close_note is None
    assert session.created_at == session.updated_at == at
    assert_utc(session.created_at)
    assert await charging.sessions.get(session.id) == session
    assert await charging.sessions.find(CP1, "tx-1") == session
    assert await charging.sessions.find(CP2, "tx-1") is None
    assert await charging.sessions.get(session.id + 1000) is None


async def test_creating_with_the_same_start_key_returns_the_existing_session(
    charging: ChargingBackend,
) -> None:
    first = await new_session(charging, CP1, None, "1:TAG-1:2025-03-01T12:00:00+00:00")
    again, created = await charging.sessions.create(
        station_id=CP1,
        evse_id=1,
        connector_id=1,
        ocpp_version="1.6",
        transaction_id=None,
        start_key="1:TAG-1:2025-03-01T12:00:00+00:00",
        driver_id=None,
        at=T0 + timedelta(seconds=30),
    )
    assert created is False and again == first
    other_station = await new_session(charging, CP2, None, "1:TAG-1:2025-03-01T12:00:00+00:00")
    assert other_station.id != first.id
    assert len(await charging.sessions.list(SessionFilter())) == 2


async def test_creating_with_the_same_transaction_id_returns_the_existing_session(
    charging: ChargingBackend,
) -> None:
    first = await new_session(charging, CP1, "0b5c7f2e-tx")
    again, created = await charging.sessions.create(
        station_id=CP1,
        evse_id=2,
        connector_id=2,
        ocpp_version="2.0.1",
        transaction_id="0b5c7f2e-tx",
        start_key="other",
        driver_id="d-1",
        at=T0 + timedelta(minutes=1),
    )
    assert created is False and again == first
    elsewhere = await new_session(charging, CP2, "0b5c7f2e-tx")
    assert elsewhere.id != first.id
    assert await charging.sessions.find(CP2, "0b5c7f2e-tx") == elsewhere


async def test_a_v16_session_gets_its_own_id_as_transaction_id(charging: ChargingBackend) -> None:
    first = await new_session(charging, CP1, None, "k1")
    second = await new_session(charging, CP1, None, None)
    third = await new_session(charging, CP1, None, None)  # no key at all: always a new session
    for session in (first, second, third):
        assert session.transaction_id == str(session.id)
        assert await charging.sessions.find(CP1, session.transaction_id) == session
    assert len({first.id, second.id, third.id}) == 3


async def test_concurrent_v16_creates_get_distinct_numeric_transaction_ids(
    charging: ChargingBackend,
) -> None:
    results = await asyncio.gather(
        *(
            charging.sessions.create(
                station_id=StationId(f"CP-{n % 5}"),
                evse_id=1,
                connector_id=1,
                ocpp_version="1.6",
                transaction_id=None,
                start_key=f"start-{n}",
                driver_id=None,
                at=T0,
            )
            for n in range(50)
        )
    )
    assert all(created for _, created in results)
    ids = [int(session.transaction_id) for session, _ in results]
    assert len(set(ids)) == 50
    assert ids == [session.id for session, _ in results]
    assert len(await charging.sessions.list(SessionFilter(), limit=100)) == 50


async def test_concurrent_creates_of_one_start_make_one_session(charging: ChargingBackend) -> None:
    async def create(start_key: str | None, transaction_id: str | None) -> tuple[ChargingSession, bool]:
        return await charging.sessions.create(
            station_id=CP1,
            evse_id=1,
            connector_id=1,
            ocpp_version="1.6",
            transaction_id=transaction_id,
            start_key=start_key,
            driver_id=None,
            at=T0,
        )

    by_key = await asyncio.gather(*(create("the-start", None) for _ in range(50)))
    by_tx = await asyncio.gather(*(create(None, "tx-9") for _ in range(50)))
    for results in (by_key, by_tx):
        assert sum(created for _, created in results) == 1
        assert len({session.id for session, _ in results}) == 1
    assert len(await charging.sessions.list(SessionFilter())) == 2


async def test_naive_times_are_refused(charging: ChargingBackend) -> None:
    with pytest.raises(ValueError, match="naive"):
        await new_session(charging, at=datetime(2025, 3, 1, 12, 0))
    session = await new_session(charging)
    with pytest.raises(ValueError, match="naive"):
        await charging.sessions.record(session.id, started(datetime(2025, 3, 1)), SessionState(), T0)
    assert await charging.sessions.events(session.id) == []


# -- recording events -------------------------------------------------------------------------


async def test_record_stores_the_event_and_the_state_at_once(charging: ChargingBackend) -> None:
    session = await new_session(charging)
    event = started()
    state = apply(SessionState(), event)
    at = T0 + timedelta(seconds=1)

    assert await charging.sessions.has_event(session.id, "seq:0") is False
    assert await charging.sessions.record(session.id, event, state, at) is True
    assert await charging.sessions.has_event(session.id, "seq:0") is True
    assert await charging.sessions.has_event(session.id, "seq:1") is False
    stored = await charging.sessions.get(session.id)
    assert stored is not None
    assert stored.state == state and stored.updated_at == at and stored.created_at == T0
    assert await charging.sessions.events(session.id) == [event]


async def test_recording_the_same_event_key_twice_changes_nothing(charging: ChargingBackend) -> None:
    session = await new_session(charging)
    event = started()
    state = apply(SessionState(), event)
    assert await charging.sessions.record(session.id, event, state, T0) is True

    retry = replace(event, meter_wh=Decimal("999"))  # same key, whatever it says
    other_state = replace(state, meter_start_wh=Decimal("999"), offline=True)
    assert await charging.sessions.record(session.id, retry, other_state, T0 + timedelta(hours=1)) is False
    stored = await charging.sessions.get(session.id)
    assert stored is not None
    assert stored.state == state and stored.updated_at == T0
    assert await charging.sessions.events(session.id) == [event]


async def test_events_out_of_order_are_sorted_and_fold_to_the_same_state(
    charging: ChargingBackend,
) -> None:
    session = await new_session(charging)
    events = [
        started(T0),
        meter(1, T0 + timedelta(minutes=1), Decimal("1500.5")),
        meter(2, T0 + timedelta(minutes=2), Decimal("2250.25")),
        meter(3, T0 + timedelta(minutes=3), Decimal("3000.125")),
        ended(STOP_SEQ, T0 + timedelta(minutes=4), Decimal("3100.001")),
    ]
    same_seq_later = SessionEvent("meter:b", EventKind.UPDATED, 1, T0 + timedelta(minutes=1, seconds=1))
    same_seq_earlier = SessionEvent("meter:a", EventKind.UPDATED, 1, T0 + timedelta(seconds=59))
    arrival = [events[2], events[4], same_seq_later, events[0], events[3], same_seq_earlier, events[1]]
    received: list[SessionEvent] = []
    for n, event in enumerate(arrival):
        received.append(event)
        assert await charging.sessions.record(session.id, event, fold(received), T0 + timedelta(hours=1, seconds=n))

    stored_events = await charging.sessions.events(session.id)
    assert stored_events == [events[0], same_seq_earlier, events[1], same_seq_later, events[2], events[3], events[4]]
    stored = await charging.sessions.get(session.id)
    assert stored is not None
    assert stored.state == fold([*events, same_seq_earlier, same_seq_later])
    assert stored.state.energy_wh == Decimal("2100.001")
    assert stored.state.status is SessionStatus.ENDED


async def test_an_event_round_trips_with_every_field(charging: ChargingBackend) -> None:
    session = await new_session(charging)
    at = datetime(2025, 3, 1, 14, 0, 0, 999999, tzinfo=SOFIA)
    full = SessionEvent(
        key="meter:2025-03-01T12:00:00.999999+00:00",
        kind=EventKind.UPDATED,
        seq_no=2**40,
        at=at,
        samples=samples(at, Decimal("12345.678901234567890")),
        meter_wh=Decimal("0.001"),
        id_token="TAG-ü",
        reason="MeterValuePeriodic",
        offline=True,
        charging_state="Charging",
        evse_id=2,
        connector_id=1,
    )
    await charging.sessions.record(session.id, full, SessionState(), T0)
    [got] = await charging.sessions.events(session.id)
    assert got == full
    assert_utc(got.at)
    assert all(sample.at == at and sample.at.tzinfo is UTC for sample in got.samples)
    assert got.samples[0].signed == OCMF
    assert str(got.samples[0].value) == "12345.678901234567890"


async def test_record_on_an_unknown_session_is_not_found(charging: ChargingBackend) -> None:
    with pytest.raises(NotFound):
        await charging.sessions.record(4242, started(), SessionState(), T0)


async def test_every_state_field_round_trips_exactly(charging: ChargingBackend) -> None:
    session = await new_session(charging)
    await charging.sessions.record(session.id, started(), FULL_STATE, T0)
    stored = await charging.sessions.get(session.id)
    assert stored is not None
    assert stored.state == FULL_STATE
    state = stored.state
    assert state.meter_start_wh == Decimal("12345.678") and state.power_w == Decimal("0.001")
    for moment in (state.started_at, state.ended_at, state.last_at, state.last_sample_at):
        assert_utc(moment)
    # and back to None everywhere
    await charging.sessions.save_state(session.id, SessionState(), T0)
    stored = await charging.sessions.get(session.id)
    assert stored is not None and stored.state == SessionState()


async def test_save_state_sets_the_driver_and_who_closed_it(charging: ChargingBackend) -> None:
    session = await new_session(charging, driver="d-1")
    later = T0 + timedelta(hours=3)
    await charging.sessions.save_state(session.id, FULL_STATE, later)
    stored = await charging.sessions.get(session.id)
    assert stored is not None
    assert (stored.state, stored.updated_at, stored.driver_id, stored.closed_by) == (
        FULL_STATE,
        later,
        "d-1",
        None,
    )
    await charging.sessions.save_state(
        session.id, FULL_STATE, later, driver_id="d-2", closed_by="op:alice", close_note="stuck for 2 days"
    )
    stored = await charging.sessions.get(session.id)
    assert stored is not None
    assert (stored.driver_id, stored.closed_by, stored.close_note) == ("d-2", "op:alice", "stuck for 2 days")
    with pytest.raises(NotFound):
        await charging.sessions.save_state(4242, FULL_STATE, later)


# -- queries ----------------------------------------------------------------------------------


async def _started(
    backend: ChargingBackend, session: ChargingSession, at: datetime, tag: str, *, end: bool = False
) -> None:
    event = SessionEvent("seq:0", EventKind.STARTED, 0, at, id_token=tag)
    state = apply(SessionState(), event)
    await backend.sessions.record(session.id, event, state, at)
    if end:
        stop = SessionEvent("seq:9", EventKind.ENDED, 9, at + timedelta(minutes=5))
        await backend.sessions.record(session.id, stop, apply(state, stop), at)


async def test_active_sessions_oldest_first(charging: ChargingBackend) -> None:
    a = await new_session(charging, CP1, "a")
    b = await new_session(charging, CP2, "b")
    c = await new_session(charging, CP1, "c")
    d = await new_session(charging, CP1, "d")
    await _started(charging, a, T0, "TAG-1")
    await _started(charging, b, T0, "TAG-1")
    await _started(charging, c, T0, "TAG-2", end=True)
    await _started(charging, d, T0, "TAG-2")

    assert [s.id for s in await charging.sessions.active()] == [a.id, b.id, d.id]
    assert [s.id for s in await charging.sessions.active(station_id=CP1)] == [a.id, d.id]
    assert [s.id for s in await charging.sessions.active(id_token="TAG-1")] == [a.id, b.id]
    assert [s.id for s in await charging.sessions.active(station_id=CP2, id_token="TAG-2")] == []
    assert [s.id for s in await charging.sessions.active(station_id=CP1, id_token="TAG-2")] == [d.id]


async def test_sessions_are_listed_newest_first_with_every_filter_and_paged(
    charging: ChargingBackend,
) -> None:
    made: list[ChargingSession] = []
    for n in range(10):
        session = await new_session(
            charging, CP1 if n % 2 else CP2, f"tx-{n}", driver="d-1" if n < 4 else "d-2"
        )
        made.append(session)
        if n != 9:  # the last one never started (started_at None)
            await _started(charging, session, T0 + timedelta(hours=n), f"TAG-{n % 3}", end=n in (0, 5))
    ids = [s.id for s in made]

    async def listed(filter: SessionFilter | None = None, **kwargs: int) -> list[int]:
        found = await charging.sessions.list(filter or SessionFilter(), **kwargs)  # type: ignore[arg-type]
        return [s.id for s in found]

    assert await listed() == ids[::-1]
    assert await listed(SessionFilter(station_id=CP1)) == [ids[n] for n in (9, 7, 5, 3, 1)]
    assert await listed(SessionFilter(driver_id="d-1")) == [ids[n] for n in (3, 2, 1, 0)]
    assert await listed(SessionFilter(id_token="TAG-1")) == [ids[n] for n in (7, 4, 1)]
    assert await listed(SessionFilter(status=SessionStatus.ENDED)) == [ids[5], ids[0]]
    assert await listed(SessionFilter(status=SessionStatus.ACTIVE)) == [
        ids[n] for n in (9, 8, 7, 6, 4, 3, 2, 1)
    ]
    window = SessionFilter(
        started_from=T0 + timedelta(hours=2), started_until=(T0 + timedelta(hours=6)).astimezone(SOFIA)
    )
    assert await listed(window) == [ids[n] for n in (5, 4, 3, 2)]  # from inclusive, until exclusive
    assert await listed(SessionFilter(started_from=T0 + timedelta(hours=7))) == [ids[8], ids[7]]
    everything = SessionFilter(
        station_id=CP2,
        driver_id="d-2",
        id_token="TAG-0",
        status=SessionStatus.ACTIVE,
        started_from=T0,
        started_until=T0 + timedelta(days=1),
    )
    assert await listed(everything) == [ids[6]]
    assert await listed(SessionFilter(station_id=StationId("nowhere"))) == []

    pages: list[int] = []
    before: int | None = None
    while True:
        page = await charging.sessions.list(SessionFilter(), limit=3, before_id=before)
        if not page:
            break
        pages.extend(s.id for s in page)
        before = page[-1].id
    assert pages == ids[::-1]
    assert await listed(SessionFilter(station_id=CP1), limit=2, before_id=ids[7]) == [ids[5], ids[3]]
    assert await listed(limit=0) == []


# -- SQL only: one transaction per record, re-runnable in a failed batch ------------------------


def _sql_only(charging: ChargingBackend) -> None:
    if charging.writer is None:
        pytest.skip("about the SQL writer")


async def test_a_record_whose_state_cannot_be_stored_leaves_no_event(charging: ChargingBackend) -> None:
    _sql_only(charging)
    session = await new_session(charging)
    unstorable = replace(SessionState(), last_seq_no=2**70)  # too big for BIGINT / SQLite INTEGER
    with pytest.raises(Exception):  # noqa: B017 - the driver's overflow error
        await charging.sessions.record(session.id, started(), unstorable, T0)
    assert await charging.sessions.has_event(session.id, "seq:0") is False
    stored = await charging.sessions.get(session.id)
    assert stored is not None and stored.state == SessionState()
    assert await charging.sessions.record(session.id, started(), SessionState(last_seq_no=0), T0) is True


async def test_records_batched_with_a_failing_op_are_stored_once(charging: ChargingBackend) -> None:
    _sql_only(charging)
    assert charging.writer is not None
    sessions = [await new_session(charging, CP1, f"tx-{n}") for n in range(20)]

    async def failing(_conn: object) -> None:
        raise RuntimeError("boom")

    failures_before = charging.writer.stats.failed_batches
    results = await asyncio.gather(
        *(charging.sessions.record(s.id, started(), apply(SessionState(), started()), T0) for s in sessions),
        charging.writer.submit(failing),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert results[:-1] == [True] * 20
    assert isinstance(results[-1], RuntimeError)
    assert charging.writer.stats.failed_batches > failures_before
    for s in sessions:
        assert await charging.sessions.events(s.id) == [started()]


async def test_two_writers_racing_on_one_start_make_one_session(charging: ChargingBackend) -> None:
    """Two nodes (two writers, two transactions in flight) creating the same sessions."""
    _sql_only(charging)
    assert charging.engine is not None
    async with Writer(charging.engine, max_wait=0.005) as other_writer:
        nodes = [charging.sessions, SqlChargingSessionRepository(charging.engine, other_writer)]

        def create(node: int, start_key: str) -> Awaitable[tuple[ChargingSession, bool]]:
            return nodes[node].create(
                station_id=CP1,
                evse_id=1,
                connector_id=1,
                ocpp_version="1.6",
                transaction_id=None,
                start_key=start_key,
                driver_id=None,
                at=T0,
            )

        same = await asyncio.gather(*(create(n % 2, "the-start") for n in range(40)))
        distinct = await asyncio.gather(*(create(n % 2, f"start-{n}") for n in range(40)))
    assert sum(created for _, created in same) == 1
    assert len({session.id for session, _ in same}) == 1
    assert all(created for _, created in distinct)
    assert len({session.transaction_id for session, _ in distinct}) == 40
    assert all(session.transaction_id == str(session.id) for session, _ in distinct)


# -- the JSON form of events (pure) -----------------------------------------------------------

_zones = st.sampled_from([UTC, SOFIA, timezone(timedelta(hours=-9, minutes=-30))])
_moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=_zones
)
_decimals = st.decimals(allow_nan=False, allow_infinity=False)
_text = st.text(max_size=40)
_opt_text = st.none() | _text
_samples = st.builds(
    MeterSample,
    at=_moments,
    measurand=_text,
    value=_decimals,
    unit=_text,
    phase=_opt_text,
    location=_opt_text,
    context=_opt_text,
    signed=_opt_text,
)
_events = st.builds(
    SessionEvent,
    key=_text,
    kind=st.sampled_from(EventKind),
    seq_no=st.integers(-(2**63), 2**63 - 1),
    at=_moments,
    samples=st.lists(_samples, max_size=4).map(tuple),
    meter_wh=st.none() | _decimals,
    id_token=_opt_text,
    reason=_opt_text,
    offline=st.booleans(),
    charging_state=_opt_text,
    evse_id=st.none() | st.integers(0, 2**31),
    connector_id=st.none() | st.integers(0, 2**31),
)


@given(_events)
def test_an_event_survives_its_json_form(event: SessionEvent) -> None:
    text = event_to_json(event)
    back = event_from_json(text)
    assert back == event
    assert back.at.tzinfo is UTC
    for original, copy in zip(event.samples, back.samples, strict=True):
        assert str(copy.value) == str(original.value)  # every digit, the exponent too
    if event.meter_wh is not None:
        assert str(back.meter_wh) == str(event.meter_wh)
    assert event_to_json(back) == text


def test_the_json_form_is_compact_and_readable() -> None:
    event = SessionEvent(
        "seq:3",
        EventKind.UPDATED,
        3,
        datetime(2025, 3, 1, 14, 0, tzinfo=SOFIA),
        samples=(MeterSample(T0, "Energy.Active.Import.Register", Decimal("1.50"), "Wh"),),
    )
    assert event_to_json(event) == (
        '{"key":"seq:3","kind":"Updated","seq_no":3,"at":"2025-03-01T12:00:00Z",'
        '"samples":[{"at":"2025-03-01T12:00:00.123456Z",'
        '"measurand":"Energy.Active.Import.Register","value":"1.50","unit":"Wh"}]}'
    )
    with pytest.raises(ValueError, match="naive"):
        event_to_json(replace(event, at=datetime(2025, 3, 1)))
