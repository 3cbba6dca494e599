"""Meter values, normalised, and the energy of a session (pure).

Units are converted to a base unit on the way in — energy to Wh, power to W, reactive to var/varh,
apparent to VA/VAh — multiplying by 10**multiplier (2.0.1's unitOfMeasure.multiplier) and by
1,000 for the k-units (1.6's kWh, kW, ...). Values are Decimal, never float.

The energy rule (``energy_wh``): a session's energy is the sum of the non-negative steps between
consecutive readings of the energy import register, in time order, starting from the register
at the start (1.6 meterStart, 2.0.1 Transaction.Begin) and ending with the register at the stop
(1.6 meterStop, 2.0.1 Transaction.End). A reading *below* the previous one is one of two things:
- a small dip — rounding (12.346 kWh in a sample, 12345 Wh at the stop) or meter jitter — when the
  reading is still more than half the previous one: it adds nothing, and the higher previous
  reading stays the baseline, so the energy is never inflated;
- a restart of the register (a meter reset, or a station reporting session-relative registers after
  a reboot) when it falls to half the previous reading or less: the new reading counts from zero,
  so the step is the reading itself.
Missing samples do not matter:
only differences do. Only readings of the total register count (no phase; location Outlet or
unspecified; normalised to Wh): per-phase and EV-side readings, and readings in a unit evcms does
not know, are kept but do not count.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

ZERO = Decimal(0)


class Measurand(enum.StrEnum):
    ENERGY_IMPORT_REGISTER = "Energy.Active.Import.Register"
    ENERGY_EXPORT_REGISTER = "Energy.Active.Export.Register"
    POWER_IMPORT = "Power.Active.Import"
    POWER_OFFERED = "Power.Offered"
    CURRENT_IMPORT = "Current.Import"
    CURRENT_OFFERED = "Current.Offered"
    VOLTAGE = "Voltage"
    SOC = "SoC"
    FREQUENCY = "Frequency"
    TEMPERATURE = "Temperature"


DEFAULT_MEASURAND = Measurand.ENERGY_IMPORT_REGISTER.value

# unit as stations send it -> (base unit, factor)
_UNITS: dict[str, tuple[str, Decimal]] = {
    "Wh": ("Wh", Decimal(1)),
    "kWh": ("Wh", Decimal(1000)),
    "varh": ("varh", Decimal(1)),
    "kvarh": ("varh", Decimal(1000)),
    "VAh": ("VAh", Decimal(1)),
    "kVAh": ("VAh", Decimal(1000)),
    "W": ("W", Decimal(1)),
    "kW": ("W", Decimal(1000)),
    "var": ("var", Decimal(1)),
    "kvar": ("var", Decimal(1000)),
    "VA": ("VA", Decimal(1)),
    "kVA": ("VA", Decimal(1000)),
    "A": ("A", Decimal(1)),
    "V": ("V", Decimal(1)),
    "Celsius": ("Celsius", Decimal(1)),
    "Fahrenheit": ("Fahrenheit", Decimal(1)),
    "K": ("K", Decimal(1)),
    "Percent": ("Percent", Decimal(1)),
    "Hz": ("Hz", Decimal(1)),
    "ASU": ("ASU", Decimal(1)),
    "B": ("B", Decimal(1)),
    "dB": ("dB", Decimal(1)),
    "dBm": ("dBm", Decimal(1)),
    "deg": ("deg", Decimal(1)),
    "kW/h": ("Wh", Decimal(1000)),  # seen in the field for kWh
}

# measurand prefix -> unit when the station sends none; the longest matching prefix wins
_DEFAULT_UNIT = {
    "Energy.Reactive": "varh",
    "Energy.Apparent": "VAh",
    "Power.Reactive": "var",
    "Power.Apparent": "VA",
    "Power.Factor": "",  # dimensionless
    "Energy": "Wh",
    "Power": "W",
    "Current": "A",
    "Voltage": "V",
    "SoC": "Percent",
    "Frequency": "Hz",
    "Temperature": "Celsius",
    "RPM": "RPM",
}


class InvalidMeterValue(ValueError):
    """A sampled value that cannot be understood; the message says why."""


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One sampled value in its base unit."""

    at: datetime
    measurand: str
    value: Decimal
    unit: str
    phase: str | None = None
    location: str | None = None
    context: str | None = None
    signed: str | None = None  # signed meter data, verbatim (OCMF / EDL / the station's format)

    @property
    def is_energy_register(self) -> bool:
        return (
            self.measurand == DEFAULT_MEASURAND
            and self.phase is None
            and self.location in (None, "Outlet")
            and self.unit == "Wh"  # normalised; an unknown unit (or a value-less carrier) cannot count
        )


