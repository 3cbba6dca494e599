"""Version-neutral local list commands -> the OCPP calls of the station's version.

Implements ``services.local_lists.StationListCommands`` over the gateway's raw calls:

- 1.6: SendLocalList{listVersion, updateType, localAuthorizationList[{idTag, idTagInfo?}]}
  (idTag at most 20 characters), GetLocalListVersion -> listVersion, ClearCache;
- 2.0.1 / 2.1: SendLocalList{versionNumber, updateType, localAuthorizationList[{idToken{idToken,
  type}, idTokenInfo?}]} (idToken at most 36 / 255 characters; the list is left out when empty,
  the schema wants at least one entry), GetLocalListVersion -> versionNumber, ClearCache.

Entries without info remove a token from the station's list. Tokens too long for the version are
never sent (the service leaves them off and reports them; here they are dropped as a safeguard).
"""

from __future__ import annotations

from typing import Any

from evcms.domain.ids import StationId
from evcms.domain.local_lists import ListEntry, ListUpdate
from evcms.domain.tokens import status_for_v16
from evcms.services.local_lists import ListLimits, ListVersionReply
from evcms.services.ports import CommandOutcome, CommandReply, StationCommands
from evcms.station_gateway.timestamps import format_time

V16 = "ocpp1.6"
TOKEN_MAX_LENGTH = {"ocpp1.6": 20, "ocpp2.0.1": 36, "ocpp2.1": 255}
DEFAULT_ENTRIES_PER_MESSAGE = 250


def _update_type(update: ListUpdate) -> str:
    return "Full" if update.full else "Differential"


def _v16_entry(entry: ListEntry, *, with_info: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"idTag": entry.token_id}
    if with_info:
        info: dict[str, Any] = {"status": status_for_v16(entry.status)}
        if entry.expires_at is not None:
            info["expiryDate"] = format_time(entry.expires_at)
        if entry.group_id is not None and len(entry.group_id) <= TOKEN_MAX_LENGTH[V16]:
            info["parentIdTag"] = entry.group_id
        item["idTagInfo"] = info
    return item


def v16_send_local_list(update: ListUpdate) -> dict[str, Any]:
    limit = TOKEN_MAX_LENGTH[V16]
    added = {e.token_id for e in update.upserts}
    items = [
        _v16_entry(e, with_info=False)
        for e in update.removals
        if len(e.token_id) <= limit and e.token_id not in added  # 1.6 has no token types
    ]
    items += [_v16_entry(e, with_info=True) for e in update.upserts if len(e.token_id) <= limit]
    return {
        "listVersion": update.version,
        "updateType": _update_type(update),
        "localAuthorizationList": items,
    }


def _v2_entry(entry: ListEntry, *, with_info: bool, limit: int) -> dict[str, Any]:
    item: dict[str, Any] = {"idToken": {"idToken": entry.token_id, "type": entry.type.value}}
    if with_info:
        info: dict[str, Any] = {"status": entry.status.value}
        if entry.expires_at is not None:
            info["cacheExpiryDateTime"] = format_time(entry.expires_at)
        if entry.group_id is not None and len(entry.group_id) <= limit:
            info["groupIdToken"] = {"idToken": entry.group_id, "type": "Central"}
        item["idTokenInfo"] = info
    return item


def v2_send_local_list(update: ListUpdate, version: str = "ocpp2.0.1") -> dict[str, Any]:
    limit = TOKEN_MAX_LENGTH[version]
    items = [
        _v2_entry(e, with_info=False, limit=limit)
        for e in update.removals
        if len(e.token_id) <= limit
    ]
    items += [
        _v2_entry(e, with_info=True, limit=limit)
        for e in update.upserts
        if len(e.token_id) <= limit
    ]
    payload: dict[str, Any] = {"versionNumber": update.version, "updateType": _update_type(update)}
    if items:
        payload["localAuthorizationList"] = items
    return payload


class LocalListCommands:
    def __init__(
        self, commands: StationCommands, *, entries_per_message: int = DEFAULT_ENTRIES_PER_MESSAGE
    ) -> None:
        if entries_per_message < 1:
            raise ValueError("entries_per_message must be at least 1")
        self._commands = commands
        self._entries_per_message = entries_per_message

    def limits(self, station_id: StationId) -> ListLimits | None:
        version = self._commands.version_of(station_id)
        if version is None:
            return None
        return ListLimits(
            max_token_length=TOKEN_MAX_LENGTH.get(version, TOKEN_MAX_LENGTH[V16]),
            entries_per_message=self._entries_per_message,
        )

    async def send_local_list(self, station_id: StationId, update: ListUpdate) -> CommandReply:
        version = self._commands.version_of(station_id)
        if version is None:
            return CommandReply(CommandOutcome.DISCONNECTED)
        if version == V16:
            payload = v16_send_local_list(update)
        else:
            payload = v2_send_local_list(update, version)
        return await self._commands.call(station_id, "SendLocalList", payload)

    async def local_list_version(self, station_id: StationId) -> ListVersionReply:
        version = self._commands.version_of(station_id)
        if version is None:
            return ListVersionReply(CommandReply(CommandOutcome.DISCONNECTED), None)
        reply = await self._commands.call(station_id, "GetLocalListVersion", {})
        if reply.outcome is not CommandOutcome.RESULT or reply.payload is None:
            return ListVersionReply(reply, None)
        field = "listVersion" if version == V16 else "versionNumber"
        found = reply.payload.get(field)
        return ListVersionReply(reply, found if isinstance(found, int) else None)

    async def clear_cache(self, station_id: StationId) -> CommandReply:
        if self._commands.version_of(station_id) is None:
            return CommandReply(CommandOutcome.DISCONNECTED)
        return await self._commands.call(station_id, "ClearCache", {})
