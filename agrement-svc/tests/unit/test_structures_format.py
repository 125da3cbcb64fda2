"""The structures extract: what a row must hold, and the demo data matching the demo agréments' MAMs."""
import pytest

from agrement.extract.domain.demo import generate_demo_records
from agrement.extract.domain.format import ExtractFormatError, Rejection
from agrement.structures.domain.demo import generate_demo_structures
from agrement.structures.domain.format import HEADER, format_structures, iter_structures

MAM = "MAM;MAM28-01;MAM Les Lucioles;Contact@Lucioles.fr;;3 rue des Lilas;28000;28085;;;"
RPE = "rpe;RPE28-01;Relais de Chartres;rpe@chartres.fr;02.37.00.00.00;;;;28085, 28218;lundi 9h-12h;open"


def read(*rows, header=HEADER):
    return list(iter_structures("\n".join([header, *rows]) + "\n"))


def test_a_mam_and_an_rpe_are_read_and_normalised():
    (_, mam), (_, rpe) = read(MAM, RPE)
    assert (mam.key, mam.email, mam.commune_insee, mam.status) == ("mam:MAM28-01", "contact@lucioles.fr", "28085",
                                                                  "open")
    assert (rpe.key, rpe.communes, rpe.phone, rpe.opening_hours) == ("rpe:RPE28-01", ("28085", "28218"),
                                                                    "02 37 00 00 00", "lundi 9h-12h")


@pytest.mark.parametrize(("row", "reason"), [
    (MAM.replace("MAM;", "CRECHE;", 1), "type"),
    (MAM.replace("Contact@Lucioles.fr", ""), "email : obligatoire"),
    (MAM.replace("Contact@Lucioles.fr", "pas une adresse"), "email"),
    (MAM.replace(";28085;", ";99999;"), "commune_insee"),
    (MAM.replace("3 rue des Lilas", ""), "une MAM a une adresse"),
    (RPE.replace("28085, 28218", ""), "au moins une commune"),
    (RPE.replace("open", "peut-être"), "status"),
    (RPE.replace("02.37.00.00.00", "12"), "phone"),
])
def test_bad_rows_are_rejected_with_the_reason_in_french(row, reason):
    [(line, item)] = read(row)
    assert isinstance(item, Rejection) and line == 2
    assert any(reason in text for text in item.reasons), item.reasons


def test_one_address_for_two_structures_and_a_repeated_key_are_rejected():
    rows = read(MAM, RPE.replace("rpe@chartres.fr", "contact@lucioles.fr"), MAM.replace("Contact@", "autre@"))
    assert [type(item).__name__ for _, item in rows] == ["StructureRecord", "Rejection", "Rejection"]
    assert "ligne 2" in rows[1][1].reasons[0] and "ligne 2" in rows[2][1].reasons[0]


def test_a_bad_header_refuses_the_file():
    with pytest.raises(ExtractFormatError, match="colonnes manquantes : email"):
        read(MAM, header=HEADER.replace(";email", ""))


def test_the_demo_mams_are_the_demo_agrements_mams_and_every_row_reads_back():
    records = generate_demo_structures()
    mam_ids = {record.mam_id for record in generate_demo_records() if record.mam_id}
    assert {r.structure_id for r in records if r.kind == "mam"} == mam_ids and mam_ids
    assert sum(r.kind == "rpe" for r in records) >= 2
    read_back = [item for _, item in iter_structures(format_structures(records))]
    assert read_back == records
