"""The PMI's agrément extract: parsing, validation (reasons in French), writing, fingerprints, JSON form."""
import csv
import io
import json
from datetime import date

import pytest

from agrement.extract.domain.format import (
    COLUMNS, HEADER, AgrementStatus, ExtractFormatError, ExtractHeaderError, PlaceType, Rejection,
    decode_extract, format_extract, iter_extract, parse_extract, record_fingerprint, record_from_dict,
    record_to_dict)

VALID = {
    "pmi_number": "281234",
    "civility": "Mme",
    "last_name": "LEMAIRE",
    "birth_name": "FOUCHER",
    "first_name": "Sandrine",
    "birth_date": "1979-03-14",
    "email": "sandrine.lemaire@example.org",
    "phone": "06 39 98 12 34",
    "address_line": "5 rue des Lilas",
    "address_complement": "",
    "postcode": "28110",
    "commune_insee": "28218",
    "circonscription": "Chartres",
    "capacity_total": "4",
    "capacity_under_3": "3",
    "capacity_note": "",
    "validity_start": "2022-01-01",
    "validity_end": "2031-12-31",
    "status": "active",
    "publication_opposed": "0",
    "place_type": "home",
    "mam_id": "",
    "mam_name": "",
    "legacy_own_children_counted": "0",
}


def row(**changes) -> dict:
    values = dict(VALID)
    values.update({key: str(value) for key, value in changes.items()})
    return values


def extract(*rows: dict, columns=COLUMNS) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([values.get(column, "") for column in columns] for values in rows)
    return out.getvalue()


def only_rejection(text: str, **kwargs) -> Rejection:
    result = parse_extract(text, **kwargs)
    assert result.records == []
    assert len(result.rejections) == 1
    return result.rejections[0]


# --- valid rows --------------------------------------------------------------------------------------------

def test_a_valid_row_gives_a_normalised_record():
    result = parse_extract(extract(row(civility="madame", email="Sandrine.Lemaire@Example.ORG",
                                       phone="+33 6 39 98 12 34", last_name="  LEMAIRE   DUVAL ")))
    assert result.rejections == []
    [record] = result.records
    assert record.pmi_number == "281234"
    assert record.civility == "Mme"
    assert record.last_name == "LEMAIRE DUVAL"
    assert record.birth_name == "FOUCHER"
    assert record.birth_date == date(1979, 3, 14)
    assert record.email == "sandrine.lemaire@example.org"
    assert record.phone == "06 39 98 12 34"
    assert record.address_complement is None
    assert record.capacity_total == 4 and record.capacity_under_3 == 3
    assert record.status is AgrementStatus.ACTIVE
    assert record.place_type is PlaceType.HOME
    assert record.publication_opposed is False
    assert result.record_lines == {"281234": 2}


def test_french_dates_are_accepted_and_give_the_same_record():
    iso = parse_extract(extract(row())).records[0]
    french = parse_extract(extract(row(birth_date="14/03/1979", validity_start="1/1/2022",
                                       validity_end="31/12/2031"))).records[0]
    assert french == iso
    assert record_fingerprint(french) == record_fingerprint(iso)


def test_utf8_bom_is_accepted_in_text_and_bytes():
    text = "\ufeff" + extract(row(last_name="CARRÉ"))
    assert parse_extract(text).records[0].last_name == "CARRÉ"
    assert parse_extract(text.encode("utf-8")).records[0].last_name == "CARRÉ"
    assert decode_extract(text.encode("utf-8")).startswith("pmi_number;")
    # A file opened with encoding="utf-8" (not utf-8-sig) keeps the BOM in the first header cell.
    assert parse_extract(text.splitlines(keepends=True)).records[0].last_name == "CARRÉ"


def test_bytes_that_are_not_utf8_are_refused_as_a_whole():
    with pytest.raises(ExtractFormatError, match="UTF-8"):
        parse_extract(extract(row(last_name="CARRÉ")).encode("cp1252"))


