"""Generate one complete night of synthetic deliveries with ground truth: `generate_deliveries`.

Builds the latent population, the four sources as noisy views of it, lays each source out over
files the way its sender would (CSV in two encodings, XLSX with numeric and date cells, Parquet),
plants a few rows the ingest must quarantine, and writes `<landing>/_truth/` for the quality report.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from tqdm import tqdm

from synthetic import noise as nz
from synthetic import sources as src
from synthetic import writers as wr
from synthetic.population import Population, build_population, stage_rng, to_days

# Sizes of the other sources per DTSEN person (a national night: 1,000,000 -> ~300k placements rows,
# 20k students, 10k cases).
PLACEMENTS_PER_PERSON = 0.30
MEAN_PLACEMENTS_PER_WORKER = 1.42
STUDENTS_PER_PERSON = 0.02
CASES_PER_PERSON = 0.01
XLSX_MAX_ROWS = 50_000  # xlsxwriter writes ~4k rows/s; bigger parts go to CSV
ROW_PROBLEM_RATE = 0.001
ROW_PROBLEMS = ("exact_repeat", "empty_primary_key", "primary_key_conflict", "no_name_no_nik")

PRIMARY_KEYS = {"p2mi_penempatan": "id_penempatan", "p2mi_kasus": "id_kasus", "dtsen_individu": "id_individu",
                "sr_siswa": "id_siswa"}
COLUMNS = {
    "dtsen_individu": ["id_individu", "id_keluarga", "nik", "no_kk", "nama", "jenis_kelamin", "tempat_lahir",
                       "tanggal_lahir", "hubungan_keluarga", "pekerjaan", "alamat", "kode_desa", "desil",
                       "penerima_pkh", "penerima_sembako", "penerima_pbi_jk", "disabilitas", "periode",
                       "status_keberadaan"],
    "p2mi_penempatan": ["id_penempatan", "nik", "no_paspor", "nama_lengkap", "jenis_kelamin", "tempat_lahir",
                        "tanggal_lahir", "alamat_asal", "kode_desa_asal", "kabkota_asal", "no_hp",
                        "negara_penempatan", "kode_negara", "jabatan", "sektor", "skema", "nama_p3mi",
                        "tgl_berangkat", "tgl_akhir_kontrak", "tgl_pulang", "status_penempatan", "tgl_update"],
    "p2mi_kasus": ["id_kasus", "id_penempatan", "nik", "no_paspor", "no_splp", "nama", "jenis_kelamin",
                   "tanggal_lahir", "umur", "tempat_lahir", "daerah_asal", "negara", "jenis_kasus", "indikasi_tppo",
                   "prosedural", "tgl_pengaduan", "tgl_kedatangan", "rujukan_kemensos", "sentra_rehab",
                   "status_penanganan"],
    "sr_siswa": ["id_siswa", "nisn", "nik", "no_kk", "nama_siswa", "jenis_kelamin", "tempat_lahir", "tanggal_lahir",
                 "nama_sekolah", "kode_sekolah", "jenjang", "tingkat", "tgl_masuk", "status_siswa",
                 "desil_saat_seleksi", "nama_ayah", "nik_ayah", "nama_ibu", "nik_ibu", "nama_wali", "nik_wali",
                 "ortu_pmi", "kelas_migran", "km_bahasa", "km_negara_tujuan", "keterangan"],
}
# The placements CSV part comes from a system whose export spells some headers oddly (matched
# case-insensitively after trimming, contract 1).
ODD_HEADERS = {"id_penempatan": " ID_Penempatan", "nik": " NIK ", "nama_lengkap": "Nama_Lengkap",
               "tanggal_lahir": "Tanggal_Lahir\t", "negara_penempatan": "NEGARA_PENEMPATAN"}


def generate_deliveries(
    landing_dir: Path,
    persons: int = 10_000,
    seed: int = 20261128,
    delivery_date: date = date(2026, 11, 27),
    noise: str = "default",
    progress: bool = True,
    folder_date: date | None = None,
    records_hook: Callable[[dict[str, pl.DataFrame]], dict[str, pl.DataFrame]] | None = None,
) -> dict:
    """Write one delivery of each source under `landing_dir/<source>/<delivery_date>/` plus `landing_dir/_truth/`.

    `persons` is the size of DTSEN (records, roughly); the other sources scale with it. Same arguments,
    same bytes. Returns counts per source, the files written and the truth files.
    `folder_date` writes the delivery under another date than the one it is generated as of, and
    `records_hook` edits the source records before they are written (both for `synthetic.nights`).
    """
    if not 100 <= persons <= 10_000_000:
        raise ValueError(f"persons must be between 100 and 10,000,000, got {persons}")
    profile = nz.noise_profile(noise)
    scale = profile.scale
    started = time.perf_counter()
    landing_dir = Path(landing_dir)
    day = (folder_date or delivery_date).isoformat()
    D = to_days(delivery_date)
    steps = ["population", "placements", "sekolah rakyat", "dtsen", "cases",
             "write dtsen_individu", "write p2mi_penempatan", "write p2mi_kasus", "write sr_siswa", "truth"]
    bar = tqdm(total=len(steps), desc="synthetic", unit="step", disable=not progress)

    def step(name: str) -> None:
        bar.set_postfix_str(name)

    step(steps[0])
    pop = build_population(seed, persons, delivery_date)
    bar.update()

    step(steps[1])
    rng = stage_rng(seed, "p2mi_penempatan.rows")
    workers = src.select_placed_persons(pop, rng, int(round(persons * PLACEMENTS_PER_PERSON / MEAN_PLACEMENTS_PER_WORKER)))
    placement_rows = src.placement_rows(pop, rng, workers, D)
    bar.update()

    step(steps[2])
    sr = src.build_sr(pop, seed, scale, max(20, int(round(persons * STUDENTS_PER_PERSON))), placement_rows, D)
    rng = stage_rng(seed, "p2mi_penempatan.future_migrants")
    grads, grad_status, grad_country = src.future_migrants(sr, rng)
    if len(grads):
        placement_rows = pl.concat([placement_rows, src.placement_rows(
            pop, rng, grads, D, n_placements=np.ones(len(grads), dtype=np.int64),
            latest_status=grad_status, latest_country=grad_country)])
    placements = src.finish_placements(pop, placement_rows, seed, scale)
    bar.update()

    step(steps[3])
    latest = placements.sort("_level").group_by("_pid", maintain_order=True).first()
    abroad = np.sort(latest.filter(pl.col("status_penempatan").is_in(src.ABROAD))["_pid"].to_numpy())
    dtsen = src.build_dtsen(pop, seed, scale, profile.internal_duplicates, abroad, D)
    bar.update()

    step(steps[4])
    cases = src.build_cases(pop, placements, seed, scale, max(10, int(round(persons * CASES_PER_PERSON))), D)
    bar.update()

    records = {"dtsen_individu": dtsen, "p2mi_penempatan": placements, "p2mi_kasus": cases, "sr_siswa": sr}
    if records_hook is not None:
        records = records_hook(records)
    files: dict[str, list[str]] = {}
    rows_written: dict[str, int] = {}
    planted: list[pl.DataFrame] = []
    layouts = {"dtsen_individu": _write_dtsen, "p2mi_penempatan": _write_placements, "p2mi_kasus": _write_cases,
               "sr_siswa": _write_sr}
    for source in ("dtsen_individu", "p2mi_penempatan", "p2mi_kasus", "sr_siswa"):
        step(f"write {source}")
        folder = landing_dir / source / day
        if folder.exists():
            shutil.rmtree(folder)  # a re-run replaces the delivery; _SUCCESS comes back last
        folder.mkdir(parents=True)
        rng = stage_rng(seed, f"{source}.layout")
        written, problems = layouts[source](records[source], folder, rng, profile)
        wr.write_success(folder)
        files[source] = [str(p) for p, _ in written]
        rows_written[source] = int(sum(n for _, n in written))
        if problems.height:
            planted.append(problems.with_columns(pl.lit(source).alias("source")))
        bar.update()

    records = {source: _present(frame).drop(ABSENT, strict=False) for source, frame in records.items()}
    step(steps[-1])
    truth = _write_truth(landing_dir, pop, records, planted, seed, persons, day, noise, rows_written)
    bar.update()
    bar.close()

    return {
        "landing_dir": str(landing_dir),
        "delivery_date": day,
        "seed": seed,
        "noise": noise,
        "persons_requested": persons,
        "population": {"households": pop.households.height, "persons": pop.persons.height},
        "counts": rows_written,
        "records": {s: int(records[s][PRIMARY_KEYS[s]].n_unique()) for s in records},
        "true_persons": {s: int(records[s]["_pid"].n_unique()) for s in records},
        "files": files,
        "truth": truth,
        "seconds": round(time.perf_counter() - started, 2),
    }


# --- row problems ----------------------------------------------------------------------------------
# A row the records hook keeps only so that the noise drawn for the other rows stays in step
# (synthetic.nights); it is not written.
ABSENT = "_absent"


def _helpers(frame: pl.DataFrame) -> list[str]:
    return [c for c in ("_pid", ABSENT) if c in frame.columns]


def _present_mask(frame: pl.DataFrame) -> np.ndarray:
    return ~frame[ABSENT].to_numpy() if ABSENT in frame.columns else np.ones(frame.height, dtype=bool)


def _present(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.Series(_present_mask(frame)))


def plant_row_problems(frame: pl.DataFrame, *, pk: str, name_col: str, nik_cols: list[str], conflict_col: str,
                       rng: np.random.Generator, rate: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add the rows ingest must quarantine (contract 1.1), about `rate` of the rows, at least one of each kind:
    an exact repeat, a copy with an empty primary key, a copy with the same key and different content, and
    (in place) a row with neither name nor NIK. `frame` is all text plus `_pid`."""
    n = frame.height
    per_kind = max(1, int(round(n * rate / len(ROW_PROBLEMS))))
    if n < 4 * per_kind + 1:
        return frame, pl.DataFrame()
    chosen = rng.choice(n, size=4 * per_kind, replace=False)
    repeat, empty, conflict, blank = np.array_split(chosen, 4)
    frame = frame.with_columns(pl.Series("_pos", np.arange(n, dtype=np.float64)))
    other = frame[conflict_col].gather((conflict + 1 + rng.integers(0, n - 1, len(conflict))) % n)
    current = frame[conflict_col].gather(conflict)
    changed = pl.select(pl.when(other.ne_missing(current)).then(other)
                        .otherwise(pl.concat_str([current.fill_null(""), pl.lit(" 2")])).alias("c"))["c"]
    copies = pl.concat([
        frame.gather(repeat),
        frame.gather(empty).with_columns(pl.lit("").alias(pk)),
        frame.gather(conflict).with_columns(changed.alias(conflict_col)),
    ]).with_columns(pl.Series("_pos", rng.uniform(0, n, 3 * per_kind)))
    blank_mask = np.zeros(n, dtype=bool)
    blank_mask[blank] = True
    frame = frame.with_columns([pl.when(pl.Series(blank_mask)).then(pl.lit("")).otherwise(pl.col(c)).alias(c)
                                for c in [name_col, *nik_cols]])
    out = _present(pl.concat([frame, copies]).sort("_pos"))  # a copy of an absent row is absent
    kinds = np.repeat(np.array(ROW_PROBLEMS, dtype=object), per_kind)
    marker = pl.DataFrame({"_pos": np.concatenate([copies["_pos"].to_numpy(), blank.astype(np.float64)]),
                           "problem": pl.Series(np.concatenate([kinds[:3 * per_kind], kinds[3 * per_kind:]]), dtype=pl.Utf8),
                           "source_record_id": np.concatenate([
                               frame[pk].gather(repeat).to_numpy(), frame[pk].gather(empty).to_numpy(),
                               frame[pk].gather(conflict).to_numpy(), frame[pk].gather(blank).to_numpy()]).astype(str)})
    # The planted rows, identified by their original record and their position among the data records.
    positions = out.with_row_index("record_number", offset=1).select("record_number", "_pos", "_pid")
    problems = marker.join(positions, on="_pos", how="inner").select("problem", "record_number", "_pid", "source_record_id")
    return out.drop("_pos"), problems.sort("record_number")


