"""Firmware files, firmware updates of one station, and rollouts in waves.

Pure rules: which status means what, whether a file fits a station's model, how a rollout's
stations are split into waves and what a rollout does next (``next_step``). No I/O, no clock
(``now`` comes in as a value).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

# -- firmware files ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FirmwareFile:
    id: int
    version: str
    file_name: str
    size: int
    sha256: str
    md5: str
    created_at: datetime
    models: tuple[str, ...] = ()  # empty: fits every model
    signing_certificate: str | None = None  # PEM, for 2.0.1 signed updates
    signature: str | None = None  # base64
    notes: str = ""
    created_by: str = ""
    file_key: str = ""  # where the bytes lie in the file store

    def replace(self, **changes: object) -> FirmwareFile:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def normal_models(models: Iterable[str]) -> tuple[str, ...]:
    """Models as given, trimmed, without blanks and duplicates (case-insensitive), in order."""
    seen: set[str] = set()
    found: list[str] = []
    for model in models:
        name = model.strip()
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            found.append(name)
    return tuple(found)


def fits(firmware: FirmwareFile, model: str | None) -> bool:
    """Does the file fit a station of ``model``? A file without models fits every station; a
    station whose model is unknown (it never booted) fits only such a file."""
    if not firmware.models:
        return True
    if model is None:
        return False
    wanted = model.strip().casefold()
    return any(m.casefold() == wanted for m in firmware.models)


# -- one station's update ---------------------------------------------------------------------

# 1.6 FirmwareStatus and 2.0.1 FirmwareStatusEnumType
INSTALLED_STATUS = "Installed"
FAILURE_STATUSES = frozenset(
    {"DownloadFailed", "InstallationFailed", "InstallVerificationFailed", "InvalidSignature"}
)
PROGRESS_STATUSES = frozenset(
    {
        "Downloaded",
        "Downloading",
        "DownloadScheduled",
        "DownloadPaused",
        "Installing",
        "InstallRebooting",
        "InstallScheduled",
        "SignatureVerified",
    }
)
# after these a reboot with the new version means the station installed it
INSTALLING_STATUSES = frozenset({"Downloaded", "Installing", "InstallRebooting", "InstallScheduled", "SignatureVerified"})
ACCEPTED_ANSWERS = frozenset({"Accepted", "AcceptedCanceled"})


class UpdateState(enum.StrEnum):
    REQUESTED = "requested"  # sent and accepted, no status yet
    IN_PROGRESS = "in_progress"  # the station reports downloading / installing
    INSTALLED = "installed"
    FAILED = "failed"  # a failure status, a refusal, or the call did not reach the station
    TIMED_OUT = "timed_out"  # no final status in time


FINAL_UPDATE_STATES = frozenset({UpdateState.INSTALLED, UpdateState.FAILED, UpdateState.TIMED_OUT})


@dataclass(frozen=True, slots=True)
class FirmwareUpdate:
    id: int
    station_id: str
    firmware_id: int
    ocpp_version: str
    token: str  # the download token of this update
    token_expires_at: datetime
    retrieve_at: datetime
    deadline: datetime  # no final status by then: timed out
    state: UpdateState
    created_at: datetime
    updated_at: datetime
    requested_by: str = ""
    install_at: datetime | None = None
    retries: int | None = None
    retry_interval: int | None = None
    rollout_id: int | None = None
    station_status: str | None = None  # the last FirmwareStatusNotification
    station_status_at: datetime | None = None
    detail: str | None = None  # why it failed, the station's answer
    downloads: int = 0  # times the station fetched the file

    @property
    def request_id(self) -> int:
        """The 2.0.1 requestId: the update's own id."""
        return self.id

    @property
    def finished(self) -> bool:
        return self.state in FINAL_UPDATE_STATES

    def replace(self, **changes: object) -> FirmwareUpdate:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def state_after(current: UpdateState, status: str) -> UpdateState:
    """The update's state after the station reported ``status``. A final state stays final;
    Idle (e.g. answering a TriggerMessage) changes nothing."""
    if current in FINAL_UPDATE_STATES:
        return current
    if status == INSTALLED_STATUS:
        return UpdateState.INSTALLED
    if status in FAILURE_STATUSES:
        return UpdateState.FAILED
    if status in PROGRESS_STATUSES:
        return UpdateState.IN_PROGRESS
    return current


