"""Alerts: the rules that open, update and resolve them (pure; time comes in as a value).

An alert is identified while it is open by its :class:`AlertKey` (rule kind + station + EVSE/
connector + subject): at most one alert is open per key. :func:`decide` takes the open alerts,
the rules and one *fact* — something a station did (a status, a boot, a security event, ...) or
a periodic :class:`Check` with what is known of the stations at a moment — and returns what to
do: :class:`Open` a new alert, :class:`Update` an open one (it happened again), or
:class:`Resolve` one whose cause cleared. It never resolves or updates an alert that is not
open and never opens a second one for a key.

Each condition a fact gives is *active* (the problem is there), *inactive* (it is gone) or
*unknown* (this fact cannot tell: a station that just disconnected is not yet offline, but not
back either), so an alert resolves only on evidence that the cause cleared.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from evcms.domain.ids import StationId
from evcms.domain.stations import NO_ERROR, ConnectorStatus


class AlertKind(enum.StrEnum):
    STATION_OFFLINE = "station_offline"
    CONNECTOR_FAULTED = "connector_faulted"
    BOOT_LOOP = "boot_loop"
    STUCK_PREPARING = "stuck_preparing"
    NO_METER_VALUES = "no_meter_values"
    SUSPENDED_EV = "suspended_ev"
    FIRMWARE_FAILED = "firmware_failed"
    DIAGNOSTICS_FAILED = "diagnostics_failed"
    SECURITY_EVENT = "security_event"


class Severity(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


# Kinds whose cause has no "cleared" signal: an operator's acknowledgement resolves them.
RESOLVED_BY_ACKNOWLEDGEMENT = frozenset({AlertKind.SECURITY_EVENT})

# Kinds a periodic check decides alone: an open one the check no longer finds active resolves.
_CHECKED_PER_CONNECTOR = frozenset(
    {AlertKind.STUCK_PREPARING, AlertKind.NO_METER_VALUES, AlertKind.SUSPENDED_EV}
)

# OCPP security event types (2.0.1 appendix; 1.6 security whitepaper) by how bad they are.
CRITICAL_SECURITY_EVENTS = frozenset(
    {
        "InvalidFirmwareSignature",
        "InvalidFirmwareSigningCertificate",
        "TamperDetectionActivated",
        "InvalidCentralSystemCertificate",
        "InvalidCsmsCertificate",
        "InvalidChargePointCertificate",
        "InvalidChargingStationCertificate",
        "InvalidTLSVersion",
        "InvalidTLSCipherSuite",
        "MaintenanceLoginAccepted",
        "MemoryExhaustion",
    }
)
INFO_SECURITY_EVENTS = frozenset(
    {
        "FirmwareUpdated",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SettingSystemTime",
        "ReconfigurationOfSecurityParameters",
        "SecurityLogWasCleared",
        "LocalLoginAccepted",
        "RemoteLoginAccepted",
        "CertificateSigned",
    }
)


@dataclass(frozen=True, slots=True)
class AlertKey:
    kind: AlertKind
    station_id: StationId
    evse_id: int | None = None
    connector_id: int | None = None
    subject: str = ""

    def text(self) -> str:
        """One string per key (stored with an open alert; unique among open alerts)."""
        evse = "" if self.evse_id is None else str(self.evse_id)
        connector = "" if self.connector_id is None else str(self.connector_id)
        return f"{self.kind.value}|{self.station_id}|{evse}|{connector}|{self.subject}"


@dataclass(frozen=True, slots=True)
class Alert:
    id: int
    key: AlertKey
    severity: Severity
    status: AlertStatus
    summary: str
    opened_at: datetime
    last_seen_at: datetime
    count: int = 1  # how many times it happened while open
    details: Mapping[str, str] = field(default_factory=dict)
    resolved_at: datetime | None = None
    resolution: str | None = None  # why it resolved
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None

    @property
    def kind(self) -> AlertKind:
        return self.key.kind

    @property
    def station_id(self) -> StationId:
        return self.key.station_id

    @property
    def is_open(self) -> bool:
        return self.status is AlertStatus.OPEN

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


@dataclass(frozen=True, slots=True)
class AlertComment:
    id: int
    alert_id: int
    author: str
    text: str
    at: datetime


# -- rules -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AlertRule:
    kind: AlertKind
    enabled: bool
    severity: Severity
    thresholds: Mapping[str, int] = field(default_factory=dict)

    def threshold(self, name: str) -> int:
        return self.thresholds.get(name, DEFAULT_THRESHOLDS[self.kind][name])


# Every threshold is a whole number >= 1; the names say the unit.
DEFAULT_THRESHOLDS: Mapping[AlertKind, Mapping[str, int]] = {
    # disconnected longer than this (a quick reconnect does not alert); or connected but
    # silent for this many heartbeat intervals
    AlertKind.STATION_OFFLINE: {"grace_seconds": 120, "missed_heartbeats": 3},
    AlertKind.CONNECTOR_FAULTED: {},
    # more than max_boots boots within window_seconds
    AlertKind.BOOT_LOOP: {"max_boots": 3, "window_seconds": 600},
    AlertKind.STUCK_PREPARING: {"preparing_seconds": 900},
    # charging without a meter value for this long
    AlertKind.NO_METER_VALUES: {"no_meter_seconds": 900},
    AlertKind.SUSPENDED_EV: {"suspended_seconds": 4 * 3600},
    AlertKind.FIRMWARE_FAILED: {},
    AlertKind.DIAGNOSTICS_FAILED: {},
    AlertKind.SECURITY_EVENT: {},
}

_DEFAULT_SEVERITY = {
    AlertKind.STATION_OFFLINE: Severity.CRITICAL,
    AlertKind.CONNECTOR_FAULTED: Severity.CRITICAL,
    AlertKind.BOOT_LOOP: Severity.WARNING,
    AlertKind.STUCK_PREPARING: Severity.WARNING,
    AlertKind.NO_METER_VALUES: Severity.WARNING,
    AlertKind.SUSPENDED_EV: Severity.INFO,
    AlertKind.FIRMWARE_FAILED: Severity.WARNING,
    AlertKind.DIAGNOSTICS_FAILED: Severity.INFO,
    AlertKind.SECURITY_EVENT: Severity.WARNING,
}

DEFAULT_RULES: Mapping[AlertKind, AlertRule] = {
    kind: AlertRule(kind, True, _DEFAULT_SEVERITY[kind], dict(DEFAULT_THRESHOLDS[kind]))
    for kind in AlertKind
}


class InvalidRule(ValueError):
    """A rule change that cannot be applied (the message says what to fix)."""


def changed_rule(
    rule: AlertRule,
    *,
    enabled: bool | None = None,
    severity: Severity | None = None,
    thresholds: Mapping[str, int] | None = None,
) -> AlertRule:
    """``rule`` with the given changes; thresholds not named keep their value."""
    merged = dict(rule.thresholds)
    if thresholds:
        known = DEFAULT_THRESHOLDS[rule.kind]
        for name, value in thresholds.items():
            if name not in known:
                names = ", ".join(sorted(known)) or "none"
                raise InvalidRule(
                    f"rule {rule.kind.value!r} has no threshold {name!r} (its thresholds: {names})"
                )
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidRule(
                    f"threshold {name!r} of rule {rule.kind.value!r} must be a whole number"
                    f" >= 1, not {value!r}"
                )
            merged[name] = value
    return replace(
        rule,
        enabled=rule.enabled if enabled is None else enabled,
        severity=rule.severity if severity is None else severity,
        thresholds=merged,
    )


def security_severity(event_type: str, rule: AlertRule) -> Severity:
    if event_type in CRITICAL_SECURITY_EVENTS:
        return Severity.CRITICAL
    if event_type in INFO_SECURITY_EVENTS:
        return Severity.INFO
    return rule.severity


# -- facts -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusReported:
    """A connector (or, with ``evse_id`` 0, the station) reported its status."""

    station_id: StationId
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    error_code: str
    at: datetime
    info: str | None = None
    vendor_error_code: str | None = None


@dataclass(frozen=True, slots=True)
class ProblemReported:
    """A 2.0.1 device-model ``Problem`` variable changed (NotifyEvent)."""

    station_id: StationId
    component: str
    active: bool
    at: datetime
    evse_id: int | None = None
    connector_id: int | None = None
    tech_info: str | None = None


@dataclass(frozen=True, slots=True)
class Booted:
    station_id: StationId
    at: datetime
    boots: tuple[datetime, ...]  # the station's recent boot times, this one included


@dataclass(frozen=True, slots=True)
class FirmwareReported:
    station_id: StationId
    status: str
    failed: bool
    finished: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class DiagnosticsReported:
    station_id: StationId
    status: str
    failed: bool
    finished: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class SecurityReported:
    station_id: StationId
    event_type: str
    at: datetime
    tech_info: str | None = None


@dataclass(frozen=True, slots=True)
class MeterReceived:
    """A session's meter values arrived."""

    station_id: StationId
    evse_id: int
    connector_id: int
    transaction_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ConnectorFacts:
    evse_id: int
    connector_id: int
    status: ConnectorStatus
    since: datetime  # when it entered this status