def test_valid_rows_are_kept_alongside_rejected_ones():
    result = parse_extract(extract(row(pmi_number="280010"), row(pmi_number="12345"), row(pmi_number="280012")))
    assert [record.pmi_number for record in result.records] == ["280010", "280012"]
    assert [(rejection.line, rejection.pmi_number) for rejection in result.rejections] == [(3, None)]
    assert result.record_lines == {"280010": 2, "280012": 4}
    assert result.row_count == 3
    assert "ligne 3 : numéro PMI « 12345 » : 6 chiffres attendus" in result.report()


def test_columns_in_any_order_and_optional_columns_may_be_left_out():
    columns = tuple(reversed([column for column in COLUMNS
                              if column not in ("capacity_note", "legacy_own_children_counted")]))
    record = parse_extract(extract(row(), columns=columns)).records[0]
    assert record.capacity_note is None and record.legacy_own_children_counted is False


def test_blank_rows_are_skipped_and_lines_count_physical_lines():
    text = extract(row(pmi_number="280010"), row(pmi_number="280011"))
    lines = text.splitlines()
    text = "\n".join([lines[0], "", ";;;;", lines[1].replace("5 rue des Lilas", '"5 rue des Lilas\nBât. A"'),
                      lines[2].replace("280011", "28001X")]) + "\n"
    result = parse_extract(text)
    assert result.record_lines == {"280010": 4}
    assert result.records[0].address_line == "5 rue des Lilas Bât. A"
    assert result.rejections[0].line == 6


def test_iter_extract_streams_rows_from_an_iterable_of_lines():
    consumed = []

    def lines():
        for index, line in enumerate(extract(*(row(pmi_number=f"28{n:04d}") for n in range(100))).splitlines()):
            consumed.append(index)
            yield line

    rows = iter_extract(lines())
    line, first = next(rows)
    assert (line, first.pmi_number) == (2, "280000")
    assert len(consumed) < 10  # the rest of the file has not been read yet
    assert sum(1 for _ in rows) == 99


# --- rejections (one test per bad input) -------------------------------------------------------------------

@pytest.mark.parametrize("value", ["12345", "1234567", "28A123", "28 123"])
def test_pmi_number_must_have_6_digits(value):
    rejection = only_rejection(extract(row(pmi_number=value)))
    assert rejection.pmi_number is None
    assert rejection.reasons == [f"numéro PMI « {value} » : 6 chiffres attendus"]


@pytest.mark.parametrize("value", ["١٢٣٤٥٦", "２８１２３４", "28123٤"])
def test_pmi_number_digits_are_ascii_digits(value):
    # str.isdigit() says yes to these; the kernel's validators (services.validators) say no, as every service does.
    rejection = only_rejection(extract(row(pmi_number=value)))
    assert rejection.pmi_number is None
    assert rejection.reasons == [f"numéro PMI « {value} » : 6 chiffres attendus"]


def test_pmi_number_keeps_its_leading_zeros():
    assert parse_extract(extract(row(pmi_number="002801"))).records[0].pmi_number == "002801"


def test_missing_pmi_number():
    assert only_rejection(extract(row(pmi_number=""))).reasons == ["numéro PMI : valeur manquante"]


def test_unknown_commune_code():
    rejection = only_rejection(extract(row(commune_insee="99999")))
    assert rejection.pmi_number == "281234"
    assert rejection.reasons == ["commune INSEE « 99999 » inconnue"]


def test_malformed_commune_code():
    assert only_rejection(extract(row(commune_insee="2808"))).reasons == [
        "commune INSEE « 2808 » : 5 caractères attendus (ex. 28085)"]


@pytest.mark.parametrize("value", ["٢٨٢١٨", "２８２１８", "28 218"])
def test_commune_code_digits_are_ascii_digits(value):
    assert only_rejection(extract(row(commune_insee=value))).reasons == [
        f"commune INSEE « {value} » : 5 caractères attendus (ex. 28085)"]


@pytest.mark.parametrize("value, code", [("2A004", "2A004"), ("2a004", "2A004")])
def test_corsican_commune_codes_are_read_in_upper_case(value, code):
    [record] = parse_extract(extract(row(commune_insee=value, postcode="20090"))).records
    assert record.commune_insee == code


