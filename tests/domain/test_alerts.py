"""The alert rules: tables of facts -> decisions, and properties over sequences of facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.alerts import (
    DEFAULT_RULES,
    Alert,
    AlertKey,
    AlertKind,
    Booted,
    Check,
    ConnectorFacts,
    FirmwareReported,
    InvalidRule,
    MeterReceived,
    Open,
    ProblemReported,
    Resolve,
    SecurityReported,
    SessionFacts,
    Severity,
    StationFacts,
    StatusReported,
    Update,
    applied,
    changed_rule,
    decide,
)
from evcms.domain.ids import StationId
from evcms.domain.stations import ConnectorStatus

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CP = StationId("CP-1")
RULES = dict(DEFAULT_RULES)
OFFLINE = AlertKey(AlertKind.STATION_OFFLINE, CP)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def status(s: ConnectorStatus, error: str = "NoError", evse: int = 1, seconds: float = 0) -> StatusReported:
    return StatusReported(CP, evse, 1, s, error, at(seconds))


def run(facts: list, rules=RULES) -> tuple[dict[AlertKey, Alert], list]:  # type: ignore[no-untyped-def]
    open_alerts: dict[AlertKey, Alert] = {}
    every = []
    next_id = 1
    for fact in facts:
        decisions = decide(open_alerts, rules, fact)
        every.append(decisions)
        open_alerts = applied(open_alerts, decisions, next_id)
        next_id += len(decisions)
    return open_alerts, every


def check(station: StationFacts, seconds: float, heartbeat: int = 60) -> Check:
    return Check(at(seconds), (station,), heartbeat)


# -- tables -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("connector_status", "error_code", "opens"),
    [
        (ConnectorStatus.FAULTED, "NoError", True),
        (ConnectorStatus.FAULTED, "GroundFailure", True),
        (ConnectorStatus.AVAILABLE, "HighTemperature", True),  # a 1.6 error without Faulted
        (ConnectorStatus.AVAILABLE, "NoError", False),
        (ConnectorStatus.CHARGING, "NoError", False),
        (ConnectorStatus.UNAVAILABLE, "NoError", False),
    ],
)
def test_a_connector_status_opens_a_fault_alert(
    connector_status: ConnectorStatus, error_code: str, opens: bool
) -> None:
    decisions = decide({}, RULES, status(connector_status, error_code))
    if opens:
        [opened] = decisions
        assert isinstance(opened, Open)
        assert opened.key == AlertKey(AlertKind.CONNECTOR_FAULTED, CP, 1, 1, "status")
        assert opened.severity is Severity.CRITICAL
        assert opened.details["error_code"] == error_code
    else:
        assert decisions == []


def test_a_fault_updates_while_it_lasts_and_resolves_when_the_connector_is_ok() -> None:
    open_alerts, steps = run(
        [
            status(ConnectorStatus.FAULTED, "GroundFailure"),
            status(ConnectorStatus.FAULTED, "OverCurrentFailure", seconds=5),
            status(ConnectorStatus.AVAILABLE, seconds=10),
        ]
    )
    assert [type(d) for step in steps for d in step] == [Open, Update, Resolve]
    assert isinstance(steps[1][0], Update) and steps[1][0].details["error_code"] == "OverCurrentFailure"
    assert open_alerts == {}


def test_a_disabled_rule_opens_nothing_but_still_resolves() -> None:
    rules = {**RULES, AlertKind.CONNECTOR_FAULTED: changed_rule(RULES[AlertKind.CONNECTOR_FAULTED], enabled=False)}
    assert decide({}, rules, status(ConnectorStatus.FAULTED)) == []
    open_alerts, _ = run([status(ConnectorStatus.FAULTED)])
    [resolve] = decide(open_alerts, rules, status(ConnectorStatus.AVAILABLE))
    assert isinstance(resolve, Resolve)


def test_a_problem_variable_opens_and_clears_an_alert_of_its_own() -> None:
    problem = ProblemReported(CP, "Connector", True, at(0), 1, 1)
    open_alerts, _ = run([status(ConnectorStatus.FAULTED), problem])
    assert AlertKey(AlertKind.CONNECTOR_FAULTED, CP, 1, 1, "problem:Connector") in open_alerts
    assert len(open_alerts) == 2
    cleared = ProblemReported(CP, "Connector", False, at(5), 1, 1)
    [resolve] = decide(open_alerts, RULES, cleared)
    assert isinstance(resolve, Resolve) and resolve.key.subject == "problem:Connector"


@pytest.mark.parametrize(
    ("connected", "offline_for", "silent_for", "expected"),
    [
        (False, 119, None, None),  # within the grace period: no opinion
        (False, 120, None, "open"),
        (True, None, 179, "nothing"),  # 3 heartbeats of 60 s
        (True, None, 181, "open"),
    ],
)
def test_offline_rule(connected: bool, offline_for: float | None, silent_for: float | None, expected: str | None) -> None:
    now = 1000.0
    station = StationFacts(
        CP,
        connected,
        last_message_at=at(now - silent_for) if silent_for is not None else None,
        offline_since=at(now - offline_for) if offline_for is not None else None,
    )
    decisions = decide({}, RULES, check(station, now))
    if expected == "open":
        [opened] = decisions
        assert isinstance(opened, Open) and opened.key == OFFLINE
    else:
        assert decisions == []


def test_an_offline_alert_resolves_only_when_the_station_is_back_and_talking() -> None:
    open_alerts, _ = run([check(StationFacts(CP, False, offline_since=at(0)), 200)])
    assert OFFLINE in open_alerts
    # disconnected again briefly, or still away: stays open
    assert decide(open_alerts, RULES, check(StationFacts(CP, False, offline_since=at(300)), 301)) == []
    # connected but silent: stays open
    silent = StationFacts(CP, True, last_message_at=at(0))
    assert decide(open_alerts, RULES, check(silent, 1000)) == []
    [resolve] = decide(open_alerts, RULES, check(StationFacts(CP, True, last_message_at=at(999)), 1000))
    assert isinstance(resolve, Resolve) and resolve.key == OFFLINE


def test_boot_loop_opens_above_the_limit_and_resolves_after_a_quiet_window() -> None:
    boots = tuple(at(s) for s in (0, 60, 120, 180))  # 4 boots in 10 minutes, limit 3
    [opened] = decide({}, RULES, Booted(CP, at(180), boots[:4]))
    assert isinstance(opened, Open) and opened.key.kind is AlertKind.BOOT_LOOP
    assert decide({}, RULES, Booted(CP, at(120), boots[:3])) == []
    open_alerts = applied({}, [opened], 1)
    assert decide(open_alerts, RULES, check(StationFacts(CP, True, at(700), boots=boots), 700)) == []
    [resolve] = decide(open_alerts, RULES, check(StationFacts(CP, True, at(781), boots=boots), 781))
    assert isinstance(resolve, Resolve)


def test_stuck_sessions_open_and_resolve_per_connector() -> None:
    preparing = ConnectorFacts(1, 1, ConnectorStatus.PREPARING, at(0))
    suspended = ConnectorFacts(2, 1, ConnectorStatus.SUSPENDED_EV, at(0))
    charging = ConnectorFacts(3, 1, ConnectorStatus.CHARGING, at(0))
    session = SessionFacts("tx-3", 3, 1, last_meter_at=at(0))
    station = StationFacts(CP, True, at(5 * 3600), connectors=(preparing, suspended, charging), sessions=(session,))
    decisions = decide({}, RULES, check(station, 5 * 3600))
    kinds = sorted(d.key.kind.value for d in decisions if isinstance(d, Open))
    assert kinds == ["no_meter_values", "stuck_preparing", "suspended_ev"]
    open_alerts = applied({}, decisions, 1)
    # connector 1 starts charging, meter values arrive for tx-3
    later = StationFacts(
        CP,
        True,
        at(5 * 3600 + 10),
        connectors=(ConnectorFacts(1, 1, ConnectorStatus.CHARGING, at(5 * 3600)), suspended, charging),
        sessions=(SessionFacts("tx-3", 3, 1, last_meter_at=at(5 * 3600 + 5)),),
    )
    resolved = decide(open_alerts, RULES, check(later, 5 * 3600 + 10))
    assert sorted(d.key.kind.value for d in resolved if isinstance(d, Resolve)) == [
        "no_meter_values",
        "stuck_preparing",
    ]


def test_meter_values_resolve_a_no_meter_alert_at_once() -> None:
    key = AlertKey(AlertKind.NO_METER_VALUES, CP, 3, 1, "tx-3")
    open_alerts = applied({}, [Open(key, Severity.WARNING, "x", {}, at(0))], 1)
    [resolve] = decide(open_alerts, RULES, MeterReceived(CP, 3, 1, "tx-3", at(1)))
    assert isinstance(resolve, Resolve) and resolve.key == key
    assert decide(open_alerts, RULES, MeterReceived(CP, 3, 1, "tx-other", at(1))) == []


@pytest.mark.parametrize(
    ("event_type", "severity"),
    [
        ("TamperDetectionActivated", Severity.CRITICAL),
        ("InvalidCsmsCertificate", Severity.CRITICAL),
        ("InvalidCentralSystemCertificate", Severity.CRITICAL),
        ("StartupOfTheDevice", Severity.INFO),
        ("SomethingVendorSpecific", Severity.WARNING),  # the rule's severity
    ],
)
def test_security_events_open_alerts_by_type(event_type: str, severity: Severity) -> None:
    [opened] = decide({}, RULES, SecurityReported(CP, event_type, at(0)))
    assert isinstance(opened, Open) and opened.severity is severity
    assert opened.key.subject == event_type
    again = decide(applied({}, [opened], 1), RULES, SecurityReported(CP, event_type, at(5)))
    assert [type(d) for d in again] == [Update]


def test_firmware_failure_opens_and_a_later_install_resolves() -> None:
    open_alerts, steps = run(
        [
            FirmwareReported(CP, "Downloading", False, False, at(0)),
            FirmwareReported(CP, "InstallationFailed", True, True, at(10)),
            FirmwareReported(CP, "Downloading", False, False, at(20)),
            FirmwareReported(CP, "Installed", False, True, at(30)),
        ]
    )
    assert [[type(d) for d in s] for s in steps] == [[], [Open], [], [Resolve]]
    assert open_alerts == {}


def test_rule_changes_are_checked() -> None:
    rule = RULES[AlertKind.STATION_OFFLINE]
    assert changed_rule(rule, thresholds={"grace_seconds": 5}).threshold("grace_seconds") == 5
    assert changed_rule(rule, thresholds={"grace_seconds": 5}).threshold("missed_heartbeats") == 3
    with pytest.raises(InvalidRule, match=r"has no threshold 'grace'.*grace_seconds, missed_heartbeats"):
        changed_rule(rule, thresholds={"grace": 5})
    with pytest.raises(InvalidRule, match="whole number >= 1"):
        changed_rule(rule, thresholds={"grace_seconds": 0})


# -- properties ---------------------------------------------------------------------------------

statuses = st.sampled_from(list(ConnectorStatus))
error_codes = st.sampled_from(["NoError", "NoError", "GroundFailure", "OtherError"])
status_facts = st.builds(
    lambda s, e, evse, n: StatusReported(CP, evse, 1, s, e, at(n)),
    statuses,
    error_codes,
    st.integers(0, 2),
    st.integers(0, 10_000),
)
other_facts = st.one_of(
    st.builds(lambda t, n: SecurityReported(CP, t, at(n)), st.sampled_from(["A", "TamperDetectionActivated"]), st.integers(0, 99)),
    st.builds(lambda f, n: FirmwareReported(CP, "x", f, True, at(n)), st.booleans(), st.integers(0, 99)),
    st.builds(lambda a, n: ProblemReported(CP, "Connector", a, at(n), 1, 1), st.booleans(), st.integers(0, 99)),
    st.builds(
        lambda connected, n, off: check(StationFacts(CP, connected, at(n - 1), at(n - off)), n),
        st.booleans(),
        st.integers(1000, 2000),
        st.integers(0, 300),
    ),
)


@given(st.lists(st.one_of(status_facts, other_facts), max_size=40))
def test_decisions_keep_one_open_alert_per_key_and_never_resolve_what_is_not_open(facts: list) -> None:  # type: ignore[type-arg]
    open_alerts: dict[AlertKey, Alert] = {}
    next_id = 1
    for fact in facts:
        decisions = decide(open_alerts, RULES, fact)
        keys = [d.key for d in decisions]
        assert len(keys) == len(set(keys)), "one decision per key"
        for d in decisions:
            if isinstance(d, Open):
                assert d.key not in open_alerts
            else:
                assert d.key in open_alerts and open_alerts[d.key].id == d.alert_id
        open_alerts = applied(open_alerts, decisions, next_id)  # raises on a second open
        next_id += len(decisions)


@given(st.lists(st.tuples(st.sampled_from(list(ConnectorStatus)), error_codes), min_size=1, max_size=30))
def test_any_status_sequence_ends_with_an_open_alert_iff_the_last_status_was_a_fault(
    sequence: list[tuple[ConnectorStatus, str]],
) -> None:
    open_alerts, _ = run([status(s, e, seconds=i) for i, (s, e) in enumerate(sequence)])
    last_status, last_error = sequence[-1]
    faulted = last_status is ConnectorStatus.FAULTED or last_error != "NoError"
    assert (AlertKey(AlertKind.CONNECTOR_FAULTED, CP, 1, 1, "status") in open_alerts) == faulted
