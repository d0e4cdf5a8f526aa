"""The latent population: households and persons with their true attributes, built vectorised.

Sources are noisy views of this population (see sources.py). Everything here is the truth: the
name on the KTP, the registered birth date (a default date for some, as Dukcapil holds it), the
one NIK of each person, the household's KK number, village and desil. Hard negatives (twins, two
namesakes with the same default birth date in one regency, father and son with one name) are
planted here and listed in `Population.hard_negatives`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from synthetic import names as nm
from synthetic.regions import RegionTables, region_tables

# Roles in the household (slot order: head, spouse, five children, one elder, child-in-law, two grandchildren).
HEAD, SPOUSE, CHILD, ELDER, CHILD_IN_LAW, GRANDCHILD = range(6)
SLOT_ROLES = np.array([HEAD, SPOUSE, CHILD, CHILD, CHILD, CHILD, CHILD, ELDER, CHILD_IN_LAW, GRANDCHILD, GRANDCHILD])
N_SLOTS = len(SLOT_ROLES)
MAX_AGE = 92  # keeps every two-digit birth year unambiguous (contract 1.1)

# Mean latent persons per requested DTSEN record: ~7% of households are not in DTSEN and some
# members working abroad are left out of it; internal duplicates add a little back.
LATENT_PER_DTSEN_RECORD = 1.085

EPOCH = np.datetime64("1970-01-01", "D")


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """An independent generator per named stage, so a change in one stage leaves the others' draws alone."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])


def to_days(d: date) -> int:
    return int((np.datetime64(d, "D") - EPOCH).astype(int))


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Year, month and day of epoch-day integers."""
    d = EPOCH + np.asarray(days).astype("timedelta64[D]")
    years = d.astype("datetime64[Y]")
    months = d.astype("datetime64[M]")
    return (
        years.astype(int) + 1970,
        (months - years.astype("datetime64[M]")).astype(int) + 1,
        (d - months.astype("datetime64[D]")).astype(int) + 1,
    )


def from_ymd(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Epoch days of valid (year, month, day) triples."""
    months = (np.asarray(year) - 1970) * 12 + (np.asarray(month) - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]")
    return ((first - EPOCH).astype(int) + np.asarray(day) - 1).astype(np.int32)


def age_in_years(birth_days: np.ndarray, at_days: int | np.ndarray) -> np.ndarray:
    by, bm, bd = ymd(birth_days)
    ay, am, ad = ymd(np.broadcast_to(at_days, np.shape(birth_days)))
    return ay - by - ((am < bm) | ((am == bm) & (ad < bd)))


def default_birth_date(rng: np.random.Generator, birth_year: np.ndarray) -> np.ndarray:
    """1 July, 31 December or 1 January of the given year, weighted by the Dukcapil 2019 counts (domain 6.1)."""
    kind = rng.choice(3, size=len(birth_year), p=[10.3 / 18.7, 5.8 / 18.7, 2.6 / 18.7])
    month = np.choose(kind, [7, 12, 1])
    day = np.choose(kind, [1, 31, 1])
    return from_ymd(birth_year, month, day)


@dataclass
class Population:
    households: pl.DataFrame
    persons: pl.DataFrame
    hard_negatives: pl.DataFrame  # scenario, pid_a, pid_b
    delivery_days: int


# --- households ------------------------------------------------------------------------------------
HOUSEHOLD_TYPES = np.array([0.07, 0.13, 0.58, 0.09, 0.13])  # single, couple, nuclear, single parent, extended
_DESIL_POCKET = np.array([.16, .15, .14, .12, .11, .09, .08, .06, .05, .04])
_DESIL_BACKGROUND = np.array([.09, .09, .09, .10, .10, .10, .10, .11, .11, .11])

_DUSUN = ["KRAJAN", "SUMBERSARI", "KARANGANYAR", "SIDOMULYO", "TEGALREJO", "NGEMPLAK", "KEBONAGUNG",
          "WONOREJO", "SUKAMAJU", "PUNDUNGSARI", "TANJUNGSARI", "BANJARSARI", "SUMBEREJO", "MEKARSARI"]
