"""The configuration stations report (1.6 keys, 2.0.1 device model), kept as last reported, and
what their 2.0.1 device model tells on its own: monitors, events, security events; plus the
DataTransfer messages stations send.

Version-neutral: the gateway (``station_gateway/config_inbound.py``, ``operation_commands.py``)
turns each version's messages into the values of ``domain.station_config``.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from evcms.domain.events import DeviceEventReported, SecurityEventReported
from evcms.domain.ids import StationId
from evcms.domain.station_config import (
    ConfigKey,
    DeviceEvent,
    DeviceReport,
    DeviceVariable,
    InboundDataTransfer,
    SecurityEvent,
    VariableMonitor,
    fold_report_part,
    merge_variables,
)
from evcms.services.ports import Clock, EventBus

log = logging.getLogger(__name__)

UNKNOWN_VENDOR = "UnknownVendorId"


class StationConfigRepository(Protocol):
    """Writes return after the change is committed."""

    async def save_keys(self, station_id: str, keys: Sequence[ConfigKey]) -> None: ...  # upsert

    async def keys(self, station_id: str) -> builtins.list[ConfigKey]: ...  # by key

    async def save_variables(
        self, station_id: str, variables: Sequence[DeviceVariable]
    ) -> None: ...  # upsert by VariableKey

    async def variables(self, station_id: str) -> builtins.list[DeviceVariable]: ...

    async def report(self, station_id: str, request_id: int) -> DeviceReport | None: ...

    async def save_report(
        self, report: DeviceReport, variables: Sequence[DeviceVariable]
    ) -> None: ...  # the report's state and the variables of its new part, in one commit

    async def reports(self, station_id: str) -> builtins.list[DeviceReport]: ...  # newest first

    async def save_monitors(self, station_id: str, monitors: Sequence[VariableMonitor]) -> None: ...

    async def delete_monitors(self, station_id: str, ids: Sequence[int]) -> None: ...

    async def monitors(self, station_id: str) -> builtins.list[VariableMonitor]: ...  # by id

    async def add_events(self, events: Sequence[DeviceEvent]) -> builtins.list[DeviceEvent]: ...

    async def events(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[DeviceEvent]: ...  # newest first

    async def add_security_event(self, event: SecurityEvent) -> SecurityEvent: ...

    async def security_events(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[SecurityEvent]: ...  # newest first

    async def add_data_transfer(self, transfer: InboundDataTransfer) -> InboundDataTransfer: ...

    async def data_transfers(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> builtins.list[InboundDataTransfer]: ...  # newest first


@dataclass(frozen=True, slots=True)
class ConfigHarvest:
    """What an answer to a configuration operation tells about the station's configuration."""

    keys: tuple[ConfigKey, ...] = ()
    variables: tuple[DeviceVariable, ...] = ()
    monitors: tuple[VariableMonitor, ...] = ()
    removed_monitors: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.keys or self.variables or self.monitors or self.removed_monitors)


@dataclass(frozen=True, slots=True)
class StationConfigurationView:
    station_id: str
    keys: list[ConfigKey] = field(default_factory=list)
    variables: list[DeviceVariable] = field(default_factory=list)
    monitors: list[VariableMonitor] = field(default_factory=list)
    reports: list[DeviceReport] = field(default_factory=list)

    @property
    def reported_at(self) -> datetime | None:
        """When the station last told anything of this."""
        times = [k.reported_at for k in self.keys] + [v.reported_at for v in self.variables]
        times += [r.updated_at for r in self.reports]
        return max(times, default=None)


