"""The synthetic generator: layout, determinism, contract columns, truth coverage and every planted scenario."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from synthetic.__main__ import main
from synthetic.generator import COLUMNS, PRIMARY_KEYS, generate_deliveries

PERSONS = 2_000
DAY = "2026-11-27"
SOURCES = ("p2mi_penempatan", "p2mi_kasus", "dtsen_individu", "sr_siswa")
REQUIRED = {
    "p2mi_penempatan": {"id_penempatan", "nik", "nama_lengkap", "jenis_kelamin", "tanggal_lahir", "negara_penempatan",
                        "status_penempatan"},
    "p2mi_kasus": {"id_kasus", "nama", "negara", "jenis_kasus", "tgl_pengaduan"},
    "dtsen_individu": {"id_individu", "id_keluarga", "nik", "nama", "jenis_kelamin", "tanggal_lahir", "desil"},
    "sr_siswa": {"id_siswa", "nama_siswa", "jenis_kelamin", "tanggal_lahir", "nama_sekolah", "jenjang", "status_siswa"},
}
NAME_COLUMN = {"p2mi_penempatan": "nama_lengkap", "p2mi_kasus": "nama", "dtsen_individu": "nama", "sr_siswa": "nama_siswa"}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("landing")
    generate_deliveries(root, persons=PERSONS, progress=False)
    return root


@pytest.fixture(scope="module")
def result_again(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("landing_again")
    return root, generate_deliveries(root, persons=PERSONS, progress=False)


# --- a small reader, independent of the pipeline's ingest --------------------------------------------
def _normalise(name: str) -> str:
    return name.strip(" \t\ufeff").lower()


def _read_csv(path: Path) -> pl.DataFrame:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    separator = ";" if ";" in text.splitlines()[0] else ","
    return pl.read_csv(io.BytesIO(text.encode()), separator=separator, infer_schema=False)


def read_file(path: Path) -> pl.DataFrame:
    """Every column as text, headers trimmed and lower-cased."""
    if path.suffix == ".csv":
        frame = _read_csv(path)
    elif path.suffix == ".xlsx":
        frame = pl.read_excel(path, infer_schema_length=0)
    else:
        frame = pl.read_parquet(path)
        frame = frame.with_columns(pl.all().cast(pl.Utf8))
    return frame.rename({c: _normalise(c) for c in frame.columns})


def read_source(landing: Path, source: str) -> pl.DataFrame:
    folder = landing / source / DAY
    parts = [read_file(p).with_columns(pl.lit(p.name).alias("_file")) for p in sorted(folder.iterdir())
             if p.suffix in {".csv", ".xlsx", ".parquet"}]
    return pl.concat(parts, how="diagonal")


@pytest.fixture(scope="module")
def frames(landing) -> dict[str, pl.DataFrame]:
    return {s: read_source(landing, s) for s in SOURCES}


@pytest.fixture(scope="module")
def truth(landing) -> pl.DataFrame:
    return pl.read_csv(landing / "_truth" / "person_truth.csv", infer_schema=False)


@pytest.fixture(scope="module")
def persons(landing) -> pl.DataFrame:
    return pl.read_parquet(landing / "_truth" / "persons.parquet")


def with_truth(frame: pl.DataFrame, source: str, truth: pl.DataFrame, persons: pl.DataFrame) -> pl.DataFrame:
    key = PRIMARY_KEYS[source]
    t = truth.filter(pl.col("source") == source).select(pl.col("source_record_id").alias(key), "true_person_id")
    return frame.join(t, on=key, how="inner").join(
        persons.select("true_person_id", pl.col("nik").alias("true_nik"), pl.col("name").alias("true_name"),
                       "true_household_id", "birth_date", pl.col("no_kk").alias("true_no_kk"),
                       pl.col("sex").alias("true_sex")),
        on="true_person_id")


# --- layout and determinism ------------------------------------------------------------------------
def test_each_delivery_folder_holds_data_files_and_an_empty_success_marker_written_last(landing):
    expected = {
        "dtsen_individu": {"dtsen_individu_part1.csv", "dtsen_individu_part2_excel.csv"},
        "p2mi_penempatan": {"penempatan_siskop2mi_1.xlsx", "penempatan_siskop2mi_2.csv"},
        "p2mi_kasus": {"kasus_p2mi.parquet", "kasus_manual.csv"},
        "sr_siswa": {"sr_siswa.xlsx"},
    }
    for source, names in expected.items():
        folder = landing / source / DAY
        assert {p.name for p in folder.iterdir()} == names | {"_SUCCESS"}
        success = folder / "_SUCCESS"
        assert success.stat().st_size == 0
        assert all(success.stat().st_mtime_ns >= (folder / n).stat().st_mtime_ns for n in names)
    assert {p.name for p in (landing / "_truth").iterdir()} >= {"person_truth.csv", "household_truth.csv",
                                                               "hard_negatives.csv", "planted_row_problems.csv"}


def test_same_seed_gives_byte_identical_files(landing, result_again):
    again, _ = result_again
    files = sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file())
    assert len(files) >= 15
    for rel in files:
        assert (landing / rel).read_bytes() == (again / rel).read_bytes(), rel


def test_another_seed_gives_other_data(tmp_path, landing):
    generate_deliveries(tmp_path, persons=PERSONS, seed=7, progress=False)
    rel = Path("dtsen_individu", DAY, "dtsen_individu_part1.csv")
    assert (tmp_path / rel).read_bytes() != (landing / rel).read_bytes()


def test_sizes_scale_with_persons(result_again):
    _, result = result_again
    counts = result["records"]
    assert 0.9 * PERSONS <= counts["dtsen_individu"] <= 1.1 * PERSONS
    assert 0.25 * PERSONS <= counts["p2mi_penempatan"] <= 0.35 * PERSONS
    assert 0.015 * PERSONS <= counts["sr_siswa"] <= 0.025 * PERSONS
    assert 0.007 * PERSONS <= counts["p2mi_kasus"] <= 0.014 * PERSONS
    assert set(result["files"]) == set(SOURCES)


# --- contract columns and formats ------------------------------------------------------------------
def test_headers_are_the_contract_names_with_one_oddly_spelled_file_and_one_extra_column(landing):
    for source in SOURCES:
        for path in sorted((landing / source / DAY).glob("*.*")):
            frame = read_file(path)
            assert REQUIRED[source] <= set(frame.columns), path.name
            assert set(frame.columns) - set(COLUMNS[source]) == set(), path.name
    odd = _read_csv(landing / "p2mi_penempatan" / DAY / "penempatan_siskop2mi_2.csv").columns
    assert " NIK " in odd and "Nama_Lengkap" in odd and "Tanggal_Lahir\t" in odd
    assert list(_read_csv(landing / "dtsen_individu" / DAY / "dtsen_individu_part1.csv").columns) == COLUMNS["dtsen_individu"]
    assert "keterangan" in read_file(landing / "sr_siswa" / DAY / "sr_siswa.xlsx").columns
    assert "keterangan" not in REQUIRED["sr_siswa"]


def test_dtsen_parts_use_two_encodings_and_delimiters_with_quoted_delimiters_and_newlines(landing):
    folder = landing / "dtsen_individu" / DAY
    utf8 = (folder / "dtsen_individu_part1.csv").read_bytes()
    excel = (folder / "dtsen_individu_part2_excel.csv").read_bytes()
    assert utf8.startswith(b"\xef\xbb\xbf")
    assert "’".encode() in utf8 and "É".encode() in utf8
    with pytest.raises(UnicodeDecodeError):
        excel.decode("utf-8")
    assert b"\x92" in excel and b"\xc9" in excel  # ’ and É in Windows-1252
    assert excel.split(b"\n", 1)[0].endswith(b"\r") and b";" in excel.split(b"\n", 1)[0]
    part1 = _read_csv(folder / "dtsen_individu_part1.csv")
    part2 = _read_csv(folder / "dtsen_individu_part2_excel.csv")
    assert part1["alamat"].str.contains(",").any() and part1["alamat"].str.contains("\n").any()
    assert part2["alamat"].str.contains(";").any() and part2["alamat"].str.contains("\n").any()
    assert part2["nama"].str.contains("’").any() or part2["alamat"].str.contains("’").any()


def test_every_contract_date_format_sex_code_boolean_and_missing_marker_occurs(frames):
    birth = pl.concat([frames[s]["tanggal_lahir"] for s in SOURCES]).drop_nulls()
    patterns = {
        "YYYY-MM-DD": r"^\d{4}-\d{2}-\d{2}$", "DD-MM-YYYY": r"^\d{2}-\d{2}-\d{4}$", "DD/MM/YYYY": r"^\d{2}/\d{2}/\d{4}$",
        "DD-MM-YY": r"^\d{2}-\d{2}-\d{2}$", "long month": r"^\d{1,2} (Januari|Februari|Maret|April|Juni|Juli|Agustus|"
        r"September|Oktober|November|Desember) \d{4}$", "Mei": r"^\d{1,2} Mei \d{4}$",
        "short month": r"^\d{1,2} (Jan|Feb|Mar|Apr|Jun|Jul|Agt|Agu|Ags|Sep|Okt|Nov|Des) \d{4}$",
        "single-digit day": r"^\d \w+ \d{4}$", "Excel serial": r"^\d{5}$",
    }
    for label, pattern in patterns.items():
        assert birth.str.contains(pattern).any(), label
    dates = pl.concat([frames[s][c] for s in SOURCES for c in frames[s].columns if c.startswith(("tgl_", "tanggal"))])
    assert dates.str.contains(r"^\d{1,2} (Agt|Agu|Ags) \d{4}$").any()
    sex = set(pl.concat([frames[s]["jenis_kelamin"] for s in SOURCES]).drop_nulls().to_list())
    assert {"L", "P", "LAKI-LAKI", "PEREMPUAN", "1", "2", "M", "F"} <= sex
    booleans = set(pl.concat([frames[s][c] for s, cols in {
        "dtsen_individu": ["penerima_pkh", "disabilitas"], "p2mi_kasus": ["indikasi_tppo", "prosedural"],
        "sr_siswa": ["ortu_pmi", "kelas_migran"]}.items() for c in cols]).drop_nulls().to_list())
    assert {"Y", "T", "Ya", "Tidak", "true", "false", "1", "0"} <= booleans
    values = set(pl.concat([frames[s][c] for s in SOURCES for c in frames[s].columns]).to_list())
    assert {None, "-", "NULL", "N/A"} <= values  # None: an empty field


def test_parquet_part_is_typed(landing):
    schema = pl.read_parquet_schema(landing / "p2mi_kasus" / DAY / "kasus_p2mi.parquet")
    assert schema["nik"] == pl.Int64 and schema["id_penempatan"] == pl.Int64 and schema["umur"] == pl.Int64
    assert schema["tanggal_lahir"] == pl.Date and schema["indikasi_tppo"] == pl.Boolean


def _numeric_cells(xlsx: Path, column_letter: str) -> list[str]:
    """Values of number cells (no type attribute) in one column of the first sheet."""
    with zipfile.ZipFile(xlsx) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    return re.findall(rf'<c r="{column_letter}\d+"(?: s="\d+")?><v>([^<]+)</v></c>', sheet)


def test_excel_parts_hold_numbers_and_date_cells(landing):
    placements = landing / "p2mi_penempatan" / DAY / "penempatan_siskop2mi_1.xlsx"
    ids = _numeric_cells(placements, "A")
    niks = _numeric_cells(placements, "B")
    assert len(ids) > 100 and 0 < len(niks) < len(ids)
    assert any(v.endswith("0") for v in niks)
    with zipfile.ZipFile(placements) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert re.search(r'<c r="G\d+" s="\d+"><v>\d+</v></c>', sheet)  # tanggal_lahir as a date cell
    assert re.search(r'<c r="G\d+" t="inlineStr"', sheet) or re.search(r'<c r="G\d+" t="s"', sheet)
    nisn = _numeric_cells(landing / "sr_siswa" / DAY / "sr_siswa.xlsx", "B")
    assert nisn and any(len(v) < 10 for v in nisn)  # leading zeros lost


# --- truth -----------------------------------------------------------------------------------------
def test_truth_maps_every_written_record_exactly_once(landing, frames, truth):
    assert truth.columns == ["source", "source_record_id", "true_person_id"]
    assert truth.select("source", "source_record_id").is_unique().all()
    planted = pl.read_csv(landing / "_truth" / "planted_row_problems.csv", infer_schema=False)
    for source in SOURCES:
        ids = frames[source][PRIMARY_KEYS[source]].fill_null("")
        written = set(ids.to_list()) - {""}
        in_truth = set(truth.filter(pl.col("source") == source)["source_record_id"].to_list())
        assert written == in_truth, source
        empty = int((ids == "").sum())
        assert empty == planted.filter((pl.col("source") == source) & (pl.col("problem") == "empty_primary_key")).height


def test_household_truth_lists_every_person_with_one_household(landing, persons):
    households = pl.read_csv(landing / "_truth" / "household_truth.csv", infer_schema=False)
    assert households["true_person_id"].is_unique().all()
    assert set(households["true_person_id"].to_list()) == set(persons["true_person_id"].to_list())


# --- planted scenarios -----------------------------------------------------------------------------
def test_nik_damage_is_present(frames, truth, persons):
    every = pl.concat([with_truth(frames[s], s, truth, persons).select("nik", "true_nik", pl.lit(s).alias("source"))
                       for s in SOURCES])
    scientific = every.filter(pl.col("nik").str.contains(r"^\d\.\d{1,5}E\+15$"))
    assert scientific.height >= 3
    assert (scientific["nik"].str.slice(0, 1) == scientific["true_nik"].str.slice(0, 1)).all()
    digits = every.filter(pl.col("nik").str.contains(r"^\d{16}$"))
    last_zero = digits.filter((pl.col("nik") != pl.col("true_nik"))
                              & (pl.col("nik") == pl.col("true_nik").str.slice(0, 15) + "0"))
    assert last_zero.height >= 3
    one_digit = digits.filter((pl.col("nik") != pl.col("true_nik"))
                              & (pl.col("nik").str.slice(0, 6) == pl.col("true_nik").str.slice(0, 6)))
    assert one_digit.height >= 3
    assert (digits["nik"] == digits["true_nik"]).mean() > 0.9
    cases = every.filter(pl.col("source") == "p2mi_kasus")
    missing = cases["nik"].is_null() | cases["nik"].is_in(["", "-", "NULL"])
    assert 0.35 < missing.mean() < 0.65


def test_mononyms_and_frequent_names(frames):
    names = frames["dtsen_individu"]["nama"].drop_nulls()
    assert (~names.str.contains(" ")).mean() > 0.1
    top = names.value_counts(sort=True).head(40)["nama"].to_list()
    assert any(n in top for n in ("NURHAYATI", "SUTRISNO", "SLAMET", "MULYADI", "SITI AMINAH"))


def test_hard_negatives_are_different_persons_that_look_alike(landing, persons):
    pairs = pl.read_csv(landing / "_truth" / "hard_negatives.csv", infer_schema=False)
    assert set(pairs["scenario"].unique().to_list()) == {
        "twins", "same_mononym_same_default_dob_same_regency", "father_son_same_name"}
    info = persons.select("true_person_id", "name", "birth_date", "nik", "true_household_id", "no_kk", "kab_code")
    joined = pairs.join(info.rename(lambda c: c + "_a" if c != "true_person_id" else "true_person_id_a"),
                        on="true_person_id_a").join(
        info.rename(lambda c: c + "_b" if c != "true_person_id" else "true_person_id_b"), on="true_person_id_b")
    assert (joined["true_person_id_a"] != joined["true_person_id_b"]).all()
    assert (joined["nik_a"] != joined["nik_b"]).all()
    twins = joined.filter(pl.col("scenario") == "twins")
    assert twins.height >= 3
    assert (twins["no_kk_a"] == twins["no_kk_b"]).all() and (twins["birth_date_a"] == twins["birth_date_b"]).all()
    assert (twins["name_a"] != twins["name_b"]).all()
    namesakes = joined.filter(pl.col("scenario") == "same_mononym_same_default_dob_same_regency")
    assert namesakes.height >= 3
    assert (namesakes["name_a"] == namesakes["name_b"]).all() and (~namesakes["name_a"].str.contains(" ")).all()
    assert (namesakes["birth_date_a"] == namesakes["birth_date_b"]).all()
    assert namesakes["birth_date_a"].dt.strftime("%d-%m").is_in(["01-07", "31-12", "01-01"]).all()
    assert (namesakes["kab_code_a"] == namesakes["kab_code_b"]).all()
    assert (namesakes["true_household_id_a"] != namesakes["true_household_id_b"]).all()
    father_son = joined.filter(pl.col("scenario") == "father_son_same_name")
    assert father_son.height >= 3
    assert (father_son["name_a"] == father_son["name_b"]).all() and (father_son["no_kk_a"] == father_son["no_kk_b"]).all()
    assert (father_son["birth_date_a"] < father_son["birth_date_b"]).all()


def test_dtsen_has_internal_duplicates_under_one_nik_and_under_two(frames, truth, persons):
    dtsen = with_truth(frames["dtsen_individu"], "dtsen_individu", truth, persons).unique("id_individu")
    repeated = dtsen.filter(pl.col("true_person_id").is_duplicated())
    assert repeated.height >= 10
    by_person = repeated.group_by("true_person_id").agg(pl.col("nik").n_unique().alias("niks"),
                                                        pl.col("id_individu").n_unique().alias("ids"))
    assert (by_person["ids"] >= 2).all()
    assert (by_person["niks"] == 1).any() and (by_person["niks"] >= 2).any()


def test_placements_repeat_workers_saudi_names_and_people_outside_dtsen(frames, truth, persons):
    placements = with_truth(frames["p2mi_penempatan"], "p2mi_penempatan", truth, persons).unique("id_penempatan")
    per_person = placements.group_by("true_person_id").agg(pl.col("no_paspor").drop_nulls().n_unique().alias("passports"),
                                                           pl.len().alias("rows"))
    assert (per_person["rows"] >= 3).any()
    assert (per_person.filter(pl.col("rows") >= 2)["passports"] >= 2).mean() > 0.5
    assert placements["no_paspor"].drop_nulls().str.contains(r"^[A-Z]\d{7}$").mean() > 0.95
    saudi = placements.filter(pl.col("kode_negara") == "SA")
    longer = saudi.filter(pl.col("nama_lengkap").str.count_matches(" ") > pl.col("true_name").str.count_matches(" ") + 1)
    assert longer.height >= 1
    women = placements.unique("true_person_id")["true_sex"] == "P"
    assert 0.55 < women.mean() < 0.72
    dtsen_people = set(truth.filter(pl.col("source") == "dtsen_individu")["true_person_id"].to_list())
    outside = set(placements["true_person_id"].to_list()) - dtsen_people
    assert 0.05 < len(outside) / placements["true_person_id"].n_unique() < 0.4
    statuses = set(placements["status_penempatan"].to_list())
    assert {"TERDAFTAR", "PROSES", "BEKERJA", "PULANG_SELESAI_KONTRAK", "PULANG_BERMASALAH", "BATAL"} <= statuses


def test_cases_link_to_placements_and_include_non_procedural_returnees(frames, truth, persons):
    cases = with_truth(frames["p2mi_kasus"], "p2mi_kasus", truth, persons)
    placed = set(truth.filter(pl.col("source") == "p2mi_penempatan")["true_person_id"].to_list())
    linked = cases.filter(~pl.col("id_penempatan").is_in(["", "-", "NULL"]) & pl.col("id_penempatan").is_not_null())
    assert linked.height >= 3 and linked["true_person_id"].is_in(list(placed)).all()
    cambodia = cases.filter(pl.col("negara").str.to_uppercase().is_in(["KAMBOJA", "CAMBODIA"]))
    assert cambodia.height >= 1 and not cambodia["true_person_id"].is_in(list(placed)).any()
    assert cases["no_splp"].drop_nulls().str.starts_with("SPLP/").any()
    assert "TPPO" in cases["jenis_kasus"].to_list()
    assert cases.filter(pl.col("tanggal_lahir").is_null() | (pl.col("tanggal_lahir").is_in(["", "-", "NULL"])))[
        "umur"].drop_nulls().len() >= 1


def test_sekolah_rakyat_students_share_their_family_card_and_name_parents_abroad(frames, truth, persons):
    sr = with_truth(frames["sr_siswa"], "sr_siswa", truth, persons)
    ages = (date(2026, 11, 27) - sr["birth_date"]).dt.total_days() / 365.25
    assert ((ages >= 10) & (ages < 19)).all()
    assert (sr["no_kk"] == sr["true_no_kk"]).mean() > 0.8
    desil = sr["desil_saat_seleksi"].drop_nulls()
    assert desil.is_in(["1", "2"]).mean() > 0.8 and sr["desil_saat_seleksi"].is_null().any()
    abroad = sr.filter(pl.col("ortu_pmi").is_in(["1", "Y"]))
    assert abroad.height >= 1
    placed_niks = set(persons.join(truth.filter(pl.col("source") == "p2mi_penempatan"), on="true_person_id")["nik"].to_list())
    parent_niks = pl.concat([abroad["nik_ayah"], abroad["nik_ibu"]]).drop_nulls()
    assert parent_niks.is_in(list(placed_niks)).any()
    migrant_class = sr.filter(pl.col("kelas_migran").is_in(["1", "Y"]))
    assert migrant_class.height >= 1 and (migrant_class["jenjang"] == "SMA").all()
    assert migrant_class["km_bahasa"].drop_nulls().is_in(["INGGRIS", "ARAB", "JEPANG", "KOREA", "JERMAN"]).all()
    assert sr["nama_sekolah"].str.contains(r"^SR(MP|MA|T) \d+ ").all()


def test_rows_planted_for_quarantine_are_in_the_files(landing, frames):
    planted = pl.read_csv(landing / "_truth" / "planted_row_problems.csv", infer_schema=False)
    assert set(planted["problem"].unique().to_list()) == {
        "exact_repeat", "empty_primary_key", "primary_key_conflict", "no_name_no_nik"}
    assert set(planted["source"].unique().to_list()) == {"dtsen_individu", "p2mi_penempatan"}
    for source in ("dtsen_individu", "p2mi_penempatan"):
        frame = frames[source].drop("_file")
        key, name = PRIMARY_KEYS[source], NAME_COLUMN[source]
        mine = planted.filter(pl.col("source") == source)
        assert frame.is_duplicated().sum() >= 2  # an exact repeat and its original
        conflict_ids = mine.filter(pl.col("problem") == "primary_key_conflict")["source_record_id"].to_list()
        conflicting = frame.filter(pl.col(key).is_in(conflict_ids))
        assert conflicting.height == 2 * len(conflict_ids) and conflicting.unique().height == conflicting.height
        blank_ids = mine.filter(pl.col("problem") == "no_name_no_nik")["source_record_id"].to_list()
        blank = frame.filter(pl.col(key).is_in(blank_ids))
        assert (blank[name].fill_null("") == "").all() and (blank["nik"].fill_null("") == "").all()
    share = planted.height / sum(frames[s].height for s in ("dtsen_individu", "p2mi_penempatan"))
    assert share < 0.01


def test_clean_profile_writes_true_values(tmp_path, persons):
    generate_deliveries(tmp_path, persons=1_000, noise="clean", progress=False)
    dtsen = read_source(tmp_path, "dtsen_individu")
    truth = pl.read_csv(tmp_path / "_truth" / "person_truth.csv", infer_schema=False)
    people = pl.read_parquet(tmp_path / "_truth" / "persons.parquet")
    joined = with_truth(dtsen, "dtsen_individu", truth, people)
    assert joined.height == dtsen.height
    assert (joined["nik"] == joined["true_nik"]).all()
    assert (joined["nama"].str.replace_all("’", "'") == joined["true_name"].str.replace_all("’", "'")).all()
    assert not (tmp_path / "_truth" / "planted_row_problems.csv").read_text().strip().count("\n")


def test_command_line_writes_a_delivery_and_prints_a_summary(tmp_path, capsys):
    assert main(["--landing", str(tmp_path), "--persons", "1000", "--seed", "5", "--delivery-date", "2026-03-02",
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    for source in SOURCES:
        assert source in out
        assert (tmp_path / source / "2026-03-02" / "_SUCCESS").exists()
    assert "person_truth.csv" in out


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError):
        generate_deliveries(tmp_path, persons=10, progress=False)
    with pytest.raises(ValueError):
        generate_deliveries(tmp_path, persons=1_000, noise="loud", progress=False)
