"""Reservations (pure): who may use one, expiry, the station's answers, and when they hold a start."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.ids import StationId
from evcms.domain.reservations import (
    InvalidReservation,
    Reservation,
    ReservationStatus,
    answer_status,
    check_evse_id,
    check_expiry,
    holds_start,
    update_status,
)
from evcms.domain.tokens import AuthorizationStatus, status_for_v16

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def reservation(
    evse_id: int = 1,
    token: str = "CARD-A",
    group: str | None = None,
    status: ReservationStatus = ReservationStatus.ACCEPTED,
    minutes: float = 15,
    rid: int = 1,
) -> Reservation:
    return Reservation(
        id=rid,
        station_id=StationId("CP-1"),
        evse_id=evse_id,
        id_token=token,
        status=status,
        expires_at=T0 + timedelta(minutes=minutes),
        created_at=T0,
        updated_at=T0,
        group_id=group,
    )


def test_the_reserving_token_and_its_group_may_use_it() -> None:
    r = reservation(token="CARD-A", group="FLEET")
    assert r.admits("CARD-A", None)
    assert r.admits("CARD-B", "FLEET")  # another card of the group
    assert r.admits("FLEET", None)  # the group token itself
    assert not r.admits("CARD-B", None)
    assert not r.admits("CARD-B", "OTHER")
    assert not reservation(group=None).admits("CARD-B", None)


def test_an_accepted_reservation_is_active_until_it_expires() -> None:
    r = reservation(minutes=15)
    assert r.is_active(T0 + timedelta(minutes=14, seconds=59))
    assert not r.is_active(T0 + timedelta(minutes=15))
    assert r.as_of(T0).status is ReservationStatus.ACCEPTED
    late = T0 + timedelta(minutes=16)
    expired = r.as_of(late)
    assert expired.status is ReservationStatus.EXPIRED and expired.updated_at == late
    # only an Accepted reservation expires; the others stay what they are
    used = replace(r, status=ReservationStatus.USED)
    assert used.as_of(late) is used
    assert not replace(r, status=ReservationStatus.PENDING).is_active(T0)


def test_evse_zero_covers_every_evse() -> None:
    assert reservation(evse_id=0).covers(3)
    assert reservation(evse_id=2).covers(2)
    assert not reservation(evse_id=2).covers(1)


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ("Accepted", ReservationStatus.ACCEPTED),
        ("Faulted", ReservationStatus.FAULTED),
        ("Occupied", ReservationStatus.OCCUPIED),
        ("Rejected", ReservationStatus.REJECTED),
        ("Unavailable", ReservationStatus.UNAVAILABLE),
        ("Used", ReservationStatus.FAILED),  # not an answer a station gives
        ("Nonsense", ReservationStatus.FAILED),
    ],
)
def test_the_stations_answer_becomes_the_status(answer: str, status: ReservationStatus) -> None:
    assert answer_status(answer) is status


def test_status_updates_of_the_station() -> None:
    assert update_status("Expired") is ReservationStatus.EXPIRED
    assert update_status("Removed") is ReservationStatus.REMOVED
    assert update_status("NoTransaction") is ReservationStatus.EXPIRED  # 2.1


def test_expiry_must_be_aware_future_and_not_too_far() -> None:
    longest = timedelta(hours=2)
    assert check_expiry(T0 + timedelta(hours=2), now=T0, longest=longest) == T0 + timedelta(hours=2)
    with pytest.raises(InvalidReservation, match="time zone"):
        check_expiry(datetime(2026, 5, 1, 10, 0), now=T0, longest=longest)
    with pytest.raises(InvalidReservation, match="future"):
        check_expiry(T0, now=T0, longest=longest)
    with pytest.raises(InvalidReservation, match="at most 120 minutes"):
        check_expiry(T0 + timedelta(hours=2, seconds=1), now=T0, longest=longest)
    with pytest.raises(InvalidReservation):
        check_evse_id(-1)
    assert check_evse_id(0) == 0


def test_a_reserved_evse_holds_other_tokens_only() -> None:
    held = [reservation(evse_id=1, token="CARD-A", group="FLEET")]
    kwargs = {"now": T0, "free_evses": frozenset({1, 2})}
    assert holds_start(held, evse_id=1, token_id="CARD-B", group_id=None, **kwargs)
    assert not holds_start(held, evse_id=1, token_id="CARD-A", group_id=None, **kwargs)
    assert not holds_start(held, evse_id=1, token_id="CARD-C", group_id="FLEET", **kwargs)
    assert not holds_start(held, evse_id=2, token_id="CARD-B", group_id=None, **kwargs)
    # expired, or never accepted: holds nothing
    later = {"now": T0 + timedelta(minutes=20), "free_evses": frozenset({1, 2})}
    assert not holds_start(held, evse_id=1, token_id="CARD-B", group_id=None, **later)
    rejected = [reservation(status=ReservationStatus.REJECTED)]
    assert not holds_start(rejected, evse_id=1, token_id="CARD-B", group_id=None, **kwargs)


def test_any_evse_reservations_keep_enough_evses_free() -> None:
    anywhere = [reservation(evse_id=0, token="CARD-A")]
    # two EVSEs free: another driver may take one, one stays for CARD-A
    assert not holds_start(
        anywhere, evse_id=1, token_id="CARD-B", group_id=None, now=T0, free_evses=frozenset({1, 2})
    )
    # only the EVSE being started on is free: it must stay for CARD-A
    assert holds_start(
        anywhere, evse_id=1, token_id="CARD-B", group_id=None, now=T0, free_evses=frozenset({1})
    )
    # an EVSE reserved by its id is not free for the "any EVSE" reservation
    both = [*anywhere, reservation(evse_id=2, token="CARD-C", rid=2)]
    assert holds_start(
        both, evse_id=1, token_id="CARD-B", group_id=None, now=T0, free_evses=frozenset({1, 2})
    )
    # the station's EVSEs unknown: held, to be safe
    assert holds_start(anywhere, evse_id=1, token_id="CARD-B", group_id=None, now=T0, free_evses=None)
    assert not holds_start(anywhere, evse_id=1, token_id="CARD-A", group_id=None, now=T0, free_evses=None)


@given(
    token=st.sampled_from(["A", "B", "C"]),
    group=st.sampled_from([None, "G", "H"]),
    evse=st.integers(0, 3),
    reserved_evse=st.integers(0, 3),
)
def test_the_reserving_token_is_never_held(
    token: str, group: str | None, evse: int, reserved_evse: int
) -> None:
    held = [reservation(evse_id=reserved_evse, token=token, group="G")]
    assert not holds_start(held, evse_id=evse, token_id=token, group_id=group, now=T0, free_evses=None)


def test_not_at_this_time_is_invalid_in_16() -> None:
    assert status_for_v16(AuthorizationStatus.NOT_AT_THIS_TIME) == "Invalid"
    assert status_for_v16(AuthorizationStatus.UNKNOWN) == "Invalid"
    assert status_for_v16(AuthorizationStatus.BLOCKED) == "Blocked"
