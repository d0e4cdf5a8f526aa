"""The four sources as noisy views of the latent population.

Each builder returns one record frame per source: the contract's columns as typed values (text,
`pl.Date`, booleans, integers; nulls for missing) plus helper columns starting with `_` (`_pid`, the
true person; `_part`, the file the record goes to). How values are spelled in files (date formats,
sex codes, missing markers, numeric cells) is decided later, per file, in generator.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from synthetic import noise as nz
from synthetic.population import (
    CHILD_IN_LAW, ELDER, GRANDCHILD, HEAD, SPOUSE, Population, age_in_years, stage_rng, to_days, ymd,
)
from synthetic.regions import region_tables

SOURCES = ("p2mi_penempatan", "p2mi_kasus", "dtsen_individu", "sr_siswa")

# Relative frequency of name variants per source (noise.NAME_VARIANTS); the rate says how many records get one.
NAME_VARIANT_WEIGHTS: dict[str, dict[str, float]] = {
    "dtsen_individu": {"title": 8, "degree": 6, "abbreviation": 12, "spelling": 10, "old_spelling": 8, "compound": 10,
                       "patronymic": 4, "initial": 6, "typo": 18, "ocr": 3, "drop_token": 6, "truncate": 2},
    "p2mi_penempatan": {"abbreviation": 4, "spelling": 14, "old_spelling": 6, "compound": 10, "patronymic": 6,
                        "initial": 2, "typo": 15, "ocr": 4, "drop_token": 4, "truncate": 3},
    "p2mi_kasus": {"title": 6, "degree": 2, "abbreviation": 10, "spelling": 10, "old_spelling": 6, "compound": 8,
                   "patronymic": 10, "initial": 8, "typo": 20, "ocr": 2, "drop_token": 8, "truncate": 1,
                   "title_case": 10},
    "sr_siswa": {"abbreviation": 10, "spelling": 12, "compound": 15, "patronymic": 10, "initial": 6, "typo": 25,
                 "ocr": 3, "drop_token": 10, "truncate": 3, "title_case": 6},
}
NAME_VARIANT_RATE = {"dtsen_individu": 0.12, "p2mi_penempatan": 0.22, "p2mi_kasus": 0.30, "sr_siswa": 0.10}

# NIK damage rates per source (domain 9). Excel damage only where spreadsheets are in the path.
NIK_RATES: dict[str, dict[str, float]] = {
    "dtsen_individu": {"missing": 0.02, "one_digit_typo": 0.01, "household_member": 0.005},
    "dtsen_individu_excel": {"missing": 0.02, "one_digit_typo": 0.01, "household_member": 0.005,
                             "excel_last_digit_zero": 0.01, "excel_scientific": 0.005},
    "p2mi_penempatan": {"missing": 0.03, "one_digit_typo": 0.01, "household_member": 0.005,
                        "excel_last_digit_zero": 0.01, "excel_scientific": 0.003},
    "p2mi_kasus": {"one_digit_typo": 0.01, "household_member": 0.005, "excel_last_digit_zero": 0.015,
                   "excel_scientific": 0.005},
    "sr_siswa": {"missing": 0.03, "one_digit_typo": 0.01, "household_member": 0.005,
                 "excel_last_digit_zero": 0.015, "excel_scientific": 0.005},
}


def _scaled(rates: dict[str, float], scale: float) -> dict[str, float]:
    return {k: v * scale for k, v in rates.items()}


def _unique_ids(rng: np.random.Generator, n: int, low: int, spread: int = 7) -> np.ndarray:
    """n distinct integers from `low` on, in random order and with random gaps."""
    return low + rng.permutation(n).astype(np.int64) * spread + rng.integers(0, spread, n)


def person_view(pop: Population, pids: np.ndarray, household_columns: list[str]) -> pl.DataFrame:
    """Person attributes with some of their household's, one row per entry of `pids` (repeats allowed).

    Only the named household columns are gathered: at three million rows every extra text column costs."""
    persons = pop.persons.drop("true_person_id").gather(pids)
    households = pop.households.select(household_columns).gather(persons["hh"].to_numpy())
    return pl.concat([persons, households], how="horizontal")


def household_member_pid(pop: Population) -> np.ndarray:
    """Another member of each person's household (the head, or for the head the next member); -1 if alone."""
    persons = pop.persons
    role = persons["role"].to_numpy()
    hh = persons["hh"].to_numpy()
    pid = persons["pid"].to_numpy()
    n_hh = pop.households.height
    head = np.full(n_hh, -1, dtype=np.int64)
    head[hh[role == HEAD]] = pid[role == HEAD]
    second = np.full(n_hh, -1, dtype=np.int64)
    others = role != HEAD
    first_hh, first_idx = np.unique(hh[others], return_index=True)
    second[first_hh] = pid[others][first_idx]
    return np.where(role == HEAD, second[hh], head[hh])


def _member_nik(pop: Population, pids: np.ndarray, member: np.ndarray) -> pl.Series:
    other = member[pids]
    nik = pop.persons["nik"].gather(np.maximum(other, 0))
    return pl.select(pl.when(pl.Series(other >= 0)).then(nik).alias("n"))["n"]


def _names(pop: Population, view: pl.DataFrame, rng: np.random.Generator, source: str, scale: float) -> pl.Series:
    return nz.name_variants(
        view["name"], view["father_name"], view["female"].to_numpy(), ymd(view["birth_days"].to_numpy())[0],
        rng, NAME_VARIANT_RATE[source] * scale, NAME_VARIANT_WEIGHTS[source])


def _birth_dates(view: pl.DataFrame, rng: np.random.Generator, scale: float, missing: float = 0.0) -> pl.Series:
    days = nz.corrupt_birth_dates(view["birth_days"].to_numpy(), rng, swap=0.01 * scale, default=0.01 * scale,
                                  year_off=0.005 * scale, missing=missing * scale)
    return nz.days_to_dates(days)


def _sex(view: pl.DataFrame, rng: np.random.Generator, flip: float, missing: float) -> pl.Series:
    female = view["female"].to_numpy() ^ nz.pick(rng, view.height, flip)
    return nz.blank(pl.Series(np.where(female, "P", "L")), rng, missing)