def report_status(update: FirmwareUpdate, status: str, at: datetime) -> FirmwareUpdate:
    state = state_after(update.state, status)
    detail = update.detail
    if state is UpdateState.FAILED and update.state is not UpdateState.FAILED:
        detail = f"the station reported {status}"
    return update.replace(
        station_status=status, station_status_at=at, state=state, updated_at=at, detail=detail
    )


def installed_by_boot(update: FirmwareUpdate, booted_version: str | None, version: str) -> bool:
    """A station that rebooted with the update's version after it was installing has installed
    it, even when it never says Installed."""
    return (
        not update.finished
        and update.station_status in INSTALLING_STATUSES
        and booted_version is not None
        and booted_version.strip() == version.strip()
    )


def answer_state(answer_status: str | None) -> tuple[UpdateState, str | None]:
    """The update's state after the station answered UpdateFirmware (1.6 answers nothing)."""
    if answer_status is None or answer_status in ACCEPTED_ANSWERS:
        return UpdateState.REQUESTED, None
    return UpdateState.FAILED, f"the station answered {answer_status}"


def timed_out(update: FirmwareUpdate, now: datetime) -> bool:
    return not update.finished and now >= update.deadline


# -- rollouts ---------------------------------------------------------------------------------


class RolloutStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    HALTED = "halted"  # stopped: too many failures
    CANCELLED = "cancelled"


class MemberState(enum.StrEnum):
    PENDING = "pending"  # in a later wave
    UPDATING = "updating"
    INSTALLED = "installed"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    SKIPPED = "skipped"  # the rollout halted or was cancelled before its wave


FINISHED_MEMBER = frozenset(
    {MemberState.INSTALLED, MemberState.FAILED, MemberState.TIMED_OUT, MemberState.SKIPPED}
)
FAILED_MEMBER = frozenset({MemberState.FAILED, MemberState.TIMED_OUT})

_MEMBER_OF_UPDATE = {
    UpdateState.REQUESTED: MemberState.UPDATING,
    UpdateState.IN_PROGRESS: MemberState.UPDATING,
    UpdateState.INSTALLED: MemberState.INSTALLED,
    UpdateState.FAILED: MemberState.FAILED,
    UpdateState.TIMED_OUT: MemberState.TIMED_OUT,
}


def member_state(update_state: UpdateState) -> MemberState:
    return _MEMBER_OF_UPDATE[update_state]


@dataclass(frozen=True, slots=True)
class RolloutMember:
    station_id: str
    wave: int  # 1, 2, ...
    state: MemberState = MemberState.PENDING
    update_id: int | None = None
    station_status: str | None = None
    detail: str | None = None

    def replace(self, **changes: object) -> RolloutMember:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Rollout:
    id: int
    firmware_id: int
    status: RolloutStatus
    wave_size: int
    max_failure_rate: Decimal  # 0..1: stop when the failures so far are above this share
    wave_timeout: int  # seconds a wave may take; its unfinished stations then count as timed out
    created_at: datetime
    updated_at: datetime
    current_wave: int = 0  # 0: no wave started yet
    wave_started_at: datetime | None = None
    created_by: str = ""
    target: str = ""  # how the stations were chosen, for people
    retries: int | None = None
    retry_interval: int | None = None
    force: bool = False  # stations whose model the file does not fit are updated too
    detail: str | None = None  # why it halted

    def replace(self, **changes: object) -> Rollout:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


