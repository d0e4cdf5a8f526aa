"""Per-source staging: the raw text of each source turned into typed, standardised columns, and the
one common linkage schema (`person_records`) that every later stage reads. Source-specific
column names stop here."""

from __future__ import annotations

import polars as pl

from assets.frames import query_frames
from assets.standardise.dates import parse_event_date, standardise_birth_date
from assets.standardise.names import standardise_name
from assets.standardise.nik import standardise_nik
from assets.standardise.regions import map_regency_text, map_village_text, modern_regency, regency_of, village_code
from assets.standardise.sex import standardise_sex
from assets.standardise.values import clean_identifier, clean_identifier_values, clean_text, parse_bool, phone_number

DELIVERY_DATE = "_delivery_date"
REFERENCE = pl.col(DELIVERY_DATE)

# Columns of the common linkage schema, in order: what the linkage rules, the capped blocking keys
# and the persons step read. The other standardised values (the NIK's issue and decoded parts,
# the cleaned name, titles and father's name, the birth date's issue) stay in `staging.<source>`:
# without those nine columns the table took 2.9 s to build at 1M persons, against 3.4 s.
PERSON_RECORD_COLUMNS = [
    "record_key", "source", "source_record_id", "delivery_date",
    "nik", "nik_matches_birth_date",
    "name_key", "name_key_nospace", "name_key_sorted", "name_first_key", "name_last_key",
    "sex", "birth_date", "birth_year", "birth_date_is_default",
    "kk", "passport", "splp", "phone", "village_code", "district_code", "regency_code", "birth_regency_code",
    "household_key", "family_id", "family_relation", "lone_name_key", "passport_on_no_placement",
]


def _upper(column: str) -> pl.Expr:
    return clean_text(pl.col(column)).str.to_uppercase()


def _per_distinct(frame: pl.DataFrame, inputs: list[str], **exprs: pl.Expr) -> pl.DataFrame:
    """`frame` with each of `exprs` (which read only the `inputs` columns) as a column of its name,
    computed once per distinct combination of the inputs and joined back: a million DTSEN rows
    hold about 46,000 distinct names, and the name rules cost 3.1 s on every row against 0.3 s on
    the distinct ones."""
    values = frame.select(inputs).unique().with_columns(**exprs)
    return frame.join(values, on=inputs, how="left", nulls_equal=True, maintain_order="left")


