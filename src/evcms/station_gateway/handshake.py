"""The opening handshake's rules, as pure functions: path -> station id, Basic auth, subprotocol.

Stations connect to ``/ocpp/{station_id}`` or, for chargers that cannot add a path, ``/{station_id}``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable

from evcms.domain.ids import InvalidIdentifier, StationId, parse_station_id

SUBPROTOCOLS: tuple[str, ...] = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")  # our preference order


class HandshakeRefused(Exception):
    """Refuse the WebSocket upgrade with this HTTP status and a message that says why."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def station_id_from_path(path: str) -> StationId:
    """``/ocpp/CP-1`` or ``/CP-1`` (query string ignored) -> ``CP-1``."""
    path = path.split("?", 1)[0]
    segments = path.split("/")
    if len(segments) == 3 and segments[0] == "" and segments[1] == "ocpp":
        raw = segments[2]
    elif len(segments) == 2 and segments[0] == "":
        raw = segments[1]
    else:
        raise HandshakeRefused(
            404, "connect to /ocpp/{station_id} (or /{station_id}) with the station's identity"
        )
    try:
        return parse_station_id(raw)
    except InvalidIdentifier as exc:
        raise HandshakeRefused(400, f"invalid station id: {exc}") from exc


def choose_subprotocol(offered: Iterable[str]) -> str:
    offered_set = {p.strip() for header in offered for p in header.split(",") if p.strip()}
    for protocol in SUBPROTOCOLS:
        if protocol in offered_set:
            return protocol
    detail = ", ".join(sorted(offered_set)) if offered_set else "none"
    raise HandshakeRefused(
        400,
        "no supported OCPP version offered (Sec-WebSocket-Protocol: "
        f"{detail}); evcms speaks {', '.join(SUBPROTOCOLS)}",
    )


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """Parse ``Authorization: Basic ...``; None when absent, refused when malformed."""
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise HandshakeRefused(401, "use HTTP Basic authentication", _challenge())
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise HandshakeRefused(401, "malformed Basic credentials", _challenge()) from exc
    user, sep, password = decoded.partition(":")
    if not sep:
        raise HandshakeRefused(401, "malformed Basic credentials", _challenge())
    return user, password


def password_for(station_id: StationId, header: str | None) -> str | None:
    """The password a station presented, checking that the user name is its identity."""
    credentials = basic_credentials(header)
    if credentials is None:
        return None
    user, password = credentials
    if user != station_id:
        raise HandshakeRefused(
            401, "the Basic auth user name must be the station id", _challenge()
        )
    return password


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Basic realm="evcms", charset="UTF-8"'}


def challenge_headers() -> dict[str, str]:
    return _challenge()