@dataclass(frozen=True, slots=True)
class SessionFacts:
    transaction_id: str
    evse_id: int
    connector_id: int
    last_meter_at: datetime  # when evcms last got its meter values (or the session started)
    charging_state: str | None = None  # 2.0.1 chargingState


@dataclass(frozen=True, slots=True)
class StationFacts:
    station_id: StationId
    connected: bool
    last_message_at: datetime | None = None
    offline_since: datetime | None = None  # when it disconnected (None: not known)
    connectors: tuple[ConnectorFacts, ...] = ()
    sessions: tuple[SessionFacts, ...] = ()
    boots: tuple[datetime, ...] = ()


@dataclass(frozen=True, slots=True)
class Check:
    """A periodic look at some stations at time ``at``."""

    at: datetime
    stations: tuple[StationFacts, ...]
    heartbeat_interval: int  # seconds


Fact = (
    StatusReported
    | ProblemReported
    | Booted
    | FirmwareReported
    | DiagnosticsReported
    | SecurityReported
    | MeterReceived
    | Check
)


# -- decisions ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Open:
    key: AlertKey
    severity: Severity
    summary: str
    details: Mapping[str, str]
    at: datetime


@dataclass(frozen=True, slots=True)
class Update:
    alert_id: int
    key: AlertKey
    severity: Severity
    summary: str
    details: Mapping[str, str]
    at: datetime