def _person_columns(
    frame: pl.DataFrame, *, id_col: str, name_col: str, nik_col: str | None, sex_col: str | None,
    birth_col: str | None,
) -> pl.DataFrame:
    """The standardised identity columns every source shares."""
    birth = (
        standardise_birth_date(pl.col(birth_col), REFERENCE)
        if birth_col else pl.lit(None, dtype=pl.String).pipe(standardise_birth_date, REFERENCE)
    )
    frame = frame.with_columns(
        clean_identifier_values(frame[id_col]).alias("source_record_id"),
        REFERENCE.alias("delivery_date"),
        (standardise_sex(pl.col(sex_col)) if sex_col else pl.lit(None, dtype=pl.String)).alias("__sex"),
    )
    frame = _per_distinct(frame, [name_col], __name=standardise_name(pl.col(name_col)))
    frame = (
        _per_distinct(frame, [birth_col, DELIVERY_DATE], __birth=birth) if birth_col
        else frame.with_columns(birth.alias("__birth"))
    )
    # Place of birth, free text, mapped to a regency where it names one (Djakarta, KAB. CILACAP).
    frame = map_regency_text(frame, "tempat_lahir", "birth_regency_code")
    # standardise_nik cleans for itself: it must see `...0.0` and all-zero values as they came.
    nik_raw = pl.col(nik_col) if nik_col else pl.lit(None, dtype=pl.String)
    frame = frame.with_columns(
        standardise_nik(nik_raw, pl.col("__birth").struct.field("date"), REFERENCE).alias("__nik")
    )
    return frame.with_columns(
        pl.col("__nik").struct.field("nik").alias("nik"),
        pl.col("__nik").struct.field("issue").alias("nik_issue"),
        pl.col("__nik").struct.field("sex").alias("nik_sex"),
        pl.col("__nik").struct.field("birth_date").alias("nik_birth_date"),
        pl.col("__nik").struct.field("region_code").alias("nik_region"),
        pl.col("__name").struct.field("clean").alias("name_clean"),
        pl.col("__name").struct.field("titles").alias("name_titles"),
        pl.col("__name").struct.field("father").alias("name_father"),
        pl.col("__name").struct.field("key").alias("name_key"),
        pl.col("__name").struct.field("key_nospace").alias("name_key_nospace"),
        pl.col("__name").struct.field("key_sorted").alias("name_key_sorted"),
        pl.col("__name").struct.field("first_key").alias("name_first_key"),
        pl.col("__name").struct.field("last_key").alias("name_last_key"),
        pl.col("__name").struct.field("key_weak").alias("name_key_weak"),
        pl.coalesce(pl.col("__sex"), pl.col("__nik").struct.field("sex")).alias("sex"),
        pl.col("__sex").alias("sex_recorded"),
        # A record without a usable birth date still has the one its NIK encodes.
        pl.coalesce(pl.col("__birth").struct.field("date"), pl.col("__nik").struct.field("birth_date"))
        .alias("birth_date"),
        pl.coalesce(
            pl.col("__birth").struct.field("year"), pl.col("__nik").struct.field("birth_date").dt.year()
        ).cast(pl.Int32).alias("birth_year"),
        pl.col("__birth").struct.field("is_default").fill_null(False).alias("birth_date_is_default"),
        pl.col("__birth").struct.field("issue").alias("birth_date_issue"),
        # A NIK that encodes the record's own birth date is most likely the person's own NIK
        # (not a family member's); null when either date is unknown. A default date (1 Jul,
        # 31 Dec, 1 Jan) says only the year, so then only the year is compared.
        pl.when(pl.col("__birth").struct.field("is_default"))
        .then(pl.col("__nik").struct.field("birth_date").dt.year() == pl.col("__birth").struct.field("year"))
        .otherwise(pl.col("__nik").struct.field("birth_date") == pl.col("__birth").struct.field("date"))
        .alias("nik_matches_birth_date"),
    ).drop("__nik", "__name", "__sex", "__birth")


def _region_columns(frame: pl.DataFrame, village_col: str | None, text_col: str | None,
                    address_col: str | None = None) -> pl.DataFrame:
    """village_code, district_code and regency_code from a village code, a regency typed as text,
    and an address that names its village and district (used where the code is missing)."""
    if village_col:  # per distinct village (46,000 in 500,000 DTSEN rows: 0.30 s on every row)
        village = village_code(pl.col(village_col))
        frame = _per_distinct(frame, [village_col], village_code=village,
                              __regency_from_code=modern_regency(regency_of(village)))
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("village_code"),
                                   pl.lit(None, dtype=pl.String).alias("__regency_from_code"))
    if text_col:  # a case's address may be written out: "Desa X, Kec. Y, Kab. Z"
        frame = map_regency_text(frame, text_col, "__regency_from_text")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("__regency_from_text"))
    frame = frame.with_columns(pl.coalesce("__regency_from_code", "__regency_from_text").alias("regency_code"))
    if address_col:  # only where no code was delivered: a malformed code stays a value issue
        no_code = clean_text(pl.col(village_col)).is_null() if village_col else pl.lit(True)
        frame = map_village_text(frame, address_col, "regency_code", "__village_from_text").with_columns(
            pl.when(no_code).then(pl.col("__village_from_text")).otherwise(pl.col("village_code"))
            .alias("village_code")
        ).drop("__village_from_text")
    return frame.with_columns(
        pl.col("village_code").str.slice(0, 6).alias("district_code"),
    ).drop("__regency_from_code", "__regency_from_text")


