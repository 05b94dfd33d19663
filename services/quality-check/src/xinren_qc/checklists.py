"""Inspection checklists per category, as data: what a pass must measure, how many photos it needs, and how a
returned item is compared with its certificate. Pure rules, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    NUMBER = "NUMBER"  # a positive number in `unit`
    CHOICE = "CHOICE"  # one of `choices`
    TEXT = "TEXT"  # free text


@dataclass(frozen=True)
class Measurement:
    name: str
    kind: Kind
    label: str
    unit: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = True
    # A returned item matches its certificate when a number is within this fraction of the certified value.
    tolerance: float = 0.02


@dataclass(frozen=True)
class Checklist:
    category: str
    measurements: tuple[Measurement, ...]
    notes: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def required(self) -> list[str]:
        return [m.name for m in self.measurements if m.required]


N, C, T = Kind.NUMBER, Kind.CHOICE, Kind.TEXT

CHECKLISTS: dict[str, Checklist] = {
    c.category: c
    for c in (
        Checklist(
            "jade",
            (
                Measurement("weight_g", N, "weight", "g", tolerance=0.01),
                Measurement("length_mm", N, "length", "mm"),
                Measurement("width_mm", N, "width", "mm"),
                Measurement("thickness_mm", N, "thickness", "mm"),
                Measurement("colour", T, "colour"),
                Measurement("transparency", C, "transparency", choices=("OPAQUE", "TRANSLUCENT", "TRANSPARENT")),
                Measurement("refractive_index", N, "refractive index", tolerance=0.01),
                Measurement("specific_gravity", N, "specific gravity", tolerance=0.02),
                Measurement(
                    "treatment",
                    C,
                    "treatment (A natural, B bleached/impregnated, C dyed)",
                    choices=("A", "B", "C", "B+C"),
                ),
            ),
            notes="翡翠: A货 natural; B货 bleached and resin-impregnated; C货 dyed",
        ),
        Checklist(
            "jewellery",
            (
                Measurement("weight_g", N, "total weight", "g", tolerance=0.01),
                Measurement("metal", C, "metal", choices=("GOLD", "PLATINUM", "SILVER", "PALLADIUM", "OTHER")),
                Measurement("metal_fineness", N, "metal fineness", "‰", tolerance=0.0),
                Measurement("gem_weight_ct", N, "main gem weight", "ct", required=False, tolerance=0.01),
                Measurement("hallmark", T, "hallmark", required=False),
            ),
        ),
    )
}


def checklist_for(category: str) -> Checklist | None:
    """The category's checklist; categories without one keep the plain rule (findings and any photos)."""
    return CHECKLISTS.get(category.strip().lower())


@dataclass(frozen=True)
class Shortfall:
    """What a pass lacks: empty when the verdict may stand."""

    missing_measurements: list[str]
    invalid_measurements: list[str]
    unknown_measurements: list[str]
    photos_required: int
    photos_given: int
    seal_missing: bool

    def __bool__(self) -> bool:
        return bool(
            self.missing_measurements
            or self.invalid_measurements
            or self.unknown_measurements
            or self.photos_given < self.photos_required
            or self.seal_missing
        )

    def describe(self) -> str:
        parts = []
        if self.missing_measurements:
            parts.append("missing measurements: " + ", ".join(self.missing_measurements))
        if self.invalid_measurements:
            parts.append("invalid measurements: " + ", ".join(self.invalid_measurements))
        if self.unknown_measurements:
            parts.append("measurements not on the checklist: " + ", ".join(self.unknown_measurements))
        if self.photos_given < self.photos_required:
            parts.append(f"photos: {self.photos_given} of at least {self.photos_required}")
        if self.seal_missing:
            parts.append("seal_id: missing")
        return "; ".join(parts)


def valid_value(m: Measurement, value: Any) -> bool:
    if m.kind is Kind.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
    if m.kind is Kind.CHOICE:
        return isinstance(value, str) and value.strip().upper() in m.choices
    return isinstance(value, str) and bool(value.strip())


def shortfall(
    checklist: Checklist, measurements: Mapping[str, Any], photo_count: int, seal_id: str | None, min_photos: int
) -> Shortfall:
    """What a PASSED verdict of this checklist's category lacks (every required measurement, valid; the photos;
    the seal)."""
    known = {m.name: m for m in checklist.measurements}
    return Shortfall(
        missing_measurements=[n for n in checklist.required() if measurements.get(n) in (None, "")],
        invalid_measurements=[
            n for n, v in measurements.items() if n in known and v not in (None, "") and not valid_value(known[n], v)
        ],
        unknown_measurements=sorted(n for n in measurements if n not in known),
        photos_required=min_photos,
        photos_given=photo_count,
        seal_missing=not (seal_id and seal_id.strip()),
    )


def normalized(checklist: Checklist, measurements: Mapping[str, Any]) -> dict[str, Any]:
    """The measurements as stored: choices in upper case, text trimmed, in the checklist's order."""
    out: dict[str, Any] = {}
    for m in checklist.measurements:
        value = measurements.get(m.name)
        if value in (None, ""):
            continue
        out[m.name] = (
            value.strip().upper() if m.kind is Kind.CHOICE else value.strip() if m.kind is Kind.TEXT else value
        )
    return out


def mismatches(checklist: Checklist | None, certified: Mapping[str, Any], found: Mapping[str, Any]) -> list[str]:
    """Measurements of a returned item that differ from its certificate: numbers beyond their tolerance, choices
    that differ; a certified measurement the check left out is a mismatch too (it could not be confirmed)."""
    if checklist is None:
        return []
    out = []
    for m in checklist.measurements:
        if m.name not in certified:
            continue
        want, got = certified[m.name], found.get(m.name)
        if got in (None, ""):
            out.append(m.name)
        elif m.kind is Kind.NUMBER:
            if not valid_value(m, got) or abs(float(got) - float(want)) > abs(float(want)) * m.tolerance + 1e-9:
                out.append(m.name)
        elif m.kind is Kind.CHOICE:
            if str(got).strip().upper() != str(want).strip().upper():
                out.append(m.name)
    return out


def describe(checklist: Checklist) -> list[dict[str, Any]]:
    return [
        {
            "name": m.name,
            "label": m.label,
            "kind": m.kind,
            "unit": m.unit,
            "choices": list(m.choices),
            "required": m.required,
            "tolerance": m.tolerance,
        }
        for m in checklist.measurements
    ]


def legacy_photos(photos: Sequence[str]) -> list[str]:
    return [str(p) for p in photos]