@dataclass(frozen=True, slots=True)
class Resolve:
    alert_id: int
    key: AlertKey
    at: datetime
    reason: str


Decision = Open | Update | Resolve


@dataclass(frozen=True, slots=True)
class _Condition:
    key: AlertKey
    active: bool | None  # None: this fact cannot tell
    severity: Severity = Severity.WARNING
    summary: str = ""
    details: Mapping[str, str] = field(default_factory=dict)
    repeat: bool = False  # an occurrence: an open alert is updated (count + 1)
    reason: str = ""  # why it is inactive


def decide(
    open_alerts: Mapping[AlertKey, Alert],
    rules: Mapping[AlertKind, AlertRule],
    fact: Fact,
) -> list[Decision]:
    """What ``fact`` does to the open alerts (see the module docstring)."""
    rule_of: Callable[[AlertKind], AlertRule] = lambda kind: rules.get(kind, DEFAULT_RULES[kind])  # noqa: E731
    if isinstance(fact, Check):
        conditions, scope = _check(fact, rule_of)
    else:
        conditions, scope = _event(fact, rule_of), None
    return _reconcile(open_alerts, rule_of, conditions, fact.at, scope)


def _reconcile(
    open_alerts: Mapping[AlertKey, Alert],
    rule_of: Callable[[AlertKind], AlertRule],
    conditions: Sequence[_Condition],
    at: datetime,
    scope: Callable[[AlertKey], bool] | None,
) -> list[Decision]:
    decisions: list[Decision] = []
    touched: set[AlertKey] = set()
    for c in conditions:
        if c.key in touched:
            continue
        touched.add(c.key)
        alert = open_alerts.get(c.key)
        if c.active is True:
            if alert is None:
                if rule_of(c.key.kind).enabled:
                    decisions.append(Open(c.key, c.severity, c.summary, dict(c.details), at))
            elif c.repeat:
                decisions.append(Update(alert.id, c.key, c.severity, c.summary, dict(c.details), at))
        elif c.active is False and alert is not None:
            decisions.append(Resolve(alert.id, c.key, at, c.reason or "the cause cleared"))
    if scope is not None:
        for key, alert in open_alerts.items():
            if key not in touched and scope(key):
                decisions.append(Resolve(alert.id, key, at, "the cause cleared"))
    return decisions


