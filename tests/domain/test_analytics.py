"""Analytics rules: splitting time into UTC hours, the station timeline, uptime, local buckets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.analytics import (
    CLASSES,
    CONNECTED,
    DISCONNECTED,
    SOURCE_CONNECTION,
    SOURCE_SESSION,
    SOURCE_STATUS,
    Grain,
    StationTimeline,
    StatusChange,
    StatusClass,
    bucket_of,
    classify,
    micros,
    month_period,
    session_successful,
    shares,
    split_hours,
    uptime_of,
)

T0 = datetime(2026, 10, 24, 21, 0, tzinfo=UTC)
H = 3_600_000_000
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("10:15", "10:45", [("10:00", 30)]),
        ("10:15", "12:30", [("10:00", 45), ("11:00", 60), ("12:00", 30)]),
        ("10:00", "11:00", [("10:00", 60)]),
        ("11:00", "10:00", []),
    ],
)
def test_an_interval_is_split_across_the_hours_it_spans(start: str, end: str, expected: list[tuple[str, int]]) -> None:
    def at(text: str) -> datetime:
        hour, minute = text.split(":")
        return datetime(2026, 10, 25, int(hour), int(minute), tzinfo=UTC)

    assert split_hours(at(start), at(end)) == [(at(h), m * 60_000_000) for h, m in expected]


@given(moments, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)))
def test_splitting_preserves_the_total_and_stays_inside_hours(start: datetime, span: timedelta) -> None:
    parts = split_hours(start, start + span)
    assert sum(p for _, p in parts) == micros(span)
    assert all(0 < p <= H and h.minute == h.second == h.microsecond == 0 for h, p in parts)


@pytest.mark.parametrize(
    ("status", "charging_state", "online", "expected"),
    [
        ("Available", None, True, StatusClass.AVAILABLE),
        ("Preparing", None, True, StatusClass.OCCUPIED),
        ("SuspendedEV", None, True, StatusClass.OCCUPIED),
        ("Charging", None, True, StatusClass.CHARGING),
        ("Occupied", "Charging", True, StatusClass.CHARGING),  # 2.0.1: the session says so
        ("Occupied", "SuspendedEV", True, StatusClass.OCCUPIED),
        ("Faulted", None, True, StatusClass.FAULTED),
        ("Unavailable", None, True, StatusClass.UNAVAILABLE),
        ("Charging", None, False, StatusClass.OFFLINE),
        ("Bogus", None, True, StatusClass.UNKNOWN),
    ],
)
def test_status_classes(status: str, charging_state: str | None, online: bool, expected: StatusClass) -> None:
    assert classify(status, charging_state, online) is expected


def test_the_timeline_accounts_each_class_offline_time_and_faults_once() -> None:
    line = StationTimeline("CP", T0)
    steps = [
        (0, SOURCE_CONNECTION, CONNECTED, "NoError"),
        (0, SOURCE_STATUS, "Available", "NoError"),
        (30, SOURCE_STATUS, "Faulted", "GroundFailure"),
        (40, SOURCE_STATUS, "Faulted", "GroundFailure"),  # the same fault again
        (60, SOURCE_CONNECTION, DISCONNECTED, "NoError"),
        (90, SOURCE_CONNECTION, CONNECTED, "NoError"),
        (90, SOURCE_STATUS, "Occupied", "NoError"),
        (100, SOURCE_SESSION, "Charging", "NoError"),
    ]
    totals = dict.fromkeys(CLASSES, 0)
    faults = []
    for minute, source, status, code in steps:
        slices, fault = line.apply(StatusChange("CP", 1, 1, T0 + timedelta(minutes=minute), source, status, code))
        faults += [fault] if fault else []
        for s in slices:
            totals[s.status_class] += s.micros
    for s in line.advance(T0 + timedelta(minutes=120)):
        totals[s.status_class] += s.micros
    minute = 60_000_000
    assert totals[StatusClass.AVAILABLE] == 30 * minute
    assert totals[StatusClass.FAULTED] == 30 * minute
    assert totals[StatusClass.OFFLINE] == 30 * minute
    assert totals[StatusClass.OCCUPIED] == 10 * minute
    assert totals[StatusClass.CHARGING] == 20 * minute
    assert [(f.error_code, f.at) for f in faults] == [("GroundFailure", T0 + timedelta(minutes=30))]
    assert line.charging_micros(1, 1, T0, T0 + timedelta(minutes=110)) == 10 * minute


def test_a_change_older_than_the_accounted_time_counts_from_there() -> None:
    line = StationTimeline("CP", T0, online=True)
    line.apply(StatusChange("CP", 1, 1, T0, SOURCE_STATUS, "Available"))
    line.advance(T0 + timedelta(minutes=10))
    slices, _ = line.apply(StatusChange("CP", 1, 1, T0 + timedelta(minutes=5), SOURCE_STATUS, "Charging"))
    assert slices == []
    assert line.position == T0 + timedelta(minutes=10)


class_times = st.fixed_dictionaries({cls: st.integers(0, 10**12) for cls in CLASSES})


@given(class_times)
def test_shares_sum_to_100_percent(totals: dict[StatusClass, int]) -> None:
    found = shares(totals)
    assert sum(found.values()) == (100 if sum(totals.values()) else 0)


@given(class_times)
def test_uptime_is_a_percentage_and_excluded_time_is_never_down(totals: dict[StatusClass, int]) -> None:
    up = uptime_of(totals)
    value, raw = up.uptime(), up.availability()
    if up.total == 0:
        assert value is None
        return
    assert value is not None and raw is not None
    assert 0 <= raw <= value <= 100
    # more operator-set Unavailable time never lowers uptime
    more = uptime_of({**totals, StatusClass.UNAVAILABLE: totals[StatusClass.UNAVAILABLE] + H})
    with_more = more.uptime()
    assert with_more is not None and with_more >= min(value, Fraction(100))


def test_uptime_the_nevi_way() -> None:
    minute = 60_000_000
    up = uptime_of(
        {StatusClass.AVAILABLE: 1260 * minute, StatusClass.FAULTED: 60 * minute,
         StatusClass.UNAVAILABLE: 120 * minute, StatusClass.OFFLINE: 60 * minute}
    )
    assert (up.total, up.outage, up.excluded_total) == (1500 * minute, 240 * minute, 120 * minute)
    assert up.uptime() == Fraction(1380, 1500) * 100  # 92 %
    assert up.availability() == Fraction(1260, 1500) * 100


@pytest.mark.parametrize(
    ("energy", "reason", "ok"),
    [("1", "Local", True), ("0", "Local", False), ("5", "EmergencyStop", False), ("5", None, True), ("5", "PowerLoss", False)],
)
def test_session_success(energy: str, reason: str | None, ok: bool) -> None:
    assert session_successful(Decimal(energy), reason) is ok


def test_local_buckets_across_the_end_of_summer_time() -> None:
    sofia = ZoneInfo("Europe/Sofia")
    assert bucket_of(datetime(2026, 10, 25, 0, tzinfo=UTC), sofia, Grain.HOUR) == "2026-10-25T03:00:00+03:00"
    assert bucket_of(datetime(2026, 10, 25, 1, tzinfo=UTC), sofia, Grain.HOUR) == "2026-10-25T03:00:00+02:00"
    assert bucket_of(datetime(2026, 10, 24, 21, tzinfo=UTC), sofia, Grain.DAY) == "2026-10-25"
    assert bucket_of(datetime(2026, 10, 25, 12, tzinfo=UTC), sofia, Grain.DAY_OF_WEEK) == "7"
    start, end = month_period(2026, 10, sofia)
    assert (start, end) == (datetime(2026, 9, 30, 21, tzinfo=UTC), datetime(2026, 10, 31, 22, tzinfo=UTC))
    india = ZoneInfo("Asia/Kolkata")  # +05:30: a UTC hour goes to the local hour it starts in
    assert bucket_of(datetime(2026, 10, 25, 0, tzinfo=UTC), india, Grain.HOUR_OF_DAY) == "5"