def _text(frame: pl.DataFrame, rng: np.random.Generator, markers: dict[str, float],
          skip: tuple[str, ...] = ()) -> pl.DataFrame:
    """Every column as text with its nulls spelled with a missing marker (columns in `skip` keep nulls)."""
    return frame.with_columns([
        wr.missing_markers(frame[c].cast(pl.Utf8), rng, markers).alias(c)
        for c in frame.columns if not c.startswith("_") and c not in skip])


def _apostrophes(values: pl.Series, rng: np.random.Generator, rate: float) -> pl.Series:
    """Typed names and addresses often carry the typographic apostrophe (’) Word and Excel put in."""
    mask = pl.Series(nz.pick(rng, len(values), rate))
    return pl.select(pl.when(mask).then(values.str.replace_all("'", "’", literal=True))
                     .otherwise(values.str.replace_all("’", "'", literal=True)).alias("v"))["v"]


# --- per-source layouts ----------------------------------------------------------------------------
def _write_dtsen(records: pl.DataFrame, folder: Path, rng: np.random.Generator,
                 profile: nz.NoiseProfile) -> tuple[list[tuple[Path, int]], pl.DataFrame]:
    """Part 1: UTF-8 with BOM, `,`, sex 1/2, ISO dates, Y/T. Part 2: an Excel export in Windows-1252,
    `;`, CRLF, sex L/P, DD/MM/YYYY and other dates, Ya/Tidak, dotted village codes."""
    cols = COLUMNS["dtsen_individu"]
    written, problems = [], []
    bool_cols = ["penerima_pkh", "penerima_sembako", "penerima_pbi_jk", "disabilitas"]
    for part in (1, 2):
        rec = records.filter(pl.col("_part") == part)
        n = rec.height
        if part == 1:
            sex = wr.sex_codes(rec["jenis_kelamin"], np.where(rng.random(n) < 0.97, "1/2", "L/P"))
            dates = wr.format_dates(rec["tanggal_lahir"], wr.pick_codes(rng, n, {"iso": 85, "dmy_dash": 15}), rng)
            bools = np.full(n, "Y/T")
            kode = rec["kode_desa"]
            markers = {"": 80, "-": 20}
            nik_markers = {"": 60, "0": 20, "-": 20}
            curly = 0.2
        else:
            sex = wr.sex_codes(rec["jenis_kelamin"], np.where(rng.random(n) < 0.95, "L/P", "1/2"))
            dates = wr.format_dates(rec["tanggal_lahir"], wr.pick_codes(
                rng, n, {"dmy_slash": 70, "dmy2": 15, "indo_long": 10, "excel_serial": 5}), rng)
            bools = np.full(n, "Ya/Tidak")
            kode = pl.select(pl.when(rec["kode_desa"].is_not_null()).then(rec["_desa_dotted"]).alias("k"))["k"]
            markers = {"NULL": 40, "-": 30, "N/A": 10, "": 20}
            nik_markers = {"NULL": 40, "-": 40, "": 20}
            curly = 0.6
        frame = rec.with_columns(
            sex.alias("jenis_kelamin"), dates.alias("tanggal_lahir"), kode.alias("kode_desa"),
            _apostrophes(rec["nama"], rng, curly).alias("nama"), _apostrophes(rec["alamat"], rng, curly).alias("alamat"),
            *[wr.bool_codes(rec[c], bools).alias(c) for c in bool_cols])
        frame = frame.with_columns(wr.missing_markers(frame["nik"], rng, nik_markers).alias("nik"))
        frame = _text(frame.select(cols + _helpers(frame)), rng, markers)
        if profile.row_problems:
            frame, planted = plant_row_problems(frame, pk="id_individu", name_col="nama", nik_cols=["nik"],
                                                conflict_col="pekerjaan", rng=rng, rate=ROW_PROBLEM_RATE)
        else:
            planted = pl.DataFrame()
        frame = _present(frame)
        if part == 1:
            path = folder / "dtsen_individu_part1.csv"
            wr.write_csv(frame.select(cols), path, separator=",", bom=True)
        else:
            path = folder / "dtsen_individu_part2_excel.csv"
            wr.write_csv(frame.select(cols), path, separator=";", encoding="cp1252", crlf=True)
        written.append((path, frame.height))
        if planted.height:
            problems.append(planted.with_columns(pl.lit(path.name).alias("file")))
    return written, pl.concat(problems) if problems else pl.DataFrame()