class StationConfiguration:
    def __init__(
        self, *, store: StationConfigRepository, events: EventBus, clock: Clock
    ) -> None:
        self._store = store
        self._events = events
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    def now(self) -> datetime:
        return self._clock.now()

    def _lock(self, station_id: str) -> asyncio.Lock:
        lock = self._locks.get(station_id)
        if lock is None:
            lock = self._locks[station_id] = asyncio.Lock()
        return lock

    # -- what answers and reports tell ------------------------------------------------------

    async def apply(self, station_id: str, harvest: ConfigHarvest) -> None:
        """Store what an operation's answer told (GetConfiguration, ChangeConfiguration
        Accepted, GetVariables, SetVariables Accepted, monitors set or cleared)."""
        async with self._lock(station_id):
            if harvest.keys:
                await self._store.save_keys(station_id, harvest.keys)
            if harvest.variables:
                old = await self._store.variables(station_id)
                await self._store.save_variables(
                    station_id, merge_variables(old, harvest.variables)
                )
            if harvest.monitors:
                await self._store.save_monitors(station_id, harvest.monitors)
            if harvest.removed_monitors:
                await self._store.delete_monitors(station_id, harvest.removed_monitors)

    async def report_part(
        self,
        station_id: str,
        *,
        request_id: int,
        seq_no: int,
        tbc: bool,
        variables: Sequence[DeviceVariable],
        generated_at: datetime | None = None,
    ) -> DeviceReport:
        """One NotifyReport part: its variables stored with the report's progress."""
        async with self._lock(station_id):
            before = await self._store.report(station_id, request_id)
            after = fold_report_part(
                before,
                station_id=station_id,
                request_id=request_id,
                seq_no=seq_no,
                tbc=tbc,
                variables=len(variables),
                at=self._clock.now(),
                generated_at=generated_at,
            )
            if after is before:  # a part seen before
                return after
            await self._store.save_report(after, variables)
            return after

    async def monitors_reported(
        self, station_id: str, monitors: Sequence[VariableMonitor]
    ) -> None:
        async with self._lock(station_id):
            await self._store.save_monitors(station_id, monitors)

    async def device_events(self, events: Sequence[DeviceEvent]) -> None:
        """NotifyEvent: every EventData kept, and each published."""
        if not events:
            return
        for event in await self._store.add_events(events):
            self._events.publish(
                DeviceEventReported(
                    station_id=StationId(event.station_id),
                    event_id=event.event_id,
                    component=event.component,
                    variable=event.variable,
                    actual_value=event.actual_value,
                    trigger=event.trigger,
                    at=event.at,
                    evse_id=event.evse_id or None,
                    connector_id=event.connector_id or None,
                    cleared=event.cleared,
                    tech_code=event.tech_code,
                    tech_info=event.tech_info,
                    event_notification_type=event.event_notification_type,
                )
            )

    async def security_event(self, event: SecurityEvent) -> SecurityEvent:
        stored = await self._store.add_security_event(event)
        self._events.publish(
            SecurityEventReported(
                station_id=StationId(event.station_id),
                kind=event.kind,
                tech_info=event.tech_info,
                at=event.at,
            )
        )
        return stored

    async def data_transfer(
        self, station_id: str, vendor_id: str, message_id: str | None, data: object
    ) -> str:
        """A DataTransfer from a station: kept, and answered UnknownVendorId (evcms handles
        no vendor's extensions)."""
        await self._store.add_data_transfer(
            InboundDataTransfer(
                station_id=station_id,
                vendor_id=vendor_id,
                message_id=message_id,
                data=data,
                received_at=self._clock.now(),
                answer_status=UNKNOWN_VENDOR,
            )
        )
        log.info("DataTransfer from %s (vendor %s, message %s)", station_id, vendor_id, message_id)
        return UNKNOWN_VENDOR

    # -- reading -----------------------------------------------------------------------------

    async def configuration(self, station_id: str) -> StationConfigurationView:
        return StationConfigurationView(
            station_id=station_id,
            keys=await self._store.keys(station_id),
            variables=await self._store.variables(station_id),
            monitors=await self._store.monitors(station_id),
            reports=await self._store.reports(station_id),
        )

    async def events(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> list[DeviceEvent]:
        return await self._store.events(station_id, limit, before_id)

    async def security_events(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> list[SecurityEvent]:
        return await self._store.security_events(station_id, limit, before_id)

    async def data_transfers(
        self, station_id: str, limit: int = 100, before_id: int | None = None
    ) -> list[InboundDataTransfer]:
        return await self._store.data_transfers(station_id, limit, before_id)