class InvalidRollout(ValueError):
    """Rollout parameters that cannot work."""


def check_parameters(wave_size: int, max_failure_rate: Decimal, wave_timeout: int) -> None:
    if wave_size < 1:
        raise InvalidRollout("wave_size must be at least 1")
    if not Decimal(0) <= max_failure_rate <= Decimal(1):
        raise InvalidRollout("max_failure_rate must be between 0 and 1 (e.g. 0.2 for 20 %)")
    if wave_timeout < 1:
        raise InvalidRollout("wave_timeout must be at least 1 second")


def plan_waves(station_ids: Sequence[str], wave_size: int) -> list[RolloutMember]:
    """Stations in the given order, ``wave_size`` to a wave; a station listed twice once."""
    if wave_size < 1:
        raise InvalidRollout("wave_size must be at least 1")
    unique = list(dict.fromkeys(station_ids))
    return [RolloutMember(station_id, index // wave_size + 1) for index, station_id in enumerate(unique)]


class StepKind(enum.StrEnum):
    NOTHING = "nothing"  # the rollout is over
    WAIT = "wait"  # the current wave is still running
    START_WAVE = "start_wave"
    HALT = "halt"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    wave: int = 0  # START_WAVE: the wave to start
    stations: tuple[str, ...] = ()  # START_WAVE: its stations; HALT: the ones to skip
    timed_out: tuple[str, ...] = ()  # stations of the current wave past the wave timeout
    failure_rate: Decimal = Decimal(0)


def failure_rate(members: Iterable[RolloutMember], also_failed: Iterable[str] = ()) -> Decimal:
    """Failed (or timed out) stations among those whose update finished, as a share (0..1)."""
    extra = set(also_failed)
    attempted = failed = 0
    for member in members:
        if member.station_id in extra:
            attempted += 1
            failed += 1
        elif member.state in FAILED_MEMBER:
            attempted += 1
            failed += 1
        elif member.state is MemberState.INSTALLED:
            attempted += 1
    return Decimal(failed) / Decimal(attempted) if attempted else Decimal(0)


def next_step(rollout: Rollout, members: Sequence[RolloutMember], now: datetime) -> Step:
    """What a running rollout does now.

    The next wave starts only when every station of the current one has finished (installed,
    failed, or timed out: unfinished once the wave timeout has passed). After each wave, when
    the share of failures so far is above ``max_failure_rate`` the rollout halts and the
    stations not yet started are skipped; when no station is left it completes.
    """
    if rollout.status is not RolloutStatus.RUNNING:
        return Step(StepKind.NOTHING)
    late: tuple[str, ...] = ()
    if rollout.current_wave > 0:
        unfinished = tuple(
            m.station_id
            for m in members
            if m.wave == rollout.current_wave and m.state not in FINISHED_MEMBER
        )
        if unfinished:
            started = rollout.wave_started_at or rollout.updated_at
            if now < started + timedelta(seconds=rollout.wave_timeout):
                return Step(StepKind.WAIT)
            late = unfinished
    rate = failure_rate(members, late)
    pending = [m for m in members if m.state is MemberState.PENDING and m.station_id not in late]
    if rate > rollout.max_failure_rate:
        return Step(
            StepKind.HALT,
            stations=tuple(m.station_id for m in pending),
            timed_out=late,
            failure_rate=rate,
        )
    if not pending:
        return Step(StepKind.COMPLETE, timed_out=late, failure_rate=rate)
    wave = min(m.wave for m in pending)
    return Step(
        StepKind.START_WAVE,
        wave=wave,
        stations=tuple(m.station_id for m in pending if m.wave == wave),
        timed_out=late,
        failure_rate=rate,
    )


def counts(members: Iterable[RolloutMember]) -> dict[str, int]:
    """Stations per state (every state present, zero included)."""
    found = {state.value: 0 for state in MemberState}
    for member in members:
        found[member.state.value] += 1
    return found
