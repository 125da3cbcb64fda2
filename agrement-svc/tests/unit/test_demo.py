"""The demo extract for Eure-et-Loir: valid, deterministic, plausible, with the fixed README assmat."""
from collections import Counter, defaultdict
from datetime import date

import pytest

from agrement.extract.domain.demo import (
    DEMO_ASSMAT, DEMO_BIRTH_DATE, DEMO_CIRCONSCRIPTIONS, DEMO_PMI_NUMBER, demo_circonscription,
    generate_demo_extract, generate_demo_records)
from agrement.extract.domain.format import HEADER, AgrementStatus, PlaceType, parse_extract
from services.communes import get_commune, load_communes


@pytest.fixture(scope="module")
def demo():
    text = generate_demo_extract()
    return text, parse_extract(text, departement="28", circonscriptions=DEMO_CIRCONSCRIPTIONS)


def test_the_demo_extract_parses_with_zero_rejections(demo):
    text, result = demo
    assert text.splitlines()[0] == HEADER
    assert result.rejections == []
    assert len(result.records) == 300
    assert len({record.pmi_number for record in result.records}) == 300


def test_it_contains_the_readme_assmat(demo):
    _text, result = demo
    marie = next(record for record in result.records if record.pmi_number == "280001")
    assert marie == DEMO_ASSMAT
    assert (DEMO_PMI_NUMBER, DEMO_BIRTH_DATE) == ("280001", date(1985, 4, 12))
    assert marie.birth_date == date(1985, 4, 12)
    assert marie.status is AgrementStatus.ACTIVE and not marie.publication_opposed
    assert marie.commune_insee == "28085" and marie.postcode == "28000"
    assert marie.email is None
    assert result.record_lines["280001"] == 2


def test_it_contains_the_agrements_of_the_franceconnect_test_identities(demo):
    _text, result = demo
    by_number = {record.pmi_number: record for record in result.records}
    helene, amina = by_number["280002"], by_number["280003"]
    assert (helene.last_name, helene.birth_name, helene.birth_date) == ("MARTIN", "LE GALL-MARÉCHAL",
                                                                      date(1979, 11, 23))
    assert helene.email is None and helene.status is AgrementStatus.ACTIVE
    assert (amina.last_name, amina.birth_name, amina.birth_date) == ("EL AMRANI", None, date(1978, 1, 1))
    assert amina.status is AgrementStatus.ACTIVE
    assert generate_demo_records(2)[1].pmi_number == "280002"   # small extracts keep what fits


def test_it_is_deterministic_for_a_seed():
    assert generate_demo_extract(60, seed=7) == generate_demo_extract(60, seed=7)
    assert generate_demo_extract(60, seed=7) != generate_demo_extract(60, seed=8)


def test_assmats_live_on_real_communes_of_eure_et_loir_weighted_by_population(demo):
    _text, result = demo
    by_commune = Counter(record.commune_insee for record in result.records)
    communes_28 = load_communes("28")
    assert set(by_commune) <= set(communes_28)
    for code in ("28085", "28134", "28218", "28229", "28209", "28070"):  # Chartres, Dreux, Lucé, Mainvilliers...
        assert by_commune[code] >= 2, get_commune(code).name
    assert by_commune.most_common(2)[0][0] in ("28085", "28134")
    for record in result.records:
        assert record.postcode in communes_28[record.commune_insee].postcodes
        assert record.circonscription == demo_circonscription(communes_28[record.commune_insee])


def test_a_few_mams_of_2_to_6_assmats_at_one_address(demo):
    _text, result = demo
    members = defaultdict(list)
    for record in result.records:
        assert (record.place_type is PlaceType.MAM) == (record.mam_id is not None)
        if record.mam_id:
            members[record.mam_id].append(record)
    assert 2 <= len(members) <= 10
    for mam_records in members.values():
        assert 2 <= len(mam_records) <= 6
        assert len({(r.mam_name, r.address_line, r.postcode, r.commune_insee) for r in mam_records}) == 1


def test_plausible_people_and_statuses(demo):
    _text, result = demo
    records = result.records
    statuses = Counter(record.status for record in records)
    assert statuses[AgrementStatus.ACTIVE] > 0.75 * len(records)
    for status in (AgrementStatus.TEMPORARY_STOP, AgrementStatus.SUSPENDED, AgrementStatus.WITHDRAWN):
        assert 0 < statuses[status] < 0.15 * len(records)
    assert 0 < sum(record.publication_opposed for record in records) < 0.15 * len(records)
    assert all(date(1960, 1, 1) <= record.birth_date <= date(2000, 12, 31) for record in records)
    assert all(record.address_line.split(" ")[0].isdigit() for record in records)
    assert all(record.email is None or record.email.split("@")[1].startswith("example.") for record in records)
    assert Counter(record.civility for record in records)["Mme"] > 0.85 * len(records)


@pytest.mark.parametrize("count", [1, 2, 15, 61])
def test_small_counts(count):
    records = generate_demo_records(count)
    assert len(records) == count and records[0] == DEMO_ASSMAT
    assert parse_extract(generate_demo_extract(count), departement="28").rejections == []


def test_count_must_be_positive():
    with pytest.raises(ValueError):
        generate_demo_records(0)
