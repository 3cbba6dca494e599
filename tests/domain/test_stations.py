from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evcms.domain.ids import StationId
from evcms.domain.stations import (
    ConnectionVerdict,
    RegistrationStatus,
    Station,
    check_credentials,
    decide_boot,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
WITH_PASSWORD = Station(StationId("CP"), T0, password_hash="$argon2id$...")
WITHOUT_PASSWORD = Station(StationId("CP"), T0)

A, U, B, R = (
    ConnectionVerdict.ALLOW,
    ConnectionVerdict.UNKNOWN_STATION,
    ConnectionVerdict.BAD_CREDENTIALS,
    ConnectionVerdict.CREDENTIALS_REQUIRED,
)


@pytest.mark.parametrize(
    ("station", "password_ok", "allow_unsecured", "verdict"),
    [
        (None, None, False, U),
        (None, True, True, U),
        (WITH_PASSWORD, True, False, A),
        (WITH_PASSWORD, False, False, B),
        (WITH_PASSWORD, None, False, R),
        (WITH_PASSWORD, None, True, R),  # a station with a password must always present it
        (WITHOUT_PASSWORD, None, False, R),
        (WITHOUT_PASSWORD, None, True, A),
        (WITHOUT_PASSWORD, False, True, A),  # nothing to check against: profile 0
    ],
)
def test_check_credentials(station, password_ok, allow_unsecured, verdict):
    assert (
        check_credentials(station, password_ok=password_ok, allow_unsecured=allow_unsecured)
        is verdict
    )


@pytest.mark.parametrize(
    ("registration", "status", "interval"),
    [
        (RegistrationStatus.ACCEPTED, RegistrationStatus.ACCEPTED, 300),
        (RegistrationStatus.PENDING, RegistrationStatus.PENDING, 60),
        (RegistrationStatus.REJECTED, RegistrationStatus.REJECTED, 60),
    ],
)
def test_decide_boot(registration, status, interval):
    station = WITH_PASSWORD.replace(registration=registration)
    decision = decide_boot(station, heartbeat_interval=300, pending_retry_interval=60)
    assert (decision.status, decision.interval) == (status, interval)