def _xlsx_cells(values: pl.Series, rng: np.random.Generator, dash: float = 0.15) -> np.ndarray:
    """Text cells; a missing value is a blank cell or, now and then, a typed `-`."""
    out = np.asarray(values.cast(pl.Utf8).to_list(), dtype=object)
    missing = np.asarray([v is None for v in out])
    out[missing & (rng.random(len(out)) < dash)] = "-"
    return out


def _numeric_where(values: pl.Series, mask: np.ndarray) -> np.ndarray:
    """Digit strings as numbers where `mask` (leading zeros go, as in Excel), text elsewhere."""
    text = np.asarray(values.to_list(), dtype=object)
    digits = values.str.contains(r"^\d+$").fill_null(False).to_numpy() & mask
    numbers = values.cast(pl.Int64, strict=False).to_list()
    text[digits] = np.asarray(numbers, dtype=object)[digits]
    return text


def _date_cells(dates: pl.Series, as_cell: np.ndarray, text_formats: np.ndarray, rng: np.random.Generator,
                dash: float = 0.0) -> np.ndarray:
    """Native Excel date cells where `as_cell`, formatted text elsewhere."""
    cells = wr.python_dates(dates)
    text = _xlsx_cells(wr.format_dates(dates, text_formats, rng), rng, dash)
    return np.where(as_cell, cells, text)


