"""Admission, boot and presence rules of the station life cycle, over in-memory storage."""

from __future__ import annotations

import pytest

from evcms.domain.ids import StationId
from evcms.domain.stations import (
    ConnectionVerdict,
    ConnectorState,
    ConnectorStatus,
    RegistrationStatus,
    Station,
    StationInfo,
)
from evcms.messaging.bus import InProcessBus
from evcms.passwords import station_hasher
from evcms.services.clock import FixedClock
from evcms.services.station_lifecycle import LifecyclePolicy, StationLifecycle
from evcms.storage.memory import MemoryDatabase, MemoryStationRepository

CP = StationId("CP-1")
HASHER = station_hasher()
PASSWORD = "0123456789abcdef"


def make(auto_onboard: str = "off", allow_unsecured: bool = False):
    clock = FixedClock()
    repo = MemoryStationRepository(MemoryDatabase())
    lifecycle = StationLifecycle(
        stations=repo,
        hasher=HASHER,
        events=InProcessBus(),
        clock=clock,
        policy=LifecyclePolicy(auto_onboard, allow_unsecured, 300, 60),
    )
    return lifecycle, repo, clock


@pytest.mark.parametrize(
    ("stored_password", "presented", "auto_onboard", "allow_unsecured", "verdict"),
    [
        (PASSWORD, PASSWORD, "off", False, ConnectionVerdict.ALLOW),
        (PASSWORD, "wrong-password-123", "off", False, ConnectionVerdict.BAD_CREDENTIALS),
        (PASSWORD, None, "off", True, ConnectionVerdict.CREDENTIALS_REQUIRED),
        (None, None, "off", False, ConnectionVerdict.CREDENTIALS_REQUIRED),
        (None, None, "off", True, ConnectionVerdict.ALLOW),
    ],
)
async def test_admit_registered_station(stored_password, presented, auto_onboard, allow_unsecured, verdict):
    lifecycle, repo, clock = make(auto_onboard, allow_unsecured)
    password_hash = HASHER.hash(stored_password) if stored_password else None
    await repo.add(Station(CP, clock.now(), password_hash=password_hash))
    assert (await lifecycle.admit(CP, presented)).verdict is verdict


async def test_unknown_station_refused_unless_onboarding():
    lifecycle, repo, _ = make("off")
    assert (await lifecycle.admit(CP, None)).verdict is ConnectionVerdict.UNKNOWN_STATION
    assert await repo.get(CP) is None


async def test_onboarding_creates_a_pending_station_that_keeps_its_password():
    lifecycle, repo, _ = make("pending")
    admission = await lifecycle.admit(CP, PASSWORD)
    assert admission.verdict is ConnectionVerdict.ALLOW and admission.onboarded
    stored = await repo.get(CP)
    assert stored is not None and stored.registration is RegistrationStatus.PENDING
    assert (await lifecycle.admit(CP, "another-password-xyz")).verdict is (
        ConnectionVerdict.BAD_CREDENTIALS
    )
    assert (await lifecycle.admit(CP, PASSWORD)).verdict is ConnectionVerdict.ALLOW


async def test_only_boot_is_allowed_until_accepted():
    lifecycle, _repo, _clock = make("pending")
    admission = await lifecycle.admit(CP, None)
    await lifecycle.connected(admission.station, "ocpp2.0.1")
    assert lifecycle.may_send(CP, "BootNotification")
    assert not lifecycle.may_send(CP, "Heartbeat")
    decision = await lifecycle.boot(CP, StationInfo("V", "M"), "ocpp2.0.1")
    assert decision.status is RegistrationStatus.PENDING and decision.interval == 60
    lifecycle.registration_changed(CP, RegistrationStatus.ACCEPTED)
    assert lifecycle.may_send(CP, "Heartbeat")


async def test_presence_tracks_connection_and_last_message():
    lifecycle, repo, clock = make("off", True)
    await repo.add(Station(CP, clock.now()))
    station = await repo.get(CP)
    await lifecycle.connected(station, "ocpp1.6")
    connected_at = clock.now()
    clock.advance(42)
    lifecycle.touch(CP, clock.now())
    live = lifecycle.live_presence(CP)
    assert live.connected and live.connected_since == connected_at
    assert live.last_message_at == clock.now()
    assert await lifecycle.flush_presence() == 1
    assert (await repo.presence(CP)).last_message_at == clock.now()
    await lifecycle.disconnected(CP, "test")
    stored = await repo.presence(CP)
    assert not stored.connected and stored.last_message_at == clock.now()


async def test_boot_and_status_are_stored():
    lifecycle, repo, clock = make("off", True)
    await repo.add(Station(CP, clock.now()))
    await lifecycle.boot(CP, StationInfo("ACME", "X", firmware_version="2"), "ocpp1.6")
    stored = await repo.get(CP)
    assert stored.info.vendor == "ACME" and stored.ocpp_version == "ocpp1.6"
    await lifecycle.report_status(ConnectorState(CP, 1, 1, ConnectorStatus.FAULTED, clock.now(), "GroundFailure"))
    (state,) = await repo.connector_states(CP)
    assert state.status is ConnectorStatus.FAULTED and state.error_code == "GroundFailure"


async def test_password_guessing_is_locked_out_for_a_while():
    lifecycle, repo, clock = make()
    await repo.add(Station(CP, clock.now(), password_hash=HASHER.hash(PASSWORD)))
    for _ in range(5):
        assert (await lifecycle.admit(CP, "guess-guess-guess-1")).verdict is (
            ConnectionVerdict.BAD_CREDENTIALS
        )
    # now even the right password waits: no argon2 work for a guesser
    assert (await lifecycle.admit(CP, PASSWORD)).verdict is ConnectionVerdict.TOO_MANY_ATTEMPTS
    clock.advance(61)
    assert (await lifecycle.admit(CP, PASSWORD)).verdict is ConnectionVerdict.ALLOW
    assert (await lifecycle.admit(CP, "guess-guess-guess-1")).verdict is (
        ConnectionVerdict.BAD_CREDENTIALS
    )  # the count started again
