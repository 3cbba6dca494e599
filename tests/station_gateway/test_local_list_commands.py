"""Version-neutral local list updates -> SendLocalList of each OCPP version, valid against the
official schemas."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from evcms.domain.local_lists import ListEntry, ListUpdate
from evcms.domain.tokens import AuthorizationStatus, TokenType
from evcms.ocpp.schemas import validate
from evcms.ocpp.versions import OcppVersion
from evcms.station_gateway.local_list_commands import v2_send_local_list, v16_send_local_list

AT = datetime(2027, 1, 1, 10, 30, tzinfo=UTC)


def entry(token_id: str, **fields: object) -> ListEntry:
    return ListEntry(token_id, fields.pop("type", TokenType.ISO14443), fields.pop("status", AuthorizationStatus.ACCEPTED), **fields)  # type: ignore[arg-type]


def test_v16_differential_with_info_for_upserts_and_none_for_removals() -> None:
    update = ListUpdate(
        7,
        False,
        upserts=(entry("A", expires_at=AT, group_id="FLEET"), entry("B", status=AuthorizationStatus.BLOCKED)),
        removals=(entry("GONE"), entry("X" * 21)),
    )
    payload = v16_send_local_list(update)
    assert payload == {
        "listVersion": 7,
        "updateType": "Differential",
        "localAuthorizationList": [
            {"idTag": "GONE"},
            {"idTag": "A", "idTagInfo": {"status": "Accepted", "expiryDate": "2027-01-01T10:30:00.000Z", "parentIdTag": "FLEET"}},
            {"idTag": "B", "idTagInfo": {"status": "Blocked"}},
        ],
    }
    validate(OcppVersion.V16, "SendLocalList", "request", payload)


def test_v16_type_change_sends_only_the_new_entry() -> None:
    update = ListUpdate(2, False, (entry("A", type=TokenType.ISO15693),), (entry("A"),))
    assert v16_send_local_list(update)["localAuthorizationList"] == [
        {"idTag": "A", "idTagInfo": {"status": "Accepted"}}
    ]


def test_v201_empty_full_list_leaves_the_list_out() -> None:
    payload = v2_send_local_list(ListUpdate(3, True))
    assert payload == {"versionNumber": 3, "updateType": "Full"}
    validate(OcppVersion.V201, "SendLocalList", "request", payload)


def test_v201_entries_carry_token_types_and_group_tokens() -> None:
    update = ListUpdate(4, False, (entry("A", group_id="G", expires_at=AT),), (entry("OLD", type=TokenType.KEY_CODE),))
    payload = v2_send_local_list(update)
    assert payload["localAuthorizationList"] == [
        {"idToken": {"idToken": "OLD", "type": "KeyCode"}},
        {
            "idToken": {"idToken": "A", "type": "ISO14443"},
            "idTokenInfo": {
                "status": "Accepted",
                "cacheExpiryDateTime": "2027-01-01T10:30:00.000Z",
                "groupIdToken": {"idToken": "G", "type": "Central"},
            },
        },
    ]
    validate(OcppVersion.V201, "SendLocalList", "request", payload)


_token_ids = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=40)
_entries = st.builds(
    ListEntry,
    token_id=_token_ids,
    type=st.sampled_from([t for t in TokenType if t not in (TokenType.CENTRAL, TokenType.NO_AUTHORIZATION)]),
    status=st.sampled_from([AuthorizationStatus.ACCEPTED, AuthorizationStatus.BLOCKED, AuthorizationStatus.EXPIRED, AuthorizationStatus.INVALID]),
    expires_at=st.none() | st.just(AT),
    group_id=st.none() | _token_ids,
)


@settings(max_examples=150)
@given(
    version=st.integers(1, 2**31 - 1),
    full=st.booleans(),
    upserts=st.lists(_entries, max_size=5),
    removals=st.lists(_entries, max_size=5),
)
def test_every_update_is_schema_valid_on_every_version(
    version: int, full: bool, upserts: list[ListEntry], removals: list[ListEntry]
) -> None:
    update = ListUpdate(version, full, tuple(upserts), () if full else tuple(removals))
    validate(OcppVersion.V16, "SendLocalList", "request", v16_send_local_list(update))
    validate(OcppVersion.V201, "SendLocalList", "request", v2_send_local_list(update, "ocpp2.0.1"))
    validate(OcppVersion.V21, "SendLocalList", "request", v2_send_local_list(update, "ocpp2.1"))