# --- placements ------------------------------------------------------------------------------------
# Destinations 2024 (domain 4.2): share of placements and share of women among them [D for the latter].
COUNTRIES = {  # code: (weight, female share, contract days, spellings)
    "HK": (33.5, 0.98, 730, ["HONG KONG", "HONGKONG", "Hong Kong", "HONG KONG SAR"]),
    "TW": (28.4, 0.70, 1095, ["TAIWAN", "Taiwan", "TAIWAN R.O.C"]),
    "MY": (17.4, 0.35, 730, ["MALAYSIA", "Malaysia"]),
    "JP": (4.3, 0.35, 1095, ["JEPANG", "JAPAN", "Jepang"]),
    "SG": (3.6, 0.95, 730, ["SINGAPURA", "SINGAPORE"]),
    "KR": (3.6, 0.10, 1765, ["KOREA SELATAN", "KOREA", "SOUTH KOREA", "Korea Selatan"]),
    "SA": (2.6, 0.85, 730, ["ARAB SAUDI", "SAUDI ARABIA", "KSA"]),
    "IT": (1.2, 0.30, 730, ["ITALIA", "ITALY"]),
    "BN": (1.1, 0.60, 730, ["BRUNEI DARUSSALAM", "BRUNEI"]),
    "TR": (0.9, 0.30, 730, ["TURKI", "TURKIYE"]),
    "PL": (0.45, 0.20, 730, ["POLANDIA", "POLAND"]),
    "AE": (0.42, 0.70, 730, ["UNI EMIRAT ARAB", "UAE", "UNITED ARAB EMIRATES"]),
    "ZM": (0.29, 0.10, 730, ["ZAMBIA"]),
    "QA": (0.26, 0.50, 730, ["QATAR"]),
    "KW": (0.22, 0.80, 730, ["KUWAIT"]),
    "MV": (0.20, 0.30, 730, ["MALADEWA", "MALDIVES"]),
    "PG": (0.15, 0.10, 730, ["PAPUA NUGINI", "PAPUA NEW GUINEA"]),
    "HU": (0.14, 0.20, 730, ["HUNGARIA", "HUNGARY"]),
    "SK": (0.14, 0.20, 730, ["SLOWAKIA", "SLOVAKIA"]),
    "RO": (0.13, 0.20, 730, ["RUMANIA", "ROMANIA"]),
    "DE": (0.10, 0.60, 1095, ["JERMAN", "GERMANY"]),
}
COUNTRY_CODES = list(COUNTRIES)
_HOUSEHOLD_JOBS = (["House Maid", "Caregiver", "Domestic Worker", "Nanny", "Cook"], [45, 30, 15, 5, 5])
_JOBS: dict[str, tuple[tuple[list[str], list[float]], tuple[list[str], list[float]]]] = {  # (women, men)
    "HK": (_HOUSEHOLD_JOBS, (["Driver", "Gardener", "Worker"], [40, 30, 30])),
    "TW": ((["Caregiver", "House Maid", "Operator Production"], [55, 25, 20]),
           (["Operator Production", "Fisherman", "Construction Worker", "Caregiver"], [50, 20, 20, 10])),
    "MY": ((["House Maid", "Operator Production", "Plantation Worker", "Worker"], [40, 30, 20, 10]),
           (["Plantation Worker", "Construction Worker", "Worker", "Operator Production"], [55, 25, 10, 10])),
    "JP": ((["Caregiver", "Operator Production", "Nurse", "Worker"], [45, 25, 15, 15]),
           (["Worker", "Operator Production", "Construction Worker", "Caregiver"], [35, 30, 20, 15])),
    "KR": ((["Operator Production", "Worker", "Caregiver"], [50, 40, 10]),
           (["Worker", "Operator Production", "Fisherman"], [40, 35, 25])),
    "SG": (_HOUSEHOLD_JOBS, (["Worker", "Construction Worker"], [50, 50])),
    "SA": (_HOUSEHOLD_JOBS, (["Driver", "Worker", "Cook"], [40, 40, 20])),
}
_OTHER_JOBS = ((["House Maid", "Caregiver", "Waitress", "Operator Production", "Nurse"], [30, 20, 20, 20, 10]),
               (["Worker", "Operator Production", "Construction Worker", "Cook", "Welder", "Waiter"],
                [35, 20, 15, 10, 10, 10]))
INFORMAL_JOBS = {"House Maid", "Domestic Worker", "Nanny", "Caregiver", "Driver", "Gardener", "Cook"}

LATEST_STATUS = (["TERDAFTAR", "PROSES", "BEKERJA", "PERPANJANG", "PULANG_SELESAI_KONTRAK", "PULANG_BERMASALAH",
                  "MENINGGAL", "BATAL"], [5, 8, 50, 6, 22, 3.5, 0.5, 5])
EARLIER_STATUS = (["PULANG_SELESAI_KONTRAK", "PULANG_BERMASALAH", "BATAL"], [85, 6, 5])
ABROAD = ("BEKERJA", "PERPANJANG")

_AGENCY_A = ["BINA", "SUMBER", "MITRA", "KARYA", "CAHAYA", "GRAHA", "PUTRA", "ANUGRAH", "SINAR", "DUTA", "BERKAH", "MAJU"]
_AGENCY_B = ["MANDIRI", "ABADI", "SEJAHTERA", "UTAMA", "JAYA", "PERKASA", "LESTARI", "SENTOSA", "BERSAMA", "GEMILANG"]
_AGENCY_C = ["INDONESIA", "NUSANTARA", "INTERNASIONAL", "GLOBAL", "SARANA"]


def _agencies() -> list[str]:
    """424 placement agencies (P3MI), a fixed list independent of the seed."""
    names = [f"{a} {b} {c}" for a in _AGENCY_A for b in _AGENCY_B for c in _AGENCY_C]
    order = np.random.default_rng(424).permutation(len(names))[:424]
    return [names[i] for i in order]


def _weighted(rng: np.random.Generator, options: tuple[list[str], list[float]], n: int) -> np.ndarray:
    labels, weights = options
    w = np.asarray(weights, dtype=float)
    return np.asarray(labels, dtype=object)[rng.choice(len(labels), size=n, p=w / w.sum())]


def _draw_country(rng: np.random.Generator, female: np.ndarray) -> np.ndarray:
    weight = np.array([COUNTRIES[c][0] for c in COUNTRY_CODES])
    share = np.array([COUNTRIES[c][1] for c in COUNTRY_CODES])
    codes = np.asarray(COUNTRY_CODES, dtype=object)
    out = np.empty(len(female), dtype=object)
    for is_female, w in ((True, weight * share), (False, weight * (1 - share))):
        rows = female == is_female
        out[rows] = codes[rng.choice(len(codes), size=rows.sum(), p=w / w.sum())]
    return out


def _jobs(rng: np.random.Generator, country: np.ndarray, female: np.ndarray) -> np.ndarray:
    out = np.empty(len(country), dtype=object)
    for code in sorted(set(country.tolist())):  # sorted: set order changes between processes
        women, men = _JOBS.get(code, _OTHER_JOBS)
        for is_female, options in ((True, women), (False, men)):
            rows = np.nonzero((country == code) & (female == is_female))[0]
            out[rows] = _weighted(rng, options, len(rows))
    return out


def select_placed_persons(pop: Population, rng: np.random.Generator, n_persons: int) -> np.ndarray:
    """Working-age persons, weighted to women (63% of placements), migrant pockets and poorer households."""
    persons, households = pop.persons, pop.households
    age = persons["age"].to_numpy()
    hh = persons["hh"].to_numpy()
    desil = households["desil"].to_numpy()[hh]
    desil_weight = np.array([0, 0.6, 1, 1, 1, 1, 0.9, 0.8, 0.4, 0.25, 0.15])[desil]
    age_weight = np.select([age < 19, age < 25, age <= 40, age <= 55], [0.0, 0.7, 1.0, 0.45], default=0.0)
    weight = (age_weight * desil_weight * np.where(persons["female"].to_numpy(), 1.9, 1.0)
              * np.where(households["is_pocket"].to_numpy()[hh], 3.0, 1.0)
              * np.where(households["in_dtsen"].to_numpy()[hh], 1.0, 1.4))
    return _weighted_sample(rng, weight, n_persons)


