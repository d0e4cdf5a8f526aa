"""Each standardiser on 200,000 generated rows: proves the work is done by Polars expressions, not
Python per row (which would take minutes here), and checks every row against its expected value."""

from __future__ import annotations

from datetime import date

import polars as pl

from assets.standardise.dates import standardise_birth_date_column
from assets.standardise.names import standardise_name_column
from assets.standardise.nik import standardise_nik_column
from assets.standardise.regions import map_regency_text, regency_from_text, village_code
from assets.standardise.sex import standardise_sex
from assets.standardise.values import clean_identifier, parse_bool

ROWS = 200_000
REFERENCE = date(2026, 11, 27)
MONTHS = ["Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
          "Oktober", "November", "Desember"]


def repeated(cases: list[tuple], columns: list[str]) -> pl.DataFrame:
    """ROWS rows drawn from hand-checked cases, in a shuffled order."""
    frame = pl.DataFrame(cases, schema=columns, orient="row")
    return frame.sample(ROWS, with_replacement=True, shuffle=True, seed=20261127)


def test_nik_on_generated_rows():
    i = pl.int_range(ROWS, dtype=pl.Int64)
    frame = pl.select(
        day=i % 28 + 1, female=i % 2 == 1, month=(i // 7) % 12 + 1, yy=(i // 3) % 100, serial=i % 9999 + 1
    )
    frame = frame.with_columns(
        expected_nik=pl.format(
            "320101{}{}{}{}",
            (pl.col("day") + pl.when(pl.col("female")).then(40).otherwise(0)).cast(pl.String).str.zfill(2),
            pl.col("month").cast(pl.String).str.zfill(2),
            pl.col("yy").cast(pl.String).str.zfill(2),
            pl.col("serial").cast(pl.String).str.zfill(4),
        ),
        expected_date=pl.date(2000 + pl.col("yy"), pl.col("month"), pl.col("day")),
    ).with_columns(
        expected_date=pl.when(pl.col("expected_date") > REFERENCE)
        .then(pl.date(1900 + pl.col("yy"), pl.col("month"), pl.col("day")))
        .otherwise(pl.col("expected_date")),
        # Every 50th NIK arrives as Excel wrote it.
        raw=pl.when(i % 50 == 0).then(pl.lit("3.20101E+15")).otherwise(pl.col("expected_nik")),
    )
    out = standardise_nik_column(frame, "raw", reference_date=REFERENCE)
    damaged = out.filter(pl.int_range(ROWS) % 50 == 0)
    intact = out.filter(pl.int_range(ROWS) % 50 != 0)
    assert damaged["nik_issue"].unique().to_list() == ["excel_scientific"]
    assert intact["nik_issue"].null_count() == intact.height
    assert (intact["nik"] == intact["expected_nik"]).all()
    assert (intact["nik_birth_date"] == intact["expected_date"]).all()
    assert (intact["nik_sex"] == pl.Series(["P" if f else "L" for f in intact["female"]])).all()


def test_names_on_generated_rows():
    cases = [
        ("H. MOCH. DJOKO SOESILO, S.PD", "MUHAMAD YOKO SUSILO", "H S.PD"),
        ("MUHAMMAD JOKO SUSILO", "MUHAMAD YOKO SUSILO", None),
        ("SITI NURHAYATI BINTI ABDUL RAHMAN", "SITI NURHAYATI", None),
        ("Hj. Siti Aminah, S.E.", "SITI AMINA", "HJ S.E"),
        ("ACHMAD FAUZI", "AHMAD FAUZI", None),
        ("SUTRISNO", "SUTRISNO", None),
        ("I WAYAN SUDARSANA", "I WAYAN SUDARSANA", None),
        ("TJAHJONO", "CAHYONO", None),
        (None, None, None),
        ("-", None, None),
    ]
    frame = repeated(cases, ["nama", "expected_key", "expected_titles"])
    out = standardise_name_column(frame, "nama")
    assert out["name_key"].equals(out["expected_key"].alias("name_key"), null_equal=True)
    assert out["name_titles"].equals(out["expected_titles"].alias("name_titles"), null_equal=True)


def test_birth_dates_on_generated_rows():
    i = pl.int_range(ROWS, dtype=pl.Int64)
    day = pl.lit(date(1940, 1, 1)) + pl.duration(days=(i * 7) % 30_000)
    frame = pl.select(expected=day, style=i % 5)
    d = pl.col("expected")
    frame = frame.with_columns(
        raw=pl.when(pl.col("style") == 0)
        .then(d.dt.strftime("%Y-%m-%d"))
        .when(pl.col("style") == 1)
        .then(d.dt.strftime("%d-%m-%Y"))
        .when(pl.col("style") == 2)
        .then(d.dt.strftime("%d/%m/%Y"))
        .when(pl.col("style") == 3)
        .then(
            pl.format(
                "{} {} {}",
                d.dt.day(),
                d.dt.month().replace_strict(dict(enumerate(MONTHS, start=1)), return_dtype=pl.String),
                d.dt.year(),
            )
        )
        .otherwise((d - pl.lit(date(1899, 12, 30))).dt.total_days().cast(pl.String))
    )
    out = standardise_birth_date_column(frame, "raw", REFERENCE)
    assert (out["birth_date"] == out["expected"]).all()
    assert out["birth_issue"].null_count() == ROWS


def test_small_value_standardisers_on_generated_rows():
    frame = repeated(
        [
            ("LAKI-LAKI", "L", "Ya", True, "202500001.0", "202500001", "32.12.01.2001", "3212012001"),
            ("2", "P", "T", False, "3273.0541.0785.0001", "3273054107850001", "3212012001", "3212012001"),
            ("Perempuan", "P", "tidak", False, "0", None, "32.12.01", None),
            (None, None, None, None, None, None, None, None),
        ],
        ["sex", "sex_expected", "flag", "flag_expected", "id", "id_expected", "desa", "desa_expected"],
    )
    out = frame.select(
        standardise_sex(pl.col("sex")).alias("sex"),
        parse_bool(pl.col("flag")).alias("flag"),
        clean_identifier(pl.col("id")).alias("id"),
        village_code(pl.col("desa")).alias("desa"),
    )
    for column in ("sex", "flag", "id", "desa"):
        assert out[column].equals(frame[f"{column}_expected"].alias(column), null_equal=True)


def test_regency_text_on_generated_rows():
    frame = repeated(
        [("KAB. INDRAMAYU", "3212"), ("Kota Bandung", "3273"), ("Jogja", "3471"), ("Tawau", None),
         ("Kab. Lombok Timur, NTB", "5203"), (None, None)],
        ["daerah_asal", "expected"],
    )
    by_expression = frame.select(regency_from_text(pl.col("daerah_asal"))).to_series()
    assert by_expression.equals(frame["expected"].alias(by_expression.name), null_equal=True)
    mapped = map_regency_text(frame, "daerah_asal", "regency_code")
    assert mapped["regency_code"].equals(frame["expected"].alias("regency_code"), null_equal=True)