def _write_placements(records: pl.DataFrame, folder: Path, rng: np.random.Generator,
                      profile: nz.NoiseProfile) -> tuple[list[tuple[Path, int]], pl.DataFrame]:
    """An XLSX part (ids and some NIKs as numbers, dates as date cells or text) and a CSV part with odd headers."""
    cols = COLUMNS["p2mi_penempatan"]
    date_cols = ["tgl_berangkat", "tgl_akhir_kontrak", "tgl_pulang", "tgl_update"]
    m = records.height
    n_xlsx = min(int(round(m * 0.4)), XLSX_MAX_ROWS)
    in_xlsx = np.zeros(m, dtype=bool)
    in_xlsx[rng.choice(m, size=n_xlsx, replace=False)] = True
    written = []

    xlsx_part = records.filter(pl.Series(in_xlsx))
    n = xlsx_part.height
    sex = wr.sex_codes(xlsx_part["jenis_kelamin"], np.where(rng.random(n) < 0.85, "L/P", "LAKI-LAKI/PEREMPUAN"))
    cells: dict[str, np.ndarray] = {c: _xlsx_cells(xlsx_part[c], rng) for c in cols}
    cells["jenis_kelamin"] = _xlsx_cells(sex, rng)
    cells["id_penempatan"] = np.asarray(xlsx_part["id_penempatan"].cast(pl.Int64).to_list(), dtype=object)
    cells["nik"] = _numeric_where(xlsx_part["nik"], rng.random(n) < 0.35)
    cells["tanggal_lahir"] = _date_cells(
        xlsx_part["tanggal_lahir"], rng.random(n) < 0.5,
        wr.pick_codes(rng, n, {"dmy_dash": 60, "excel_serial": 20, "indo_long": 20}), rng)
    for c in date_cols:
        cells[c] = _date_cells(xlsx_part[c], rng.random(n) < 0.7, np.full(n, "iso"), rng)
    path = folder / "penempatan_siskop2mi_1.xlsx"
    present = _present_mask(xlsx_part)
    wr.write_xlsx(path, cols, [cells[c][present] for c in cols])
    written.append((path, int(present.sum())))

    csv_part = records.filter(pl.Series(~in_xlsx))
    n = csv_part.height
    frame = csv_part.with_columns(
        wr.sex_codes(csv_part["jenis_kelamin"], np.where(rng.random(n) < 0.7, "L/P", "LAKI-LAKI/PEREMPUAN"))
        .alias("jenis_kelamin"),
        wr.format_dates(csv_part["tanggal_lahir"], wr.pick_codes(rng, n, {"iso": 60, "indo_short": 25, "dmy_dash": 15}), rng)
        .alias("tanggal_lahir"),
        *[wr.format_dates(csv_part[c], wr.pick_codes(rng, n, {"iso": 70, "indo_long": 15, "dmy_slash": 15}), rng).alias(c)
          for c in date_cols])
    frame = _text(frame.select(cols + _helpers(frame)), rng, {"": 70, "N/A": 15, "-": 15})
    problems = pl.DataFrame()
    if profile.row_problems:
        frame, problems = plant_row_problems(frame, pk="id_penempatan", name_col="nama_lengkap", nik_cols=["nik"],
                                             conflict_col="tgl_update", rng=rng, rate=ROW_PROBLEM_RATE)
    frame = _present(frame)
    path = folder / "penempatan_siskop2mi_2.csv"
    wr.write_csv(frame.select(cols).rename(ODD_HEADERS), path)
    written.append((path, frame.height))
    if problems.height:
        problems = problems.with_columns(pl.lit(path.name).alias("file"))
    return written, problems


