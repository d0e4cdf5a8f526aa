"""Flags for values that were present but could not be used (contract 1.1): the standardised
column is null, the raw text stays beside it, and `value_issues` says which column and why, so
that an invalid value is never silently the same as a missing one."""

from __future__ import annotations

import polars as pl

from assets.sources.readers import FILE, ROW_NUMBER
from assets.standardise.values import clean_text

# Per source: raw column -> (standardised column, kind of value it should be). Birth dates and
# NIKs have their own issue columns (birth_date_issue, nik_issue) and are repeated here so that
# one column lists every problem of a row.
CHECKED_VALUES: dict[str, dict[str, tuple[str, str]]] = {
    "p2mi_penempatan": {
        "jenis_kelamin": ("sex_recorded", "sex"),
        "tgl_berangkat": ("departure_date", "date"),
        "tgl_akhir_kontrak": ("contract_end_date", "date"),
        "tgl_pulang": ("return_date", "date"),
        "tgl_update": ("updated_date", "date"),
        "kode_desa_asal": ("village_code", "village"),
    },
    "p2mi_kasus": {
        "jenis_kelamin": ("sex_recorded", "sex"),
        "tgl_pengaduan": ("complaint_date", "date"),
        "tgl_kedatangan": ("arrival_date", "date"),
        "umur": ("age_at_complaint", "number"),
        "indikasi_tppo": ("trafficking_indicated", "yes_no"),
        "prosedural": ("procedural", "yes_no"),
        "rujukan_kemensos": ("referred_to_kemensos", "yes_no"),
    },
    "dtsen_individu": {
        "jenis_kelamin": ("sex_recorded", "sex"),
        "desil": ("desil", "desil"),
        "kode_desa": ("village_code", "village"),
        "penerima_pkh": ("receives_pkh", "yes_no"),
        "penerima_sembako": ("receives_sembako", "yes_no"),
        "penerima_pbi_jk": ("receives_pbi_jk", "yes_no"),
        "disabilitas": ("disability", "yes_no"),
    },
    "sr_siswa": {
        "jenis_kelamin": ("sex_recorded", "sex"),
        "tgl_masuk": ("enrolment_date", "date"),
        "tingkat": ("grade", "number"),
        "desil_saat_seleksi": ("desil_at_selection", "desil"),
        "ortu_pmi": ("parent_is_migrant_worker", "yes_no"),
        "kelas_migran": ("migrant_class", "yes_no"),
    },
}

_REASONS = {
    "date": "not a date",
    "number": "not a number",
    "yes_no": "not a yes/no value",
    "sex": "not a sex code",
    "village": "not a village code",
}

_BIRTH_DATE_ISSUES = {"unparseable": "not a date", "after_reference_date": "after the delivery date"}
_BIRTH_DATE_COLUMN = "tanggal_lahir"  # the same name in all four sources

ISSUES = "value_issues"


def _issue(raw: str, label: str, standardised: str, kind: str) -> pl.Expr:
    """`label: reason` where the raw text `raw` is present and its standardised value is null."""
    present = clean_text(pl.col(raw)).is_not_null()
    unusable = present & pl.col(standardised).is_null()
    if kind == "desil":
        number = clean_text(pl.col(raw)).str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
        return (
            pl.when(unusable & number.is_null()).then(pl.lit(f"{label}: not a number"))
            .when(unusable).then(pl.lit(f"{label}: outside 1-10"))
        )
    return pl.when(unusable).then(pl.lit(f"{label}: {_REASONS[kind]}"))


def _same_rows(raw: pl.DataFrame, staged: pl.DataFrame) -> bool:
    """Whether `staged` holds the rows of `raw` in the same order (by file and row number)."""
    return raw.height == staged.height and raw.select(FILE, ROW_NUMBER).equals(staged.select(FILE, ROW_NUMBER))


def flag_invalid_values(source: str, raw: pl.DataFrame, staged: pl.DataFrame) -> pl.DataFrame:
    """Adds `value_issues` (list of "column: reason", empty when every present value was usable)
    to one source's staged rows. Pairs whose columns are not there are skipped."""
    pairs = {
        column: spec for column, spec in CHECKED_VALUES[source].items()
        if column in raw.columns and spec[0] in staged.columns
    }
    # Where staging replaced a raw column by its standardised value under the same name (desil),
    # the raw text comes back from the raw rows, matched on file and row number.
    overwritten = [column for column, (std, _) in pairs.items() if column == std]
    if overwritten:
        originals = raw.select(FILE, ROW_NUMBER, *[pl.col(c).alias(f"__raw_{c}") for c in overwritten])
        if _same_rows(raw, staged):  # the stagers keep the rows in order: side by side, no join
            staged = staged.with_columns(originals.drop(FILE, ROW_NUMBER))
        else:
            staged = staged.join(originals, on=[FILE, ROW_NUMBER], how="left", maintain_order="left")
    checks = [
        _issue(f"__raw_{column}" if column in overwritten else column, column, std, kind)
        for column, (std, kind) in pairs.items()
    ]
    if "birth_date_issue" in staged.columns:
        issue = pl.col("birth_date_issue")
        for code, text in _BIRTH_DATE_ISSUES.items():
            checks.append(pl.when(issue == code).then(pl.lit(f"{_BIRTH_DATE_COLUMN}: {text}")))
    if "nik_issue" in staged.columns:
        checks.append(
            pl.when(pl.col("nik_issue").is_not_null() & (pl.col("nik_issue") != "missing"))
            .then(pl.lit("nik: ") + pl.col("nik_issue"))
        )
    helpers = [f"__raw_{c}" for c in overwritten]
    if not checks:
        return staged.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(ISSUES))
    # Joined into one string and split again: a list built for every row (concat_list) took 5 s
    # at 1M rows, where nearly every row has no issue. The texts are ours and never hold \x1f.
    joined = pl.concat_str(checks, separator="\x1f", ignore_nulls=True)
    issues = pl.when(joined != "").then(joined).str.split("\x1f").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    return staged.with_columns(issues.alias(ISSUES)).drop(helpers)


def issue_counts_sql(table: str) -> str:
    """Rows of `table` per "column: reason" (counts only, for metadata), counted where the table
    is: reading a million rows' issues out for Polars took 0.6 s of a night DTSEN did not deliver."""
    return (f"SELECT issue, count(*) AS rows FROM (SELECT unnest({ISSUES}) AS issue FROM {table}) "
            "WHERE issue IS NOT NULL GROUP BY issue ORDER BY rows DESC, issue")
