"""OCPP protocol versions and their WebSocket subprotocol names.

The value of each :class:`OcppVersion` member is the subprotocol token a station offers in
``Sec-WebSocket-Protocol``; :data:`SUPPORTED_SUBPROTOCOLS` is the server's preference order
(newest first).
"""

from __future__ import annotations

import enum

__all__ = ["SUPPORTED_SUBPROTOCOLS", "OcppVersion"]


class OcppVersion(enum.StrEnum):
    """An OCPP-J version; the value is the WebSocket subprotocol name."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"

    @classmethod
    def from_subprotocol(cls, subprotocol: str) -> OcppVersion:
        """The version for a subprotocol token; raises ``ValueError`` for an unknown one."""
        return cls(subprotocol)


#: Subprotocols the CSMS accepts, in order of preference (newest first).
SUPPORTED_SUBPROTOCOLS: tuple[str, ...] = (
    OcppVersion.V21.value,
    OcppVersion.V201.value,
    OcppVersion.V16.value,
)