_KAMPUNG = ["SUKAMAJU", "CIBEUREUM", "SUKASARI", "CIKONENG", "BABAKAN", "PASIRJAYA", "CIMANGGU",
            "SINDANGSARI", "CIKADU", "PASANGGRAHAN"]
# Street names with a typographic apostrophe or an accent, so that the UTF-8 and Windows-1252 files differ.
_STREET = ["MERDEKA", "PAHLAWAN", "JEND. SUDIRMAN", "DIPONEGORO", "RAYA", "KH. AHMAD DAHLAN", "MAWAR",
           "MELATI", "KENANGA", "PANGERAN ANTASARI", "H. MA’RUF", "KH. MA’SUM", "SYA’BAN",
           "PERUM TAMAN RÉSIDENCE", "MANGGA", "MUSHOLLA"]


def _prefixed_ids(prefix: str, n: int) -> pl.Series:
    """`TP000001`-style ids, zero-padded to the width of n."""
    digits = pl.Series(np.arange(n)).cast(pl.Utf8).str.zfill(len(str(n)))
    return pl.select(pl.concat_str([pl.lit(prefix), digits]).alias("id"))["id"]


def _choice_str(rng: np.random.Generator, options: list[str], n: int) -> pl.Series:
    return pl.Series(options, dtype=pl.Utf8).gather(rng.integers(0, len(options), n))


def _build_households(rng: np.random.Generator, n_households: int, regions: RegionTables,
                      delivery_days: int) -> pl.DataFrame:
    n = n_households
    kab = rng.choice(len(regions.kab_code), size=n, p=regions.kab_weight)
    desa = regions.kab_desa_start[kab] + (rng.random(n) * regions.kab_desa_count[kab]).astype(np.int64)
    kec = regions.desa_kec_idx[desa]
    pocket = regions.kab_is_pocket[kab]
    desil = np.where(pocket, rng.choice(10, size=n, p=_DESIL_POCKET), rng.choice(10, size=n, p=_DESIL_BACKGROUND)) + 1
    in_dtsen = rng.random(n) < 0.93

    # KK number: issuing kecamatan (6) + recording date DDMMYY (6) + family serial (4) (domain 1.2).
    kk_day = rng.integers(to_days(date(2005, 1, 1)), delivery_days - 30, n)
    y, m, d = ymd(kk_day)
    kk_prefix = regions.kec_code[kec].astype(np.int64) * 1_000_000 + d * 10_000 + m * 100 + (y % 100)
    frame = pl.DataFrame({"kk_prefix": kk_prefix, "order": rng.random(n)})
    serial = frame.select(pl.col("order").rank("ordinal").over("kk_prefix").cast(pl.Int64))["order"].to_numpy()
    no_kk = kk_prefix * 10_000 + serial

    rt = rng.integers(1, 16, n)
    rw = rng.integers(1, 9, n)
    number = rng.integers(1, 151, n)
    template = rng.choice(4, size=n, p=[0.45, 0.20, 0.25, 0.10])
    parts = pl.DataFrame({
        "t": template, "rt": rt, "rw": rw, "no": number,
        "dusun": _choice_str(rng, _DUSUN, n), "kampung": _choice_str(rng, _KAMPUNG, n),
        "street": _choice_str(rng, _STREET, n),
    })
    rt3 = pl.col("rt").cast(pl.Utf8).str.zfill(3)
    rw3 = pl.col("rw").cast(pl.Utf8).str.zfill(3)
    alamat = parts.select(
        pl.when(pl.col("t") == 0).then(pl.concat_str([pl.lit("DUSUN "), "dusun", pl.lit(" RT "), rt3, pl.lit(" RW "), rw3]))
        .when(pl.col("t") == 1).then(pl.concat_str([
            pl.lit("KP. "), "kampung", pl.lit(" RT "), pl.col("rt").cast(pl.Utf8).str.zfill(2), pl.lit("/"),
            pl.col("rw").cast(pl.Utf8).str.zfill(2)]))
        .when(pl.col("t") == 2).then(pl.concat_str([
            pl.lit("JL. "), "street", pl.lit(" NO. "), pl.col("no").cast(pl.Utf8), pl.lit(", RT "), rt3, pl.lit("/RW "), rw3]))
        .otherwise(pl.concat_str([pl.lit("GG. "), "street", pl.lit(" NO. "), pl.col("no").cast(pl.Utf8),
                                  pl.lit(" RT "), pl.col("rt").cast(pl.Utf8)]))
        .alias("alamat")
    )["alamat"]

    return pl.DataFrame({
        "hh": np.arange(n, dtype=np.int32),
        "true_household_id": _prefixed_ids("TH", n),
        "kab_idx": kab.astype(np.int32),
        "kec_idx": kec.astype(np.int32),
        "desa_idx": desa.astype(np.int32),
        "prov_code": regions.prov_code[regions.kab_prov_idx[kab]].astype(np.int16),
        "kab_code": regions.kab_code[kab].astype(np.int16),
        "is_pocket": pocket,
        "desil": desil.astype(np.int8),
        "in_dtsen": in_dtsen,
        "no_kk": pl.Series(no_kk).cast(pl.Utf8),
        "alamat": alamat,
        "desa_code": pl.Series(regions.desa_code[desa]).cast(pl.Utf8),
        "desa_dotted": regions.desa_dotted[desa],
        "desa_name": regions.desa_name[desa],
        "kec_name": regions.kec_name[kec],
        "kab_name": regions.kab_name[kab],
        "kab_short": regions.kab_short[kab],
        "prov_name": regions.prov_name[regions.kab_prov_idx[kab]],
    })