def default_unit(measurand: str) -> str:
    """The unit of a value sent without one (OCPP: Wh for energy; the base unit otherwise)."""
    parts = measurand.split(".")
    for end in range(len(parts), 0, -1):
        unit = _DEFAULT_UNIT.get(".".join(parts[:end]))
        if unit is not None:
            return unit
    return ""


# A decimal number in plain ASCII, as JSON or OCPP 1.6's decimal strings write it. Decimal() alone
# would also take "1_000", "NaN", "Infinity" and non-ASCII digits.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


# |value| below 1e25: far beyond any meter, and safe from Decimal overflow in arithmetic.
_MAX_ADJUSTED_EXPONENT = 24


def parse_decimal(raw: object) -> Decimal:
    """A value as stations send it: 1.6 a string ("1234.5"), 2.0.1 a JSON number."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float | Decimal):
        raise InvalidMeterValue(f"meter value {raw!r} is not a number")
    if isinstance(raw, float):
        raw = repr(raw)  # the shortest text that round-trips: 0.1 stays 0.1
    text = str(raw).strip()
    if isinstance(raw, str) and not _NUMBER.fullmatch(text):
        raise InvalidMeterValue(f"meter value {raw!r} is not a number")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidMeterValue(f"meter value {raw!r} is not a number") from exc
    if not value.is_finite():
        raise InvalidMeterValue(f"meter value {raw!r} is not a finite number")
    if value.adjusted() > _MAX_ADJUSTED_EXPONENT:
        raise InvalidMeterValue(f"meter value {raw!r} is out of range")
    return value


def normalise(
    value: Decimal, unit: str | None, measurand: str = DEFAULT_MEASURAND, multiplier: int = 0
) -> tuple[Decimal, str]:
    """(value, unit) in the base unit: ``12.5 kWh`` -> ``(12500, "Wh")``."""
    unit = unit or default_unit(measurand)
    base, factor = _UNITS.get(unit, (unit, Decimal(1)))
    scaled = value * factor
    if multiplier:
        scaled = scaled.scaleb(multiplier)
    return scaled, base


def energy_wh(start_wh: Decimal | None, readings: Iterable[Decimal], stop_wh: Decimal | None) -> Decimal:
    """Energy (Wh) from the register at the start, readings in time order, and at the stop."""
    state = EnergyCounter.starting_at(start_wh)
    for reading in readings:
        state = state.add(reading)
    if stop_wh is not None:
        state = state.add(stop_wh)
    return state.energy_wh


@dataclass(frozen=True, slots=True)
class EnergyCounter:
    """Running energy for in-order readings (the incremental form of ``energy_wh``)."""

    energy_wh: Decimal = ZERO
    last_register_wh: Decimal | None = None

    @classmethod
    def starting_at(cls, start_wh: Decimal | None) -> EnergyCounter:
        return cls(ZERO, start_wh)

    def add(self, reading_wh: Decimal) -> EnergyCounter:
        if reading_wh < 0:
            return self  # a negative register is a station bug: ignore the reading
        last = self.last_register_wh
        if last is None:
            return EnergyCounter(self.energy_wh, reading_wh)
        if reading_wh >= last:
            return EnergyCounter(self.energy_wh + reading_wh - last, reading_wh)
        if reading_wh * 2 > last:  # a dip (rounding, jitter): nothing delivered, keep the baseline
            return self
        return EnergyCounter(self.energy_wh + reading_wh, reading_wh)  # the register restarted


def latest(samples: Iterable[MeterSample], measurand: str) -> MeterSample | None:
    """The newest total (phase-less, or summed over L1-L3) sample of a measurand."""
    best: MeterSample | None = None
    for sample in samples:
        if sample.measurand == measurand and sample.phase is None and (
            best is None or sample.at >= best.at
        ):
            best = sample
    return best