def test_commune_outside_the_departement_when_one_is_given():
    text = extract(row(commune_insee="45234", postcode="45000"))
    assert parse_extract(text).rejections == []
    assert only_rejection(text, departement="28").reasons == [
        "commune INSEE « 45234 » (Orléans) hors du département 28"]


def test_postcode_must_match_the_commune():
    assert only_rejection(extract(row(postcode="28000"))).reasons == [
        "code postal « 28000 » ne correspond pas à la commune Lucé (28110)"]
    assert only_rejection(extract(row(postcode="2811"))).reasons == ["code postal « 2811 » : 5 chiffres attendus"]
    assert only_rejection(extract(row(postcode="２８１１０"))).reasons == [
        "code postal « ２８１１０ » : 5 chiffres attendus"]


@pytest.mark.parametrize("value", ["31/02/1980", "1980-02-30", "29/02/1981", "00/01/1980", "12/13/1980"])
def test_impossible_birth_date(value):
    assert only_rejection(extract(row(birth_date=value))).reasons == [f"date de naissance « {value} » impossible"]


@pytest.mark.parametrize("value", ["1980.02.12", "12-02-1980", "19800212", "12 février 1980"])
def test_birth_date_in_an_unknown_format(value):
    assert only_rejection(extract(row(birth_date=value))).reasons == [
        f"date de naissance « {value} » : format AAAA-MM-JJ ou JJ/MM/AAAA attendu"]


def test_validity_must_end_after_it_starts():
    assert only_rejection(extract(row(validity_start="2022-01-01", validity_end="2022-01-01"))).reasons == [
        "fin de validité (2022-01-01) antérieure ou égale au début (2022-01-01)"]


def test_negative_capacity():
    assert only_rejection(extract(row(capacity_total="-1"))).reasons == ["capacité totale négative"]
    assert only_rejection(extract(row(capacity_under_3="-2"))).reasons == ["capacité moins de 3 ans négative"]


def test_capacity_limits_of_casf_l421_4():
    assert only_rejection(extract(row(capacity_total="0", capacity_under_3="0"))).reasons == [
        "capacité totale nulle : au moins 1 place"]
    assert only_rejection(extract(row(capacity_total="7"))).reasons == [
        "capacité totale « 7 » : au plus 6 (CASF L421-4)"]
    assert only_rejection(extract(row(capacity_total="3", capacity_under_3="4"))).reasons == [
        "capacité moins de 3 ans (4) supérieure à la capacité totale (3)"]
    assert only_rejection(extract(row(capacity_total="2", capacity_under_3="5"))).reasons == [
        "capacité moins de 3 ans « 5 » : au plus 4 (CASF L421-4)"]
    assert only_rejection(extract(row(capacity_total="trois"))).reasons == [
        "capacité totale « trois » : nombre entier attendu"]


def test_more_than_4_places_only_for_a_derogation_granted_before_the_2021_reform():
    since_reform = extract(row(capacity_total="5", validity_start="2021-05-21", validity_end="2031-05-20"))
    assert only_rejection(since_reform).reasons == [
        "capacité totale « 5 » : au plus 4 pour un agrément délivré ou renouvelé depuis le 21/05/2021 (CASF L421-4)"]
    before = parse_extract(extract(row(capacity_total="6", validity_start="2019-06-01", validity_end="2029-05-31",
                                       legacy_own_children_counted="1")))
    assert before.rejections == []
    assert before.records[0].capacity_total == 6
    assert before.records[0].legacy_own_children_counted is True


def test_duplicate_pmi_number_rejects_the_later_rows():
    result = parse_extract(extract(row(pmi_number="280010"), row(pmi_number="280011"),
                                   row(pmi_number="280010", first_name="Autre"),
                                   row(pmi_number="280010", first_name="Encore")))
    assert [record.pmi_number for record in result.records] == ["280010", "280011"]
    assert result.records[0].first_name == "Sandrine"
    assert [(r.line, r.pmi_number, r.reasons) for r in result.rejections] == [
        (4, "280010", ["numéro PMI en double dans le fichier (déjà ligne 2)"]),
        (5, "280010", ["numéro PMI en double dans le fichier (déjà ligne 2)"]),
    ]