def _desil(column: str) -> pl.Expr:
    value = clean_text(pl.col(column)).str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)
    return pl.when(value.is_between(1, 10)).then(value).otherwise(None)


def _desil_issue(column: str) -> pl.Expr:
    raw = clean_text(pl.col(column))
    return pl.when(raw.is_null()).then(pl.lit("missing")).when(_desil(column).is_null()).then(
        pl.lit("not_1_to_10")
    )


def stage_p2mi_penempatan(raw: pl.DataFrame) -> pl.DataFrame:
    frame = _person_columns(raw, id_col="id_penempatan", name_col="nama_lengkap", nik_col="nik",
                            sex_col="jenis_kelamin", birth_col="tanggal_lahir")
    frame = _region_columns(frame, "kode_desa_asal", "kabkota_asal", "alamat_asal")
    return frame.with_columns(
        clean_text(pl.col("no_paspor")).str.to_uppercase().str.replace_all(r"\s", "").alias("passport"),
        # A worker's own number, kept across placements: the repeat worker whose NIK and name
        # were typed differently the second time.
        phone_number(pl.col("no_hp")).alias("phone"),
        pl.lit(None, dtype=pl.String).alias("kk"),
        _upper("negara_penempatan").alias("destination_country"),
        _upper("kode_negara").alias("destination_country_code"),
        _upper("jabatan").alias("job_title"),
        clean_text(pl.col("sektor")).str.to_lowercase().alias("sector"),
        _upper("skema").alias("scheme"),
        _upper("status_penempatan").alias("placement_status"),
        parse_event_date(pl.col("tgl_berangkat"), REFERENCE).alias("departure_date"),
        parse_event_date(pl.col("tgl_akhir_kontrak"), REFERENCE).alias("contract_end_date"),
        parse_event_date(pl.col("tgl_pulang"), REFERENCE).alias("return_date"),
        parse_event_date(pl.col("tgl_update"), REFERENCE).alias("updated_date"),
    )


def stage_p2mi_kasus(raw: pl.DataFrame) -> pl.DataFrame:
    frame = _person_columns(raw, id_col="id_kasus", name_col="nama", nik_col="nik",
                            sex_col="jenis_kelamin", birth_col="tanggal_lahir")
    frame = _region_columns(frame, None, "daerah_asal", "daerah_asal")
    complaint_date = parse_event_date(pl.col("tgl_pengaduan"), REFERENCE)
    age = clean_text(pl.col("umur")).str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)
    return frame.with_columns(
        complaint_date.alias("complaint_date"),
        age.alias("age_at_complaint"),
        # A case with an age and no birth date still places the person within a year.
        pl.coalesce(pl.col("birth_year"), complaint_date.dt.year() - age).cast(pl.Int32).alias("birth_year"),
        clean_text(pl.col("no_paspor")).str.to_uppercase().str.replace_all(r"\s", "").alias("passport"),
        clean_text(pl.col("no_splp")).str.to_uppercase().alias("splp"),
        pl.lit(None, dtype=pl.String).alias("phone"),
        pl.lit(None, dtype=pl.String).alias("kk"),
        clean_identifier(pl.col("id_penempatan")).alias("placement_id"),
        _upper("negara").alias("case_country"),
        _upper("jenis_kasus").alias("case_type"),
        parse_bool(pl.col("indikasi_tppo")).alias("trafficking_indicated"),
        parse_bool(pl.col("prosedural")).alias("procedural"),
        parse_event_date(pl.col("tgl_kedatangan"), REFERENCE).alias("arrival_date"),
        parse_bool(pl.col("rujukan_kemensos")).alias("referred_to_kemensos"),
        _upper("sentra_rehab").alias("rehab_centre"),
        _upper("status_penanganan").alias("handling_status"),
    )


