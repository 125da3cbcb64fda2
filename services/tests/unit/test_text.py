from services.text import commune_key, fold


def test_fold_ignores_accents_case_and_punctuation():
    assert fold("Lèves") == fold("LEVES") == "leves"
    assert fold("  Le Goff-Éloi ") == "le goff eloi"
    assert fold("L’Œuvre") == "l oeuvre"


def test_commune_key_abbreviates_saint():
    assert commune_key("Saint-Prest") == commune_key("St Prest") == "st prest"
    assert commune_key("Sainte-Gemme-Moronval") == "ste gemme moronval"
    assert commune_key("Toussaint") == "toussaint"
