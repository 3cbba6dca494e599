"""Request and response bodies of remote operations, their audit trail, bulk operations and the
stored station configuration."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from evcms.domain.operations import (
    BulkOperation,
    BulkProgress,
    BulkTarget,
    ChangeAvailability,
    ChargingProfile,
    ChargingProfileKind,
    ChargingProfilePurpose,
    ChargingRateUnit,
    ChargingSchedule,
    ClearCache,
    ClearChargingProfile,
    DataTransfer,
    GetCompositeSchedule,
    NeutralOperation,
    OperationRecord,
    RecurrencyKind,
    Reset,
    ResetType,
    SchedulePeriod,
    SetChargingProfile,
    TriggerableMessage,
    TriggerMessage,
    UnlockConnector,
)
from evcms.domain.station_config import (
    ConfigKey,
    DeviceEvent,
    DeviceReport,
    DeviceVariable,
    InboundDataTransfer,
    SecurityEvent,
    VariableMonitor,
)
from evcms.services.station_config import StationConfigurationView

EvseId = Annotated[int, Field(ge=1, description="An EVSE (1.6: the connector id)")]
ConnectorId = Annotated[int, Field(ge=1, description="A connector of the EVSE (2.0.1)")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- neutral operations -----------------------------------------------------------------------


class ResetIn(_In):
    type: ResetType = Field(
        ResetType.SOFT,
        description="Soft/Hard (1.6); Immediate/OnIdle (2.0.1). Each version gets its nearest"
        " equivalent: Hard ~ Immediate, Soft ~ OnIdle",
    )
    evse_id: EvseId | None = Field(None, description="2.0.1: reset only this EVSE")

    def to_domain(self) -> NeutralOperation:
        return Reset(self.type, self.evse_id)


class ChangeAvailabilityIn(_In):
    status: Literal["Operative", "Inoperative"]
    evse_id: Annotated[int, Field(ge=0)] | None = Field(
        None, description="None or 0: the whole station"
    )
    connector_id: ConnectorId | None = None

    def to_domain(self) -> NeutralOperation:
        return ChangeAvailability(self.status == "Operative", self.evse_id or None, self.connector_id)


class UnlockConnectorIn(_In):
    evse_id: EvseId
    connector_id: ConnectorId = 1

    def to_domain(self) -> NeutralOperation:
        return UnlockConnector(self.evse_id, self.connector_id)


class TriggerMessageIn(_In):
    message: TriggerableMessage = Field(
        description="DiagnosticsStatusNotification and LogStatusNotification both ask for the"
        " upload's status (1.6 / 2.0.1); the 2.0.1-only messages are refused for 1.6 stations"
    )
    evse_id: EvseId | None = None
    connector_id: ConnectorId | None = None

    def to_domain(self) -> NeutralOperation:
        return TriggerMessage(self.message, self.evse_id, self.connector_id)


class ClearCacheIn(_In):
    def to_domain(self) -> NeutralOperation:
        return ClearCache()


class DataTransferIn(_In):
    vendor_id: str = Field(min_length=1, max_length=255)
    message_id: str | None = Field(None, max_length=50)
    data: Any = Field(None, description="1.6 carries text: anything else is sent as JSON text")

    def to_domain(self) -> NeutralOperation:
        return DataTransfer(self.vendor_id, self.message_id, self.data)


class PeriodIn(_In):
    start_offset: int = Field(ge=0, description="Seconds from the schedule's start")
    limit: Decimal = Field(ge=0, description="In the schedule's unit (W or A)")
    number_of_phases: int | None = Field(None, ge=1, le=3)


class ScheduleIn(_In):
    unit: ChargingRateUnit
    periods: list[PeriodIn] = Field(min_length=1, max_length=1024)
    start: AwareDatetime | None = None
    duration: int | None = Field(None, ge=1, description="Seconds")
    min_rate: Decimal | None = Field(None, ge=0)
    id: int | None = Field(None, ge=0, description="2.0.1 schedule id (default: the profile's)")


class ChargingProfileIn(_In):
    id: int = Field(ge=1)
    stack_level: int = Field(ge=0)
    purpose: ChargingProfilePurpose = Field(
        description="ChargingStationMaxProfile (1.6 ChargePointMaxProfile), TxDefaultProfile,"
        " TxProfile"
    )
    kind: ChargingProfileKind
    schedule: ScheduleIn
    recurrency: RecurrencyKind | None = None
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    transaction_id: str | None = Field(None, max_length=36)

    def to_domain(self) -> ChargingProfile:
        s = self.schedule
        return ChargingProfile(
            id=self.id,
            stack_level=self.stack_level,
            purpose=self.purpose,
            kind=self.kind,
            schedule=ChargingSchedule(
                unit=s.unit,
                periods=tuple(
                    SchedulePeriod(p.start_offset, p.limit, p.number_of_phases) for p in s.periods
                ),
                start=s.start,
                duration=s.duration,
                min_rate=s.min_rate,
                id=s.id,
            ),
            recurrency=self.recurrency,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            transaction_id=self.transaction_id,
        )


class SetChargingProfileIn(_In):
    evse_id: int = Field(0, ge=0, description="0: the station")
    profile: ChargingProfileIn

    def to_domain(self) -> NeutralOperation:
        return SetChargingProfile(self.profile.to_domain(), self.evse_id)


class ClearChargingProfileIn(_In):
    profile_id: int | None = Field(None, ge=1)
    evse_id: int | None = Field(None, ge=0)
    purpose: ChargingProfilePurpose | None = None
    stack_level: int | None = Field(None, ge=0)

    def to_domain(self) -> NeutralOperation:
        return ClearChargingProfile(self.profile_id, self.evse_id, self.purpose, self.stack_level)


class CompositeScheduleIn(_In):
    evse_id: int = Field(ge=0, description="0: the grid connection of the station")
    duration: int = Field(ge=1, description="Seconds")
    unit: ChargingRateUnit | None = None

    def to_domain(self) -> NeutralOperation:
        return GetCompositeSchedule(self.evse_id, self.duration, self.unit)


NeutralIn = (
    ResetIn
    | ChangeAvailabilityIn
    | UnlockConnectorIn
    | TriggerMessageIn
    | ClearCacheIn
    | DataTransferIn
    | SetChargingProfileIn
    | ClearChargingProfileIn
    | CompositeScheduleIn
)

#: operation name -> its parameters' model (the bulk endpoint's ``operation``)
NEUTRAL_MODELS: dict[str, type[NeutralIn]] = {
    "reset": ResetIn,
    "change_availability": ChangeAvailabilityIn,
    "unlock_connector": UnlockConnectorIn,
    "trigger_message": TriggerMessageIn,
    "clear_cache": ClearCacheIn,
    "data_transfer": DataTransferIn,
    "set_charging_profile": SetChargingProfileIn,
    "clear_charging_profile": ClearChargingProfileIn,
    "get_composite_schedule": CompositeScheduleIn,
}


# -- bulk ---------------------------------------------------------------------------------------


class BulkTargetIn(_In):
    station_ids: list[str] | None = Field(None, min_length=1, max_length=10_000)
    site_id: str | None = None
    model: str | None = Field(None, description="The model stations reported when they booted")

    @model_validator(mode="after")
    def _one(self) -> BulkTargetIn:
        given = [n for n in ("station_ids", "site_id", "model") if getattr(self, n) is not None]
        if len(given) > 1 and "station_ids" in given:
            raise ValueError("give station_ids, or a site_id and/or a model, not both")
        if not given:
            raise ValueError("give station_ids, a site_id or a model")
        return self

    def to_domain(self) -> BulkTarget:
        return BulkTarget(tuple(self.station_ids or ()), self.site_id, self.model)


class BulkIn(_In):
    operation: Literal[
        "reset",
        "change_availability",
        "unlock_connector",
        "trigger_message",
        "clear_cache",
        "data_transfer",
        "set_charging_profile",
        "clear_charging_profile",
        "get_composite_schedule",
    ]
    params: dict[str, Any] = Field(
        default_factory=dict, description="The operation's parameters, as for one station"
    )
    target: BulkTargetIn


# -- answers ------------------------------------------------------------------------------------


class OperationOut(BaseModel):
    id: int
    station_id: str
    action: str
    operation: str | None
    ocpp_version: str | None
    request: dict[str, Any]
    requested_by: str
    requested_at: datetime
    outcome: str = Field(description="pending, result, error, timeout, disconnected, rejected")
    status: str | None = Field(description="The answer's status: Accepted, Rejected, ...")
    response: dict[str, Any] | None
    error_code: str | None
    error_description: str | None
    finished_at: datetime | None
    bulk_id: int | None

    @classmethod
    def of(cls, r: OperationRecord) -> OperationOut:
        return cls(
            id=r.id,
            station_id=r.station_id,
            action=r.action,
            operation=r.operation,
            ocpp_version=r.ocpp_version,
            request=r.request,
            requested_by=r.requested_by,
            requested_at=r.requested_at,
            outcome=r.outcome.value,
            status=r.status,
            response=r.response,
            error_code=r.error_code,
            error_description=r.error_description,
            finished_at=r.finished_at,
            bulk_id=r.bulk_id,
        )


class OperationPage(BaseModel):
    operations: list[OperationOut]
    next_before_id: int | None


class OperationErrorOut(BaseModel):
    detail: str
    operation: OperationOut


class BulkStationOut(BaseModel):
    station_id: str
    operation_ids: list[int]
    outcome: str | None = Field(description="None: not sent yet")
    status: str | None


class BulkOut(BaseModel):
    id: int
    operation: str
    params: dict[str, Any]
    target: dict[str, Any]
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None
    total: int
    done: int
    by_outcome: dict[str, int]
    by_status: dict[str, int]
    stations: list[BulkStationOut]

    @classmethod
    def of(cls, bulk: BulkOperation, progress: BulkProgress | None = None) -> BulkOut:
        stations = []
        if progress is not None:
            for station_id in bulk.station_ids:
                latest = progress.results.get(station_id)
                stations.append(
                    BulkStationOut(
                        station_id=station_id,
                        operation_ids=progress.operations.get(station_id, []),
                        outcome=None if latest is None else latest.outcome.value,
                        status=None if latest is None else latest.status,
                    )
                )
        return cls(
            id=bulk.id,
            operation=bulk.operation,
            params=bulk.params,
            target=bulk.target,
            requested_by=bulk.requested_by,
            requested_at=bulk.requested_at,
            finished_at=bulk.finished_at,
            total=len(bulk.station_ids),
            done=progress.done if progress is not None else 0,
            by_outcome=progress.by_outcome if progress is not None else {},
            by_status=progress.by_status if progress is not None else {},
            stations=stations,
        )


class BulkSummaryOut(BaseModel):
    id: int
    operation: str
    target: dict[str, Any]
    total: int
    requested_by: str
    requested_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, bulk: BulkOperation) -> BulkSummaryOut:
        return cls(
            id=bulk.id,
            operation=bulk.operation,
            target=bulk.target,
            total=len(bulk.station_ids),
            requested_by=bulk.requested_by,
            requested_at=bulk.requested_at,
            finished_at=bulk.finished_at,
        )


# -- configuration --------------------------------------------------------------------------------


class ConfigKeyOut(BaseModel):
    key: str
    value: str | None
    readonly: bool
    reported_at: datetime

    @classmethod
    def of(cls, k: ConfigKey) -> ConfigKeyOut:
        return cls(key=k.key, value=k.value, readonly=k.readonly, reported_at=k.reported_at)


class VariableOut(BaseModel):
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    attribute_type: str
    value: str | None
    mutability: str | None
    data_type: str | None
    unit: str | None
    values_list: str | None
    min_limit: str | None
    max_limit: str | None
    source: str = Field(description="NotifyReport, GetVariables or SetVariables")
    reported_at: datetime

    @classmethod
    def of(cls, v: DeviceVariable) -> VariableOut:
        k, ch = v.key, v.characteristics
        return cls(
            component=k.component,
            component_instance=k.component_instance or None,
            evse_id=k.evse_id or None,
            connector_id=k.connector_id or None,
            variable=k.variable,
            variable_instance=k.variable_instance or None,
            attribute_type=k.attribute_type.value,
            value=v.value,
            mutability=v.mutability,
            data_type=None if ch is None else ch.data_type,
            unit=None if ch is None else ch.unit,
            values_list=None if ch is None else ch.values_list,
            min_limit=None if ch is None else ch.min_limit,
            max_limit=None if ch is None else ch.max_limit,
            source=v.source.value,
            reported_at=v.reported_at,
        )


class MonitorOut(BaseModel):
    id: int
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    type: str
    value: str
    severity: int
    transaction: bool
    reported_at: datetime

    @classmethod
    def of(cls, m: VariableMonitor) -> MonitorOut:
        return cls(
            id=m.id,
            component=m.component,
            component_instance=m.component_instance or None,
            evse_id=m.evse_id or None,
            connector_id=m.connector_id or None,
            variable=m.variable,
            variable_instance=m.variable_instance or None,
            type=m.type,
            value=m.value,
            severity=m.severity,
            transaction=m.transaction,
            reported_at=m.reported_at,
        )


class ReportOut(BaseModel):
    request_id: int
    parts: int
    complete: bool
    variables: int
    started_at: datetime
    updated_at: datetime
    generated_at: datetime | None

    @classmethod
    def of(cls, r: DeviceReport) -> ReportOut:
        return cls(
            request_id=r.request_id,
            parts=r.parts,
            complete=r.complete,
            variables=r.variables,
            started_at=r.started_at,
            updated_at=r.updated_at,
            generated_at=r.generated_at,
        )


class ConfigurationOut(BaseModel):
    station_id: str
    reported_at: datetime | None = Field(description="When the station last reported any of it")
    keys: list[ConfigKeyOut] = Field(description="OCPP 1.6 configuration keys")
    variables: list[VariableOut] = Field(description="OCPP 2.0.1 device model variables")
    monitors: list[MonitorOut]
    reports: list[ReportOut] = Field(description="NotifyReport series, newest first")

    @classmethod
    def of(cls, view: StationConfigurationView) -> ConfigurationOut:
        return cls(
            station_id=view.station_id,
            reported_at=view.reported_at,
            keys=[ConfigKeyOut.of(k) for k in view.keys],
            variables=[VariableOut.of(v) for v in view.variables],
            monitors=[MonitorOut.of(m) for m in view.monitors],
            reports=[ReportOut.of(r) for r in view.reports],
        )


class DeviceEventOut(BaseModel):
    id: int
    event_id: int
    at: datetime
    trigger: str
    actual_value: str
    component: str
    component_instance: str | None
    evse_id: int | None
    connector_id: int | None
    variable: str
    variable_instance: str | None
    cause: int | None
    tech_code: str | None
    tech_info: str | None
    cleared: bool
    transaction_id: str | None
    variable_monitoring_id: int | None
    event_notification_type: str | None
    received_at: datetime

    @classmethod
    def of(cls, e: DeviceEvent) -> DeviceEventOut:
        return cls(
            id=e.id or 0,
            event_id=e.event_id,
            at=e.at,
            trigger=e.trigger,
            actual_value=e.actual_value,
            component=e.component,
            component_instance=e.component_instance or None,
            evse_id=e.evse_id or None,
            connector_id=e.connector_id or None,
            variable=e.variable,
            variable_instance=e.variable_instance or None,
            cause=e.cause,
            tech_code=e.tech_code,
            tech_info=e.tech_info,
            cleared=e.cleared,
            transaction_id=e.transaction_id,
            variable_monitoring_id=e.variable_monitoring_id,
            event_notification_type=e.event_notification_type,
            received_at=e.received_at,
        )


class SecurityEventOut(BaseModel):
    id: int
    kind: str
    at: datetime
    tech_info: str | None
    received_at: datetime

    @classmethod
    def of(cls, e: SecurityEvent) -> SecurityEventOut:
        return cls(
            id=e.id or 0, kind=e.kind, at=e.at, tech_info=e.tech_info, received_at=e.received_at
        )


class DataTransferOut(BaseModel):
    id: int
    vendor_id: str
    message_id: str | None
    data: Any
    answer_status: str
    received_at: datetime

    @classmethod
    def of(cls, t: InboundDataTransfer) -> DataTransferOut:
        return cls(
            id=t.id or 0,
            vendor_id=t.vendor_id,
            message_id=t.message_id,
            data=t.data,
            answer_status=t.answer_status,
            received_at=t.received_at,
        )