def _int_nik(nik: pl.Series) -> pl.Series:
    """A NIK column as int64, as a system exporting Parquet would hold it (`3.27305E+15` -> 3273050000000000)."""
    return pl.select(pl.when(nik.str.contains("E", literal=True))
                     .then(nik.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False))
                     .otherwise(nik.cast(pl.Int64, strict=False)).alias("n"))["n"]


def _write_cases(records: pl.DataFrame, folder: Path, rng: np.random.Generator,
                 profile: nz.NoiseProfile) -> tuple[list[tuple[Path, int]], pl.DataFrame]:
    """Parquet (typed: NIK and id_penempatan int64, umur integer, dates, booleans) and a small manual CSV part."""
    cols = COLUMNS["p2mi_kasus"]
    bool_cols = ["indikasi_tppo", "prosedural", "rujukan_kemensos"]
    m = records.height
    in_csv = rng.random(m) < 0.15
    sex = wr.sex_codes(records["jenis_kelamin"], np.full(m, "LAKI-LAKI/PEREMPUAN"))
    records = records.with_columns(sex.alias("jenis_kelamin"))

    pq = records.filter(pl.Series(~in_csv))
    pq = pq.with_columns(_int_nik(pq["nik"]).alias("nik"), pq["id_penempatan"].cast(pl.Int64).alias("id_penempatan"),
                         pq["umur"].cast(pl.Int64))
    path_pq = folder / "kasus_p2mi.parquet"
    pq = _present(pq)
    wr.write_parquet(pq.select(cols), path_pq)

    csv_part = records.filter(pl.Series(in_csv))
    n = csv_part.height
    frame = csv_part.with_columns(
        wr.format_dates(csv_part["tanggal_lahir"], wr.pick_codes(rng, n, {"indo_short": 40, "indo_long": 30, "dmy2": 30}), rng)
        .alias("tanggal_lahir"),
        *[wr.format_dates(csv_part[c], wr.pick_codes(rng, n, {"indo_short": 40, "indo_long": 30, "dmy_slash": 30}), rng).alias(c)
          for c in ("tgl_pengaduan", "tgl_kedatangan")],
        *[wr.bool_codes(csv_part[c], np.where(rng.random(n) < 0.7, "true/false", "1/0")).alias(c) for c in bool_cols])
    frame = _text(frame.select(cols + _helpers(frame)), rng, {"-": 50, "NULL": 20, "": 30})
    path_csv = folder / "kasus_manual.csv"
    frame = _present(frame)
    wr.write_csv(frame.select(cols), path_csv)
    return [(path_pq, pq.height), (path_csv, frame.height)], pl.DataFrame()


