"""Demo structures for Eure-et-Loir: the MAMs of the demo agrément extract (same mam_id, name and address) and a
few relais petite enfance. Fictional e-mail addresses under example.org (RFC 2606)."""
from __future__ import annotations

from agrement.extract.domain.demo import generate_demo_records
from agrement.structures.domain.format import StructureRecord, format_structures

DEMO_RPES = (
    StructureRecord("rpe", "RPE28-01", "Relais petite enfance de Chartres", "rpe28-01@example.org",
                    phone="02 37 00 00 01", communes=("28085", "28218", "28229", "28209"),
                    opening_hours="lundi, mardi, jeudi 9 h – 12 h 30 et 13 h 30 – 17 h ; mercredi 9 h – 12 h"),
    StructureRecord("rpe", "RPE28-02", "Relais petite enfance du Drouais", "rpe28-02@example.org",
                    phone="02 37 00 00 02", communes=("28134", "28404"),
                    opening_hours="du lundi au vendredi 9 h – 12 h"),
    StructureRecord("rpe", "RPE28-03", "Relais petite enfance du Dunois", "rpe28-03@example.org",
                    phone="02 37 00 00 03", communes=("28088",), opening_hours="mardi et jeudi 14 h – 18 h"),
)


def demo_email(structure_id: str) -> str:
    return f"{structure_id.lower()}@example.org"


def generate_demo_structures(count: int = 300, seed: int = 28) -> list[StructureRecord]:
    """The MAMs of `generate_demo_records(count, seed)` (so their mam_id match), then DEMO_RPES."""
    mams: dict[str, StructureRecord] = {}
    for record in generate_demo_records(count, seed):
        if record.mam_id and record.mam_id not in mams:
            mams[record.mam_id] = StructureRecord(
                "mam", record.mam_id, record.mam_name, demo_email(record.mam_id), address_line=record.address_line,
                postcode=record.postcode, commune_insee=record.commune_insee)
    return [*sorted(mams.values(), key=lambda mam: mam.structure_id), *DEMO_RPES]


def generate_demo_structures_extract(count: int = 300, seed: int = 28) -> str:
    return format_structures(generate_demo_structures(count, seed))