def test_duplicate_of_a_rejected_row_is_rejected_too():
    result = parse_extract(extract(row(pmi_number="280010", birth_date="31/02/1980"), row(pmi_number="280010")))
    assert result.records == []
    assert result.rejections[1].reasons == ["numéro PMI en double dans le fichier (déjà ligne 2)"]


def test_every_reason_of_a_row_is_reported():
    rejection = only_rejection(extract(row(civility="Dr", first_name="", email="pas d'email", phone="12",
                                           status="actif", place_type="maison", publication_opposed="oui")))
    assert rejection.reasons == [
        "civilité « Dr » : Mme ou M. attendu",
        "prénom : valeur manquante",
        "e-mail « pas d'email » invalide",
        "téléphone « 12 » : numéro à 10 chiffres attendu (ex. 02 37 00 00 00)",
        "statut « actif » : active, temporary_stop, suspended ou withdrawn attendu",
        "opposition à la publication « oui » : 0 ou 1 attendu",
        "lieu d'exercice « maison » : home ou mam attendu",
    ]
    assert str(rejection).startswith("ligne 2 (n° 281234) : civilité « Dr »")


def test_names_need_letters():
    assert only_rejection(extract(row(last_name="DUP0NT"))).reasons == ["nom « DUP0NT » : lettres attendues"]


def test_expired_is_not_a_status_of_the_extract():
    assert only_rejection(extract(row(status="expired"))).reasons[0].startswith("statut « expired » : l'expiration")


def test_birth_date_after_the_start_of_validity():
    assert only_rejection(extract(row(birth_date="2023-01-01"))).reasons == [
        "date de naissance postérieure au début de validité de l'agrément"]


def test_unknown_circonscription_when_the_list_is_given():
    text = extract(row(circonscription="Orléans"))
    assert only_rejection(text, circonscriptions={"Chartres", "Dreux"}).reasons == [
        "circonscription « Orléans » inconnue"]


def test_wrong_number_of_cells():
    text = extract(row()).rstrip("\n") + ";en trop\n"
    rejection = only_rejection(text)
    assert rejection.pmi_number == "281234"
    assert rejection.reasons[0].startswith("25 colonnes au lieu de 24")
    # The broken row still holds its PMI number: a later row with it is a duplicate.
    later = parse_extract(text + extract(row()).splitlines()[1] + "\n").rejections[1]
    assert later.reasons == ["numéro PMI en double dans le fichier (déjà ligne 2)"]


# --- MAM ---------------------------------------------------------------------------------------------------

def mam_row(pmi_number: str, **changes) -> dict:
    values = dict(place_type="mam", mam_id="MAM28-01", mam_name="MAM Les Lucioles", address_line="3 rue du Puits",
                  pmi_number=pmi_number)
    values.update(changes)
    return row(**values)


def test_place_type_and_mam_fields_must_agree():
    assert only_rejection(extract(row(place_type="mam"))).reasons == [
        "identifiant MAM : valeur manquante pour un exercice en MAM",
        "nom de la MAM : valeur manquante pour un exercice en MAM"]
    assert only_rejection(extract(row(mam_id="MAM28-01"))).reasons == [
        "identifiant ou nom de MAM donné pour un exercice à domicile (lieu d'exercice « home »)"]


def test_a_mam_gathers_at_most_6_assmats_casf_l424_1():
    rows = [mam_row(f"2800{n:02d}") for n in range(7)]
    rows.insert(0, mam_row("280099", status="withdrawn"))  # a withdrawn member does not count
    result = parse_extract(extract(*rows))
    assert len(result.records) == 7
    assert [(r.line, r.reasons) for r in result.rejections] == [
        (9, ["MAM « MAM28-01 » : plus de 6 assistants maternels (CASF L424-1)"])]