def stage_dtsen_individu(raw: pl.DataFrame) -> pl.DataFrame:
    frame = _person_columns(raw, id_col="id_individu", name_col="nama", nik_col="nik",
                            sex_col="jenis_kelamin", birth_col="tanggal_lahir")
    frame = _region_columns(frame, "kode_desa", None)
    return frame.with_columns(
        clean_identifier_values(frame["id_keluarga"]).alias("family_id"),
        clean_identifier_values(frame["no_kk"]).alias("kk"),
        pl.lit(None, dtype=pl.String).alias("passport"),
        pl.lit(None, dtype=pl.String).alias("phone"),
        _upper("hubungan_keluarga").alias("family_relation"),
        _desil("desil").alias("desil"),
        _desil_issue("desil").alias("desil_issue"),
        parse_bool(pl.col("penerima_pkh")).alias("receives_pkh"),
        parse_bool(pl.col("penerima_sembako")).alias("receives_sembako"),
        parse_bool(pl.col("penerima_pbi_jk")).alias("receives_pbi_jk"),
        parse_bool(pl.col("disabilitas")).alias("disability"),
        _upper("periode").alias("period"),
        _upper("status_keberadaan").alias("presence_status"),
    )


def _parent_nik(column: str) -> pl.Expr:
    return standardise_nik(pl.col(column), None, REFERENCE).struct.field("nik")


def stage_sr_siswa(raw: pl.DataFrame) -> pl.DataFrame:
    frame = _person_columns(raw, id_col="id_siswa", name_col="nama_siswa", nik_col="nik",
                            sex_col="jenis_kelamin", birth_col="tanggal_lahir")
    frame = _region_columns(frame, None, None)
    nisn = clean_identifier(pl.col("nisn"))
    return frame.with_columns(
        # Excel drops the leading zero of NISNs of children born in the 2000s.
        pl.when(nisn.str.len_chars() == 9).then(pl.lit("0") + nisn).otherwise(nisn).alias("nisn"),
        clean_identifier(pl.col("no_kk")).alias("kk"),
        pl.lit(None, dtype=pl.String).alias("passport"),
        pl.lit(None, dtype=pl.String).alias("phone"),
        _upper("nama_sekolah").alias("school_name"),
        clean_identifier(pl.col("kode_sekolah")).alias("school_code"),
        _upper("jenjang").alias("school_level"),
        clean_text(pl.col("tingkat")).str.replace(r"\.0+$", "").cast(pl.Int32, strict=False).alias("grade"),
        parse_event_date(pl.col("tgl_masuk"), REFERENCE).alias("enrolment_date"),
        _upper("status_siswa").alias("student_status"),
        _desil("desil_saat_seleksi").alias("desil_at_selection"),
        _parent_nik("nik_ayah").alias("father_nik"),
        _parent_nik("nik_ibu").alias("mother_nik"),
        _parent_nik("nik_wali").alias("guardian_nik"),
        parse_bool(pl.col("ortu_pmi")).alias("parent_is_migrant_worker"),
        parse_bool(pl.col("kelas_migran")).alias("migrant_class"),
        _upper("km_bahasa").alias("migrant_class_language"),
        _upper("km_negara_tujuan").alias("migrant_class_destination"),
    )


STAGERS = {
    "p2mi_penempatan": stage_p2mi_penempatan,
    "p2mi_kasus": stage_p2mi_kasus,
    "dtsen_individu": stage_dtsen_individu,
    "sr_siswa": stage_sr_siswa,
}


# A DTSEN family holds one family card: its household is that card, taken from the family's other
# rows where a row has no card number and they give exactly one (at 200,000 heavy-noise persons
# 15,158 of 200,882 DTSEN rows have none, and 14,460 of them take their family's). Before, such a
# family published as two households. DTSEN's own family id stands in where the whole family has
# no card number. The linkage keeps `kk` as delivered: filled in, the family-card comparison's
# conflicts (tuned on delivered cards) cut 15 true pairs at 200,000 heavy for 5 false ones.
# (A grouped join, not a window over the family: a window sorts every row by its family.)
_FAMILY_CARDS = ("LEFT JOIN (SELECT family_id AS __family, min(kk) AS __family_card FROM {table} "
                 "WHERE kk IS NOT NULL AND family_id IS NOT NULL GROUP BY 1 HAVING min(kk) = max(kk)) "
                 "ON family_id = __family")


