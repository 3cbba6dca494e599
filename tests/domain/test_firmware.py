"""Firmware rules: statuses, fitting models, waves and what a rollout does next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.firmware import (
    FirmwareFile,
    FirmwareUpdate,
    InvalidRollout,
    MemberState,
    Rollout,
    RolloutMember,
    RolloutStatus,
    StepKind,
    UpdateState,
    answer_state,
    check_parameters,
    counts,
    failure_rate,
    fits,
    installed_by_boot,
    next_step,
    normal_models,
    plan_waves,
    report_status,
    state_after,
    timed_out,
)

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
P, U, OK, F, TO, S = (
    MemberState.PENDING,
    MemberState.UPDATING,
    MemberState.INSTALLED,
    MemberState.FAILED,
    MemberState.TIMED_OUT,
    MemberState.SKIPPED,
)


def firmware(*models: str) -> FirmwareFile:
    return FirmwareFile(1, "2.0", "fw.bin", 10, "a" * 64, "b" * 32, T0, models=models)


@pytest.mark.parametrize(
    ("models", "model", "expected"),
    [
        ((), "AC-22", True),
        ((), None, True),
        (("AC-22",), "AC-22", True),
        (("AC-22",), "ac-22 ", True),
        (("AC-22", "DC-50"), "DC-50", True),
        (("AC-22",), "DC-50", False),
        (("AC-22",), None, False),
    ],
)
def test_a_file_fits_the_models_it_names_or_every_model_when_it_names_none(models, model, expected):
    assert fits(firmware(*models), model) is expected


def test_models_are_trimmed_and_deduplicated_ignoring_case():
    assert normal_models([" AC-22", "ac-22", "", "DC-50 "]) == ("AC-22", "DC-50")


@pytest.mark.parametrize(
    ("current", "status", "expected"),
    [
        (UpdateState.REQUESTED, "Downloading", UpdateState.IN_PROGRESS),
        (UpdateState.REQUESTED, "DownloadScheduled", UpdateState.IN_PROGRESS),
        (UpdateState.IN_PROGRESS, "Installing", UpdateState.IN_PROGRESS),
        (UpdateState.IN_PROGRESS, "Installed", UpdateState.INSTALLED),
        (UpdateState.IN_PROGRESS, "DownloadFailed", UpdateState.FAILED),
        (UpdateState.IN_PROGRESS, "InstallationFailed", UpdateState.FAILED),
        (UpdateState.IN_PROGRESS, "InstallVerificationFailed", UpdateState.FAILED),
        (UpdateState.IN_PROGRESS, "InvalidSignature", UpdateState.FAILED),
        (UpdateState.IN_PROGRESS, "Idle", UpdateState.IN_PROGRESS),  # e.g. a triggered report
        (UpdateState.REQUESTED, "Idle", UpdateState.REQUESTED),
        (UpdateState.INSTALLED, "DownloadFailed", UpdateState.INSTALLED),  # final stays final
        (UpdateState.FAILED, "Installed", UpdateState.FAILED),
        (UpdateState.TIMED_OUT, "Installed", UpdateState.TIMED_OUT),
    ],
)
def test_firmware_statuses_of_both_versions_move_an_update(current, status, expected):
    assert state_after(current, status) is expected


def update(state: UpdateState = UpdateState.REQUESTED, status: str | None = None) -> FirmwareUpdate:
    return FirmwareUpdate(
        1, "CP-1", 1, "ocpp1.6", "tok", T0 + timedelta(hours=3), T0, T0 + timedelta(hours=2),
        state, T0, T0, station_status=status,
    )


def test_a_failure_status_says_why_in_the_detail():
    failed = report_status(update(UpdateState.IN_PROGRESS), "DownloadFailed", T0)
    assert failed.state is UpdateState.FAILED
    assert failed.detail == "the station reported DownloadFailed"
    assert failed.station_status == "DownloadFailed"


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        (None, UpdateState.REQUESTED),  # 1.6 answers nothing
        ("Accepted", UpdateState.REQUESTED),
        ("AcceptedCanceled", UpdateState.REQUESTED),
        ("Rejected", UpdateState.FAILED),
        ("InvalidCertificate", UpdateState.FAILED),
        ("RevokedCertificate", UpdateState.FAILED),
    ],
)
def test_the_answer_to_update_firmware(answer, state):
    assert answer_state(answer)[0] is state


def test_an_update_times_out_at_its_deadline_unless_it_finished():
    assert not timed_out(update(), T0 + timedelta(hours=1))
    assert timed_out(update(), T0 + timedelta(hours=2))
    assert not timed_out(update(UpdateState.INSTALLED), T0 + timedelta(hours=5))


@pytest.mark.parametrize(
    ("status", "booted", "expected"),
    [
        ("Installing", "2.0", True),
        ("InstallRebooting", " 2.0 ", True),
        ("Downloaded", "2.0", True),
        ("Downloading", "2.0", False),  # never got to installing
        ("Installing", "1.9", False),  # booted the old version
        ("Installing", None, False),
    ],
)
def test_a_boot_with_the_new_version_after_installing_means_installed(status, booted, expected):
    assert installed_by_boot(update(UpdateState.IN_PROGRESS, status), booted, "2.0") is expected


# -- rollouts ---------------------------------------------------------------------------------


def test_waves_take_stations_in_order_wave_size_at_a_time():
    members = plan_waves(["A", "B", "C", "D", "E", "A"], 2)
    assert [(m.station_id, m.wave) for m in members] == [
        ("A", 1), ("B", 1), ("C", 2), ("D", 2), ("E", 3)
    ]
    assert all(m.state is P for m in members)


@given(st.lists(st.text(min_size=1, max_size=3), max_size=30), st.integers(1, 7))
def test_every_station_is_in_one_wave_and_no_wave_is_larger_than_the_size(stations, size):
    members = plan_waves(stations, size)
    assert [m.station_id for m in members] == list(dict.fromkeys(stations))
    for wave in {m.wave for m in members}:
        assert 1 <= sum(m.wave == wave for m in members) <= size
    assert sorted({m.wave for m in members}) == list(range(1, len({m.wave for m in members}) + 1))


@pytest.mark.parametrize(
    ("size", "rate", "timeout"), [(0, Decimal("0.2"), 60), (1, Decimal("1.1"), 60), (1, Decimal("-0.1"), 60), (1, Decimal(0), 0)]
)
def test_impossible_rollout_parameters_are_refused(size, rate, timeout):
    with pytest.raises(InvalidRollout):
        check_parameters(size, rate, timeout)


def rollout(wave: int = 0, max_rate: str = "0.2", status: RolloutStatus = RolloutStatus.RUNNING) -> Rollout:
    return Rollout(
        1, 1, status, 2, Decimal(max_rate), 600, T0, T0, current_wave=wave,
        wave_started_at=T0 if wave else None,
    )


def members(*spec: tuple[str, int, MemberState]) -> list[RolloutMember]:
    return [RolloutMember(s, w, state) for s, w, state in spec]


NOW = T0 + timedelta(seconds=60)
LATE = T0 + timedelta(seconds=600)


@pytest.mark.parametrize(
    ("wave", "max_rate", "spec", "now", "kind", "stations", "late"),
    [
        # nothing started: the first wave
        (0, "0.2", [("A", 1, P), ("B", 1, P), ("C", 2, P)], NOW, StepKind.START_WAVE, ("A", "B"), ()),
        # a station of the current wave still updating: wait
        (1, "0.2", [("A", 1, OK), ("B", 1, U), ("C", 2, P)], NOW, StepKind.WAIT, (), ()),
        # the wave finished well: the next one
        (1, "0.2", [("A", 1, OK), ("B", 1, OK), ("C", 2, P)], NOW, StepKind.START_WAVE, ("C",), ()),
        # one of two failed: 50 % > 20 %: halt, skip the rest
        (1, "0.2", [("A", 1, OK), ("B", 1, F), ("C", 2, P)], NOW, StepKind.HALT, ("C",), ()),
        # 50 % is not above 50 %: go on
        (1, "0.5", [("A", 1, OK), ("B", 1, F), ("C", 2, P)], NOW, StepKind.START_WAVE, ("C",), ()),
        # the wave timeout passed: the late station counts as timed out (a failure)
        (1, "0.5", [("A", 1, OK), ("B", 1, U), ("C", 2, P)], LATE, StepKind.START_WAVE, ("C",), ("B",)),
        (1, "0.2", [("A", 1, OK), ("B", 1, U), ("C", 2, P)], LATE, StepKind.HALT, ("C",), ("B",)),
        # the last wave done: complete (failures within the limit)
        (2, "0.5", [("A", 1, OK), ("B", 1, OK), ("C", 2, F)], NOW, StepKind.COMPLETE, (), ()),
        # the last wave over the limit: halted, nothing left to skip
        (2, "0.2", [("A", 1, OK), ("B", 1, OK), ("C", 2, F)], NOW, StepKind.HALT, (), ()),
        # the failure rate counts every finished station so far, not just this wave
        (2, "0.3", [("A", 1, F), ("B", 1, OK), ("C", 2, OK), ("D", 2, OK), ("E", 3, P)], NOW, StepKind.START_WAVE, ("E",), ()),
        (2, "0.3", [("A", 1, F), ("B", 1, F), ("C", 2, OK), ("D", 2, OK), ("E", 3, P)], NOW, StepKind.HALT, ("E",), ()),
    ],
)
def test_what_a_rollout_does_next(wave, max_rate, spec, now, kind, stations, late):
    step = next_step(rollout(wave, max_rate), members(*spec), now)
    assert step.kind is kind
    assert step.stations == stations
    assert step.timed_out == late


@pytest.mark.parametrize("status", [RolloutStatus.COMPLETED, RolloutStatus.HALTED, RolloutStatus.CANCELLED])
def test_a_rollout_that_is_over_does_nothing(status):
    assert next_step(rollout(1, status=status), members(("A", 1, P)), NOW).kind is StepKind.NOTHING


def test_the_failure_rate_ignores_skipped_and_unfinished_stations():
    assert failure_rate(members(("A", 1, OK), ("B", 1, F), ("C", 2, S), ("D", 2, U))) == Decimal("0.5")
    assert failure_rate(members(("A", 1, TO), ("B", 1, OK), ("C", 1, OK), ("D", 1, OK))) == Decimal("0.25")
    assert failure_rate([]) == 0


def test_counts_name_every_state():
    found = counts(members(("A", 1, OK), ("B", 1, OK), ("C", 2, P)))
    assert found == {"pending": 1, "updating": 0, "installed": 2, "failed": 0, "timed_out": 0, "skipped": 0}


@given(
    st.lists(st.sampled_from([OK, F, TO]), min_size=1, max_size=12),
    st.integers(1, 4),
    st.decimals(min_value=0, max_value=1, places=2),
)
def test_a_rollout_driven_to_the_end_never_leaves_a_station_pending(outcomes, size, max_rate):
    """Simulate: every started station ends with its outcome; the rollout halts or completes,
    and then every station is finished (skipped when the rollout halted before its wave)."""
    ms = plan_waves([f"S{n}" for n in range(len(outcomes))], size)
    outcome = {f"S{n}": o for n, o in enumerate(outcomes)}
    r = Rollout(1, 1, RolloutStatus.RUNNING, size, max_rate, 60, T0, T0)
    for _ in range(100):
        step = next_step(r, ms, NOW)
        if step.kind is StepKind.START_WAVE:
            started = set(step.stations)
            ms = [m.replace(state=outcome[m.station_id]) if m.station_id in started else m for m in ms]
            r = r.replace(current_wave=step.wave, wave_started_at=NOW)
        elif step.kind is StepKind.HALT:
            skipped = set(step.stations)
            ms = [m.replace(state=S) if m.station_id in skipped else m for m in ms]
            assert failure_rate(ms) > max_rate
            break
        else:
            assert step.kind is StepKind.COMPLETE
            assert failure_rate(ms) <= max_rate
            break
    assert all(m.state is not P for m in ms)
