"""Indonesian name rules of domain 6.2: titles, abbreviations, patronymics, phonetic keys."""

from __future__ import annotations

import polars as pl
import pytest

from assets.standardise.names import NAME_FIELDS, standardise_name, standardise_name_column


def name(raw: str | None) -> dict:
    frame = pl.DataFrame({"nama": [raw]}, schema={"nama": pl.String})
    return frame.select(standardise_name(pl.col("nama")).alias("r")).item(0, "r")


def field(values: list[str], which: str) -> list:
    frame = pl.DataFrame({"nama": values})
    return frame.select(standardise_name(pl.col("nama")).struct.field(which)).to_series().to_list()


def test_haji_with_old_spelling_and_a_degree():
    assert name("H. MOCH. DJOKO SOESILO, S.PD") == {
        "clean": "MUHAMMAD DJOKO SOESILO",
        "titles": "H S.PD",
        "given": "MUHAMMAD DJOKO SOESILO",
        "father": None,
        "tokens": ["MUHAMMAD", "DJOKO", "SOESILO"],
        "key": "MUHAMAD YOKO SUSILO",
        "key_nospace": "MUHAMADYOKOSUSILO",
        "key_sorted": "MUHAMAD SUSILO YOKO",
        "first_key": "MUHAMAD",
        "last_key": "SUSILO",
        "key_weak": "MUHAMAD YOKA SUSILA",
    }


def test_struct_fields_are_in_documented_order():
    struct = pl.DataFrame({"nama": ["SRI WAHYUNI"]}).select(standardise_name(pl.col("nama"))).to_series()
    assert tuple(f.name for f in struct.dtype.fields) == NAME_FIELDS


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("DJOKO", "JOKO"),
        ("SOESILO", "SUSILO"),
        ("JANTI", "YANTI"),          # old j = modern y
        ("TJAHJONO", "CAHYONO"),
        ("SOEHARTO", "SUHARTO"),
        ("BOEDI", "BUDI"),
        ("NJOMAN", "NYOMAN"),
        ("SJARIFAH", "SYARIFAH"),
        ("RACHMAT", "RAHMAT"),
        ("ZAENAL", "ZAINAL"),
        ("FATIMAH", "FATIMA"),
        ("HANNA", "HANA"),
        ("QOMARIAH", "KOMARIAH"),
        ("RIZKY", "RIZKI"),          # a final Y after a consonant
        ("HENDRY", "HENDRI"),
    ],
)
def test_spelling_variants_share_the_phonetic_key(old, new):
    old_key, new_key = field([old, new], "key")
    assert old_key == new_key


def test_djoko_and_joko_differ_from_yoko_only_in_the_key():
    assert field(["DJOKO", "JOKO"], "clean") == ["DJOKO", "JOKO"]


@pytest.mark.parametrize(
    "raw",
    ["MOHAMMAD RIZKI", "MUHAMAD RIZKI", "MUH. RIZKI", "M. RIZKI", "MOCHAMAD RIZKI", "Moch Rizki", "MHD RIZKI"],
)
def test_muhammad_family_becomes_one_token(raw):
    assert name(raw)["clean"] == "MUHAMMAD RIZKI"


@pytest.mark.parametrize("raw", ["ACHMAD FAUZI", "AKHMAD FAUZI", "AHMED FAUZI", "AHM. FAUZI", "ACHM FAUZI"])
def test_ahmad_family_becomes_one_token(raw):
    assert name(raw)["clean"] == "AHMAD FAUZI"


def test_abbreviations_expand_only_as_whole_tokens():
    assert field(["ABD. RAHMAN", "AB RAHMAN", "NR HAYATI", "ST. AMINAH", "ABDI MAULANA"], "clean") == [
        "ABDUL RAHMAN", "ABDUL RAHMAN", "NUR HAYATI", "SITI AMINAH", "ABDI MAULANA",
    ]
    # A final M is an initial (SRI M. = Sri M-something), not Muhammad; ST after a name is S.T.
    assert name("SRI M.")["clean"] == "SRI M"
    assert name("AGUS SETIAWAN ST")["clean"] == "AGUS SETIAWAN"


def test_patronymic_splits_given_and_father():
    result = name("SITI NURHAYATI BINTI ABDUL RAHMAN")
    assert (result["clean"], result["given"], result["father"]) == (
        "SITI NURHAYATI BINTI ABDUL RAHMAN", "SITI NURHAYATI", "ABDUL RAHMAN",
    )
    assert result["tokens"] == ["SITI", "NURHAYATI"] and result["key"] == "SITI NURHAYATI"