# A record with neither a NIK nor a full birth date: a name, at best an age and a region (a
# returnee's case). Blocking looks for it by its name alone (lone_name_key below); the clustering
# holds its pairs to a threshold of their own (assets/linkage/model.py, THIN_RECORDS).
THIN_RECORD = "nik IS NULL AND birth_date IS NULL"


def person_records_sql(source: str, table: str, keep: tuple[str, ...] = ()) -> str:
    """The common linkage schema for one source's staged rows in `table`, as a DuckDB query: the
    nightly stage runs it on the staged table where it is (no round trip through Python), and
    to_person_records on a frame in memory. `keep`: columns of `table` carried along after them."""
    dtsen = source == "dtsen_individu"
    derived = {
        "source": f"'{source}'",
        "record_key": f"'{source}:' || source_record_id",
        # The family card is the household key every source shares (DTSEN: its family's, above).
        "household_key": "coalesce(kk, __family_card, 'DTSEN-' || family_id)" if dtsen else "kk",
        # A DTSEN row's family and its relation to the family's head (assets/linkage/families.py).
        **({} if dtsen else {"family_id": "CAST(NULL AS VARCHAR)", "family_relation": "CAST(NULL AS VARCHAR)"}),
        # A case's emergency travel document (SPLP); no other source carries one.
        **({} if source == "p2mi_kasus" else {"splp": "CAST(NULL AS VARCHAR)"}),
        # A record with neither a NIK nor a full birth date (a returnee's case with an age) has
        # only its name to be found by: blocking joins this key against every record's name.
        "lone_name_key": f"CASE WHEN {THIN_RECORD} THEN name_key_nospace END",
        # Set across sources by staging/person_records (PASSPORT_ON_NO_PLACEMENT); one source
        # alone cannot tell.
        "passport_on_no_placement": "CAST(NULL AS BOOLEAN)",
    }
    columns = [f'{derived[c]} AS "{c}"' if c in derived else f'"{c}"' for c in PERSON_RECORD_COLUMNS]
    joins = _FAMILY_CARDS.format(table=table) if dtsen else ""
    return f"SELECT {', '.join(columns + list(keep))} FROM {table} {joins}"


# A case that gives a passport number no placement carries: the worker left without a placement
# P2MI recorded (non-procedural, or on another passport). P2MI keeps both registers, and a case
# about a placed worker names the passport of one of their placements: at 50,000 and 200,000
# heavy-noise persons all 280 and 1,093 such cases of a person with placements did. Read by the
# passport comparison (`linkage_rules/model.yaml`). `{records}`: the union of the sources' rows;
# `{placements}`: the staged placements (read apart, so that the union is scanned once).
PASSPORT_ON_NO_PLACEMENT = (
    "SELECT * REPLACE (source = 'p2mi_kasus' AND passport IS NOT NULL AND passport NOT IN "
    "(SELECT passport FROM {placements} WHERE passport IS NOT NULL) "
    "AS passport_on_no_placement) FROM {records}"
)
# The other sources whose staged rows a source's person records read (PASSPORT_ON_NO_PLACEMENT).
READS_OTHER_SOURCES = {"p2mi_kasus": ("p2mi_penempatan",)}


def to_person_records(source: str, staged: pl.DataFrame) -> pl.DataFrame:
    """The common linkage schema for one source's staged rows, in their order (a join does not
    keep it)."""
    query = f"{person_records_sql(source, '__staged', ('__row',))} ORDER BY __row"
    return query_frames(query, {"__staged": staged.with_row_index("__row")}).drop("__row")
