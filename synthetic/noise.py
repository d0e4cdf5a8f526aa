"""Corruptions that turn a true value into what a source system holds: name variants, NIK damage, date errors.

Each function takes the true values (a Polars Series or a numpy array), a numpy Generator and rates,
and returns the corrupted values, vectorised. The name variants invert the standardisation rules of
domain.md 6.2; NIK damage follows domain 1.1 and the starting rates of domain 9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from synthetic.population import default_birth_date, from_ymd, ymd

NA_DAY = np.iinfo(np.int32).min  # a missing date in epoch-day arrays


@dataclass(frozen=True)
class NoiseProfile:
    """How much of everything: `scale` multiplies every corruption rate."""

    name: str
    scale: float
    internal_duplicates: bool
    row_problems: bool


NOISE_PROFILES: dict[str, NoiseProfile] = {
    "default": NoiseProfile("default", 1.0, True, True),
    "heavy": NoiseProfile("heavy", 2.5, True, True),
    "clean": NoiseProfile("clean", 0.0, False, False),  # formats still vary; values are the truth
}


def noise_profile(name: str) -> NoiseProfile:
    try:
        return NOISE_PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown noise profile {name!r}; choose one of {sorted(NOISE_PROFILES)}") from None


def pick(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """Boolean mask with about `rate` of n set."""
    return rng.random(n) < rate


def _choose(rng: np.random.Generator, options: list[str], n: int) -> pl.Series:
    return pl.Series(options, dtype=pl.Utf8).gather(rng.integers(0, len(options), n))


# --- names -----------------------------------------------------------------------------------------
NAME_VARIANTS = (
    "title", "degree", "abbreviation", "spelling", "old_spelling", "compound", "patronymic",
    "initial", "typo", "ocr", "drop_token", "truncate", "title_case",
)

_TITLES_M = ["H. ", "H. ", "H ", "DRS. ", "IR. ", "KH. ", "BPK. "]
_TITLES_F = ["HJ. ", "HJ. ", "HJ ", "DRA. ", "NY. ", "IBU "]
_DEGREES = [", S.PD", ", S.E", " SE", ", S.H", ", S.KOM", ", A.MD", ", S.PD.I", ", S.SOS", " S.AG", ", S.KEP, NS"]
_MUHAMMAD_ABBREV = ["MUH. ", "MOCH. ", "M. ", "MOH. ", "MHD ", "M ", "MUHD. "]
_ABDUL_ABBREV = ["ABD. ", "ABD ", "AB. "]
_SITI_ABBREV = ["ST. ", "ST "]
_AHMAD_ABBREV = ["A. ", "AHM. "]
_MUHAMMAD_SPELLINGS = ["MUHAMAD", "MOHAMMAD", "MOHAMAD", "MOCHAMMAD", "MOCHAMAD", "MUCHAMMAD", "MUHAMMED",
                       "MOHAMMED", "MOKHAMAD", "MUKHAMMAD", "MOHD"]
_AHMAD_SPELLINGS = ["ACHMAD", "AKHMAD", "AHMED"]
_TYPO_LETTERS = list("AIUEOAIUENRSTKMLHGDBPYW")
_LOW_INFO_FIRST = r"^(I|NI|MUHAMMAD|M\.|SITI|NUR|LALU|BAIQ|AHMAD|ABDUL|IDA BAGUS|ANAK AGUNG) "


def name_variants(
    names: pl.Series,
    father_names: pl.Series,
    female: np.ndarray,
    birth_year: np.ndarray,
    rng: np.random.Generator,
    rate: float,
    weights: dict[str, float],
) -> pl.Series:
    """Apply one name variant (domain 6.2, inverted) to about `rate` of the names.

    `weights` gives the relative frequency of each variant in NAME_VARIANTS for this source; a variant
    that does not fit a name (no MUHAMMAD to abbreviate) leaves it unchanged.
    """
    n = len(names)
    w = np.array([weights.get(k, 0.0) for k in NAME_VARIANTS], dtype=float)
    rows = np.nonzero(pick(rng, n, rate))[0] if w.sum() > 0 else np.zeros(0, dtype=np.int64)
    if len(rows) == 0:
        return names
    m = len(rows)
    kind = rng.choice(len(NAME_VARIANTS), size=m, p=w / w.sum())
    fem = female[rows]
    titles = np.where(fem, np.asarray(_TITLES_F, dtype=object)[rng.integers(0, len(_TITLES_F), m)],
                      np.asarray(_TITLES_M, dtype=object)[rng.integers(0, len(_TITLES_M), m)])
    sub = pl.DataFrame({
        "n": names.gather(rows),
        "f": father_names.gather(rows),
        "kind": kind,
        "female": fem,
        "old": birth_year[rows] < 1985,
        "title": pl.Series(titles, dtype=pl.Utf8),
        "degree": _choose(rng, _DEGREES, m),
        "mu": _choose(rng, _MUHAMMAD_ABBREV, m),
        "ab": _choose(rng, _ABDUL_ABBREV, m),
        "st": _choose(rng, _SITI_ABBREV, m),
        "ah": _choose(rng, _AHMAD_ABBREV, m),
        "mus": _choose(rng, _MUHAMMAD_SPELLINGS, m),
        "ahs": _choose(rng, _AHMAD_SPELLINGS, m),
        "ch": _choose(rng, _TYPO_LETTERS, m),
        "u": rng.random(m),
        "op": rng.integers(0, 4, m),
    })
    k = {name: i for i, name in enumerate(NAME_VARIANTS)}
    n_ = pl.col("n")
    length = n_.str.len_chars()
    pos = (pl.col("u") * (length - 1).clip(lower_bound=1)).floor().cast(pl.Int64) + 1

    abbreviated = (n_.str.replace(r"^MUHAMMAD ", pl.col("mu")).str.replace(r"^ABDUL ", pl.col("ab"))
                   .str.replace(r"^SITI ", pl.col("st")).str.replace(r"^AHMAD ", pl.col("ah")))
    spelled_mu = n_.str.replace("MUHAMMAD", pl.col("mus"), literal=True)
    spelled_ah = n_.str.replace("AHMAD", pl.col("ahs"), literal=True)
    spelled_other = (pl.when(pl.col("op") == 0).then(n_.str.replace(r"AI", "AE"))
                     .when(pl.col("op") == 1).then(n_.str.replace(r"I\b", "Y"))
                     .when(pl.col("op") == 2).then(n_.str.replace(r"KH", "CH"))
                     .otherwise(n_.str.replace(r"([AEIOU])H\b", "$1")))  # FATIMAH -> FATIMA
    spelling = (pl.when(spelled_mu != n_).then(spelled_mu)
                .when(spelled_ah != n_).then(spelled_ah)
                .otherwise(spelled_other))
    # Pre-1972 spelling (domain 6.1): oe for u, dj for j, tj for c, j for y; one rule set per record.
    old_spelling = (pl.when(pl.col("op") == 0).then(n_.str.replace_all("U", "OE"))
                    .when(pl.col("op") == 1).then(n_.str.replace_all("J", "DJ").str.replace_all("Y", "J"))
                    .when(pl.col("op") == 2).then(n_.str.replace_all("C", "TJ").str.replace_all("Y", "J"))
                    .otherwise(n_.str.replace_all("Y", "J").str.replace_all("U", "OE")))
    joined = n_.str.replace(r"^(NUR|NURUL|ABDUL|SRI) ", "${1}")
    compound = (pl.when(joined != n_).then(joined)
                .otherwise(n_.str.replace(r"^(NUR|ABDUL|SRI)([A-Z]{3,})", "${1} ${2}")))
    patronymic = pl.concat_str([
        n_, pl.when(pl.col("female")).then(pl.lit(" BINTI ")).otherwise(pl.lit(" BIN ")), pl.col("f")])
    initial = n_.str.replace(r"^(.+) ([A-Z])[A-Z'’]*$", "${1} ${2}.")
    typo = (pl.when(pl.col("op") == 0).then(pl.concat_str([n_.str.slice(0, pos), pl.col("ch"), n_.str.slice(pos + 1)]))
            .when(pl.col("op") == 1).then(pl.concat_str([n_.str.slice(0, pos), n_.str.slice(pos + 1)]))
            .when(pl.col("op") == 2).then(pl.concat_str([n_.str.slice(0, pos - 1), n_.str.slice(pos, 1),
                                                         n_.str.slice(pos - 1, 1), n_.str.slice(pos + 1)]))
            .otherwise(pl.concat_str([n_.str.slice(0, pos), n_.str.slice(pos - 1, 1), n_.str.slice(pos)])))
    ocr = (pl.when(pl.col("op") == 0).then(n_.str.replace("O", "0", literal=True))
           .when(pl.col("op") == 1).then(n_.str.replace("I", "1", literal=True))
           .when(pl.col("op") == 2).then(n_.str.replace("S", "5", literal=True))
           .otherwise(n_.str.replace("B", "8", literal=True)))
    dropped_first = n_.str.replace(_LOW_INFO_FIRST, "")
    drop_token = (pl.when(dropped_first != n_).then(dropped_first)
                  .otherwise(n_.str.replace(r" [^ ]+$", "")))

    variant = (
        pl.when(pl.col("kind") == k["title"]).then(pl.concat_str([pl.col("title"), n_]))
        .when(pl.col("kind") == k["degree"]).then(pl.concat_str([n_, pl.col("degree")]))
        .when(pl.col("kind") == k["abbreviation"]).then(abbreviated)
        .when(pl.col("kind") == k["spelling"]).then(spelling)
        .when((pl.col("kind") == k["old_spelling"]) & pl.col("old")).then(old_spelling)
        .when(pl.col("kind") == k["compound"]).then(compound)
        .when(pl.col("kind") == k["patronymic"]).then(patronymic)
        .when(pl.col("kind") == k["initial"]).then(initial)
        .when(pl.col("kind") == k["typo"]).then(typo)
        .when(pl.col("kind") == k["ocr"]).then(ocr)
        .when(pl.col("kind") == k["drop_token"]).then(drop_token)
        .when(pl.col("kind") == k["truncate"]).then(n_.str.slice(0, 20))
        .when(pl.col("kind") == k["title_case"]).then(n_.str.to_titlecase())
        .otherwise(n_)
    )
    changed = sub.select(variant.alias("n"))["n"]
    return names.clone().scatter(rows, changed)


def saudi_passport_name(names: pl.Series, father_names: pl.Series, grandfathers: pl.Series) -> pl.Series:
    """Name + father's first name + grandfather's name, as on Saudi-bound passports (domain 1.3)."""
    return pl.select(pl.concat_str([names, father_names.str.extract(r"^([^ ]+)", 1), grandfathers],
                                   separator=" ").alias("n"))["n"]


def fold_accents(names: pl.Series) -> pl.Series:
    """Passports and most systems write ASCII only."""
    return names.str.replace_all("É", "E", literal=True).str.replace_all("’", "'", literal=True)


# --- NIK -------------------------------------------------------------------------------------------
NIK_DAMAGE = ("missing", "one_digit_typo", "household_member", "excel_last_digit_zero", "excel_scientific")


def excel_scientific(nik: pl.Series) -> pl.Series:
    """`3273051234567890` -> `3.27305E+15`: what Excel's General format shows and a CSV export keeps."""
    value = nik.cast(pl.Int64, strict=False).to_numpy().astype(np.float64)
    valid = ~np.isnan(value)
    exponent = np.where(valid, np.floor(np.log10(np.where(valid, value, 1.0))), 0).astype(np.int64)
    mantissa = np.where(valid, np.rint(value / 10.0 ** (exponent - 5)), 0).astype(np.int64)
    carry = mantissa >= 1_000_000
    mantissa = np.where(carry, mantissa // 10, mantissa)
    exponent = exponent + carry
    frame = pl.DataFrame({"m": mantissa, "e": exponent, "ok": valid})
    text = frame.select(
        pl.when(pl.col("ok")).then(pl.concat_str([
            (pl.col("m") // 100_000).cast(pl.Utf8), pl.lit("."),
            (pl.col("m") % 100_000).cast(pl.Utf8).str.zfill(5), pl.lit("E+"), pl.col("e").cast(pl.Utf8),
        ]).str.replace(r"0+E", "E").str.replace(r"\.E", "E")).alias("t"))["t"]
    return text


def excel_last_digit_zero(nik: pl.Series) -> pl.Series:
    """Excel keeps 15 significant digits: the 16th becomes 0."""
    return pl.select(pl.concat_str([nik.str.slice(0, 15), pl.lit("0")]).alias("n"))["n"]


def one_digit_typo(nik: pl.Series, rng: np.random.Generator) -> pl.Series:
    """One digit (not the first) replaced by another digit: still looks valid, there is no check digit."""
    n = len(nik)
    frame = pl.DataFrame({"n": nik, "p": rng.integers(1, 16, n), "d": rng.integers(1, 10, n)})
    old_digit = pl.col("n").str.slice(pl.col("p"), 1).cast(pl.Int64, strict=False)
    new_digit = ((old_digit + pl.col("d")) % 10).cast(pl.Utf8)
    return frame.select(pl.concat_str([
        pl.col("n").str.slice(0, pl.col("p")), new_digit, pl.col("n").str.slice(pl.col("p") + 1)]).alias("n"))["n"]


def corrupt_nik(
    nik: pl.Series,
    household_member_nik: pl.Series,
    rng: np.random.Generator,
    rates: dict[str, float],
) -> tuple[pl.Series, np.ndarray]:
    """Damage NIKs at the given rates (keys in NIK_DAMAGE); returns the values and the damage index (-1 = none)."""
    n = len(nik)
    r = np.array([rates.get(k, 0.0) for k in NIK_DAMAGE])
    u = rng.random(n)
    bounds = np.cumsum(r)
    damage = np.searchsorted(bounds, u, side="right")
    damage = np.where(damage >= len(NIK_DAMAGE), -1, damage)
    damage = np.where(nik.is_null().to_numpy(), -1, damage)
    member_ok = household_member_nik.is_not_null().to_numpy() & (household_member_nik != nik).fill_null(False).to_numpy()
    damage = np.where((damage == NIK_DAMAGE.index("household_member")) & ~member_ok, -1, damage)

    out = nik.clone()
    for index, kind in enumerate(NIK_DAMAGE):
        rows = np.nonzero(damage == index)[0]
        if len(rows) == 0:
            continue
        if kind == "missing":
            values = pl.Series([None] * len(rows), dtype=pl.Utf8)
        elif kind == "one_digit_typo":
            values = one_digit_typo(nik.gather(rows), rng)
        elif kind == "household_member":
            values = household_member_nik.gather(rows)
        elif kind == "excel_last_digit_zero":
            values = excel_last_digit_zero(nik.gather(rows))
        else:
            values = excel_scientific(nik.gather(rows))
        out = out.scatter(rows, values)
    return out, damage


# --- dates -----------------------------------------------------------------------------------------
def corrupt_birth_dates(days: np.ndarray, rng: np.random.Generator, swap: float, default: float,
                        year_off: float, missing: float) -> np.ndarray:
    """Day/month swaps (where both are <= 12), a default date for a known one, a year off by one, or no date."""
    days = np.asarray(days, dtype=np.int32).copy()
    present = days != NA_DAY
    y, m, d = ymd(np.where(present, days, 0))
    n = len(days)
    u = rng.random(n)
    do_swap = present & (u < swap) & (d <= 12) & (d != m)
    do_default = present & (u >= swap) & (u < swap + default)
    do_year = present & (u >= swap + default) & (u < swap + default + year_off)
    do_missing = present & (u >= swap + default + year_off) & (u < swap + default + year_off + missing)
    days[do_swap] = from_ymd(y[do_swap], d[do_swap], m[do_swap])
    days[do_default] = default_birth_date(rng, y[do_default])
    shift = np.where(rng.random(n) < 0.5, -1, 1)
    feb29 = (m == 2) & (d == 29)
    days[do_year] = from_ymd(y[do_year] + shift[do_year], m[do_year], np.where(feb29[do_year], 28, d[do_year]))
    days[do_missing] = NA_DAY
    return days


def days_to_dates(days: np.ndarray) -> pl.Series:
    """Epoch-day integers (NA_DAY = missing) as a Polars Date series."""
    arr = np.asarray(days, dtype=np.int32)
    return pl.Series(np.where(arr == NA_DAY, 0, arr)).cast(pl.Date).scatter(np.nonzero(arr == NA_DAY)[0], None)


def blank(series: pl.Series, rng: np.random.Generator, rate: float) -> pl.Series:
    """Set about `rate` of the values to null."""
    rows = np.nonzero(pick(rng, len(series), rate))[0]
    if len(rows) == 0:
        return series
    return series.clone().scatter(rows, None)


# --- places ----------------------------------------------------------------------------------------
_PLACE_OLD_SPELLING = {"JAKARTA": "DJAKARTA", "YOGYAKARTA": "JOGJAKARTA", "SURAKARTA": "SOLO",
                       "CIREBON": "TJIREBON", "CILACAP": "TJILATJAP", "SURABAYA": "SOERABAJA"}
_PLACE_SHORT = {"JAKARTA": "JKT", "SURABAYA": "SBY", "BANDUNG": "BDG", "YOGYAKARTA": "JOGJA",
                "INDRAMAYU": "IMY", "SEMARANG": "SMG"}


def place_variants(places: pl.Series, rng: np.random.Generator, rate: float, missing: float) -> pl.Series:
    """A birthplace as typed: `KAB. INDRAMAYU`, `Indramayu`, old spellings (`DJAKARTA`), short forms (`JKT`)."""
    n = len(places)
    kind = np.where(pick(rng, n, rate), rng.integers(0, 4, n), -1)
    frame = pl.DataFrame({"p": places, "k": kind})
    base = pl.col("p").str.replace(r"^(ADMINISTRASI |KEPULAUAN )", "")
    old = base
    for modern, archaic in _PLACE_OLD_SPELLING.items():
        old = old.str.replace(modern, archaic, literal=True)
    short = base
    for full, abbreviation in _PLACE_SHORT.items():
        short = short.str.replace(full, abbreviation, literal=True)
    out = frame.select(
        pl.when(pl.col("k") == 0).then(pl.concat_str([pl.lit("KAB. "), pl.col("p")]))
        .when(pl.col("k") == 1).then(pl.col("p").str.to_titlecase())
        .when(pl.col("k") == 2).then(old)
        .when(pl.col("k") == 3).then(short)
        .otherwise(pl.col("p")).alias("p"))["p"]
    return blank(out, rng, missing)


def utf8(values: np.ndarray | list) -> pl.Series:
    """A text Series from an object array (which may hold only None)."""
    return pl.Series(values.tolist() if isinstance(values, np.ndarray) else list(values), dtype=pl.Utf8)
