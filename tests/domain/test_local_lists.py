"""Local authorisation lists: which tokens belong on them, and full / differential updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcms.domain.local_lists import (
    ListEntry,
    ListUpdate,
    apply,
    entries_for,
    plan_update,
    split,
)
from evcms.domain.tokens import AuthorizationStatus, IdToken, TokenStatus, TokenType

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def token(token_id: str, **fields: object) -> IdToken:
    return IdToken(id=token_id, type=TokenType.ISO14443, created_at=NOW, **fields)  # type: ignore[arg-type]


def entry(token_id: str, status: AuthorizationStatus = AuthorizationStatus.ACCEPTED, **fields: object) -> ListEntry:
    return ListEntry(token_id, fields.pop("type", TokenType.ISO14443), status, **fields)  # type: ignore[arg-type]


# -- which tokens go on a list ------------------------------------------------------------------


def test_accepted_tokens_go_on_the_list_with_expiry_and_group() -> None:
    later = NOW + timedelta(days=10)
    wanted, too_long = entries_for(
        [token("A", expires_at=later, group_id="FLEET"), token("B")], now=NOW, previous={}
    )
    assert wanted == {
        "A": entry("A", expires_at=later, group_id="FLEET"),
        "B": entry("B"),
    }
    assert too_long == []


def test_bad_tokens_are_not_added_but_stay_with_their_new_status_once_on_the_list() -> None:
    tokens = [
        token("BLOCKED", status=TokenStatus.BLOCKED),
        token("GONE-BY-DATE", expires_at=NOW - timedelta(days=1)),
        token("INVALID", status=TokenStatus.INVALID),
    ]
    fresh, _ = entries_for(tokens, now=NOW, previous={})
    assert fresh == {}
    previous = {t.id: entry(t.id) for t in tokens}
    known, _ = entries_for(tokens, now=NOW, previous=previous)
    assert {k: e.status for k, e in known.items()} == {
        "BLOCKED": AuthorizationStatus.BLOCKED,
        "GONE-BY-DATE": AuthorizationStatus.EXPIRED,
        "INVALID": AuthorizationStatus.INVALID,
    }


def test_tokens_expired_long_ago_leave_the_list_after_the_grace_period() -> None:
    old = token("OLD", expires_at=NOW - timedelta(days=31))
    blocked_old = token("BLOCKED-OLD", status=TokenStatus.BLOCKED, expires_at=NOW - timedelta(days=90))
    previous = {"OLD": entry("OLD"), "BLOCKED-OLD": entry("BLOCKED-OLD")}
    wanted, _ = entries_for([old, blocked_old], now=NOW, previous=previous, expired_grace=timedelta(days=30))
    assert set(wanted) == {"BLOCKED-OLD"}  # a block is kept: the card must not work offline


def test_app_tokens_never_go_on_lists_and_long_tokens_are_reported() -> None:
    tokens = [
        IdToken("APP-1", TokenType.CENTRAL, NOW),
        IdToken("FREE", TokenType.NO_AUTHORIZATION, NOW),
        token("X" * 21),
        token("X" * 20),
    ]
    wanted, too_long = entries_for(tokens, now=NOW, previous={}, max_token_length=20)
    assert list(wanted) == ["X" * 20]
    assert too_long == ["X" * 21]


# -- planning updates ---------------------------------------------------------------------------


def test_a_station_without_an_acknowledged_version_gets_a_full_list() -> None:
    wanted = {"A": entry("A"), "B": entry("B")}
    update = plan_update(wanted, {"A": entry("A")}, last_version=7, acknowledged=False)
    assert update == ListUpdate(8, True, (entry("A"), entry("B")))


def test_a_small_change_is_differential_and_nothing_changed_sends_nothing() -> None:
    held = {k: entry(k) for k in "ABCDE"}
    wanted = dict(held)
    assert plan_update(wanted, held, last_version=3, acknowledged=True) is None
    wanted["B"] = entry("B", AuthorizationStatus.BLOCKED)
    del wanted["E"]
    wanted["F"] = entry("F")
    update = plan_update(wanted, held, last_version=3, acknowledged=True)
    assert update == ListUpdate(
        4, False, (entry("B", AuthorizationStatus.BLOCKED), entry("F")), (entry("E"),)
    )


def test_a_differential_as_big_as_the_list_becomes_full() -> None:
    held = {k: entry(k) for k in "ABCD"}
    wanted = {"X": entry("X")}
    update = plan_update(wanted, held, last_version=1, acknowledged=True)
    assert update == ListUpdate(2, True, (entry("X"),))


def test_a_type_change_removes_the_old_token_and_adds_the_new_one() -> None:
    held = {k: entry(k) for k in "ABC"}
    wanted = {**held, "A": entry("A", type=TokenType.ISO15693)}
    update = plan_update(wanted, held, last_version=1, acknowledged=True)
    assert update is not None and not update.full
    assert update.removals == (entry("A"),)
    assert update.upserts == (entry("A", type=TokenType.ISO15693),)
    assert apply(update, held) == wanted


def test_split_gives_consecutive_versions_full_first() -> None:
    update = ListUpdate(5, True, tuple(entry(f"T{n:03d}") for n in range(7)))
    messages = split(update, 3)
    assert [(m.version, m.full, len(m.upserts)) for m in messages] == [
        (5, True, 3),
        (6, False, 3),
        (7, False, 1),
    ]
    assert split(ListUpdate(1, True), 250) == [ListUpdate(1, True)]
    with pytest.raises(ValueError):
        split(update, 0)


# -- properties ---------------------------------------------------------------------------------

_ids = st.sampled_from([f"T{n}" for n in range(12)])
_entries = st.builds(
    ListEntry,
    token_id=st.just(""),
    type=st.sampled_from([TokenType.ISO14443, TokenType.ISO15693, TokenType.KEY_CODE]),
    status=st.sampled_from(
        [AuthorizationStatus.ACCEPTED, AuthorizationStatus.BLOCKED, AuthorizationStatus.EXPIRED]
    ),
    expires_at=st.none() | st.just(NOW),
    group_id=st.none() | st.just("G"),
)
_lists = st.dictionaries(_ids, _entries).map(
    lambda d: {k: ListEntry(k, e.type, e.status, e.expires_at, e.group_id) for k, e in d.items()}
)


@settings(max_examples=300)
@given(
    held=_lists,
    wanted=_lists,
    last_version=st.integers(0, 1000),
    acknowledged=st.booleans(),
    chunk=st.integers(1, 5),
)
def test_applying_the_update_gives_exactly_the_wanted_list(
    held: dict[str, ListEntry],
    wanted: dict[str, ListEntry],
    last_version: int,
    acknowledged: bool,
    chunk: int,
) -> None:
    update = plan_update(wanted, held, last_version=last_version, acknowledged=acknowledged)
    if update is None:
        assert acknowledged and held == wanted
        return
    assert update.version == last_version + 1
    assert apply(update, held) == wanted
    if not update.full:
        assert update.size < len(wanted)
    # The same holds message by message, with versions that only grow.
    station = dict(held)
    versions = []
    for message in split(update, chunk):
        assert message.size <= chunk
        station = apply(message, station)
        versions.append(message.version)
    assert station == wanted
    assert versions == list(range(update.version, update.version + len(versions)))