def _weighted_sample(rng: np.random.Generator, weight: np.ndarray, k: int) -> np.ndarray:
    """k distinct indices drawn with probability proportional to weight (exponential keys), sorted."""
    with np.errstate(divide="ignore"):
        keys = rng.exponential(size=len(weight)) / weight
    k = min(k, int((weight > 0).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.argpartition(keys, k - 1)[:k])


def placement_rows(pop: Population, rng: np.random.Generator, pids: np.ndarray, delivery_days: int,
                   n_placements: np.ndarray | None = None, latest_status: np.ndarray | None = None,
                   latest_country: np.ndarray | None = None) -> pl.DataFrame:
    """Placement histories: the latest placement per person is dated back from the delivery, earlier ones
    back from the next one's registration. Returns one row per placement with dates as epoch days."""
    n = len(pids)
    persons = pop.persons
    female = persons["female"].to_numpy()[pids]
    age = persons["age"].to_numpy()[pids]
    birth = persons["birth_days"].to_numpy()[pids]
    if n_placements is None:
        n_placements = rng.choice([1, 2, 3, 4], size=n, p=[0.66, 0.21, 0.09, 0.04])
        n_placements = np.minimum(n_placements, np.clip(1 + (age - 19) // 3, 1, 4))
    if latest_status is None:
        latest_status = _weighted(rng, LATEST_STATUS, n)
    if latest_country is None:
        latest_country = _draw_country(rng, female)

    D = delivery_days
    out: list[pl.DataFrame] = []
    later_reg = np.zeros(n, dtype=np.int64)
    later_country = latest_country
    later_passport = np.full(n, None, dtype=object)
    for level in range(int(n_placements.max())):
        rows = np.nonzero(n_placements > level)[0]
        m = len(rows)
        if level == 0:
            status = latest_status[rows]
            country = latest_country[rows]
        else:
            status = _weighted(rng, EARLIER_STATUS, m)
            same = rng.random(m) < 0.65
            country = np.where(same, later_country[rows], _draw_country(rng, female[rows]))
        contract = np.array([COUNTRIES[c][2] for c in country])

        def u(lo: int, hi: int) -> np.ndarray:
            """Day offsets in [lo, hi) for the m placements of this level."""
            return rng.integers(lo, hi, m)

        na = np.full(m, nz.NA_DAY, dtype=np.int64)
        if level == 0:
            dep = np.select(
                [status == "BEKERJA", status == "PERPANJANG", status == "PULANG_SELESAI_KONTRAK"],
                [D - u(0, 720), D - u(730, 1400), D - u(0, 1500) - contract - u(-20, 21)],
                default=D - u(60, 1500))
            ret = np.select(
                [status == "PULANG_SELESAI_KONTRAK", np.isin(status, ["PULANG_BERMASALAH", "MENINGGAL"])],
                [np.minimum(dep + contract + u(-20, 21), D), np.minimum(dep + u(10, 600), D)], default=na)
            planned = (status == "PROSES") & (rng.random(m) < 0.4)
            dep = np.where(np.isin(status, ["TERDAFTAR", "BATAL"]) | ((status == "PROSES") & ~planned), na,
                           np.where(planned, D + u(7, 91), dep))
            reg = np.select([status == "TERDAFTAR", status == "PROSES", status == "BATAL"],
                            [D - u(0, 120), D - u(20, 200), D - u(30, 700)],
                            default=np.where(dep == nz.NA_DAY, D, dep) - u(30, 150))
            reg = np.where(planned, D - u(20, 200), reg)
            # A young worker's history starts at 18: move it later; what then lies beyond the
            # delivery date has not happened yet (still working, or departure still planned).
            shift = np.maximum(birth[rows] + 6575 - reg, 0)
            if shift.any():
                reg = reg + shift
                dep = np.where(dep == nz.NA_DAY, dep, dep + shift)
                ret = np.where(ret == nz.NA_DAY, ret, ret + shift)
                not_back = (ret != nz.NA_DAY) & (ret > D)
                status = np.where(not_back, "BEKERJA", status)
                ret = np.where(not_back, nz.NA_DAY, ret)
                status = np.where((dep != nz.NA_DAY) & (dep > D) & np.isin(status, ["BEKERJA", "PERPANJANG"]),
                                  "PROSES", status)
        else:
            ret = later_reg[rows] - u(30, 400)
            dep = np.where(status == "PULANG_SELESAI_KONTRAK", ret - contract - u(-20, 21), ret - u(10, 600))
            dep = np.where(status == "BATAL", na, dep)
            ret = np.where(status == "BATAL", na, ret)
            reg = np.where(status == "BATAL", later_reg[rows] - u(60, 400), dep - u(30, 150))
        end = np.where(dep == nz.NA_DAY, na, dep + np.where(status == "PERPANJANG", 2 * contract, contract))
        known = np.stack([reg, np.where(dep > D, reg, dep), ret]).max(axis=0)
        update = np.minimum(np.maximum(known, reg) + u(0, 60), D)

        passport = pl.select(pl.concat_str([
            pl.Series(_weighted(rng, (["C", "B", "X", "A", "E"], [50, 20, 10, 10, 10]), m), dtype=pl.Utf8),
            pl.Series(rng.integers(0, 10_000_000, m)).cast(pl.Utf8).str.zfill(7)]).alias("p"))["p"].to_numpy()
        passport = passport.astype(object)
        if level > 0:
            reuse = (rng.random(m) < 0.15) & (later_passport[rows] != None)  # noqa: E711 - object array
            passport[reuse] = later_passport[rows][reuse]
        no_passport = ((status == "TERDAFTAR") & (rng.random(m) < 0.6)) | ((status == "BATAL") & (rng.random(m) < 0.5))
        passport[no_passport] = None

        out.append(pl.DataFrame({
            "_pid": pids[rows].astype(np.int32), "_level": np.full(m, level, dtype=np.int8),
            "status_penempatan": status.astype(str), "_country": country.astype(str),
            "_reg": reg, "_dep": dep, "_end": end, "_ret": ret, "_update": update,
            "no_paspor": nz.utf8(passport),
            "_adult_from": birth[rows] + 6575,  # 18th birthday
        }))
        later_reg = later_reg.copy()
        later_reg[rows] = reg
        later_country = later_country.copy()
        later_country[rows] = country
        later_passport = later_passport.copy()
        later_passport[rows] = passport

    # Nobody registers before 18 (UU 18/2017): drop earlier placements that would.
    return pl.concat(out).filter((pl.col("_level") == 0) | (pl.col("_reg") >= pl.col("_adult_from"))).drop("_adult_from")


def finish_placements(pop: Population, rows: pl.DataFrame, seed: int, scale: float) -> pl.DataFrame:
    """Ids, person fields with noise, and the descriptive placement fields."""
    rng = stage_rng(seed, "p2mi_penempatan.fields")
    rows = rows.sort("_reg", "_pid", "_level")
    m = rows.height
    pids = rows["_pid"].to_numpy()
    view = person_view(pop, pids, ["alamat", "desa_name", "kec_name", "desa_dotted", "desa_code", "kab_short", "kab_name"])
    country = rows["_country"].to_numpy().astype(object)
    female = view["female"].to_numpy()
    status = rows["status_penempatan"].to_numpy()
    level = rows["_level"].to_numpy()

    reg_year = ymd(rows["_reg"].to_numpy())[0]
    id_penempatan = reg_year.astype(np.int64) * 10_000_000 + np.arange(1, m + 1)

    jabatan = _jobs(rng, country, female)
    skema = np.where(rng.random(m) < 0.85, "P_TO_P", np.where(rng.random(m) < 0.5, "PERSEORANGAN", "UKPS")).astype(object)
    skema = np.where((country == "KR") & (rng.random(m) < 0.7), "G_TO_G", skema)
    japan = rng.random(m)
    skema = np.where((country == "JP") & (japan < 0.4), "SSW", np.where((country == "JP") & (japan < 0.6), "G_TO_G", skema))
    skema = np.where(status == "PERPANJANG", "PERPANJANGAN", skema)
    # A repeat worker going back to the country of the previous placement often re-enters.
    frame = pl.DataFrame({"pid": pids, "level": level, "country": country.astype(str)})
    earlier = frame.with_columns(pl.col("country").shift(1).over("pid", order_by=-pl.col("level")).alias("earlier"))
    same_as_before = (earlier["earlier"] == earlier["country"]).fill_null(False).to_numpy()
    skema = np.where(same_as_before & (rng.random(m) < 0.3), "RE_ENTRY", skema)
    agencies = np.asarray(_agencies(), dtype=object)
    agency_weight = 1.0 / np.arange(1, len(agencies) + 1) ** 0.9
    agency = agencies[rng.choice(len(agencies), size=m, p=agency_weight / agency_weight.sum())]
    agency_text = pl.select(pl.when(pl.Series(rng.random(m) < 0.7)).then(pl.concat_str([pl.lit("PT. "), nz.utf8(agency)]))
                            .when(pl.Series(rng.random(m) < 0.5)).then(pl.concat_str([pl.lit("PT "), nz.utf8(agency)]))
                            .otherwise(pl.concat_str([nz.utf8(agency), pl.lit(", PT")])).alias("a"))["a"]
    agency_text = pl.select(pl.when(pl.Series(np.isin(skema, ["P_TO_P", "RE_ENTRY", "SSW", "PERPANJANGAN"])))
                            .then(agency_text).alias("a"))["a"]

    rng = stage_rng(seed, "p2mi_penempatan.person")
    member = household_member_pid(pop)
    nik, _ = nz.corrupt_nik(view["nik"], _member_nik(pop, pids, member), rng, _scaled(NIK_RATES["p2mi_penempatan"], scale))
    name = nz.fold_accents(_names(pop, view, rng, "p2mi_penempatan", scale))
    saudi = (country == "SA") & (rng.random(m) < np.where(view["name"].str.contains(" ").to_numpy(), 0.4, 0.9))
    if saudi.any():
        rows_sa = np.nonzero(saudi)[0]
        name = name.scatter(rows_sa, nz.saudi_passport_name(name.gather(rows_sa), view["father_name"].gather(rows_sa),
                                                             view["grandfather_name"].gather(rows_sa)))
    spelled_country = np.array([COUNTRIES[c][3][k % len(COUNTRIES[c][3])] for c, k in
                                zip(country, rng.integers(0, 12, m))], dtype=object) if m else np.zeros(0, dtype=object)

    alamat = pl.select(pl.when(pl.Series(rng.random(m) < 0.5)).then(pl.concat_str([
        view["alamat"], pl.lit(", DS. "), view["desa_name"].str.to_uppercase(), pl.lit(", KEC. "),
        view["kec_name"].str.to_uppercase()])).otherwise(view["alamat"]).alias("a"))["a"]
    code_kind = rng.choice(3, size=m, p=[0.6, 0.2, 0.2])
    kode_desa = pl.select(pl.when(pl.Series(code_kind == 0)).then(view["desa_dotted"])
                          .when(pl.Series(code_kind == 1)).then(view["desa_code"]).alias("k"))["k"]
    kab_kind = rng.choice(4, size=m, p=[0.5, 0.2, 0.2, 0.1])
    kabkota = pl.select(pl.when(pl.Series(kab_kind == 0)).then(view["kab_short"])
                        .when(pl.Series(kab_kind == 1)).then(pl.concat_str([pl.lit("KAB. "), view["kab_short"]]))
                        .when(pl.Series(kab_kind == 2)).then(view["kab_name"])
                        .otherwise(view["kab_short"].str.to_titlecase()).alias("k"))["k"]
    phone_kind = rng.choice(3, size=m, p=[0.7, 0.2, 0.1])
    phone = pl.select(pl.when(pl.Series(phone_kind == 1)).then(view["phone"].str.replace(r"^0", "+62"))
                      .when(pl.Series(phone_kind == 2)).then(view["phone"].str.replace(r"^0", "62"))
                      .otherwise(view["phone"]).alias("p"))["p"]
    sektor = np.where(np.isin(jabatan, list(INFORMAL_JOBS)), "informal", "formal").astype(object)

    def dates(col: str) -> pl.Series:
        return nz.days_to_dates(rows[col].to_numpy())

    return pl.DataFrame({
        "id_penempatan": pl.Series(id_penempatan).cast(pl.Utf8),
        "nik": nik,
        "no_paspor": rows["no_paspor"],
        "nama_lengkap": name,
        "jenis_kelamin": _sex(view, rng, 0.002 * scale, 0.0),
        "tempat_lahir": nz.place_variants(view["birthplace"], rng, 0.3, 0.05),
        "tanggal_lahir": _birth_dates(view, rng, scale),
        "alamat_asal": nz.blank(alamat, rng, 0.03),
        "kode_desa_asal": kode_desa,
        "kabkota_asal": nz.blank(kabkota, rng, 0.05),
        "no_hp": phone,
        "negara_penempatan": nz.utf8(spelled_country),
        "kode_negara": nz.blank(pl.Series(country.astype(str)), rng, 0.1),
        "jabatan": nz.blank(nz.utf8(jabatan), rng, 0.03),
        "sektor": nz.blank(nz.utf8(sektor), rng, 0.1),
        "skema": pl.Series(skema.astype(str)),
        "nama_p3mi": agency_text,
        "tgl_berangkat": dates("_dep"),
        "tgl_akhir_kontrak": dates("_end"),
        "tgl_pulang": dates("_ret"),
        "status_penempatan": rows["status_penempatan"],
        "tgl_update": dates("_update"),
        "_pid": pids.astype(np.int32),
        "_country": country.astype(str),
        "_level": level,
        "_ret_days": rows["_ret"],
        "_dep_days": rows["_dep"],
        "_reg_days": rows["_reg"],
    })


# --- DTSEN -----------------------------------------------------------------------------------------
def build_dtsen(pop: Population, seed: int, scale: float, internal_duplicates: bool,
                abroad_pids: np.ndarray, delivery_days: int) -> pl.DataFrame:
    """One row per member of the DTSEN households, some members abroad left out, internal duplicates added."""
    rng = stage_rng(seed, "dtsen_individu.rows")
    persons, households = pop.persons, pop.households
    n_hh = households.height
    hh = persons["hh"].to_numpy()
    in_dtsen = households["in_dtsen"].to_numpy()[hh]
    dropped = np.zeros(persons.height, dtype=bool)
    dropped[abroad_pids] = rng.random(len(abroad_pids)) < 0.25  # BPS drops members absent >= 6 months [U]
    base = np.nonzero(in_dtsen & ~dropped)[0]

    family_id = _unique_ids(rng, n_hh, 300_000_000, 11)
    # Part 2 is a regional office's Excel export (Windows-1252, `;`): whole families go to one part.
    family_part = np.where(rng.random(n_hh) < 0.4, 2, 1)

    dup_kind = np.zeros(len(base), dtype=np.int8)
    pids = base
    new_family = np.zeros(len(base), dtype=bool)
    if internal_duplicates and scale > 0:
        dups = base[nz.pick(rng, len(base), 0.01 * scale)]
        kind = rng.choice([1, 2, 3], size=len(dups), p=[0.6, 0.2, 0.2])  # same NIK / second NIK / second NIK, new family
        pids = np.concatenate([base, dups])
        dup_kind = np.concatenate([dup_kind, kind.astype(np.int8)])
        new_family = dup_kind == 3
    n = len(pids)
    view = person_view(pop, pids, ["no_kk", "alamat", "desa_code", "desa_dotted", "desil"])
    hh_rows = view["hh"].to_numpy()

    fam = family_id[hh_rows].copy()
    part = family_part[hh_rows].copy()
    no_kk = view["no_kk"].to_numpy().astype(object)
    n_new = int(new_family.sum())
    if n_new:
        fam[new_family] = _unique_ids(rng, n_new, 900_000_000, 3)
        kk_day = rng.integers(delivery_days - 3650, delivery_days - 30, n_new)  # a new KK for the split family
        y, m_, d = ymd(kk_day)
        kec = (view["no_kk"].gather(np.nonzero(new_family)[0]).str.slice(0, 6).cast(pl.Int64)).to_numpy()
        new_kk = ((kec * 1_000_000 + d * 10_000 + m_ * 100 + y % 100) * 10_000 + rng.integers(9000, 10_000, n_new))
        no_kk[new_family] = new_kk.astype(str)

    rng = stage_rng(seed, "dtsen_individu.person")
    member = household_member_pid(pop)
    member_nik = _member_nik(pop, pids, member)
    true_nik = pl.select(pl.when(pl.Series(dup_kind >= 2)).then(view["nik_alt"]).otherwise(view["nik"]).alias("n"))["n"]
    nik = true_nik.clone()
    for p, rates in ((1, NIK_RATES["dtsen_individu"]), (2, NIK_RATES["dtsen_individu_excel"])):
        rows = np.nonzero(part == p)[0]
        damaged, _ = nz.corrupt_nik(true_nik.gather(rows), member_nik.gather(rows), rng, _scaled(rates, scale))
        nik = nik.scatter(rows, damaged)

    role = view["role"].to_numpy()
    female = view["female"].to_numpy()
    relation = np.select(
        [role == HEAD, (role == SPOUSE) & female, role == SPOUSE, role == ELDER, role == CHILD_IN_LAW, role == GRANDCHILD],
        ["KEPALA KELUARGA", "ISTRI", "SUAMI", np.where(rng.random(n) < 0.6, "ORANG TUA", "MERTUA"), "MENANTU", "CUCU"],
        default="ANAK").astype(object)
    relation[nz.pick(rng, n, 0.01)] = "FAMILI LAIN"
    relation[new_family] = "KEPALA KELUARGA"

    occupation = view["occupation"].to_numpy().astype(object)
    occupation[np.isin(pids, abroad_pids)] = "PEKERJA MIGRAN"

    desil = view["desil"].to_numpy().astype(np.int64)
    desil = np.where(new_family, np.clip(desil + rng.integers(-1, 2, n), 1, 10), desil)
    # A few values outside 1-10: accepted by ingest, nulled with a flag (contract 1.1).
    bad_desil = nz.pick(rng, n, 0.0005 * scale)
    desil = np.where(bad_desil, np.where(rng.random(n) < 0.5, 0, 11), desil)
    age = view["age"].to_numpy()
    has_kids_or_elder = np.isin(hh_rows, hh[(persons["age"].to_numpy() < 18) | (persons["age"].to_numpy() >= 70)])
    leak = rng.random(n) < 0.03  # inclusion errors
    # Programme receipt is a family attribute: decide once per household.
    fam_u = rng.random(n_hh)[hh_rows]
    pkh = ((desil <= 3) & has_kids_or_elder & (fam_u < 0.6)) | (leak & (fam_u < 0.3))
    sembako = ((desil <= 4) & (fam_u < 0.7)) | (leak & (fam_u < 0.5))
    pbi = ((desil <= 5) & (fam_u < 0.8)) | leak

    year, month, _ = ymd(np.array([delivery_days]))
    quarter = (month[0] - 1) // 3  # the last complete quarter
    q_year, q = (year[0], quarter) if quarter > 0 else (year[0] - 1, 4)
    prev_q_year, prev_q = (q_year, q - 1) if q > 1 else (q_year - 1, 4)
    stale = (rng.random(n_hh) < 0.05)[hh_rows]
    periode = np.where(stale, f"{prev_q_year}-Q{prev_q}", f"{q_year}-Q{q}")

    u = rng.random(n)
    status = np.where(u < np.where(age >= 70, 0.04, 0.003), "MENINGGAL",
                      np.where(u > 0.985, "PINDAH", "ADA"))

    alamat = view["alamat"]
    newline = nz.pick(rng, n, 0.02)
    alamat = pl.select(pl.when(pl.Series(newline)).then(alamat.str.replace(" RT", "\nRT", literal=True))
                       .otherwise(alamat).alias("a"))["a"]
    semicolon = (part == 2) & nz.pick(rng, n, 0.3)
    alamat = pl.select(pl.when(pl.Series(semicolon)).then(alamat.str.replace(", ", "; ", literal=True))
                       .otherwise(alamat).alias("a"))["a"]

    records = pl.DataFrame({
        "id_individu": pl.Series(_unique_ids(rng, n, 3_200_000_000, 3)).cast(pl.Utf8),
        "id_keluarga": pl.Series(fam).cast(pl.Utf8),
        "nik": nik,
        "no_kk": nz.blank(nz.utf8(no_kk), rng, 0.03 * scale),
        "nama": _names(pop, view, rng, "dtsen_individu", scale),
        "jenis_kelamin": _sex(view, rng, 0.003 * scale, 0.0),
        "tempat_lahir": nz.place_variants(view["birthplace"], rng, 0.2, 0.03),
        "tanggal_lahir": _birth_dates(view, rng, scale, missing=0.003),
        "hubungan_keluarga": nz.utf8(relation),
        "pekerjaan": nz.blank(nz.utf8(occupation), rng, 0.02),
        "alamat": alamat,
        "kode_desa": nz.blank(view["desa_code"], rng, 0.02),
        "desil": pl.Series(desil, dtype=pl.Int64),
        "penerima_pkh": pkh,
        "penerima_sembako": sembako,
        "penerima_pbi_jk": pbi,
        "disabilitas": view["disabled"],
        "periode": pl.Series(periode),
        "status_keberadaan": pl.Series(status),
        "_pid": pids.astype(np.int32),
        "_part": part.astype(np.int8),
        "_dup_kind": dup_kind,
        "_slot": view["slot"],
        "_desa_dotted": view["desa_dotted"],
    })
    return records.sort("_part", "id_keluarga", "_slot", "_dup_kind")


# --- cases -----------------------------------------------------------------------------------------
JENIS_KASUS = (["INGIN_PULANG", "GAJI_TIDAK_DIBAYAR", "DEPORTASI", "GAGAL_BERANGKAT", "MENINGGAL", "PENIPUAN", "SAKIT",
                "TPPO", "HILANG_KONTAK", "KEKERASAN", "PENAHANAN_DOKUMEN", "LAINNYA"],
               [18, 11, 8, 6, 5, 4, 8, 3, 5, 5, 5, 10])
NON_PROCEDURAL = {  # code: (weight, spellings, SPLP post, case types)
    "KH": (55, ["KAMBOJA", "CAMBODIA", "Kamboja"], ["PNH"],
           (["TPPO", "PENIPUAN", "INGIN_PULANG", "DEPORTASI", "KEKERASAN"], [35, 25, 20, 15, 5])),
    "MY": (35, ["MALAYSIA", "Malaysia"], ["TWU", "KUL", "JHB", "KCH"],
           (["DEPORTASI", "INGIN_PULANG", "GAJI_TIDAK_DIBAYAR", "TPPO", "SAKIT", "MENINGGAL"], [60, 15, 10, 5, 5, 5])),
    "MM": (5, ["MYANMAR"], ["YGN"], (["TPPO", "PENIPUAN", "INGIN_PULANG"], [50, 30, 20])),
    "TH": (3, ["THAILAND"], ["BKK"], (["TPPO", "PENIPUAN", "INGIN_PULANG"], [50, 30, 20])),
    "LA": (2, ["LAOS"], ["VTE"], (["TPPO", "PENIPUAN", "INGIN_PULANG"], [50, 30, 20])),
}
SENTRA = ["Sentra Handayani Jakarta", "RPTC Bambu Apus", "Sentra Mulya Jaya Jakarta", "Sentra Efata Kupang",
          "Sentra Paramita Mataram", "Sentra Budi Perkasa Palembang", "Sentra Terpadu Pangudi Luhur Bekasi"]


def build_cases(pop: Population, placements: pl.DataFrame, seed: int, scale: float, n_cases: int,
                delivery_days: int) -> pl.DataFrame:
    """Complaints: most about placed workers (some linked by id_penempatan), the rest non-procedural."""
    rng = stage_rng(seed, "p2mi_kasus.rows")
    D = delivery_days
    n_proc = int(round(n_cases * 0.65))
    status = placements["status_penempatan"].to_numpy()
    w = np.select([status == "MENINGGAL", status == "PULANG_BERMASALAH", np.isin(status, ABROAD),
                   np.isin(status, ["TERDAFTAR", "PROSES"])], [10.0, 8.0, 1.0, 0.5], default=0.3)
    # Complaints are about recent placements: the last event within about three years.
    last_event = np.maximum.reduce([placements["_reg_days"].to_numpy(), placements["_dep_days"].to_numpy(),
                                    placements["_ret_days"].to_numpy()])
    w = w * np.where(last_event >= D - 1100, 1.0, 0.02)
    prow = _weighted_sample(rng, w, n_proc)
    prow = prow[rng.permutation(len(prow))]
    n_proc = len(prow)
    pl_rows = placements.gather(prow)
    p_status = pl_rows["status_penempatan"].to_numpy()
    jenis = _weighted(rng, JENIS_KASUS, n_proc)
    jenis = np.where(p_status == "MENINGGAL", "MENINGGAL", jenis)
    pre = np.isin(p_status, ["TERDAFTAR", "PROSES", "BATAL"])
    jenis = np.where(pre, np.where(rng.random(n_proc) < 0.6, "GAGAL_BERANGKAT", "PENIPUAN"), jenis)
    jenis = np.where(~pre & (jenis == "GAGAL_BERANGKAT"), "LAINNYA", jenis)
    dep = pl_rows["_dep_days"].to_numpy()
    ret = pl_rows["_ret_days"].to_numpy()
    reg = pl_rows["_reg_days"].to_numpy()
    has_ret = ret != nz.NA_DAY
    has_dep = (dep != nz.NA_DAY) & (dep <= D)
    opened = np.select(
        [p_status == "MENINGGAL", has_ret, has_dep],
        [ret - rng.integers(0, 30, n_proc), ret + rng.integers(-60, 30, n_proc),
         dep + (rng.random(n_proc) * np.maximum(D - dep, 1)).astype(np.int64)],
        default=reg + (rng.random(n_proc) * np.maximum(D - reg, 1)).astype(np.int64))
    opened = np.minimum(opened, D)
    returns = np.isin(jenis, ["MENINGGAL", "DEPORTASI", "INGIN_PULANG", "KEKERASAN", "TPPO", "SAKIT"])
    arrival = np.where(has_ret, ret, opened + rng.integers(5, 60, n_proc))
    arrival = np.where(returns & ~pre & (arrival <= D), arrival, nz.NA_DAY)
    proc = pl.DataFrame({
        "_pid": pl_rows["_pid"],
        "_country": pl_rows["_country"],
        "_procedural": np.ones(n_proc, dtype=bool),
        "jenis_kasus": pl.Series(jenis.astype(str)),
        "_opened": opened, "_arrival": arrival,
        "id_penempatan": nz.blank(pl_rows["id_penempatan"], rng, 0.4),
        "no_paspor": nz.blank(pl_rows["no_paspor"], rng, 0.2),
        "no_splp": pl.Series([None] * n_proc, dtype=pl.Utf8),
    })

    # Non-procedural stream (Cambodia, Malaysia deportees...): people with no placement row.
    n_non = max(n_cases - n_proc, 1)
    persons, households = pop.persons, pop.households
    age = persons["age"].to_numpy()
    hh = persons["hh"].to_numpy()
    placed = np.zeros(persons.height, dtype=bool)
    placed[placements["_pid"].to_numpy()] = True
    weight = (((age >= 18) & (age <= 45) & ~placed)
              * np.where(households["is_pocket"].to_numpy()[hh], 2.0, 1.0)
              * np.where(households["desil"].to_numpy()[hh] <= 5, 1.5, 1.0)
              * np.where(persons["female"].to_numpy(), 0.8, 1.0))
    npids = _weighted_sample(rng, weight, n_non)
    npids = npids[rng.permutation(len(npids))]
    n_non = len(npids)
    codes = list(NON_PROCEDURAL)
    cw = np.array([NON_PROCEDURAL[c][0] for c in codes], dtype=float)
    ncountry = np.asarray(codes, dtype=object)[rng.choice(len(codes), size=n_non, p=cw / cw.sum())]
    njenis = np.empty(n_non, dtype=object)
    for c in codes:
        rows = ncountry == c
        njenis[rows] = _weighted(rng, NON_PROCEDURAL[c][3], rows.sum())
    nopened = D - rng.integers(0, 540, n_non)
    narrival = nopened + rng.integers(3, 45, n_non)
    narrival = np.where((narrival <= D) & (rng.random(n_non) < 0.75), narrival, nz.NA_DAY)
    post = np.array([NON_PROCEDURAL[c][2][k % len(NON_PROCEDURAL[c][2])] for c, k in
                     zip(ncountry, rng.integers(0, 4, n_non))], dtype=object)
    splp = pl.select(pl.concat_str([
        pl.lit("SPLP/"), nz.utf8(post), pl.lit("/"), pl.Series(ymd(nopened)[0]).cast(pl.Utf8),
        pl.lit("/"), pl.Series(rng.integers(1, 100_000, n_non)).cast(pl.Utf8).str.zfill(5)]).alias("s"))["s"]
    digits = pl.Series(rng.integers(0, 10_000_000, n_non)).cast(pl.Utf8).str.zfill(7)
    passport = pl.select(pl.concat_str([pl.lit("C"), digits]).alias("p"))["p"]
    non = pl.DataFrame({
        "_pid": npids.astype(np.int32),
        "_country": pl.Series(ncountry.astype(str)),
        "_procedural": np.zeros(n_non, dtype=bool),
        "jenis_kasus": pl.Series(njenis.astype(str)),
        "_opened": nopened, "_arrival": narrival,
        "id_penempatan": pl.Series([None] * n_non, dtype=pl.Utf8),
        "no_paspor": nz.blank(passport, rng, 0.75),
        "no_splp": nz.blank(splp, rng, 0.35),
    })
    cases = pl.concat([proc, non])
    # Some people complain twice (a follow-up case, a later deportation).
    again = cases.filter(pl.Series(nz.pick(rng, cases.height, 0.08)))
    if again.height:
        shift = rng.integers(10, 200, again.height)
        again = again.with_columns(
            (pl.col("_opened") + pl.Series(shift)).clip(upper_bound=D).alias("_opened"),
            pl.Series(_weighted(rng, JENIS_KASUS, again.height).astype(str)).alias("jenis_kasus"),
            pl.lit(nz.NA_DAY, dtype=pl.Int64).alias("_arrival"))
        cases = pl.concat([cases, again.cast(cases.schema)])
    cases = cases.sort("_opened", "_pid")
    return _finish_cases(pop, cases, seed, scale, delivery_days)


def _finish_cases(pop: Population, cases: pl.DataFrame, seed: int, scale: float, delivery_days: int) -> pl.DataFrame:
    rng = stage_rng(seed, "p2mi_kasus.person")
    n = cases.height
    pids = cases["_pid"].to_numpy()
    view = person_view(pop, pids, ["kab_name", "kab_short", "prov_name", "desa_name", "kec_name"])
    procedural = cases["_procedural"].to_numpy()
    jenis = cases["jenis_kasus"].to_numpy()
    country = cases["_country"].to_numpy()
    opened = cases["_opened"].to_numpy()

    member = household_member_pid(pop)
    nik, _ = nz.corrupt_nik(view["nik"], _member_nik(pop, pids, member), rng, _scaled(NIK_RATES["p2mi_kasus"], scale))
    # NIK is missing in about half the cases, most of all in the non-procedural stream (domain 1.1, 9).
    no_nik = rng.random(n) < np.where(procedural, 0.35, 0.75) * min(scale, 1.0 / 0.75)
    nik = nik.scatter(np.nonzero(no_nik)[0], None) if no_nik.any() else nik

    birth = _birth_dates(view, rng, scale)
    no_birth = rng.random(n) < 0.45 * min(scale, 2.0)
    umur = age_in_years(view["birth_days"].to_numpy(), opened)
    umur = umur + np.where(rng.random(n) < 0.1 * scale, rng.choice([-1, 1], n), 0)
    give_age = np.where(no_birth, rng.random(n) < 0.7, rng.random(n) < 0.2)
    if no_birth.any():
        birth = birth.scatter(np.nonzero(no_birth)[0], None)

    spelled = np.empty(n, dtype=object)
    for i, (c, k) in enumerate(zip(country, rng.integers(0, 12, n))):
        options = COUNTRIES[c][3] if c in COUNTRIES else NON_PROCEDURAL[c][1]
        spelled[i] = options[k % len(options)]

    origin_kind = rng.choice(4, size=n, p=[0.4, 0.25, 0.2, 0.15])
    kab_title = view["kab_name"].str.replace("Kabupaten ", "Kab. ", literal=True)
    daerah = pl.select(
        pl.when(pl.Series(origin_kind == 0)).then(pl.concat_str([kab_title, pl.lit(", "), view["prov_name"]]))
        .when(pl.Series(origin_kind == 1)).then(view["kab_short"])
        .when(pl.Series(origin_kind == 2)).then(pl.concat_str([
            pl.lit("Desa "), view["desa_name"], pl.lit(", Kec. "), view["kec_name"], pl.lit(", "), kab_title]))
        .alias("d"))["d"]

    tppo_case = jenis == "TPPO"
    indikasi = tppo_case | ((country == "KH") & (rng.random(n) < 0.6)) | (rng.random(n) < 0.03)
    rujukan = rng.random(n) < np.select([tppo_case, ~procedural & (jenis == "DEPORTASI")], [0.8, 0.4], default=0.05)
    sentra = np.where(rujukan, np.asarray(SENTRA, dtype=object)[rng.integers(0, len(SENTRA), n)], None)
    arrival = cases["_arrival"].to_numpy()
    recent = opened > delivery_days - 60
    handling = np.where(recent, "PROSES", np.where(arrival != nz.NA_DAY, "DIPULANGKAN_KE_DAERAH", "SELESAI"))
    handling = np.where(~recent & (rng.random(n) < 0.4), "SELESAI", handling)
    years = ymd(opened)[0]
    id_kasus = pl.select(pl.concat_str([pl.lit("KSS-"), pl.Series(years).cast(pl.Utf8), pl.lit("-"),
                                        pl.Series(np.arange(1, n + 1)).cast(pl.Utf8).str.zfill(6)]).alias("i"))["i"]

    return pl.DataFrame({
        "id_kasus": id_kasus,
        "id_penempatan": cases["id_penempatan"],
        "nik": nik,
        "no_paspor": cases["no_paspor"],
        "no_splp": cases["no_splp"],
        "nama": _names(pop, view, rng, "p2mi_kasus", scale),
        "jenis_kelamin": _sex(view, rng, 0.003 * scale, 0.05),
        "tanggal_lahir": birth,
        "umur": pl.Series(np.where(give_age, umur, -1)).cast(pl.Int64).replace(-1, None),
        "tempat_lahir": nz.place_variants(view["birthplace"], rng, 0.3, 0.5),
        "daerah_asal": daerah,
        "negara": nz.utf8(spelled),
        "jenis_kasus": cases["jenis_kasus"],
        "indikasi_tppo": nz.blank(pl.Series(indikasi), rng, 0.15),
        "prosedural": nz.blank(pl.Series(procedural), rng, 0.1),
        "tgl_pengaduan": nz.days_to_dates(opened),
        "tgl_kedatangan": nz.days_to_dates(arrival),
        "rujukan_kemensos": nz.blank(pl.Series(rujukan), rng, 0.1),
        "sentra_rehab": nz.utf8(sentra),
        "status_penanganan": pl.Series(handling.astype(str)),
        "_pid": pids.astype(np.int32),
    })


# --- Sekolah Rakyat --------------------------------------------------------------------------------
KM_TRACKS = ([("JEPANG", "JEPANG"), ("KOREA", "KOREA SELATAN"), ("INGGRIS", "HONG KONG"), ("INGGRIS", "SINGAPURA"),
              ("INGGRIS", "TAIWAN"), ("ARAB", "ARAB SAUDI"), ("JERMAN", "JERMAN")], [35, 25, 8, 6, 6, 10, 10])
SR_ENTRY_DATES = [("2025-07-14", 45), ("2025-08-01", 25), ("2025-09-15", 20), ("2026-07-13", 10)]  # phases 1A/1B/1C, 2026


@dataclass
class School:
    name: str
    kind: str  # SRMP, SRMA, SRT
    code: int  # NPSN-like
    prov: int


def _schools(rng: np.random.Generator, student_prov: np.ndarray) -> list[School]:
    """SR schools per province with students; SRMA 13 Bekasi (the Kelas Migran pilot) always exists."""
    regions = region_tables()
    schools: list[School] = []
    provinces, counts = np.unique(student_prov, return_counts=True)
    numbers = iter(n for n in rng.permutation(np.arange(1, 500 + len(student_prov) // 100)) if n != 13)
    for prov, count in zip(provinces, counts):
        kabs = np.nonzero(regions.prov_code[regions.kab_prov_idx] == prov)[0]
        kinds = ["SRT"] + list(_weighted(rng, (["SRMA", "SRMP", "SRT"], [40, 30, 30]), int(count // 200)))
        if prov == 32:
            kinds = ["SRMA"] + kinds
        for i, kind in enumerate(kinds):
            if prov == 32 and i == 0:
                number, place = 13, "Bekasi"
            else:
                kab = kabs[rng.integers(0, len(kabs))]
                number, place = int(next(numbers)), regions.kab_short[kab].title()
            schools.append(School(f"{kind} {number} {place}", kind, int(69_000_000 + rng.integers(0, 999_999)), int(prov)))
    return schools


def build_sr(pop: Population, seed: int, scale: float, n_students: int, placements: pl.DataFrame,
             delivery_days: int) -> pl.DataFrame:
    """Students 10-18 from DTSEN desil 1-2 families first, some local intakes outside DTSEN, PMI children."""
    rng = stage_rng(seed, "sr_siswa.rows")
    persons, households = pop.persons, pop.households
    age = persons["age"].to_numpy()
    hh = persons["hh"].to_numpy()
    desil = households["desil"].to_numpy()[hh]
    in_dtsen = households["in_dtsen"].to_numpy()[hh]

    latest = placements.sort("_level").group_by("_pid", maintain_order=True).first()
    abroad = np.zeros(persons.height, dtype=bool)
    latest_abroad = latest.filter(pl.col("status_penempatan").is_in(ABROAD))["_pid"].to_numpy()
    abroad[latest_abroad] = True
    father = persons["father_pid"].to_numpy()
    mother = persons["mother_pid"].to_numpy()
    parent_abroad = (father >= 0) & abroad[np.maximum(father, 0)] | (mother >= 0) & abroad[np.maximum(mother, 0)]

    desil_weight = np.array([0, 7, 3, 0.3, 0.05, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01])[desil]
    weight = (np.where(in_dtsen, desil_weight, 1.0) * np.select([age < 10, age < 12, age <= 18], [0, 0.1, 1.0], default=0)
              * np.where(parent_abroad, 1.5, 1.0))
    pids = _weighted_sample(rng, weight, n_students)
    n = len(pids)
    view = person_view(pop, pids, ["prov_code", "desil", "in_dtsen", "no_kk"])
    s_age = view["age"].to_numpy()
    tingkat = np.clip(s_age - 5 - (rng.random(n) < 0.5), 4, 12)
    jenjang = np.where(tingkat <= 6, "SD", np.where(tingkat <= 9, "SMP", "SMA"))

    prov = view["prov_code"].to_numpy()
    schools = _schools(rng, prov)
    school_idx = np.zeros(n, dtype=np.int64)
    fits = {"SD": ("SRT",), "SMP": ("SRMP", "SRT"), "SMA": ("SRMA", "SRT")}
    for p in np.unique(prov):
        for level, kinds in fits.items():
            rows = np.nonzero((prov == p) & (jenjang == level))[0]
            options = [i for i, s in enumerate(schools) if s.prov == p and s.kind in kinds]
            school_idx[rows] = np.asarray(options)[rng.integers(0, len(options), len(rows))]
    school_name = np.array([schools[i].name for i in school_idx], dtype=object)
    school_code = np.array([schools[i].code for i in school_idx], dtype=np.int64)
    bekasi13 = school_name == "SRMA 13 Bekasi"

    entry_dates, entry_weights = zip(*SR_ENTRY_DATES)
    entry = np.array([to_days(date.fromisoformat(d)) for d in entry_dates])
    entry = np.minimum(entry[rng.choice(len(entry), size=n, p=np.array(entry_weights) / sum(entry_weights))], delivery_days)
    status = _weighted(rng, (["AKTIF", "MUTASI", "KELUAR", "LULUS"], [92, 3, 4, 1]), n)

    s_desil = view["desil"].to_numpy().astype(np.int64)
    s_desil = np.where(rng.random(n) < 0.05, np.clip(s_desil + rng.choice([-1, 1], n), 1, 10), s_desil)
    s_in_dtsen = view["in_dtsen"].to_numpy()

    # NISN: ten digits, often 0 + the last two digits of the birth year (domain 1.1).
    birth_year = ymd(view["birth_days"].to_numpy())[0]
    by_rule = rng.random(n) < 0.85
    tail = pl.Series(rng.integers(0, 10_000_000, n)).cast(pl.Utf8).str.zfill(7)
    nisn = pl.select(pl.when(pl.Series(by_rule)).then(pl.concat_str([
        pl.lit("0"), pl.Series(birth_year % 100).cast(pl.Utf8).str.zfill(2), tail]))
        .otherwise(pl.Series(rng.integers(0, 10_000_000_000, n)).cast(pl.Utf8).str.zfill(10)).alias("n"))["n"]

    rng = stage_rng(seed, "sr_siswa.person")
    member = household_member_pid(pop)
    nik, _ = nz.corrupt_nik(view["nik"], _member_nik(pop, pids, member), rng, _scaled(NIK_RATES["sr_siswa"], scale))
    s_father = view["father_pid"].to_numpy()
    s_mother = view["mother_pid"].to_numpy()
    f_abroad = (s_father >= 0) & abroad[np.maximum(s_father, 0)]
    m_abroad = (s_mother >= 0) & abroad[np.maximum(s_mother, 0)]

    def parent(pid_arr: np.ndarray, is_abroad: np.ndarray, fallback: pl.Series | None) -> tuple[pl.Series, pl.Series]:
        present = pid_arr >= 0
        pview = pop.persons.gather(np.maximum(pid_arr, 0))
        pname = nz.name_variants(pview["name"], pview["father_name"], pview["female"].to_numpy(),
                                 ymd(pview["birth_days"].to_numpy())[0], rng, 0.15 * scale, NAME_VARIANT_WEIGHTS["sr_siswa"])
        name_out = pl.select(pl.when(pl.Series(present)).then(pname).alias("n"))["n"]
        if fallback is not None:
            use = ~present & (rng.random(n) < 0.7)
            name_out = pl.select(pl.when(pl.Series(use)).then(fallback).otherwise(name_out).alias("n"))["n"]
        give_nik = present & (is_abroad | (rng.random(n) < 0.6))
        nik_out = pl.select(pl.when(pl.Series(give_nik)).then(pview["nik"]).alias("n"))["n"]
        return name_out, nik_out

    nama_ayah, nik_ayah = parent(s_father, f_abroad, view["father_name"])
    nama_ibu, nik_ibu = parent(s_mother, m_abroad, None)
    # A guardian when a parent is abroad or absent: the household head if not a parent, else the other member.
    head_pid = np.full(households.height, -1, dtype=np.int64)
    head_pid[hh[persons["role"].to_numpy() == HEAD]] = np.nonzero(persons["role"].to_numpy() == HEAD)[0]
    guardian = head_pid[view["hh"].to_numpy()]
    is_parent = (guardian == s_father) | (guardian == s_mother) | (guardian == pids)
    guardian = np.where(is_parent, -1, guardian)
    needs = (f_abroad | m_abroad | ((s_father < 0) & (s_mother < 0))) & (guardian >= 0) & (rng.random(n) < 0.8)
    gview = pop.persons.gather(np.maximum(guardian, 0))
    nama_wali = pl.select(pl.when(pl.Series(needs)).then(gview["name"]).alias("n"))["n"]
    nik_wali = pl.select(pl.when(pl.Series(needs & (rng.random(n) < 0.7))).then(gview["nik"]).alias("n"))["n"]

    ortu_pmi = (f_abroad | m_abroad) ^ nz.pick(rng, n, 0.03 * scale)
    p_km = np.where(bekasi13, 0.7, 0.15) * np.where(ortu_pmi, 1.5, 1.0)
    kelas_migran = (jenjang == "SMA") & (rng.random(n) < p_km)
    track = rng.choice(len(KM_TRACKS[0]), size=n, p=np.array(KM_TRACKS[1]) / sum(KM_TRACKS[1]))
    km_bahasa = np.where(kelas_migran, np.array([t[0] for t in KM_TRACKS[0]], dtype=object)[track], None)
    km_negara = np.where(kelas_migran & (rng.random(n) < 0.85),
                         np.array([t[1] for t in KM_TRACKS[0]], dtype=object)[track], None)

    notes = np.full(n, None, dtype=object)
    notes[ortu_pmi & (rng.random(n) < 0.5)] = "ANAK PMI"
    notes[(s_father < 0) & (rng.random(n) < 0.3)] = "YATIM"
    notes[status == "MUTASI"] = "PINDAH SEKOLAH"
    notes[kelas_migran & (rng.random(n) < 0.3)] = "KELAS MIGRAN ANGKATAN 1"

    entry_year = ymd(entry)[0] % 100
    id_siswa = pl.select(pl.concat_str([pl.lit("SR"), pl.Series(entry_year).cast(pl.Utf8),
                                        pl.Series(_unique_ids(rng, n, 0, 3)).cast(pl.Utf8).str.zfill(6)]).alias("i"))["i"]
    records = pl.DataFrame({
        "id_siswa": id_siswa,
        "nisn": nz.blank(nisn, rng, 0.04),
        "nik": nik,
        "no_kk": nz.blank(view["no_kk"], rng, 0.1),
        "nama_siswa": _names(pop, view, rng, "sr_siswa", scale),
        "jenis_kelamin": _sex(view, rng, 0.002 * scale, 0.0),
        "tempat_lahir": nz.place_variants(view["birthplace"], rng, 0.3, 0.05),
        "tanggal_lahir": _birth_dates(view, rng, scale),
        "nama_sekolah": nz.utf8(school_name),
        "kode_sekolah": pl.Series(school_code),
        "jenjang": pl.Series(jenjang.astype(str)),
        "tingkat": pl.Series(tingkat, dtype=pl.Int64),
        "tgl_masuk": nz.days_to_dates(entry),
        "status_siswa": pl.Series(status.astype(str)),
        "desil_saat_seleksi": pl.Series(np.where(s_in_dtsen, s_desil, -1)).replace(-1, None),
        "nama_ayah": nama_ayah, "nik_ayah": nik_ayah,
        "nama_ibu": nama_ibu, "nik_ibu": nik_ibu,
        "nama_wali": nama_wali, "nik_wali": nik_wali,
        "ortu_pmi": pl.Series(ortu_pmi),
        "kelas_migran": pl.Series(kelas_migran),
        "km_bahasa": nz.utf8(km_bahasa),
        "km_negara_tujuan": nz.utf8(km_negara),
        "keterangan": nz.utf8(notes),
        "_pid": pids.astype(np.int32),
        "_age": s_age,
    })
    return records.sort("nama_sekolah", "id_siswa")


def future_migrants(sr: pl.DataFrame, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kelas Migran students who turned 18 and registered for a placement (domain 9): pids, status, country."""
    km_country = {"JEPANG": "JP", "KOREA SELATAN": "KR", "HONG KONG": "HK", "SINGAPURA": "SG", "TAIWAN": "TW",
                  "ARAB SAUDI": "SA", "JERMAN": "DE"}
    grads = sr.filter(pl.col("kelas_migran") & (pl.col("_age") >= 18) & pl.col("km_negara_tujuan").is_not_null())
    grads = grads.filter(pl.Series(rng.random(grads.height) < 0.4))
    pids = grads["_pid"].to_numpy()
    order = np.argsort(pids)
    status = np.where(rng.random(len(pids)) < 0.5, "TERDAFTAR", "PROSES").astype(object)
    country = np.array([km_country[c] for c in grads["km_negara_tujuan"].to_list()], dtype=object)
    return pids[order], status[order], country[order]
