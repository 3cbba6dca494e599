"""Operator-initiated OCPP operations, and their audit trail.

Three ways in, one way out:
- a version-neutral operation (reset, change availability, ...: ``domain.operations``),
  translated to the station's version by an :class:`OperationTranslator` (the gateway's
  ``operation_commands.py``);
- an operation in the version's own form (1.6 GetConfiguration, 2.0.1 GetVariables, ...), the
  OCPP payload as given; an operation of another version than the station's is refused;
- any CSMS-initiated action with a raw payload (the pass-through).

Every one is recorded before it is sent (so an operation the station never answers shows as
pending), then completed with the station's answer, the CALLERROR, the timeout or "not
connected", and ``OperationFinished`` is published. Answers that tell the station's
configuration (GetConfiguration, GetVariables, ...) are stored through ``StationConfiguration``.
Bulk operations run one neutral operation on many stations in the background, a bounded number
at once.

Calls other services send (remote start and stop, reservations, local lists, accepting a
station, diagnostics and firmware) go through :class:`AuditedCommands`, which records those made
for someone the same way: who asked is the caller of the API request being served
(``REQUESTER``, set by the web layer). What evcms sends by itself (local list syncs after a boot,
reboot checks, rollout waves) is in the station's raw message log only: recording a thousand
automatic syncs after a boot storm twice more would slow the station path for nothing.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from evcms.domain.events import OperationFinished
from evcms.domain.ids import SiteId, StationId
from evcms.domain.operations import (
    BulkOperation,
    BulkProgress,
    BulkTarget,
    InvalidOperation,
    NeutralOperation,
    NewOperation,
    OperationFilter,
    OperationOutcome,
    OperationRecord,
    OperationResult,
    bulk_progress,
    check_operation,
)
from evcms.services.ports import (
    Clock,
    CommandOutcome,
    CommandReply,
    EventBus,
    NotFound,
    ServiceError,
    StationCommands,
    StationRepository,
)
from evcms.services.station_config import ConfigHarvest, StationConfiguration

log = logging.getLogger(__name__)

V16 = "ocpp1.6"
V2 = frozenset({"ocpp2.0.1", "ocpp2.1"})

#: Operations in a version's own form, and the versions that have them.
VERSION_OPERATIONS: dict[str, frozenset[str]] = {
    "GetConfiguration": frozenset({V16}),
    "ChangeConfiguration": frozenset({V16}),
    "GetVariables": V2,
    "SetVariables": V2,
    "GetBaseReport": V2,
    "GetReport": V2,
    "SetVariableMonitoring": V2,
    "ClearVariableMonitoring": V2,
    "SetMonitoringBase": V2,
    "SetMonitoringLevel": V2,
    "GetMonitoringReport": V2,
    "SetNetworkProfile": V2,
    "GetTransactionStatus": V2,
}
#: Of those, the ones whose answer comes in later messages keyed by a requestId evcms chooses.
WITH_REQUEST_ID = frozenset({"GetBaseReport", "GetReport", "GetMonitoringReport"})

DEFAULT_BULK_CONCURRENCY = 10


def speaks(version: str) -> str:
    return "OCPP " + version.removeprefix("ocpp")


class NotForThisVersion(Exception):
    """The station's OCPP version has no equivalent of the operation (message says why)."""


@dataclass(frozen=True, slots=True)
class OcppRequest:
    action: str
    payload: dict[str, Any]


class OperationTranslator(Protocol):
    """Neutral operations to and from each OCPP version (``station_gateway``)."""

    def to_ocpp(self, version: str, operation: NeutralOperation) -> OcppRequest:
        """The call for a station of ``version``; raises :class:`NotForThisVersion`."""
        ...

    def status_of(self, action: str, response: dict[str, Any] | None) -> str | None:
        """The answer's status, normalised (Accepted, Rejected, ...)."""
        ...

    def configuration_of(
        self,
        version: str,
        action: str,
        request: dict[str, Any],
        response: dict[str, Any],
        at: datetime,
    ) -> ConfigHarvest:
        """What an answer (received ``at``) tells about the station's configuration (empty: nothing)."""
        ...


