"""The development provider's test identities (fictional people; INSEE codes for birthplace and birthcountry as
FranceConnect gives them). Each is there for a case of the portal:

- `marie`: matches demo agrément 280001 (Marie DUPONT, born 1985-04-12, no separate birth name);
- `helene`: no e-mail; matches demo agrément 280002, whose holder uses her married name (MARTIN) while FranceConnect
  gives her compound birth name spelt without accents or hyphen;
- `amina`: born abroad (Morocco), birth date known only as the year, given as 1978-01-01; matches demo agrément
  280003, recorded by the PMI with the same date;
- `jean`: matches no agrément.
"""
from __future__ import annotations

TEST_IDENTITIES: dict[str, dict] = {
    "marie": {"given_name": "Marie", "family_name": "DUPONT", "birthdate": "1985-04-12", "gender": "female",
              "birthplace": "28085", "birthcountry": "99100", "email": "marie.dupont@example.org",
              "preferred_username": ""},
    "helene": {"given_name": "Hélène Anne", "family_name": "LE GALL MARECHAL", "birthdate": "1979-11-23",
               "gender": "female", "birthplace": "29019", "birthcountry": "99100", "preferred_username": "MARTIN"},
    "amina": {"given_name": "Amina", "family_name": "EL AMRANI", "birthdate": "1978-01-01", "gender": "female",
              "birthplace": "", "birthcountry": "99350", "email": "amina.elamrani@example.net",
              "preferred_username": ""},
    "jean": {"given_name": "Jean", "family_name": "INCONNU", "birthdate": "1990-06-15", "gender": "male",
             "birthplace": "75056", "birthcountry": "99100", "email": "jean.inconnu@example.com",
             "preferred_username": ""},
}

LABELS = {
    "marie": "Marie DUPONT, née le 12/04/1985 (agrément de démonstration 280001)",
    "helene": "Hélène LE GALL MARECHAL épouse MARTIN, née le 23/11/1979, sans adresse e-mail (agrément 280002)",
    "amina": "Amina EL AMRANI, née au Maroc en 1978, jour et mois inconnus (agrément 280003)",
    "jean": "Jean INCONNU, né le 15/06/1990 (ne correspond à aucun agrément)",
}