def test_members_of_a_mam_share_its_name_and_address():
    result = parse_extract(extract(
        mam_row("280001"),
        mam_row("280002", mam_name="mam les lucioles", address_line="3, rue du puits"),  # same once normalised
        mam_row("280003", mam_name="MAM Les Coccinelles"),
        mam_row("280004", address_line="5 rue du Puits")))
    assert len(result.records) == 2
    assert [r.reasons for r in result.rejections] == [
        ["MAM « MAM28-01 » : nom différent de celui de la ligne 2"],
        ["MAM « MAM28-01 » : adresse différente de celle de la ligne 2"]]


# --- header ------------------------------------------------------------------------------------------------

def test_header_with_missing_and_unknown_columns():
    columns = [column for column in COLUMNS if column not in ("birth_date", "postcode")] + ["date_naissance"]
    with pytest.raises(ExtractHeaderError) as error:
        parse_extract(extract(row(), columns=columns))
    assert error.value.missing == ("birth_date", "postcode")
    assert error.value.unknown == ("date_naissance",)
    assert "colonnes manquantes : birth_date, postcode" in str(error.value)
    assert "colonnes inconnues : date_naissance" in str(error.value)


def test_header_with_a_duplicated_column():
    with pytest.raises(ExtractHeaderError, match="colonnes en double : email") as error:
        parse_extract(extract(row(), columns=COLUMNS + ("email",)))
    assert error.value.duplicated == ("email",)


def test_header_with_the_wrong_separator():
    with pytest.raises(ExtractHeaderError, match="séparateur attendu est « ; »"):
        parse_extract(HEADER.replace(";", ",") + "\n")


@pytest.mark.parametrize("text", ["", "\n", "\ufeff"])
def test_empty_file(text):
    with pytest.raises(ExtractHeaderError, match="fichier vide"):
        parse_extract(text)


def test_header_is_case_and_space_insensitive():
    header = ";".join(f" {column.upper()} " for column in COLUMNS)
    text = header + "\n" + extract(row()).splitlines()[1]
    assert len(parse_extract(text).records) == 1


# --- writing, JSON, fingerprint ----------------------------------------------------------------------------

def test_format_extract_round_trips():
    note = "dont 1 place en périscolaire ; le mercredi"  # a ";" inside a cell is quoted
    result = parse_extract(extract(row(), mam_row("280001", capacity_note=note)))
    assert result.rejections == [] and result.records[1].capacity_note == note
    text = format_extract(result.records)
    assert text.splitlines()[0] == HEADER
    assert parse_extract(text).records == result.records


def test_record_to_dict_and_back_through_json():
    record = parse_extract(extract(row(publication_opposed="1"))).records[0]
    data = json.loads(json.dumps(record_to_dict(record)))
    assert data["birth_date"] == "1979-03-14" and data["status"] == "active"
    assert data["publication_opposed"] is True
    assert record_from_dict(data) == record
    data["a_field_from_a_newer_version"] = 1
    del data["capacity_note"]
    assert record_from_dict(data) == record


def test_fingerprint_is_stable_and_sensitive_to_any_business_change():
    record = parse_extract(extract(row())).records[0]
    again = parse_extract(extract(row(civility="MADAME", phone="0639981234", birth_date="14/03/1979"))).records[0]
    assert record_fingerprint(record) == record_fingerprint(again)
    # Pinned: the fingerprint must not change between versions, or every row would look modified.
    assert record_fingerprint(record) == "327e3d3883db55548125b0a22aeae9d02afa708347e0603d89fb3f7160d4c2c4"
    changed = parse_extract(extract(row(phone="06 39 98 12 35"))).records[0]
    assert record_fingerprint(changed) != record_fingerprint(record)
    for changes in ({"status": "temporary_stop"}, {"publication_opposed": "1"}, {"capacity_under_3": "2"},
                    {"validity_end": "2031-12-30"}, {"email": ""}, {"address_complement": "Bâtiment B"}):
        assert record_fingerprint(parse_extract(extract(row(**changes))).records[0]) != record_fingerprint(record)