def _event(fact: Fact, rule_of: Callable[[AlertKind], AlertRule]) -> list[_Condition]:
    if isinstance(fact, StatusReported):
        return [_status(fact, rule_of(AlertKind.CONNECTOR_FAULTED))]
    if isinstance(fact, ProblemReported):
        key = AlertKey(
            AlertKind.CONNECTOR_FAULTED,
            fact.station_id,
            fact.evse_id,
            fact.connector_id,
            f"problem:{fact.component}",
        )
        details = {"component": fact.component}
        if fact.tech_info:
            details["tech_info"] = fact.tech_info
        return [
            _Condition(
                key,
                fact.active,
                rule_of(AlertKind.CONNECTOR_FAULTED).severity,
                f"{fact.component} reports a problem{_where(fact.evse_id, fact.connector_id)}",
                details,
                repeat=False,
                reason=f"{fact.component} no longer reports a problem",
            )
        ]
    if isinstance(fact, Booted):
        return [_boot_loop(fact.station_id, fact.boots, fact.at, rule_of(AlertKind.BOOT_LOOP), True)]
    if isinstance(fact, FirmwareReported | DiagnosticsReported):
        firmware = isinstance(fact, FirmwareReported)
        kind = AlertKind.FIRMWARE_FAILED if firmware else AlertKind.DIAGNOSTICS_FAILED
        what = "firmware update" if firmware else "diagnostics upload"
        active = True if fact.failed else (False if fact.finished else None)
        return [
            _Condition(
                AlertKey(kind, fact.station_id),
                active,
                rule_of(kind).severity,
                f"{what} failed: {fact.status}",
                {"status": fact.status},
                repeat=True,
                reason=f"a later {what} succeeded ({fact.status})",
            )
        ]
    if isinstance(fact, SecurityReported):
        rule = rule_of(AlertKind.SECURITY_EVENT)
        details = {"type": fact.event_type}
        if fact.tech_info:
            details["tech_info"] = fact.tech_info
        return [
            _Condition(
                AlertKey(AlertKind.SECURITY_EVENT, fact.station_id, subject=fact.event_type),
                True,
                security_severity(fact.event_type, rule),
                f"security event {fact.event_type}",
                details,
                repeat=True,
            )
        ]
    if isinstance(fact, MeterReceived):
        key = AlertKey(
            AlertKind.NO_METER_VALUES,
            fact.station_id,
            fact.evse_id,
            fact.connector_id,
            fact.transaction_id,
        )
        return [_Condition(key, False, reason="meter values arrived")]
    raise TypeError(f"not a fact: {fact!r}")  # pragma: no cover


def _where(evse_id: int | None, connector_id: int | None) -> str:
    if evse_id is None or evse_id == 0:
        return ""
    if connector_id is None:
        return f" on EVSE {evse_id}"
    return f" on EVSE {evse_id} connector {connector_id}"


def _status(fact: StatusReported, rule: AlertRule) -> _Condition:
    key = AlertKey(
        AlertKind.CONNECTOR_FAULTED, fact.station_id, fact.evse_id, fact.connector_id, "status"
    )
    faulted = fact.status is ConnectorStatus.FAULTED or fact.error_code != NO_ERROR
    where = _where(fact.evse_id, fact.connector_id) or " (the station as a whole)"
    details = {"status": fact.status.value, "error_code": fact.error_code}
    if fact.info:
        details["info"] = fact.info
    if fact.vendor_error_code:
        details["vendor_error_code"] = fact.vendor_error_code
    return _Condition(
        key,
        faulted,
        rule.severity,
        f"{fact.status.value} ({fact.error_code}){where}",
        details,
        repeat=True,
        reason=f"status {fact.status.value} with {fact.error_code}",
    )


def _boot_loop(
    station_id: StationId,
    boots: Sequence[datetime],
    at: datetime,
    rule: AlertRule,
    repeat: bool,
) -> _Condition:
    window = timedelta(seconds=rule.threshold("window_seconds"))
    recent = [b for b in boots if at - window < b <= at]
    limit = rule.threshold("max_boots")
    active = True if len(recent) > limit else (False if not recent else None)
    return _Condition(
        AlertKey(AlertKind.BOOT_LOOP, station_id),
        active,
        rule.severity,
        f"{len(recent)} boots within {rule.threshold('window_seconds')} s",
        {"boots": str(len(recent))},
        repeat=repeat,
        reason=f"no boot within {rule.threshold('window_seconds')} s",
    )


def _check(
    check: Check, rule_of: Callable[[AlertKind], AlertRule]
) -> tuple[list[_Condition], Callable[[AlertKey], bool]]:
    at = check.at
    conditions: list[_Condition] = []
    # connectors and sessions are judged only while the station is connected (what a
    # disconnected station last said is stale; it has its offline alert)
    checked = {s.station_id for s in check.stations if s.connected}
    for station in check.stations:
        conditions.append(_offline(station, at, check.heartbeat_interval, rule_of(AlertKind.STATION_OFFLINE)))
        conditions.append(_boot_loop(station.station_id, station.boots, at, rule_of(AlertKind.BOOT_LOOP), False))
        if station.connected:
            conditions.extend(_connectors(station, at, rule_of))
    # an open per-connector alert of a connected station that is no longer active resolves
    return conditions, lambda key: key.kind in _CHECKED_PER_CONNECTOR and key.station_id in checked


