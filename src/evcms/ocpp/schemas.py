"""Validation of OCPP payloads against the official OCA JSON schemas.

The schemas are the ones bundled in the ``ocpp`` PyPI package (``ocpp/v16/schemas/X.json`` and
``XResponse.json``; ``ocpp/v201/schemas`` and ``ocpp/v21/schemas`` with ``XRequest.json`` and
``XResponse.json``; 2.1's SEND message ``NotifyPeriodicEventStream.json`` has no suffix). Only
the JSON files are read; nothing of the package's Python code is imported.

Each (version, action, request|response) schema is compiled with ``fastjsonschema`` on first
use and cached; :func:`warm_up` compiles all of them up front. Compiled validators never fill
in schema defaults (payloads stay verbatim). A failure raises :class:`OcppError` whose kind
follows the JSON-schema keyword that failed (see :mod:`evcms.ocpp.errors`) and whose
description names the field, e.g. ``"BootNotification request: chargePointVendor must be
string, got number 12"``; ``details`` carries ``{"property": ..., "constraint": ...}``.

``format: date-time`` accepts RFC 3339 date-times as stations send them: ``Z``/``z`` or a
``+hh:mm`` / ``+hhmm`` offset, optional fractional seconds, ``T`` or ``t``. A date-time without
an offset (local time) is rejected (PropertyConstraintViolation).

Which side may send which action is hard-coded from the specifications:
:func:`station_actions` (station -> CSMS) and :func:`csms_actions` (CSMS -> station).
``DataTransfer`` goes both ways in every version.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from importlib.resources import files
from typing import Any, Literal

import fastjsonschema
import orjson

from evcms.ocpp.errors import FaultKind, OcppError
from evcms.ocpp.versions import OcppVersion

__all__ = [
    "DATE_TIME_PATTERN",
    "MessageKind",
    "SchemaRegistry",
    "Validator",
    "VersionSchemas",
    "actions",
    "csms_actions",
    "registry",
    "send_actions",
    "station_actions",
    "validate",
    "validator",
    "warm_up",
]

MessageKind = Literal["request", "response"]
Validator = Callable[[Any], Any]

#: RFC 3339 date-time (``format: date-time``), as used by the compiled validators.
DATE_TIME_PATTERN = (
    r"^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])[Tt](?:[01]\d|2[0-3]):[0-5]\d"
    r":(?:[0-5]\d|60)(?:\.\d+)?(?:[Zz]|[+-](?:[01]\d|2[0-3]):?[0-5]\d)\Z"
)
_FORMATS: dict[str, str] = {"date-time": DATE_TIME_PATTERN}

_PACKAGE_DIR = {
    OcppVersion.V16: "v16",
    OcppVersion.V201: "v201",
    OcppVersion.V21: "v21",
}

_ = frozenset
# --- OCPP 1.6 (incl. the Security Whitepaper extension messages bundled with the schemas) ---
_V16_STATION = _(
    {
        "Authorize",
        "BootNotification",
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        # security extension
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)
_V16_CSMS = _(
    {
        "CancelReservation",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetLocalListVersion",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
        # security extension
        "CertificateSigned",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetInstalledCertificateIds",
        "GetLog",
        "InstallCertificate",
        "SignedUpdateFirmware",
    }
)
# --- OCPP 2.0.1 ---
_V201_STATION = _(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)
_V201_CSMS = _(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "ClearChargingProfile",
        "ClearDisplayMessage",
        "ClearVariableMonitoring",
        "CostUpdated",
        "CustomerInformation",
        "DataTransfer",
        "DeleteCertificate",
        "GetBaseReport",
        "GetChargingProfiles",
        "GetCompositeSchedule",
        "GetDisplayMessages",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "GetMonitoringReport",
        "GetReport",
        "GetTransactionStatus",
        "GetVariables",
        "InstallCertificate",
        "PublishFirmware",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SetDisplayMessage",
        "SetMonitoringBase",
        "SetMonitoringLevel",
        "SetNetworkProfile",
        "SetVariableMonitoring",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UnpublishFirmware",
        "UpdateFirmware",
    }
)
# --- OCPP 2.1: everything of 2.0.1 plus ---
_V21_STATION = _V201_STATION | _(
    {
        "BatterySwap",
        "ClosePeriodicEventStream",
        "GetCertificateChainStatus",
        "NotifyDERAlarm",
        "NotifyDERStartStop",
        "NotifyPeriodicEventStream",  # SEND
        "NotifyPriorityCharging",
        "NotifySettlement",
        "OpenPeriodicEventStream",
        "PullDynamicScheduleUpdate",
        "ReportDERControl",
        "VatNumberValidation",
    }
)
_V21_CSMS = _V201_CSMS | _(
    {
        "AFRRSignal",
        "AdjustPeriodicEventStream",
        "ChangeTransactionTariff",
        "ClearDERControl",
        "ClearTariffs",
        "GetDERControl",
        "GetPeriodicEventStream",
        "GetTariffs",
        "NotifyAllowedEnergyTransfer",
        "NotifyWebPaymentStarted",
        "RequestBatterySwap",
        "SetDERControl",
        "SetDefaultTariff",
        "UpdateDynamicSchedule",
        "UsePriorityCharging",
    }
)
del _

_STATION: dict[OcppVersion, frozenset[str]] = {
    OcppVersion.V16: _V16_STATION,
    OcppVersion.V201: _V201_STATION,
    OcppVersion.V21: _V21_STATION,
}
_CSMS: dict[OcppVersion, frozenset[str]] = {
    OcppVersion.V16: _V16_CSMS,
    OcppVersion.V201: _V201_CSMS,
    OcppVersion.V21: _V21_CSMS,
}

_RULE_KIND: dict[str, FaultKind] = {
    "required": FaultKind.MISSING_PROPERTY,
    "minItems": FaultKind.OCCURRENCE,
    "maxItems": FaultKind.OCCURRENCE,
    "type": FaultKind.WRONG_TYPE,
    "additionalProperties": FaultKind.UNEXPECTED_PROPERTY,
    "enum": FaultKind.BAD_VALUE,
    "const": FaultKind.BAD_VALUE,
    "maxLength": FaultKind.BAD_VALUE,
    "minLength": FaultKind.BAD_VALUE,
    "minimum": FaultKind.BAD_VALUE,
    "maximum": FaultKind.BAD_VALUE,
    "exclusiveMinimum": FaultKind.BAD_VALUE,
    "exclusiveMaximum": FaultKind.BAD_VALUE,
    "multipleOf": FaultKind.BAD_VALUE,
    "pattern": FaultKind.BAD_VALUE,
    "format": FaultKind.BAD_VALUE,
    "uniqueItems": FaultKind.BAD_VALUE,
}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _show(value: object, limit: int = 40) -> str:
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field(name: str) -> str:
    # fastjsonschema names the root "data"; paths look like data.a[0].b
    path = name[4:] if name.startswith("data") else name
    return path[1:] if path.startswith(".") else path


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def schema_error(
    exc: fastjsonschema.JsonSchemaValueException, action: str, kind: MessageKind
) -> OcppError:
    """Turn a fastjsonschema failure into an :class:`OcppError` an operator can act on."""
    rule = exc.rule or ""
    fault = _RULE_KIND.get(rule, FaultKind.FORMAT)
    where = _field(exc.name or "data")
    value = exc.value
    definition = exc.rule_definition
    if rule == "required" and isinstance(value, dict) and isinstance(definition, list):
        missing = [k for k in definition if k not in value]
        paths = [_join(where, str(k)) for k in missing] or [where or "payload"]
        prop = paths[0]
        text = f"{paths[0]} is required" if len(paths) == 1 else f"{', '.join(paths)} are required"
    elif rule == "additionalProperties" and isinstance(value, dict):
        allowed = (exc.definition or {}).get("properties", {})
        extra = sorted(str(k) for k in value if k not in allowed)
        paths = [_join(where, k) for k in extra] or [where or "payload"]
        prop = paths[0]
        text = (
            f"unexpected property {paths[0]}"
            if len(paths) == 1
            else f"unexpected properties {', '.join(paths)}"
        )
    elif rule == "type":
        prop = where or "payload"
        expected = definition if isinstance(definition, str) else " or ".join(definition or [])
        text = f"{prop} must be {expected}, got {_json_type(value)} {_show(value)}"
    elif rule == "enum" and isinstance(definition, list):
        prop = where or "payload"
        options = ", ".join(str(o) for o in definition)
        text = f"{prop} must be one of [{options}], got {_show(value)}"
    elif rule in ("maxLength", "minLength") and isinstance(value, str):
        prop = where or "payload"
        bound = "at most" if rule == "maxLength" else "at least"
        text = f"{prop} must be {bound} {definition} characters long, got {len(value)}"
    elif rule in ("minItems", "maxItems") and isinstance(value, list):
        prop = where or "payload"
        bound = "at least" if rule == "minItems" else "at most"
        text = f"{prop} must have {bound} {definition} item(s), got {len(value)}"
    elif rule == "format" and isinstance(exc.definition, dict) and "x-enum" in exc.definition:
        rule = "enum"
        prop = where or "payload"
        options = ", ".join(str(o) for o in exc.definition["x-enum"])
        text = f"{prop} must be one of [{options}], got {_show(value)}"
    elif rule == "format":
        prop = where or "payload"
        fmt = (exc.definition or {}).get("format", "")
        hint = " (RFC 3339, e.g. 2024-01-01T12:00:00Z)" if fmt == "date-time" else ""
        text = f"{prop} must be a {fmt}{hint}, got {_show(value)}"
    else:
        prop = where or "payload"
        message = exc.message or ""
        if message.startswith(exc.name or "data"):
            message = prop + message[len(exc.name or "data") :]
        text = f"{message}, got {_show(value)}"
    return OcppError(
        fault,
        f"{action} {kind}: {text}",
        {"property": prop, "constraint": rule or "schema"},
    )


def _no_remote_refs(uri: str) -> Any:
    raise ValueError(f"remote $ref {uri!r} is not allowed in OCPP schemas")


_NO_REMOTE_REFS = {"http": _no_remote_refs, "https": _no_remote_refs}
_DEFINITIONS = "#/definitions/"


def _prepare(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rewrite a schema into an equivalent one fastjsonschema runs faster; returns the
    schema and the custom formats it needs.

    * Local ``$ref``s to ``#/definitions/X`` are inlined (no function call and no name-prefix
      formatting per array item). Recursive references are left as they are.
    * An ``enum`` of strings becomes a custom format backed by a frozenset lookup (the
      generated ``enum`` check is a chain of comparisons, one per allowed value); the values
      are kept under ``x-enum`` for the error message.
    """
    definitions = schema.get("definitions", {})
    formats: dict[str, Any] = dict(_FORMATS)

    def walk(node: Any, seen: frozenset[str]) -> Any:
        if isinstance(node, list):
            return [walk(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_DEFINITIONS) and len(node) == 1:
            name = ref[len(_DEFINITIONS) :]
            if name in seen or name not in definitions:
                return node
            return walk(definitions[name], seen | {name})
        out: dict[str, Any] = {}
        for key, value in node.items():
            # enum / required / x-enum hold data, not sub-schemas
            out[key] = value if key in ("enum", "required", "const") else walk(value, seen)
        enum = out.get("enum")
        if (
            isinstance(enum, list)
            and enum
            and all(isinstance(item, str) for item in enum)
            and "format" not in out
            and out.get("type", "string") == "string"
        ):
            name = "enum:" + "|".join(enum)
            formats[name] = frozenset(enum).__contains__
            del out["enum"]
            out["x-enum"] = enum
            out["format"] = name
            out["type"] = "string"
        return out

    prepared: dict[str, Any] = walk(schema, frozenset())
    return prepared, formats


class VersionSchemas:
    """The schemas, validators and action directions of one OCPP version."""

    __slots__ = (
        "_directory",
        "_lock",
        "_requests",
        "_responses",
        "actions",
        "csms_actions",
        "send_actions",
        "station_actions",
        "version",
    )

    def __init__(self, version: OcppVersion) -> None:
        self.version = version
        self._directory = files("ocpp").joinpath(_PACKAGE_DIR[version], "schemas")
        self._requests: dict[str, Validator] = {}
        self._responses: dict[str, Validator] = {}
        self._lock = threading.Lock()
        calls: set[str] = set()
        sends: set[str] = set()
        for entry in self._directory.iterdir():
            name = entry.name
            if not name.endswith(".json"):
                continue
            stem = name[:-5]
            if version is OcppVersion.V16:
                if not stem.endswith("Response"):
                    calls.add(stem)
            elif stem.endswith("Request"):
                calls.add(stem[: -len("Request")])
            elif not stem.endswith("Response"):
                sends.add(stem)
        #: Every CALL action of the version.
        self.actions: frozenset[str] = frozenset(calls)
        #: (2.1) Actions sent as SEND messages (no response).
        self.send_actions: frozenset[str] = frozenset(sends)
        #: Actions the station may send to the CSMS (CALL or SEND).
        self.station_actions: frozenset[str] = _STATION[version]
        #: Actions the CSMS may send to the station.
        self.csms_actions: frozenset[str] = _CSMS[version]

    def _file_name(self, action: str, kind: MessageKind) -> str:
        if kind == "response":
            return f"{action}Response.json"
        if action in self.send_actions or self.version is OcppVersion.V16:
            return f"{action}.json"
        return f"{action}Request.json"

    def schema(self, action: str, kind: MessageKind) -> dict[str, Any]:
        """The raw JSON schema; raises ``KeyError`` for an action the version does not have."""
        if action not in self.actions and action not in self.send_actions:
            raise KeyError(f"{self.version.value} has no action {action!r}")
        if kind == "response" and action in self.send_actions:
            raise KeyError(f"{action} is a SEND message and has no response")
        text = self._directory.joinpath(self._file_name(action, kind)).read_bytes()
        loaded: dict[str, Any] = orjson.loads(text)
        return loaded

    def validator(self, action: str, kind: MessageKind) -> Validator:
        """The compiled validator (compiled on first use, then cached)."""
        cache = self._requests if kind == "request" else self._responses
        compiled = cache.get(action)
        if compiled is None:
            schema = self.schema(action, kind)
            with self._lock:
                compiled = cache.get(action)
                if compiled is None:
                    prepared, formats = _prepare(schema)
                    compiled = fastjsonschema.compile(
                        prepared, handlers=_NO_REMOTE_REFS, formats=formats, use_default=False
                    )
                    cache[action] = compiled
        return compiled

    def validate_request(self, action: str, payload: Any) -> None:
        """Validate a CALL (or SEND) payload; raises :class:`OcppError`."""
        check = self._requests.get(action) or self.validator(action, "request")
        try:
            check(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise schema_error(exc, action, "request") from None

    def validate_response(self, action: str, payload: Any) -> None:
        """Validate a CALLRESULT payload; raises :class:`OcppError`."""
        check = self._responses.get(action) or self.validator(action, "response")
        try:
            check(payload)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise schema_error(exc, action, "response") from None

    def warm_up(self) -> int:
        """Compile every validator of the version; returns how many there are."""
        count = 0
        for action in sorted(self.actions):
            self.validator(action, "request")
            self.validator(action, "response")
            count += 2
        for action in sorted(self.send_actions):
            self.validator(action, "request")
            count += 1
        return count


class SchemaRegistry:
    """Per-version schema sets, created on first use."""

    def __init__(self) -> None:
        self._versions: dict[OcppVersion, VersionSchemas] = {}
        self._lock = threading.Lock()

    def for_version(self, version: OcppVersion) -> VersionSchemas:
        """The :class:`VersionSchemas` of ``version``."""
        found = self._versions.get(version)
        if found is None:
            with self._lock:
                found = self._versions.get(version)
                if found is None:
                    found = VersionSchemas(version)
                    self._versions[version] = found
        return found

    def actions(self, version: OcppVersion) -> frozenset[str]:
        """All CALL actions of ``version``."""
        return self.for_version(version).actions

    def send_actions(self, version: OcppVersion) -> frozenset[str]:
        """The SEND actions of ``version`` (empty before 2.1)."""
        return self.for_version(version).send_actions

    def validator(self, version: OcppVersion, action: str, kind: MessageKind) -> Validator:
        """The compiled validator for (version, action, kind)."""
        return self.for_version(version).validator(action, kind)

    def validate(self, version: OcppVersion, action: str, kind: MessageKind, payload: Any) -> None:
        """Validate ``payload``; raises :class:`OcppError` (``KeyError`` for unknown actions)."""
        schemas = self.for_version(version)
        if kind == "request":
            schemas.validate_request(action, payload)
        else:
            schemas.validate_response(action, payload)

    def warm_up(self, versions: Iterable[OcppVersion] | None = None) -> int:
        """Compile every validator of ``versions`` (default: all); returns how many."""
        return sum(self.for_version(v).warm_up() for v in (versions or list(OcppVersion)))


#: The process-wide registry the module functions and :class:`RpcSession` use.
registry = SchemaRegistry()


def actions(version: OcppVersion) -> frozenset[str]:
    """All CALL actions of ``version``."""
    return registry.actions(version)


def send_actions(version: OcppVersion) -> frozenset[str]:
    """The SEND actions of ``version`` (only 2.1 has any)."""
    return registry.send_actions(version)


def station_actions(version: OcppVersion) -> frozenset[str]:
    """Actions a station may send to the CSMS in ``version``."""
    return _STATION[version]


def csms_actions(version: OcppVersion) -> frozenset[str]:
    """Actions the CSMS may send to a station in ``version``."""
    return _CSMS[version]


def validator(version: OcppVersion, action: str, kind: MessageKind) -> Validator:
    """The compiled validator for (version, action, kind), cached."""
    return registry.validator(version, action, kind)


def validate(version: OcppVersion, action: str, kind: MessageKind, payload: Any) -> None:
    """Validate ``payload`` against the official schema; raises :class:`OcppError`."""
    registry.validate(version, action, kind, payload)


def warm_up(versions: Iterable[OcppVersion] | None = None) -> int:
    """Compile every validator up front (start-up); returns how many were compiled."""
    return registry.warm_up(versions)