def _write_sr(records: pl.DataFrame, folder: Path, rng: np.random.Generator,
              profile: nz.NoiseProfile) -> tuple[list[tuple[Path, int]], pl.DataFrame]:
    """XLSX (at most 50k rows per file): NISN numeric for some rows (leading zeros lost), some NIKs numeric,
    school code, grade and desil as numbers, dates as date cells or text, an extra `keterangan` column."""
    cols = COLUMNS["sr_siswa"]
    m = records.height
    sex = wr.sex_codes(records["jenis_kelamin"], np.where(rng.random(m) < 0.9, "L/P", "M/F"))
    cells: dict[str, np.ndarray] = {c: _xlsx_cells(records[c], rng, dash=0.05) for c in cols}
    cells["jenis_kelamin"] = _xlsx_cells(sex, rng)
    cells["nisn"] = _numeric_where(records["nisn"], rng.random(m) < 0.08)
    cells["nik"] = _numeric_where(records["nik"], rng.random(m) < 0.2)
    for c in ("kode_sekolah", "tingkat", "desil_saat_seleksi"):
        cells[c] = np.asarray(records[c].to_list(), dtype=object)
    cells["tanggal_lahir"] = _date_cells(
        records["tanggal_lahir"], rng.random(m) < 0.4,
        wr.pick_codes(rng, m, {"dmy_dash": 50, "indo_long": 33, "iso": 17}), rng)
    cells["tgl_masuk"] = _date_cells(records["tgl_masuk"], rng.random(m) < 0.8, np.full(m, "dmy_slash"), rng)
    for c in ("ortu_pmi", "kelas_migran"):
        cells[c] = _xlsx_cells(wr.bool_codes(records[c], np.where(rng.random(m) < 0.6, "1/0", "Y/T")), rng)
    written = []
    n_files = max(1, -(-m // XLSX_MAX_ROWS))
    bounds = np.linspace(0, m, n_files + 1).astype(int)
    for i in range(n_files):
        name = "sr_siswa.xlsx" if n_files == 1 else f"sr_siswa_{i + 1}.xlsx"
        lo, hi = bounds[i], bounds[i + 1]
        present = _present_mask(records)[lo:hi]
        wr.write_xlsx(folder / name, cols, [cells[c][lo:hi][present] for c in cols])
        written.append((folder / name, int(present.sum())))
    return written, pl.DataFrame()


# --- truth -----------------------------------------------------------------------------------------
_ROLE_NAMES = ["KEPALA KELUARGA", "PASANGAN", "ANAK", "ORANG TUA", "MENANTU", "CUCU"]


def _write_truth(landing_dir: Path, pop: Population, records: dict[str, pl.DataFrame], planted: list[pl.DataFrame],
                 seed: int, persons: int, day: str, noise: str, rows_written: dict[str, int]) -> dict[str, str]:
    folder = landing_dir / "_truth"
    folder.mkdir(parents=True, exist_ok=True)
    tpid = pop.persons["true_person_id"]
    person_truth = pl.concat([
        records[s].select(pl.lit(s).alias("source"), pl.col(PRIMARY_KEYS[s]).cast(pl.Utf8).alias("source_record_id"),
                          pl.col("_pid")).unique()
        for s in src.SOURCES
    ])
    person_truth = person_truth.with_columns(tpid.gather(person_truth["_pid"].to_numpy()).alias("true_person_id"))
    dupes = person_truth.group_by("source", "source_record_id").len().filter(pl.col("len") > 1)
    if dupes.height:
        raise AssertionError(f"a source record id maps to two true persons: {dupes.head(3)}")
    person_truth = person_truth.select("source", "source_record_id", "true_person_id").sort("source", "source_record_id")
    paths = {"person_truth": folder / "person_truth.csv"}
    person_truth.write_csv(paths["person_truth"])

    people = pop.persons.join(pop.households.select("hh", "true_household_id", "no_kk", "kab_code", "desa_code"), on="hh")
    paths["household_truth"] = folder / "household_truth.csv"
    people.select(
        "true_household_id", "no_kk", "true_person_id",
        pl.col("role").replace_strict(list(range(len(_ROLE_NAMES))), _ROLE_NAMES, return_dtype=pl.Utf8).alias("role"),
    ).write_csv(paths["household_truth"])

    paths["persons"] = folder / "persons.parquet"
    wr.write_parquet(people.select(
        "true_person_id", "true_household_id", "name",
        pl.when(pl.col("female")).then(pl.lit("P")).otherwise(pl.lit("L")).alias("sex"),
        "birth_date", "nik", pl.col("nik_alt").alias("second_nik_if_used"), "father_name", "birthplace",
        "kab_code", "desa_code", "no_kk", "age"), paths["persons"])

    paths["hard_negatives"] = folder / "hard_negatives.csv"
    pop.hard_negatives.select(
        "scenario", tpid.gather(pop.hard_negatives["pid_a"].to_numpy()).alias("true_person_id_a"),
        tpid.gather(pop.hard_negatives["pid_b"].to_numpy()).alias("true_person_id_b")).write_csv(paths["hard_negatives"])

    paths["planted_row_problems"] = folder / "planted_row_problems.csv"
    if planted:
        problems = pl.concat(planted, how="diagonal")
        problems = problems.with_columns(tpid.gather(problems["_pid"].to_numpy()).alias("true_person_id"))
        problems = problems.select("source", "file", "record_number", "problem", "source_record_id", "true_person_id")
    else:
        problems = pl.DataFrame(schema={"source": pl.Utf8, "file": pl.Utf8, "record_number": pl.UInt32,
                                        "problem": pl.Utf8, "source_record_id": pl.Utf8, "true_person_id": pl.Utf8})
    problems.sort("source", "file", "record_number").write_csv(paths["planted_row_problems"])

    paths["manifest"] = folder / "manifest.json"
    paths["manifest"].write_text(json.dumps({
        "generator": "synthetic", "seed": seed, "persons": persons, "delivery_date": day, "noise": noise,
        "rows_written": rows_written,
        "note": "Synthetic data: NIKs are structurally valid and may equal real people's. Never join with real data.",
    }, indent=2) + "\n")
    return {k: str(v) for k, v in paths.items()}
