from __future__ import annotations

import string
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcms.domain.ids import InvalidIdentifier, parse_site_id, parse_station_id

ALLOWED = string.ascii_letters + string.digits + "-._~"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("CP-1", "CP-1"), ("CP%2D1", "CP-1"), ("a.b_c~d", "a.b_c~d"), ("X" * 48, "X" * 48)],
)
def test_valid_station_ids(raw, expected):
    assert parse_station_id(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("X" * 49, "49 characters"),
        ("bad id", "may only contain"),
        ("bad%20id", "may only contain"),
        ("CP:1", "may only contain"),
        ("caf%C3%A9", "may only contain"),
        ("%FF", "percent-encoded"),
        ("a/b", "may only contain"),
    ],
)
def test_invalid_station_ids_say_why(raw, reason):
    with pytest.raises(InvalidIdentifier, match=reason):
        parse_station_id(raw)


@given(st.text(alphabet=ALLOWED, min_size=1, max_size=48))
def test_percent_encoding_round_trips(station_id):
    assert parse_station_id(quote(station_id, safe="")) == station_id


@given(st.text(max_size=80))
def test_parse_never_crashes_and_accepts_only_the_allowed_set(raw):
    try:
        parsed = parse_station_id(raw)
    except InvalidIdentifier:
        return
    assert 1 <= len(parsed) <= 48
    assert set(parsed) <= set(ALLOWED)


@pytest.mark.parametrize("raw", ["demo", "site-1", "a_b", "0"])
def test_valid_site_ids(raw):
    assert parse_site_id(raw) == raw


@pytest.mark.parametrize("raw", ["", "Demo", "-x", "a b", "x" * 64])
def test_invalid_site_ids(raw):
    with pytest.raises(InvalidIdentifier):
        parse_site_id(raw)