def _member_slots(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ages (years, float), female flags and validity of the N_SLOTS member slots of each household."""
    htype = rng.choice(5, size=n, p=HOUSEHOLD_TYPES)
    age = np.zeros((n, N_SLOTS))
    female = np.zeros((n, N_SLOTS), dtype=bool)
    valid = np.zeros((n, N_SLOTS), dtype=bool)

    head_age = np.select(
        [htype == 0, htype == 1, htype == 2, htype == 3],
        [rng.uniform(20, 85, n), rng.uniform(22, 80, n), np.clip(rng.normal(42, 9, n), 22, 70),
         rng.uniform(28, 70, n)],
        default=rng.uniform(40, 75, n),
    )
    head_female = rng.random(n) < np.select([htype == 0, htype == 3], [0.45, 0.75], default=0.12)
    has_spouse = np.isin(htype, [1, 2, 4])
    gap = np.clip(rng.normal(4, 3, n), -3, 15)
    spouse_age = np.clip(np.where(head_female, head_age + gap, head_age - gap), 18, MAX_AGE)
    age[:, 0], female[:, 0], valid[:, 0] = head_age, head_female, True
    age[:, 1], female[:, 1], valid[:, 1] = spouse_age, ~head_female, has_spouse

    mother_age = np.where(head_female, head_age, np.where(has_spouse, spouse_age, head_age - 4))
    n_kids = np.where(np.isin(htype, [2, 3, 4]), 1 + np.minimum(rng.poisson(1.4, n), 4), 0)
    kid_age = mother_age - rng.uniform(19, 31, n)
    for k in range(5):
        slot = 2 + k
        age[:, slot] = kid_age
        female[:, slot] = rng.random(n) < 0.49
        valid[:, slot] = (k < n_kids) & (kid_age >= 0) & (kid_age <= 32)
        kid_age = kid_age - rng.uniform(1.5, 5, n)

    extended = htype == 4
    with_elder = extended & (rng.random(n) < 0.5)
    age[:, 7] = head_age + rng.uniform(20, 30, n)
    female[:, 7] = rng.random(n) < 0.6
    valid[:, 7] = with_elder & (age[:, 7] <= MAX_AGE)

    first_kid_age = age[:, 2]
    with_in_law = extended & ~with_elder & valid[:, 2] & (first_kid_age >= 21)
    age[:, 8] = np.maximum(first_kid_age + rng.uniform(-3, 4, n), 18)
    female[:, 8] = ~female[:, 2]
    valid[:, 8] = with_in_law
    n_grand = rng.integers(1, 3, n)
    for k in range(2):
        slot = 9 + k
        age[:, slot] = rng.uniform(0, np.maximum(first_kid_age - 19, 0.1))
        female[:, slot] = rng.random(n) < 0.49
        valid[:, slot] = with_in_law & (k < n_grand)
    return age, female, valid


def _expected_household_size(rng_seed: int = 0) -> float:
    rng = np.random.default_rng(rng_seed)
    _, _, valid = _member_slots(rng, 20_000)
    return float(valid.sum(axis=1).mean())


def build_population(seed: int, n_persons_target: int, delivery_date: date) -> Population:
    """Households and persons sized so that DTSEN ends up with about `n_persons_target` records."""
    regions = region_tables()
    delivery_days = to_days(delivery_date)
    rng = stage_rng(seed, "population.households")
    n_households = max(50, int(round(n_persons_target * LATENT_PER_DTSEN_RECORD / _expected_household_size())))
    households = _build_households(rng, n_households, regions, delivery_days)

    age, female, valid = _member_slots(rng, n_households)
    hh_of, slot_of = np.nonzero(valid)  # row-major: household by household, head first
    n = len(hh_of)
    pid_matrix = np.full(valid.shape, -1, dtype=np.int64)
    pid_matrix[valid] = np.arange(n)
    role = SLOT_ROLES[slot_of]
    is_female = female[hh_of, slot_of]
    age_years = age[hh_of, slot_of]

    rng = stage_rng(seed, "population.persons")
    age_days = np.floor(age_years * 365.25).astype(np.int64) + rng.integers(0, 365, n)
    age_days = np.clip(age_days, 30, MAX_AGE * 365)
    birth = (delivery_days - age_days).astype(np.int32)
    birth_year = ymd(birth)[0]
    # Unknown birth dates were registered as 1 Jul / 31 Dec / 1 Jan, mostly in older cohorts (domain 6.1, 9).
    p_default = np.select([birth_year < 1975, birth_year < 1996], [0.20, 0.06], default=0.015)
    use_default = rng.random(n) < p_default
    defaults = default_birth_date(rng, birth_year)
    birth = np.where(use_default & (defaults <= delivery_days - 30), defaults, birth).astype(np.int32)

    # Parents inside the household: children's father/mother are head and spouse; grandchildren's are
    # the first child and the child-in-law.
    head = pid_matrix[:, 0]
    spouse = pid_matrix[:, 1]
    kid0 = pid_matrix[:, 2]
    in_law = pid_matrix[:, 8]
    head_female = female[:, 0]
    hh_father = np.where(head_female, spouse, head)
    hh_mother = np.where(head_female, head, spouse)
    kid0_female = female[:, 2]
    grand_father = np.where(kid0_female, in_law, kid0)
    grand_mother = np.where(kid0_female, kid0, in_law)
    father_pid = np.select([role == CHILD, role == GRANDCHILD], [hh_father[hh_of], grand_father[hh_of]], default=-1)
    mother_pid = np.select([role == CHILD, role == GRANDCHILD], [hh_mother[hh_of], grand_mother[hh_of]], default=-1)

    hh_prov = households["prov_code"].to_numpy()[hh_of]
    group = nm.region_group(hh_prov)
    style = nm.draw_styles(rng, group, ymd(birth)[0])
    has_father = father_pid >= 0
    fp = np.where(has_father, father_pid, 0)
    # Balinese, Batak, eastern and Sasak families mostly keep their naming style from father to child.
    ethnic = np.isin(style[fp], [nm.STYLE_ID[s] for s in ("BALI", "BATAK", "TIMUR", "SASAK")])
    keep = has_father & ethnic & (rng.random(n) < 0.85)
    style[keep] = style[fp[keep]]
    name = nm.draw_names(rng, style, is_female).to_numpy().astype(object)

    # Children of Batak and eastern families carry their father's marga / surname.
    inherit = has_father & np.isin(style, [nm.STYLE_ID["BATAK"], nm.STYLE_ID["TIMUR"]]) & (style[fp] == style)
    if inherit.any():
        idx = np.nonzero(inherit)[0]
        frame = pl.DataFrame({"own": pl.Series(name[idx], dtype=pl.Utf8), "dad": pl.Series(name[fp[idx]], dtype=pl.Utf8)})
        name[idx] = frame.select(
            pl.concat_str([pl.col("own").str.replace(r" ((DA|DE) )?[^ ]+$", ""), pl.lit(" "),
                           pl.col("dad").str.extract(r"(((DA|DE) )?[^ ]+)$", 1)]).alias("n"))["n"].to_numpy()

    # --- hard negatives -------------------------------------------------------------------------
    rng = stage_rng(seed, "population.hard_negatives")
    pairs: list[tuple[str, np.ndarray, np.ndarray]] = []
    hh_in_dtsen = households["in_dtsen"].to_numpy()

    # Twins: the second child gets the first child's birth date and a similar name; NIKs differ.
    twin_hh = np.nonzero(valid[:, 2] & valid[:, 3] & (age[:, 2] < 25) & hh_in_dtsen)[0]
    n_twins = min(len(twin_hh), max(3, int(round(n_households * 0.012))))
    twin_hh = np.sort(rng.choice(twin_hh, size=n_twins, replace=False))
    a, b = pid_matrix[twin_hh, 2], pid_matrix[twin_hh, 3]
    birth[b] = birth[a]
    # The Balinese pair only in Bali, the others elsewhere.
    bali = nm.region_group(households["prov_code"].to_numpy()[twin_hh]) == nm.REGION_GROUPS.index("BALI")
    pair = np.where(bali, len(nm.TWIN_NAMES) - 1, rng.integers(0, len(nm.TWIN_NAMES) - 1, n_twins))
    for i, (pa, pb, k) in enumerate(zip(a, b, pair)):
        name_a, sex_a, name_b, sex_b = nm.TWIN_NAMES[k]
        name[pa], name[pb] = name_a, name_b
        is_female[pa], is_female[pb] = sex_a == "P", sex_b == "P"
    pairs.append(("twins", a, b))

    # Namesakes: two adults in one regency, same frequent mononym, same default birth date.
    kab_of = households["kab_idx"].to_numpy()[hh_of]
    cand = np.nonzero(np.isin(role, [HEAD, SPOUSE]) & (age_years >= 40) & (age_years <= 75) & hh_in_dtsen[hh_of])[0]
    n_namesakes = max(3, int(round(n * 0.0015)))
    cf = pl.DataFrame({"pid": cand, "kab": kab_of[cand], "female": is_female[cand], "key": rng.random(len(cand))})
    cf = (cf.sort("kab", "female", "key")
            .with_columns(pl.int_range(pl.len()).over("kab", "female").alias("rank"))
            .filter(pl.col("rank") < 2)
            .with_columns(pl.len().over("kab", "female").alias("size"))
            .filter(pl.col("size") == 2))
    first = cf.filter(pl.col("rank") == 0).select("kab", "female", "pid", "key")
    second = cf.filter(pl.col("rank") == 1).select("kab", "female", pl.col("pid").alias("pid_b"))
    groups = first.join(second, on=["kab", "female"]).sort("key").head(n_namesakes).sort("pid")
    a, b = groups["pid"].to_numpy(), groups["pid_b"].to_numpy()
    fem = groups["female"].to_numpy()
    mono = np.where(fem, np.asarray(nm.COMMON_MONONYMS_F, dtype=object)[rng.integers(0, len(nm.COMMON_MONONYMS_F), len(a))],
                    np.asarray(nm.COMMON_MONONYMS_M, dtype=object)[rng.integers(0, len(nm.COMMON_MONONYMS_M), len(a))])
    name[a], name[b] = mono, mono
    shared = default_birth_date(rng, ymd(birth[a])[0])
    birth[a], birth[b] = shared, shared
    style[a], style[b] = nm.STYLE_ID["JAVA_MONO"], nm.STYLE_ID["JAVA_MONO"]
    pairs.append(("same_mononym_same_default_dob_same_regency", a, b))

    # Father and son with one name (JUNAIDI and JUNAIDI, later perhaps JUNAIDI BIN JUNAIDI).
    son_slot = np.argmax(valid[:, 2:7] & ~female[:, 2:7] & (age[:, 2:7] >= 15), axis=1) + 2
    has_son = valid[np.arange(n_households), son_slot] & ~female[np.arange(n_households), son_slot] \
        & (age[np.arange(n_households), son_slot] >= 15) & ~head_female & hh_in_dtsen
    fs_hh = np.nonzero(has_son)[0]
    fs_hh = fs_hh[~np.isin(fs_hh, twin_hh)]
    n_fs = min(len(fs_hh), max(3, int(round(n_households * 0.008))))
    fs_hh = np.sort(rng.choice(fs_hh, size=n_fs, replace=False))
    dad, son = pid_matrix[fs_hh, 0], pid_matrix[fs_hh, son_slot[fs_hh]]
    force_mono = rng.random(n_fs) < 0.5
    common = np.asarray(nm.COMMON_MONONYMS_M, dtype=object)[rng.integers(0, len(nm.COMMON_MONONYMS_M), n_fs)]
    name[dad] = np.where(force_mono, common, name[dad])
    name[son] = name[dad]
    pairs.append(("father_son_same_name", dad, son))

    # Fathers' names outside the household (for bin/binti and Saudi passports) come from the same region.
    rng = stage_rng(seed, "population.parents")
    outside_style = nm.draw_styles(rng, group, ymd(birth)[0] - 30)
    same_style = (rng.random(n) < 0.8) & (style != nm.STYLE_ID["MODERN"])
    outside_style = np.where(same_style, style, outside_style)
    outside_father = nm.draw_names(rng, outside_style, np.zeros(n, dtype=bool)).to_numpy().astype(object)
    father_name = np.where(has_father, name[fp], outside_father)
    grandfather = nm.draw_tokens(rng, nm.GRANDFATHER, n)

    # --- NIK ------------------------------------------------------------------------------------
    rng = stage_rng(seed, "population.nik")
    hh_kec_code = regions.kec_code[households["kec_idx"].to_numpy()][hh_of]
    elsewhere = rng.random(n) < 0.15  # NIK issued in another kecamatan than the current home (domain 1.1, 9)
    other_kab = rng.choice(len(regions.kab_code), size=n, p=regions.kab_weight)
    other_kec = regions.kab_kec_start[other_kab] + (rng.random(n) * regions.kab_kec_count[other_kab]).astype(np.int64)
    nik_kec = np.where(elsewhere, other_kec, households["kec_idx"].to_numpy()[hh_of])
    nik_kab = regions.kec_kab_idx[nik_kec]
    year, month, day = ymd(birth)
    legacy = regions.kab_legacy_code[nik_kab]
    region6 = np.where(year < 2005, legacy, regions.kab_code[nik_kab]).astype(np.int64) * 100 + regions.kec_code[nik_kec] % 100
    prefix12 = region6 * 1_000_000 + (day + 40 * is_female) * 10_000 + month * 100 + year % 100
    order = pl.DataFrame({"p": prefix12, "k": rng.random(n)}).select(
        pl.col("k").rank("ordinal").over("p").cast(pl.Int64))["k"].to_numpy()
    nik = prefix12 * 10_000 + order
    nik_alt = nik + 5_000  # a second NIK for the same person (double recording), never anyone's first NIK

    birthplace = regions.kab_short[nik_kab].astype(object)
    abroad_born = (rng.random(n) < 0.004) & (age_years < 40)
    birthplace[abroad_born] = np.asarray(["TAWAU", "SABAH", "KOTA KINABALU", "JOHOR BAHRU"], dtype=object)[
        rng.integers(0, 4, abroad_born.sum())]

    operators = np.array([11, 12, 13, 21, 22, 23, 52, 53, 77, 78, 81, 82, 83, 87, 88, 95, 96, 97, 98, 99])
    phone_num = rng.integers(10_000_000, 99_999_999, n)
    has_phone = (age_years >= 17) & (rng.random(n) < 0.85)
    phone = pl.select(pl.concat_str([pl.lit("08"), pl.Series(operators[rng.integers(0, len(operators), n)]).cast(pl.Utf8),
                                     pl.Series(phone_num).cast(pl.Utf8)]).alias("p"))["p"]
    phone = pl.select(pl.when(pl.Series(has_phone)).then(phone).alias("p"))["p"]

    occupation = _occupations(rng, age_years, is_female)
    persons = pl.DataFrame({
        "pid": np.arange(n, dtype=np.int32),
        "true_person_id": _prefixed_ids("TP", n),
        "hh": hh_of.astype(np.int32),
        "slot": slot_of.astype(np.int8),
        "role": role.astype(np.int8),
        "female": is_female,
        "birth_days": birth,
        "age": age_in_years(birth, delivery_days).astype(np.int16),
        "name": pl.Series(name, dtype=pl.Utf8),
        "style": style,
        "father_name": pl.Series(father_name, dtype=pl.Utf8),
        "grandfather_name": pl.Series(grandfather, dtype=pl.Utf8),
        "father_pid": father_pid.astype(np.int32),
        "mother_pid": mother_pid.astype(np.int32),
        "nik": pl.Series(nik).cast(pl.Utf8),
        "nik_alt": pl.Series(nik_alt).cast(pl.Utf8),
        "nik_kab_idx": nik_kab.astype(np.int32),
        "birthplace": pl.Series(birthplace, dtype=pl.Utf8),
        "phone": phone,
        "occupation": occupation,
        "disabled": rng.random(n) < 0.02,
    }).with_columns(pl.col("birth_days").cast(pl.Date).alias("birth_date"))

    hard = pl.concat([
        pl.DataFrame({"scenario": [s] * len(x), "pid_a": x.astype(np.int32), "pid_b": y.astype(np.int32)})
        for s, x, y in pairs
    ])
    return Population(households=households, persons=persons, hard_negatives=hard, delivery_days=delivery_days)


_OCC_MALE = (["PETANI/PEKEBUN", "BURUH HARIAN LEPAS", "WIRASWASTA", "KARYAWAN SWASTA", "NELAYAN/PERIKANAN",
              "PEDAGANG", "SOPIR", "BELUM/TIDAK BEKERJA"], [30, 25, 15, 12, 4, 6, 3, 5])
_OCC_FEMALE = (["MENGURUS RUMAH TANGGA", "PETANI/PEKEBUN", "BURUH HARIAN LEPAS", "PEDAGANG", "WIRASWASTA",
                "KARYAWAN SWASTA"], [50, 15, 10, 10, 7, 8])


def _occupations(rng: np.random.Generator, age: np.ndarray, female: np.ndarray) -> pl.Series:
    n = len(age)
    out = np.empty(n, dtype=object)
    for (labels, weights), mask in ((_OCC_MALE, ~female), (_OCC_FEMALE, female)):
        w = np.array(weights, dtype=float)
        out[mask] = np.asarray(labels, dtype=object)[rng.choice(len(labels), size=mask.sum(), p=w / w.sum())]
    out[age < 5] = "BELUM/TIDAK BEKERJA"
    out[(age >= 5) & (age < 19)] = "PELAJAR/MAHASISWA"
    out[age >= 68] = "TIDAK BEKERJA"
    return pl.Series(out, dtype=pl.Utf8)