class OperationRepository(Protocol):
    """The audit trail. Writes return after the change is committed."""

    async def start(self, operation: NewOperation) -> OperationRecord: ...  # pending, with an id

    async def finish(self, operation_id: int, result: OperationResult) -> OperationRecord: ...

    async def interrupt(self, result: OperationResult) -> int: ...  # every pending one; bulks too

    async def get(self, operation_id: int) -> OperationRecord | None: ...

    async def list(
        self, filter: OperationFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[OperationRecord]: ...  # newest (highest id) first

    async def add_bulk(self, bulk: BulkOperation) -> BulkOperation: ...  # id assigned (bulk.id 0)

    async def finish_bulk(self, bulk_id: int, at: datetime) -> None: ...

    async def get_bulk(self, bulk_id: int) -> BulkOperation | None: ...

    async def list_bulk(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[BulkOperation]: ...  # newest first


@dataclass(frozen=True, slots=True)
class Sent:
    """An operation's record and the station's raw reply."""

    record: OperationRecord
    reply: CommandReply


# Who the current request acts for (an API key's or user's name, "driver:<e-mail>"); the web layer
# sets it per request. Work evcms starts by itself runs without one.
REQUESTER: ContextVar[str | None] = ContextVar("evcms_requester", default=None)


class RemoteOperations:
    def __init__(
        self,
        *,
        commands: StationCommands,
        operations: OperationRepository | None = None,
        translator: OperationTranslator | None = None,
        events: EventBus | None = None,
        clock: Clock | None = None,
        configuration: StationConfiguration | None = None,
        stations: StationRepository | None = None,
        bulk_concurrency: int = DEFAULT_BULK_CONCURRENCY,
    ) -> None:
        """Without ``operations`` (a repository) nothing is recorded: only ``send_raw`` works
        then, as a plain pass-through."""
        self._commands = commands
        self._operations = operations
        self._translator = translator
        self._events = events
        self._clock = clock
        self._configuration = configuration
        self._stations = stations
        self._bulk_concurrency = max(1, bulk_concurrency)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._request_ids = 0

    async def interrupted_at_start(self) -> int:
        """At start-up: operations still pending (and bulks still running) were sent by a node
        that stopped before the answers came; they end as "disconnected", saying so."""
        if self._operations is None:
            return 0
        count = await self._operations.interrupt(
            OperationResult(
                outcome=OperationOutcome.DISCONNECTED,
                finished_at=self._now(),
                error_description="evcms stopped before the station answered",
            )
        )
        if count:
            log.warning("%d operations were still pending from before the restart", count)
        return count

    # -- sending -------------------------------------------------------------------------------

    async def send_raw(
        self,
        station_id: StationId,
        action: str,
        payload: dict[str, Any],
        *,
        requested_by: str,
        timeout: float | None = None,
    ) -> CommandReply:
        """Any CSMS-initiated action with the payload as given (recorded like the others)."""
        if self._operations is None:
            reply = await self._commands.call(station_id, action, payload, timeout)
            log.info("operation %s to %s by %s: %s", action, station_id, requested_by, reply.outcome)
            return reply
        sent = await self._send(
            station_id,
            action,
            payload,
            requested_by=requested_by,
            version=self._commands.version_of(station_id),
            timeout=timeout,
        )
        return sent.reply

    async def send(
        self,
        station_id: StationId,
        operation: NeutralOperation,
        *,
        requested_by: str,
        timeout: float | None = None,
        bulk_id: int | None = None,
    ) -> Sent:
        """A version-neutral operation. Refuses (422) what makes no sense for any version; what
        the station's version cannot do is recorded as rejected, with the reason."""
        try:
            check_operation(operation)
        except InvalidOperation as exc:
            raise ServiceError(str(exc), 422) from exc
        translator = self._need_translator()
        version = self._commands.version_of(station_id)
        if version is None:
            return await self._send(
                station_id,
                operation.action,
                {},
                requested_by=requested_by,
                version=None,
                operation=operation.name,
                bulk_id=bulk_id,
                timeout=timeout,
            )
        try:
            request = translator.to_ocpp(version, operation)
        except NotForThisVersion as exc:
            return await self._refused(
                station_id, operation, version, str(exc), requested_by, bulk_id
            )
        return await self._send(
            station_id,
            request.action,
            request.payload,
            requested_by=requested_by,
            version=version,
            operation=operation.name,
            bulk_id=bulk_id,
            timeout=timeout,
        )

    async def send_version_specific(
        self,
        station_id: StationId,
        action: str,
        payload: dict[str, Any],
        *,
        requested_by: str,
        timeout: float | None = None,
    ) -> Sent:
        """An operation in its version's own form (``VERSION_OPERATIONS``). The station must
        speak that version (else 422, saying which version it speaks). GetBaseReport, GetReport
        and GetMonitoringReport get a requestId from evcms when the payload has none."""
        versions = VERSION_OPERATIONS.get(action)
        if versions is None:
            known = ", ".join(sorted(VERSION_OPERATIONS))
            raise ServiceError(f"{action} is not an operation of its own version; one of {known}", 422)
        version = self._commands.version_of(station_id)
        if version is not None and version not in versions:
            wanted = " or ".join(sorted(speaks(v) for v in versions))
            raise ServiceError(
                f"{action} is an {wanted} operation; station {station_id} speaks {speaks(version)}",
                422,
            )
        if action in WITH_REQUEST_ID and "requestId" not in payload:
            payload = {**payload, "requestId": self._next_request_id()}
        return await self._send(
            station_id,
            action,
            payload,
            requested_by=requested_by,
            version=version,
            timeout=timeout,
        )

    # -- reading -----------------------------------------------------------------------------

    async def get(self, operation_id: int) -> OperationRecord | None:
        return await self._need_repository().get(operation_id)

    async def list(
        self, filter: OperationFilter, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[OperationRecord]:
        return await self._need_repository().list(filter, limit=limit, before_id=before_id)

    # -- bulk ---------------------------------------------------------------------------------

    async def start_bulk(
        self,
        operation: NeutralOperation,
        params: dict[str, Any],
        target: BulkTarget,
        *,
        requested_by: str,
        timeout: float | None = None,
    ) -> BulkOperation:
        """Resolve ``target`` to the current stations, store the bulk operation and run it in
        the background (``DEFAULT_BULK_CONCURRENCY`` stations at once)."""
        try:
            check_operation(operation)
        except InvalidOperation as exc:
            raise ServiceError(str(exc), 422) from exc
        self._need_translator()
        station_ids = await self._resolve(target)
        if not station_ids:
            raise ServiceError(f"no station matches: {target.describe()}", 422)
        target_json: dict[str, Any] = {}
        if target.station_ids:
            target_json["station_ids"] = list(target.station_ids)
        if target.site_id is not None:
            target_json["site_id"] = target.site_id
        if target.model is not None:
            target_json["model"] = target.model
        bulk = await self._need_repository().add_bulk(
            BulkOperation(
                id=0,
                operation=operation.name,
                params=params,
                target=target_json,
                station_ids=tuple(station_ids),
                requested_by=requested_by,
                requested_at=self._now(),
            )
        )
        task = asyncio.get_running_loop().create_task(
            self._run_bulk(bulk, operation, timeout), name=f"bulk operation {bulk.id}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return bulk

    async def bulk(self, bulk_id: int) -> tuple[BulkOperation, BulkProgress]:
        repository = self._need_repository()
        bulk = await repository.get_bulk(bulk_id)
        if bulk is None:
            raise NotFound(f"bulk operation {bulk_id} does not exist")
        records = await repository.list(OperationFilter(bulk_id=bulk_id), limit=10_000)
        return bulk, bulk_progress(bulk.station_ids, records)

    async def bulks(
        self, *, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[BulkOperation]:
        return await self._need_repository().list_bulk(limit=limit, before_id=before_id)

    async def wait_for_bulks(self) -> None:
        """Tests: until the bulk operations running now have ended."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """At shutdown: stop bulk operations (what they sent stays recorded)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_bulk(
        self, bulk: BulkOperation, operation: NeutralOperation, timeout: float | None
    ) -> None:
        gate = asyncio.Semaphore(self._bulk_concurrency)

        async def one(station_id: str) -> None:
            async with gate:
                try:
                    await self.send(
                        StationId(station_id),
                        operation,
                        requested_by=bulk.requested_by,
                        timeout=timeout,
                        bulk_id=bulk.id,
                    )
                except Exception:
                    log.exception("bulk operation %s on %s failed", bulk.id, station_id)

        await asyncio.gather(*(one(s) for s in bulk.station_ids))
        await self._need_repository().finish_bulk(bulk.id, self._now())

    async def _resolve(self, target: BulkTarget) -> builtins.list[str]:
        if self._stations is None:
            raise ServiceError("bulk operations are not available here", 503)
        if target.station_ids:
            missing = [s for s in target.station_ids if await self._stations.get(StationId(s)) is None]
            if missing:
                raise ServiceError(f"unknown stations: {', '.join(missing)}", 422)
            return list(dict.fromkeys(target.station_ids))
        site = SiteId(target.site_id) if target.site_id is not None else None
        found = await self._stations.list(site)
        if target.model is not None:
            found = [s for s in found if s.info is not None and s.info.model == target.model]
        return sorted(s.id for s in found)

    # -- the one way out ----------------------------------------------------------------------

    async def _refused(
        self,
        station_id: StationId,
        operation: NeutralOperation,
        version: str,
        why: str,
        requested_by: str,
        bulk_id: int | None,
    ) -> Sent:
        repository = self._need_repository()
        record = await repository.start(
            NewOperation(
                station_id=station_id,
                action=operation.action,
                request={},
                requested_by=requested_by,
                requested_at=self._now(),
                operation=operation.name,
                ocpp_version=version,
                bulk_id=bulk_id,
            )
        )
        reply = CommandReply(CommandOutcome.REJECTED, error_code="NotSupported", error_description=why)
        return Sent(await self._finish(record, reply), reply)

    async def _send(
        self,
        station_id: StationId,
        action: str,
        payload: dict[str, Any],
        *,
        requested_by: str,
        version: str | None,
        operation: str | None = None,
        bulk_id: int | None = None,
        timeout: float | None = None,
    ) -> Sent:
        repository = self._need_repository()
        record = await repository.start(
            NewOperation(
                station_id=station_id,
                action=action,
                request=payload,
                requested_by=requested_by,
                requested_at=self._now(),
                operation=operation,
                ocpp_version=version,
                bulk_id=bulk_id,
            )
        )

        async def call_and_record() -> Sent:
            if version is None:
                reply = CommandReply(
                    CommandOutcome.DISCONNECTED,
                    error_description=f"station {station_id} is not connected",
                )
            else:
                try:
                    reply = await self._commands.call(station_id, action, payload, timeout)
                except Exception as exc:  # recorded, never left pending
                    log.exception("operation %s to %s failed", action, station_id)
                    reply = CommandReply(
                        CommandOutcome.ERROR,
                        error_code="InternalError",
                        error_description=f"evcms failed to send {action}: {exc}",
                    )
            finished = await self._finish(record, reply)
            if reply.outcome is CommandOutcome.RESULT and version is not None:
                await self._harvest(station_id, version, action, payload, reply.payload or {})
            return Sent(finished, reply)

        # The record is completed even when the caller stops waiting (an HTTP client gone).
        return await asyncio.shield(asyncio.get_running_loop().create_task(call_and_record()))

    async def _finish(self, record: OperationRecord, reply: CommandReply) -> OperationRecord:
        status = None
        if reply.outcome is CommandOutcome.RESULT and self._translator is not None:
            status = self._translator.status_of(record.action, reply.payload)
        finished = await self._need_repository().finish(
            record.id,
            OperationResult(
                outcome=OperationOutcome(reply.outcome.value),
                finished_at=self._now(),
                status=status,
                response=reply.payload if reply.outcome is CommandOutcome.RESULT else None,
                error_code=reply.error_code,
                error_description=reply.error_description,
            ),
        )
        log.info(
            "operation %s %s to %s by %s: %s %s",
            finished.id,
            finished.action,
            finished.station_id,
            finished.requested_by,
            finished.outcome.value,
            finished.status or finished.error_code or "",
        )
        if self._events is not None:
            self._events.publish(
                OperationFinished(
                    station_id=StationId(finished.station_id),
                    operation_id=finished.id,
                    action=finished.action,
                    outcome=finished.outcome.value,
                    status=finished.status,
                    requested_by=finished.requested_by,
                    at=finished.finished_at or self._now(),
                    bulk_id=finished.bulk_id,
                )
            )
        return finished

    async def _harvest(
        self,
        station_id: StationId,
        version: str,
        action: str,
        request: dict[str, Any],
        response: dict[str, Any],
    ) -> None:
        if self._translator is None or self._configuration is None:
            return
        try:
            harvest = self._translator.configuration_of(
                version, action, request, response, self._now()
            )
            if harvest:
                await self._configuration.apply(station_id, harvest)
        except Exception:  # the operation's answer stands; storing the configuration failed
            log.exception("storing the configuration %s of %s told failed", action, station_id)

    # -- helpers ----------------------------------------------------------------------------

    def _next_request_id(self) -> int:
        if self._request_ids == 0:  # distinct across restarts: seeded from the time
            self._request_ids = int(self._now().timestamp()) % 1_000_000 * 1000
        self._request_ids += 1
        return self._request_ids

    def _now(self) -> datetime:
        if self._clock is None:
            raise ServiceError("remote operations are not available here", 503)
        return self._clock.now()

    def _need_repository(self) -> OperationRepository:
        if self._operations is None:
            raise ServiceError("the operation audit trail is not available here", 503)
        return self._operations

    def _need_translator(self) -> OperationTranslator:
        if self._translator is None:
            raise ServiceError("version-neutral operations are not available here", 503)
        return self._translator


class AuditedCommands:
    """:class:`StationCommands` for services that send calls of their own: a call made for
    someone (:data:`REQUESTER`) is recorded in the operations audit trail like an operator's."""

    def __init__(self, commands: StationCommands, operations: RemoteOperations) -> None:
        self._commands = commands
        self._operations = operations

    def is_connected(self, station_id: StationId) -> bool:
        return self._commands.is_connected(station_id)

    def version_of(self, station_id: StationId) -> str | None:
        return self._commands.version_of(station_id)

    async def call(
        self,
        station_id: StationId,
        action: str,
        payload: dict[str, Any],
        timeout: float | None = None,
    ) -> CommandReply:
        requester = REQUESTER.get()
        if requester is None:  # evcms by itself: the raw message log has it
            return await self._commands.call(station_id, action, payload, timeout)
        return await self._operations.send_raw(
            station_id, action, payload, requested_by=requester, timeout=timeout
        )
