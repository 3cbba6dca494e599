"""Identifiers and their validation rules.

A station's identity is the last path segment of its WebSocket URL. OCPP 2.0.1 (part 4, 3.1.1)
limits it to 48 characters and recommends the unreserved set of RFC 3986 (letters, digits and
``-._~``); we hold to that set. It also keeps HTTP Basic auth unambiguous: the user name is the
station id, and a ``:`` in it could not be told from the separator before the password.
Percent-encoding is decoded first, so ``CP%2D1`` is ``CP-1``; anything that decodes to a
character outside the set is refused.
"""

from __future__ import annotations

import re
from typing import NewType
from urllib.parse import unquote

StationId = NewType("StationId", str)
SiteId = NewType("SiteId", str)

STATION_ID_MAX_LENGTH = 48
_STATION_ID = re.compile(r"[A-Za-z0-9\-._~]+")
_SITE_ID = re.compile(r"[a-z0-9][a-z0-9\-_]{0,62}")


class InvalidIdentifier(ValueError):
    """An identifier that does not follow its rules; the message says which rule."""


def parse_station_id(raw: str) -> StationId:
    """Decode and check a station identity taken from a URL path segment."""
    try:
        decoded = unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise InvalidIdentifier("station id is not valid percent-encoded UTF-8") from exc
    if not decoded:
        raise InvalidIdentifier("station id is empty")
    if len(decoded) > STATION_ID_MAX_LENGTH:
        raise InvalidIdentifier(
            f"station id is {len(decoded)} characters long; at most {STATION_ID_MAX_LENGTH} allowed"
        )
    if not _STATION_ID.fullmatch(decoded):
        raise InvalidIdentifier(
            "station id may only contain letters, digits and the characters - . _ ~"
        )
    return StationId(decoded)


def parse_site_id(raw: str) -> SiteId:
    """Site ids are lower-case slugs: letters, digits, '-' and '_', at most 63 characters."""
    if not _SITE_ID.fullmatch(raw):
        raise InvalidIdentifier(
            "site id must be 1-63 lower-case letters, digits, '-' or '_', starting with a"
            " letter or digit"
        )
    return SiteId(raw)