@pytest.mark.parametrize(
    ("raw", "given", "father", "clean"),
    [
        ("AHMAD BIN ABDULLAH", "AHMAD", "ABDULLAH", "AHMAD BIN ABDULLAH"),
        ("SUTRISNO B. SALEH", "SUTRISNO", "SALEH", "SUTRISNO BIN SALEH"),
        ("NY. SYARIFAH BT H. ALI", "SYARIFAH", "H ALI", "SYARIFAH BINTI H ALI"),
        ("AMINAH BTI ISMAIL", "AMINAH", "ISMAIL", "AMINAH BINTI ISMAIL"),
        ("AHMAD BIN", "AHMAD", None, "AHMAD BIN"),
    ],
)
def test_patronymic_markers(raw, given, father, clean):
    result = name(raw)
    assert (result["given"], result["father"], result["clean"]) == (given, father, clean)


def test_compound_names_agree_without_spaces():
    assert len(set(field(["NUR HAYATI", "NURHAYATI"], "key_nospace"))) == 1
    assert set(field(["ABDUL RAHMAN", "ABDURRAHMAN", "Abd. Rahman", "ABDULRAHMAN"], "key_nospace")) == {
        "ABDURAHMAN"
    }
    # The spaced keys stay apart, so a comparison can tell the two cases apart.
    assert field(["NUR HAYATI", "NURHAYATI"], "key") == ["NUR HAYATI", "NURHAYATI"]


def test_token_order_and_first_last_keys():
    a, b = field(["SRI WAHYUNI", "WAHYUNI SRI"], "key_sorted")
    assert a == b == "SRI WAHYUNI"
    result = name("SUTRISNO")
    assert result["first_key"] == result["last_key"] == "SUTRISNO"
    assert (name("I WAYAN SUDARSANA")["first_key"], name("I WAYAN SUDARSANA")["last_key"]) == ("I", "SUDARSANA")


def test_weak_key_merges_javanese_final_a_and_o():
    assert field(["SUSILO", "SUSILA"], "key") == ["SUSILO", "SUSILA"]
    assert field(["SUSILO", "SUSILA"], "key_weak") == ["SUSILA", "SUSILA"]
    assert len(set(field(["SUTRISNO", "SUTRISNA"], "key_weak"))) == 1


@pytest.mark.parametrize(
    ("raw", "clean", "titles"),
    [
        ("Dr. Ir. H. Sutrisno, M.M.", "SUTRISNO", "DR IR H M.M"),
        ("HJ SITI AMINAH SE", "SITI AMINAH", "HJ S.E"),
        ("I WAYAN SUDARSANA, S.E., M.M", "I WAYAN SUDARSANA", "S.E M.M"),
        ("R.A. KARTINI", "KARTINI", "RA"),
        ("K.H. ABDURRAHMAN WAHID", "ABDURRAHMAN WAHID", "KH"),
        ("Prof. Dr. Siti Musdah Mulia", "SITI MUSDAH MULIA", "PROF DR"),
        ("IBU SRI WAHYUNI S.Pd.I", "SRI WAHYUNI", "IBU S.PD.I"),
        ("SLAMET (ALM)", "SLAMET", "ALM"),
    ],
)
def test_titles_and_degrees_are_stripped_and_kept(raw, clean, titles):
    result = name(raw)
    assert (result["clean"], result["titles"]) == (clean, titles)


def test_one_letter_titles_need_two_name_tokens_left():
    # H. AHMAD may be Haji Ahmad or an initial: with one token left the H stays.
    assert (name("H. AHMAD")["clean"], name("H. AHMAD")["titles"]) == ("H AHMAD", None)
    assert (name("H. AHMAD DAHLAN")["clean"], name("H. AHMAD DAHLAN")["titles"]) == ("AHMAD DAHLAN", "H")
    assert name("T. HASAN BASRI")["clean"] == "HASAN BASRI"
    # A title alone is kept as the name rather than leaving nothing.
    assert name("IBU")["clean"] == "IBU"


def test_punctuation_and_accents():
    assert field(["Ma'ruf Amin", "MA’RUF AMIN", "José", "NUR-HAYATI"], "clean") == [
        "MARUF AMIN", "MARUF AMIN", "JOSE", "NUR HAYATI",
    ]


def test_missing_names_give_null_fields():
    for raw in (None, "", "-", "N/A", "..."):
        assert set(name(raw).values()) == {None}


def test_name_column_unnests_with_prefix():
    out = standardise_name_column(pl.DataFrame({"nama_ayah": ["ABDUL RAHMAN"]}), "nama_ayah", prefix="father_name")
    assert out.columns == ["nama_ayah"] + [f"father_name_{f}" for f in NAME_FIELDS]
    assert out["father_name_key_nospace"].to_list() == ["ABDURAHMAN"]


def test_digits_in_names_are_read_as_the_letters_they_look_like():
    out = standardise_name_column(pl.DataFrame({"n": ["5ITI HAYATI", "AGU5 SUPR1YADI", "N0VI"]}), "n")
    assert out["name_clean"].to_list() == ["SITI HAYATI", "AGUS SUPRIYADI", "NOVI"]