def _offline(station: StationFacts, at: datetime, heartbeat: int, rule: AlertRule) -> _Condition:
    key = AlertKey(AlertKind.STATION_OFFLINE, station.station_id)
    if station.connected:
        silent_for = rule.threshold("missed_heartbeats") * heartbeat
        last = station.last_message_at
        if last is not None and (at - last).total_seconds() > silent_for:
            return _Condition(
                key,
                True,
                rule.severity,
                f"connected but silent for more than {silent_for} s",
                {"reason": "silent", "last_message_at": last.isoformat()},
            )
        return _Condition(key, False, reason="connected and talking again")
    since = station.offline_since
    grace = rule.threshold("grace_seconds")
    if since is not None and (at - since).total_seconds() >= grace:
        details = {"reason": "disconnected", "offline_since": since.isoformat()}
        if station.last_message_at is not None:
            details["last_message_at"] = station.last_message_at.isoformat()
        return _Condition(key, True, rule.severity, f"offline for more than {grace} s", details)
    return _Condition(key, None)


def _connectors(
    station: StationFacts, at: datetime, rule_of: Callable[[AlertKind], AlertRule]
) -> list[_Condition]:
    found: list[_Condition] = []
    status_at = {(c.evse_id, c.connector_id): c.status for c in station.connectors}
    for c in station.connectors:
        seconds = (at - c.since).total_seconds()
        where = _where(c.evse_id, c.connector_id)
        if c.status is ConnectorStatus.PREPARING:
            rule = rule_of(AlertKind.STUCK_PREPARING)
            limit = rule.threshold("preparing_seconds")
            if seconds > limit:
                found.append(
                    _Condition(
                        AlertKey(AlertKind.STUCK_PREPARING, station.station_id, c.evse_id, c.connector_id),
                        True,
                        rule.severity,
                        f"Preparing for more than {limit} s{where}",
                        {"since": c.since.isoformat()},
                    )
                )
        elif c.status is ConnectorStatus.SUSPENDED_EV:
            rule = rule_of(AlertKind.SUSPENDED_EV)
            limit = rule.threshold("suspended_seconds")
            if seconds > limit:
                found.append(
                    _Condition(
                        AlertKey(AlertKind.SUSPENDED_EV, station.station_id, c.evse_id, c.connector_id),
                        True,
                        rule.severity,
                        f"SuspendedEV for more than {limit} s{where}",
                        {"since": c.since.isoformat()},
                    )
                )
    rule = rule_of(AlertKind.NO_METER_VALUES)
    limit = rule.threshold("no_meter_seconds")
    for s in station.sessions:
        charging = (
            s.charging_state == "Charging"
            or status_at.get((s.evse_id, s.connector_id)) is ConnectorStatus.CHARGING
        )
        if charging and (at - s.last_meter_at).total_seconds() > limit:
            found.append(
                _Condition(
                    AlertKey(
                        AlertKind.NO_METER_VALUES,
                        station.station_id,
                        s.evse_id,
                        s.connector_id,
                        s.transaction_id,
                    ),
                    True,
                    rule.severity,
                    f"charging without meter values for more than {limit} s"
                    f"{_where(s.evse_id, s.connector_id)} (transaction {s.transaction_id})",
                    {"transaction_id": s.transaction_id, "last_meter_at": s.last_meter_at.isoformat()},
                )
            )
    return found


def applied(
    open_alerts: Mapping[AlertKey, Alert], decisions: Sequence[Decision], next_id: int
) -> dict[AlertKey, Alert]:
    """The open alerts after ``decisions`` (new ids from ``next_id`` on): the model the
    repository and the service keep, used by tests and by the service's memory of open alerts."""
    result = dict(open_alerts)
    for d in decisions:
        if isinstance(d, Open):
            if d.key in result:
                raise ValueError(f"an alert is already open for {d.key.text()}")
            result[d.key] = Alert(
                next_id, d.key, d.severity, AlertStatus.OPEN, d.summary, d.at, d.at, 1, d.details
            )
            next_id += 1
        elif isinstance(d, Update):
            current = result[d.key]
            result[d.key] = replace(
                current,
                severity=d.severity,
                summary=d.summary,
                details=d.details,
                last_seen_at=d.at,
                count=current.count + 1,
            )
        else:
            if d.key not in result:
                raise ValueError(f"no open alert for {d.key.text()}")
            del result[d.key]
    return result
