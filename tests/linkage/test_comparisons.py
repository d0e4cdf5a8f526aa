"""The comparison levels of linkage_rules/model.yaml on hand-made Indonesian cases: raw rows as a
DTSEN delivery would carry them, standardised by the staging code, scored by a model trained on
generated deliveries with the hardest noise. Each case asserts the level Splink puts the pair in,
and for the hard negatives (twins, a father and son with one name) that the pair stays apart."""

from __future__ import annotations

import math
from datetime import date

import duckdb
import polars as pl
import pytest

from assets.linkage.conflicts import within_cluster_conflicts
from assets.linkage.recluster import conflict_exempt_records, nik_contradicted
from assets.linkage.diagnostics import comparison_viewer
from assets.linkage.incremental import (
    score_all, score_fresh, score_touched, scoring_linker, term_frequency_columns, term_frequency_tables,
)
from assets.linkage.model import LINKAGE_COLUMNS, train
from assets.linkage.rules import load_rules
from assets.publish.pseudonym import token
from assets.sources.contracts import CONTRACTS
from assets.sources.ingest import ingest_source
from assets.standardise.block_keys import add_capped_keys
from assets.standardise.sources import STAGERS, to_person_records
from synthetic.generator import generate_deliveries

DTSEN = CONTRACTS["dtsen_individu"]
CASES = CONTRACTS["p2mi_kasus"]
PLACEMENTS = CONTRACTS["p2mi_penempatan"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    landing = tmp_path_factory.mktemp("comparisons") / "landing"
    generate_deliveries(landing, persons=3000, noise="heavy", progress=False)
    records = pl.concat(
        [to_person_records(name, STAGERS[name](ingest_source(landing, contract).accepted))
         for name, contract in CONTRACTS.items()],
        how="vertical_relaxed",
    ).pipe(add_capped_keys, load_rules().capped_block_keys).select(LINKAGE_COLUMNS)
    model_json, _ = train(records, load_rules())
    return records, model_json, term_frequency_tables(records, term_frequency_columns(model_json))


@pytest.fixture(scope="module")
def model(generated):
    _, model_json, tf_tables = generated
    return model_json, tf_tables


def dtsen_row(record_id: str, nama: str, nik: str | None, tanggal_lahir: str, jenis_kelamin: str,
              no_kk: str | None = None, kode_desa: str = "3201012001") -> dict:
    row = dict.fromkeys(DTSEN.required + DTSEN.optional)
    row.update(id_individu=record_id, id_keluarga=f"F{record_id}", nik=nik, nama=nama,
               tanggal_lahir=tanggal_lahir, jenis_kelamin=jenis_kelamin, desil="2", no_kk=no_kk,
               kode_desa=kode_desa)
    return row


def case_row(record_id: str, nama: str, *, umur: str | None = None, tanggal_lahir: str | None = None,
             daerah_asal: str | None = None, tempat_lahir: str | None = None,
             jenis_kelamin: str = "L", tgl_pengaduan: str = "2026-03-02", no_splp: str | None = None) -> dict:
    """A P2MI case as delivered: often no NIK and no birth date, an age at the complaint, a free
    text origin. The `_source` key tells `staged` which stager reads it."""
    row = dict.fromkeys(CASES.required + CASES.optional)
    row.update(id_kasus=record_id, nama=nama, umur=umur, tanggal_lahir=tanggal_lahir,
               daerah_asal=daerah_asal, tempat_lahir=tempat_lahir, jenis_kelamin=jenis_kelamin,
               negara="MALAYSIA", jenis_kasus="DEPORTASI", tgl_pengaduan=tgl_pengaduan, no_splp=no_splp)
    return {"_source": "p2mi_kasus", **row}


def placement_row(record_id: str, nama: str, nik: str | None, tanggal_lahir: str, no_hp: str | None,
                  jenis_kelamin: str = "P", kode_desa_asal: str = "3201012001") -> dict:
    """A P2MI placement as delivered."""
    row = dict.fromkeys(PLACEMENTS.required + PLACEMENTS.optional)
    row.update(id_penempatan=record_id, nik=nik, nama_lengkap=nama, jenis_kelamin=jenis_kelamin,
               tanggal_lahir=tanggal_lahir, negara_penempatan="MALAYSIA", status_penempatan="BERANGKAT",
               no_hp=no_hp, kode_desa_asal=kode_desa_asal)
    return {"_source": "p2mi_penempatan", **row}


def staged(rows: list[dict]) -> pl.DataFrame:
    """Rows through the staging code of their source (DTSEN unless a row says `_source`), as
    linkage records, in the order given."""
    parts = []
    for row in rows:
        row = dict(row)
        source = row.pop("_source", "dtsen_individu")
        raw = pl.DataFrame([row], schema={c: pl.String for c in row}).with_columns(
            pl.lit(date(2026, 11, 27)).alias("_delivery_date")
        )
        parts.append(to_person_records(source, STAGERS[source](raw)))
    records = pl.concat(parts, how="vertical_relaxed")
    return add_capped_keys(records, load_rules().capped_block_keys).select(LINKAGE_COLUMNS)


def one_cluster(records: pl.DataFrame) -> pl.DataFrame:
    """record_key, cluster_id with every record in cluster c1."""
    return pl.DataFrame({"record_key": records["record_key"], "cluster_id": ["c1"] * records.height})


def score(model, left: dict, right: dict) -> dict:
    """The pair as Splink scores it: match_probability, and per comparison its level label and
    match weight."""
    model_json, tf_tables = model
    records = staged([left, right])
    linker, registered = scoring_linker({"person_records": records}, model_json, tf_tables)
    db_api = registered["person_records"].db_api
    one = [db_api.register(records.slice(i, 1), dataset_display_name=f"record_{i}") for i in (0, 1)]
    row = pl.from_arrow(linker.inference.score_pair(*one).as_pyarrow_table()).row(0, named=True)
    out = {"match_probability": row["match_probability"], "match_weight": row["match_weight"]}
    for comparison in model_json["comparisons"]:
        name = comparison["output_column_name"]
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        gamma = row[f"gamma_{name}"]
        out[name] = "null" if gamma == -1 else levels[len(levels) - 1 - gamma]["label_for_charts"]
        out[f"mw_{name}"] = row[f"mw_{name}"]
    return out


@pytest.mark.parametrize(
    ("right_nik", "level", "nik_weight_sign", "linked"),
    [
        # Excel turned the last digit into 0
        ("3201014508900010", "NIK equal but a last digit 0 (Excel)", 1, True),
        # the NIK says 1996, its own record 1990: a typist's slip, not a second person
        ("3201014508960011", "NIK one typo in the birth-date digits", 1, True),
        # the region digits mistyped (3207 for 3201), the rest of the NIK the same
        ("3207014508900011", "NIK one typo in the region digits", 1, True),
        # a double registration: region and birth-date digits agree, the serial is another
        ("3201014508905001", "NIK different serial, same region and birth date", 1, None),
        # another district's NIK that encodes the same birth date: evidence of a second person
        ("3273054508900003", "NIK different, each its record's own", -1, None),
    ],
)
def test_nik_levels(model, right_nik, level, nik_weight_sign, linked):
    pair = score(model, dtsen_row("1", "SITI AMINAH", "3201014508900011", "05-08-1990", "P"),
                 dtsen_row("2", "SITI AMINAH", right_nik, "05-08-1990", "P"))
    assert pair["nik"] == level
    assert pair["mw_nik"] * nik_weight_sign > 0
    if linked:
        assert pair["match_probability"] > 0.99


def test_neighbouring_districts_each_with_its_own_nik_are_two_people(model):
    # born on one day in districts 320101 and 320102, each NIK naming its own record's district
    pair = score(model, dtsen_row("1", "HAERUDIN", "3201012706890001", "27-06-1989", "L", kode_desa="3201012001"),
                 dtsen_row("2", "HAERUDIN", "3201022706890001", "27-06-1989", "L", kode_desa="3201022001"))
    assert pair["nik"] == "NIK different, each its record's own"
    assert pair["mw_nik"] < -5


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        # same district, same birthday, serials 0001 and 0002, rhyming names: two girls (twins)
        (("NAILA PUTRI", "3201014508900001", "05-08-1990", "P"), ("NAILI PUTRI", "3201014508900002", "05-08-1990", "P"),
         "NIK neighbouring serials, names differ (twins)"),
        # one mononym, one district, born 1979 and 1981: each NIK encodes its own record's date
        (("MUNAWIR", "3201011701790001", "17-01-1979", "L"), ("MUNAWIR", "3201012708810001", "27-08-1981", "L"),
         "NIK different, each its record's own, dates differ"),
    ],
)
def test_two_people_told_apart_by_their_niks(model, left, right, level):
    pair = score(model, dtsen_row("1", *left), dtsen_row("2", *right))
    assert pair["nik"] == level
    assert pair["match_probability"] < 0.001


def test_namesakes_registered_one_after_the_other_on_a_default_date_stay_apart(model):
    # two SUPARDIs without a known birth date, one district, serials 0001 and 0002, no family card
    # to tell them apart (a placement record carries none): two people registered in a row
    left = dtsen_row("1", "SUPARDI", "3201010101780001", "01-01-1978", "L")
    pair = score(model, left, dtsen_row("2", "SUPARDI", "3201010101780002", "01-01-1978", "L"))
    assert pair["nik"] == "NIK neighbouring serials on a default birth date"
    assert pair["mw_nik"] < -4
    # a serial further off is a double registration, as on a real date: evidence of one person
    other = score(model, left, dtsen_row("2", "SUPARDI", "3201010101785001", "01-01-1978", "L"))
    assert other["nik"] == "NIK different serial, same region and birth date"
    assert other["mw_nik"] > 0
    assert other["match_weight"] - pair["match_weight"] > 10
    real = score(model, dtsen_row("1", "SUPARDI", "3201011203780001", "12-03-1978", "L"),
                 dtsen_row("2", "SUPARDI", "3201011203780002", "12-03-1978", "L"))
    assert real["nik"] == "NIK different serial, same region and birth date"


def test_two_districts_niks_of_one_birth_date_are_two_people(model):
    # born on one day, each with serial 0001 of their own district; one NIK's year digit does not
    # match its record (87 for 1988), so the "each its record's own" levels do not hold
    left = dtsen_row("1", "AMINA", "1377034405870001", "04-05-1988", "P", kode_desa="1377032001")
    pair = score(model, left, dtsen_row("2", "AMINA", "3271044405880001", "04-05-1988", "P", kode_desa="3271042001"))
    assert pair["nik"] == "NIK different, two districts, one birth date"
    assert pair["mw_nik"] < -5
    # a second NIK from the same office, another date in its digits, stays "NIK different"
    second = score(model, dtsen_row("1", "TRI RAHAYU", "3375020306950001", "20-11-1998", "P"),
                   dtsen_row("2", "TRI RAHAYU", "3375026011980001", "20-11-1998", "P"))
    assert second["nik"] == "NIK different"
    assert second["mw_nik"] > pair["mw_nik"] + 5


def test_a_nik_one_digit_off_under_an_unrelated_name_is_no_typo(model):
    # INTAN SAFITRI and EUIS, born on one day, NIKs one digit apart in the region digits: two
    # people each given serial 0001, not one NIK mistyped
    left = dtsen_row("1", "INTAN SAFITRI", "3212014802210001", "08-02-2021", "P")
    related = score(model, left, dtsen_row("2", "INTAN SAFITRI", "3212024802210001", "08-02-2021", "P"))
    assert related["nik"] == "NIK one typo in the region digits"
    unrelated = score(model, left, dtsen_row("2", "EUIS", "3212024802210001", "08-02-2021", "P"))
    assert unrelated["nik"] not in {"NIK one typo in the region digits", "NIK one typo in the birth-date digits"}
    assert unrelated["mw_nik"] <= 0
    assert unrelated["match_probability"] < 0.5


def test_namesakes_born_on_one_day_on_two_family_cards_stay_apart(model):
    # one common name, 1 July (a default date), one district: the office gave serials 0001 and 0002
    pair = score(model, dtsen_row("1", "SUMARNI", "3201014107640001", "01-07-1964", "P", "3201010202050001"),
                 dtsen_row("2", "SUMARNI", "3201014107640002", "01-07-1964", "P", "3201011709110003"))
    assert pair["family_card"] == "different cards, neighbouring NIK serials (namesakes)"
    assert pair["match_probability"] < 0.001
    # the same two NIKs on one card are no conflict of this kind (twins have different names)
    same_card = score(model, dtsen_row("1", "SUMARNI", "3201014107640001", "01-07-1964", "P", "3201010202050001"),
                      dtsen_row("2", "SUMARNI", "3201014107640002", "01-07-1964", "P", "3201010202050001"))
    assert same_card["family_card"] != "different cards, neighbouring NIK serials (namesakes)"


def test_twins_on_one_family_card_stay_apart(model):
    pair = score(model, dtsen_row("1", "FAYAR RAMADAN", "3201011411050001", "14-11-2005", "L", "3201010101100001"),
                 dtsen_row("2", "FAYRI RAMADAN", "3201011411050002", "14-11-2005", "L", "3201010101100001"))
    assert pair["family_card"] in {"one card, neighbouring NIK serials (twins)", "one card, different names"}
    assert pair["match_probability"] < 0.01


def test_a_relatives_nik_with_the_same_name_on_one_card_is_no_conflict(model):
    # the names agree: one person whose record carries another NIK, not two family members
    kk = "3201010101100001"
    pair = score(model, dtsen_row("1", "DIMAS PRASETYO", "3201012012140001", "20-12-2014", "L", kk),
                 dtsen_row("2", "DIMAS PRASETYO", "3212162012140001", "20-12-2014", "L", kk))
    assert pair["family_card"] == "null"


def test_a_repeat_worker_is_found_by_her_phone_number(model):
    # the second placement lost the NIK and misspelt the name; the number is written another way
    first = placement_row("20210001", "SITI SULISTYOWATI", "3201015509950001", "15-09-1995", "0812-3456-789")
    again = placement_row("20250002", "SITI SLUISTYOWATI", None, "15-09-1995", "+62 812 3456 789")
    pair = score(model, first, again)
    assert pair["phone"] == "same phone"
    assert pair["mw_phone"] > 5
    assert pair["match_probability"] > 0.99


def test_a_new_phone_number_says_little(model):
    first = placement_row("20210001", "SITI SULISTYOWATI", "3201015509950001", "15-09-1995", "0812-3456-789")
    again = placement_row("20250002", "SITI SULISTYOWATI", "3201015509950001", "15-09-1995", "0857-1111-2222")
    pair = score(model, first, again)
    assert pair["phone"] == "phones differ"
    assert -3 < pair["mw_phone"] < 0
    assert pair["match_probability"] > 0.99


def test_a_nik_issued_on_a_default_date_is_not_a_second_person(model):
    # one record has the real date and its NIK; the other the default date its NIK was issued on
    pair = score(model, dtsen_row("1", "TRI RAHAYU", "3201016901860001", "29-01-1986", "P"),
                 dtsen_row("2", "TRI RAHAYU", "3201014107860001", "01-07-1986", "P"))
    assert pair["nik"] == "NIK different, each its record's own"
    assert pair["mw_nik"] > -10


@pytest.mark.parametrize(
    ("left", "right", "level"),
    [
        # born on one day, one without a NIK: only the card, the sex and the name tell them apart
        (("PUTRA RAMADHAN", None, "03-10-2020", "L"), ("PUTRI RAMADHANI", "3201014310200001", "03-10-2020", "P"),
         "one card, sex and name differ"),
        # twins; one NIK was issued in the district the family lived in before: region digits differ
        (("DIMAS PRASETYO", "3201012012140001", "20-12-2014", "L"), ("DIMAS PRASETYA", "3212162012140001", "20-12-2014", "L"),
         "one card, names and NIKs differ"),
    ],
)
def test_two_family_members_on_one_card_stay_apart(model, left, right, level):
    kk = "3201010101100001"
    pair = score(model, dtsen_row("1", *left, kk), dtsen_row("2", *right, kk))
    assert pair["family_card"] == level
    assert pair["match_probability"] < 0.01


def test_father_and_son_with_one_name_and_one_nik_stay_apart(model):
    # the son's record carries his father's NIK; they share the card and the name
    kk = "3201010101100001"
    pair = score(model, dtsen_row("1", "BUDI SANTOSO", "3201011203650001", "12-03-1965", "L", kk),
                 dtsen_row("2", "BUDI SANTOSO", "3201011203650001", "02-09-1992", "L", kk))
    assert pair["nik"] == "NIK equal, birth years a generation apart"
    assert pair["birth_date"] == "years more than 5 apart"
    assert pair["match_probability"] < 0.01


def test_two_balinese_birth_orders_are_two_people(model):
    # I WAYAN (first child) and I MADE (second), born on one day in one village: twins, however
    # alike the rest; a record without a birth-order name is no conflict, nor one order twice
    wayan, made = ("I WAYAN ADI", None, "21-11-2004", "L"), ("I MADE ADI", None, "21-11-2004", "L")
    twins = score(model, dtsen_row("1", *wayan), dtsen_row("2", *made))
    assert twins["name"] == "Balinese birth orders differ"
    assert twins["match_probability"] < 0.001
    for other in ("I PUTU ADI", "ADI"):  # Putu is a first child too; no order given
        pair = score(model, dtsen_row("1", *wayan), dtsen_row("2", other, None, "21-11-2004", "L"))
        assert pair["name"] != "Balinese birth orders differ"
    ketut = score(model, dtsen_row("1", "NI KETUT SARI", None, "03-02-1990", "P"),
                  dtsen_row("2", "NI NYOMAN SARI", None, "03-02-1990", "P"))
    assert ketut["name"] == "Balinese birth orders differ"


def test_a_case_on_a_passport_no_placement_carries_is_not_a_placed_worker(model):
    # staging flags a case whose passport is on no placement (the person_records step, across
    # sources); against a placement that is two people, against DTSEN it says nothing
    case = case_row("K1", "SITI AMINAH", umur="35", jenis_kelamin="P")
    placement = placement_row("P1", "SITI AMINAH", None, "05-08-1990", None)
    model_json, tf_tables = model
    records = staged([case, placement]).with_columns(
        passport_on_no_placement=pl.Series([True, False]), passport=pl.Series(["X7654321", "C1234567"]))
    linker, registered = scoring_linker({"person_records": records}, model_json, tf_tables)
    db_api = registered["person_records"].db_api
    one = [db_api.register(records.slice(i, 1), dataset_display_name=f"record_{i}") for i in (0, 1)]
    row = pl.from_arrow(linker.inference.score_pair(*one).as_pyarrow_table()).row(0, named=True)
    assert row["mw_passport"] < -10
    assert row["match_probability"] < 0.001
    unflagged = records.with_columns(passport_on_no_placement=pl.Series([False, False]))
    linker, registered = scoring_linker({"person_records": unflagged}, model_json, tf_tables)
    one = [registered["person_records"].db_api.register(unflagged.slice(i, 1), dataset_display_name=f"u_{i}")
           for i in (0, 1)]
    row = pl.from_arrow(linker.inference.score_pair(*one).as_pyarrow_table()).row(0, named=True)
    assert -1 < row["mw_passport"] < 0  # passports differ: a renewed passport says little


def test_muhammad_family_and_old_spelling_give_one_name_key(model):
    pair = score(model, dtsen_row("1", "MUHAMMAD RIZKI", None, "17-01-1988", "L"),
                 dtsen_row("2", "MOCH. RIZKY", None, "17-01-1988", "L"))
    assert pair["name"] == "name key equal"


def test_initial_for_a_word(model):
    pair = score(model, dtsen_row("1", "SRI WAHYUNI", None, "17-01-1988", "P"),
                 dtsen_row("2", "SRI W.", None, "17-01-1988", "P"))
    assert pair["name"] == "one word equal, the other an initial or close"


def test_a_name_lengthened_by_a_passport(model):
    pair = score(model, dtsen_row("1", "SUMIATI", None, "17-01-1988", "P"),
                 dtsen_row("2", "SUMIATI BINTI KARTA WIJAYA", None, "17-01-1988", "P"))
    assert pair["name"] in {"one name's words all in the other", "name key equal"}
    assert pair["mw_name"] > 0


@pytest.mark.parametrize(
    ("left", "right", "comparison", "level"),
    [
        # a short name with one letter dropped (Jaro-Winkler 0.83)
        (("SALAMA", "08-10-1991"), ("SLAMA", "08-10-1991"), "name", "name one typo"),
        (("SITI AMINAH", "05-08-1990"), ("SITI AMINAH", "08-05-1990"), "birth_date", "day and month swapped"),
        # 1989 against 1990 differs in two digits, so "one digit different" does not hold
        (("SITI AMINAH", "18-11-1989"), ("SITI AMINAH", "18-11-1990"), "birth_date", "day and month equal, year one apart"),
    ],
)
def test_a_slip_in_one_field_is_evidence_for_one_person(model, left, right, comparison, level):
    pair = score(model, dtsen_row("1", left[0], None, left[1], "P"), dtsen_row("2", right[0], None, right[1], "P"))
    assert pair[comparison] == level
    assert pair[f"mw_{comparison}"] > 0


def test_a_default_date_counts_on_the_year(model):
    pair = score(model, dtsen_row("1", "SITI AMINAH", None, "01-07-1990", "P"),
                 dtsen_row("2", "SITI AMINAH", None, "23-03-1990", "P"))
    assert pair["birth_date"] == "same year, one date a default"


def level_weight(model, comparison: str, label: str) -> float:
    """The match weight of one level of the trained model (log2 of m over u)."""
    model_json, _ = model
    levels = next(c for c in model_json["comparisons"] if c["output_column_name"] == comparison)
    level = next(lvl for lvl in levels["comparison_levels"] if lvl["label_for_charts"] == label)
    return math.log2(level["m_probability"] / level["u_probability"])


def test_a_case_with_an_age_and_a_regency_against_its_dtsen_record(model):
    # The case gives the regency in free text and an age at the complaint (2026 - 30 = 1996); the
    # DTSEN record has a village in that regency (Kab. Bogor, 3201) and a full date.
    dtsen = dtsen_row("1", "WAGIMAN", None, "09-01-1996", "L", kode_desa="3201012001")
    pair = score(model, dtsen, case_row("K1", "WAGIMAN", umur="30", daerah_asal="Kab. Bogor, Jawa Barat"))
    assert pair["place"] == "same regency, a district unknown"
    assert pair["birth_date"] == "same year, one record age only"
    # A record without a district is not a pair whose districts differ.
    assert pair["mw_place"] > level_weight(model, "place", "same regency")
    assert pair["mw_birth_date"] > 0
    # An age a year off on top of the birthday: still closer than "years within 5".
    older = score(model, dtsen, case_row("K2", "WAGIMAN", umur="28", daerah_asal="Kab. Bogor, Jawa Barat"))
    assert older["birth_date"] == "year within 2 (age only)"
    assert older["mw_birth_date"] > level_weight(model, "birth_date", "years within 5")


def test_a_case_that_names_its_village_is_compared_on_the_village(model):
    # The same case with its address written out (Pondok Rajeg is 32.01.01.1001, in Cibinong, Kab.
    # Bogor): one village against its DTSEN row, two districts against a namesake of the regency.
    address = "Desa Pondok Rajeg, Kec. Cibinong, Kab. Bogor"
    case = case_row("K1", "WAGIMAN", umur="30", daerah_asal=address)
    home = score(model, dtsen_row("1", "WAGIMAN", None, "09-01-1996", "L", kode_desa="3201011001"), case)
    namesake = score(model, dtsen_row("2", "WAGIMAN", None, "09-01-1996", "L", kode_desa="3201022001"), case)
    assert home["place"] == "same village" and namesake["place"] == "same regency"
    regency_only = score(model, dtsen_row("1", "WAGIMAN", None, "09-01-1996", "L", kode_desa="3201011001"),
                         case_row("K1", "WAGIMAN", umur="30", daerah_asal="Kab. Bogor, Jawa Barat"))
    assert home["mw_place"] > regency_only["mw_place"] + 3 > namesake["mw_place"] + 3
    assert home["match_probability"] > regency_only["match_probability"] > namesake["match_probability"]


def test_a_case_without_an_origin_still_compares_the_birth_place(model):
    dtsen = dtsen_row("1", "WAGIMAN", None, "09-01-1996", "L", kode_desa="3201012001")
    dtsen["tempat_lahir"] = "BOGOR"
    pair = score(model, dtsen, case_row("K1", "WAGIMAN", umur="30", tempat_lahir="Kab. Bogor"))
    assert pair["place"] == "an origin unknown, same birth regency"
    assert pair["mw_place"] > 0


def test_one_household_is_the_closest_origin(model):
    # a student's record carries the family's card but no address
    kk = "3212082706200001"
    pair = score(model, dtsen_row("1", "AISYAH", None, "05-08-2014", "P", kk, kode_desa="3212082001"),
                 dtsen_row("2", "AISYAH", None, "05-08-2014", "P", kk, kode_desa=None))
    assert pair["place"] == "same household (family card)"
    assert pair["mw_place"] > 5 and pair["match_probability"] > 0.99


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # one NIK, the year mistyped on one record, a letter dropped from the first name
        (("NYLA AMELIA", "3301185507090001", "15-07-2008"), ("NAYLA AMELIA", "3301185507090001", "15-07-2009")),
        # one NIK and date, a joined prefix and the last name cut to its initial
        (("NURMARYAM SUPRIHATIN", "6271054812190001", "08-12-2019"), ("NUR MARYAM S", "6271054812190001", "08-12-2019")),
        # two NIKs (one carries another region), one name with the space moved
        (("IKBAL NURDIN", "7612030406070001", "04-06-2007"), ("IKBA LNURDIN", "7412030406075001", "04-06-2007")),
    ],
)
def test_one_person_entered_twice_on_one_card_is_no_conflict(model, left, right):
    kk = "3301181904130001"
    pair = score(model, dtsen_row("1", *left, "P", kk), dtsen_row("2", *right, "P", kk))
    assert pair["family_card"] == "null"


def test_twins_sharing_one_nik_on_one_card_stay_apart(model):
    # one NIK typed on both twins' rows; the names are two people's
    kk = "5310031904110001"
    pair = score(model, dtsen_row("1", "MIKAIL TUAN", "5310032206910001", "22-06-1991", "L", kk),
                 dtsen_row("2", "YOSEF TUAN", "5310032206910001", "22-06-1991", "L", kk))
    assert pair["family_card"] == "one card, different names"
    assert pair["match_probability"] < 0.01


def test_one_card_different_names_is_a_cannot_link(model):
    kk = "3201010101100001"
    pair = score(model, dtsen_row("1", "SITI AMINAH", None, "05-08-1990", "P", kk),
                 dtsen_row("2", "DEWI LESTARI", None, "05-08-1990", "P", kk))
    assert pair["family_card"] == "one card, different names"
    assert pair["match_probability"] < 0.01


def test_common_names_weigh_less_than_rare_ones(model):
    # the most frequent full name of the generated DTSEN against one it never saw
    _, tf_tables = model
    common_name = tf_tables["name_key"].sort("tf_name_key", descending=True)["name_key"][0]
    common = score(model, dtsen_row("1", common_name, None, "05-08-1990", "L"),
                   dtsen_row("2", common_name, None, "05-08-1990", "L"))
    rare = score(model, dtsen_row("1", "ZULFIKRAN ATMAJAYA", None, "05-08-1990", "L"),
                 dtsen_row("2", "ZULFIKRAN ATMAJAYA", None, "05-08-1990", "L"))
    assert common["name"] == rare["name"] == "name key equal"
    assert rare["match_weight"] > common["match_weight"] + 3


def test_comparison_viewer_shows_tokens_never_values(generated, tmp_path):
    records, model_json, tf_tables = generated
    pairs = score_all(records, model_json, tf_tables, 0.5)
    out = tmp_path / "viewer.html"
    shown = comparison_viewer(records, pairs, model_json, tf_tables, b"test-key", out, max_pairs=500)
    html = out.read_text()
    assert 0 < shown <= 500 and "comparison" in html.lower()
    # every NIK, every multi-word name and every birth date of the records is absent in clear
    niks = records["nik"].drop_nulls().unique().to_list()
    names = records.filter(pl.col("name_key").str.contains(" "))["name_key"].unique().to_list()
    dates = records["birth_date"].drop_nulls().cast(pl.String).unique().to_list()
    phones = records["phone"].drop_nulls().unique().to_list()
    villages = records["village_code"].drop_nulls().unique().to_list()  # an address, since stop 30
    assert len(niks) > 1000 and len(names) > 1000 and len(phones) > 100 and len(villages) > 100
    assert not [v for v in niks + names + phones + villages if v in html]
    assert not [d for d in dates if f'"{d}"' in html]  # as a JSON value: vega's code holds dates
    # ... and the NIKs of the pairs it shows are there as keyed tokens
    sample_nik = records.filter(pl.col("record_key") == pairs.sort("match_probability")["record_key_l"][-1])["nik"][0]
    tokens = [token(b"test-key", "viewer:nik", nik)[:6] for nik in niks]
    assert sum(t in html for t in tokens) > 10
    assert sample_nik is None or sample_nik not in html


def test_a_father_and_son_joined_through_a_third_record_are_a_conflict(model):
    # connected components put the three in one cluster; asked directly, the model says the
    # father and the son (one NIK, one card, 27 years apart) are two people
    model_json, tf_tables = model
    kk = "3201010101100001"
    records = staged([
        dtsen_row("father", "BUDI SANTOSO", "3201011203650001", "12-03-1965", "L", kk),
        dtsen_row("son", "BUDI SANTOSO", "3201011203650001", "02-09-1992", "L", kk),
        dtsen_row("other", "BUDI SANTOSO", None, "12-03-1965", "L"),
        dtsen_row("x1", "SITI AMINAH", None, "05-08-1990", "P"),
        dtsen_row("x2", "SITI AMINAH", None, "05-08-1990", "P"),
    ])
    clusters = pl.DataFrame({
        "record_key": records["record_key"],
        "cluster_id": ["c1", "c1", "c1", "c2", "c2"],  # c2 has two records: never scored again
    })
    conflicts = within_cluster_conflicts(records, clusters, model_json, tf_tables, 0.001)
    pairs = set(conflicts.select("record_key_l", "record_key_r").iter_rows())
    assert ("dtsen_individu:father", "dtsen_individu:son") in pairs
    assert ("dtsen_individu:father", "dtsen_individu:other") not in pairs
    assert conflicts["match_probability"].max() < 0.001


def test_every_comparison_gives_a_pair_one_level_whichever_record_is_left(generated):
    # An incremental night scores a new record against old ones with predict_between, whose sides
    # need not be a full rebuild's: a level that reads one side only (`NOT default_l`) gave one
    # pair two scores at 1M persons. Every level of every comparison, on both orders of the
    # generated candidate pairs.
    records, model_json, tf_tables = generated
    pairs = score_all(records, model_json, tf_tables, 0.01).select("record_key_l", "record_key_r")
    con = duckdb.connect()
    con.register("records", records.to_arrow())
    con.register("pairs", pairs.to_arrow())
    columns = [c for c in LINKAGE_COLUMNS if c != "record_key"]
    def side(alias: str, suffix: str) -> str:
        return ", ".join(f"{alias}.{c} AS {c}_{suffix}" for c in columns)
    for first, second in (("a", "b"), ("b", "a")):
        con.execute(
            f"CREATE TABLE pairs_{first} AS SELECT p.record_key_l, p.record_key_r, {side(first, 'l')}, {side(second, 'r')} "
            "FROM pairs p JOIN records a ON a.record_key = p.record_key_l JOIN records b ON b.record_key = p.record_key_r"
        )
    assert con.sql("SELECT count(*) FROM pairs_a").fetchall()[0][0] > 500
    for comparison in model_json["comparisons"]:
        cases = " ".join(
            f"WHEN {level['sql_condition']} THEN {i}" for i, level in enumerate(comparison["comparison_levels"])
            if level["sql_condition"] != "ELSE"
        )
        level = f"CASE {cases} ELSE -2 END"
        differ = con.sql(
            f"SELECT count(*) FROM (SELECT record_key_l, record_key_r, {level} AS g FROM pairs_a) x "
            f"JOIN (SELECT record_key_l, record_key_r, {level} AS g FROM pairs_b) y USING (record_key_l, record_key_r) "
            "WHERE x.g <> y.g"
        ).fetchall()[0][0]
        assert differ == 0, comparison["output_column_name"]


@pytest.mark.parametrize("comparison, level, column", [
    ("nik", "NIK equal", "nik"), ("passport", "same passport", "passport"), ("phone", "same phone", "phone"),
])
def test_an_identifier_s_equal_level_has_u_from_its_value_frequencies(generated, comparison, level, column):
    records, model_json, _ = generated
    saved = next(lvl for c in model_json["comparisons"] if c["output_column_name"] == comparison
                 for lvl in c["comparison_levels"] if lvl.get("label_for_charts") == level)
    values = records[column].drop_nulls()
    repeats = values.value_counts()["count"]
    expected = float((repeats * (repeats - 1)).sum()) / (values.len() * (values.len() - 1))
    assert saved["fix_u_probability"] is True
    assert saved["u_probability"] == pytest.approx(expected, rel=1e-9)
    assert "u_from_value_frequencies" not in saved


def test_a_nik_under_an_unrelated_name_says_nothing(model):
    # A placement typed with the NIK of another man of that village, born a day apart: far more
    # often two people than one person under two names (8,200 of 8,402 such pairs at 1M persons).
    pair = score(model, dtsen_row("1", "RIZKI SAPUTRA", "3201010702780001", "07-02-1978", "L"),
                 placement_row("20180017846", "AGUS SANTOSO", "3201010702780001", "1978-02-08", None,
                               jenis_kelamin="L"))
    assert pair["nik"] == "NIK equal, names unrelated"
    assert pair["mw_nik"] == pytest.approx(0.0, abs=1e-9)
    assert pair["match_probability"] < 0.5


def test_a_nik_under_a_related_name_is_strong_evidence(model):
    # The same NIK, the name one letter short and the date one digit off: one person.
    pair = score(model, dtsen_row("1", "SITI AMINAH", "3201014508900011", "05-08-1990", "P"),
                 placement_row("20180017847", "SITI AMINA", "3201014508900011", "1990-08-15", None))
    assert pair["nik"] == "NIK equal"
    assert pair["mw_nik"] > 0
    assert pair["match_probability"] > 0.99


def test_two_thin_records_are_no_conflict_without_a_comparison_against_them(model):
    # Two case records that give a name and a sex only score low on the prior alone (below 0.001
    # at 200,000 persons; this 3,000-person model's prior is larger, hence the bound of 0.05). With
    # the rules' evidence weight that is no reason to keep them apart. A father and son are still
    # a conflict: their birth dates weigh against them.
    model_json, tf_tables = model
    kk = "3201010101100001"
    common_name = tf_tables["name_key"].sort("tf_name_key", descending=True)["name_key"][0]
    records = staged([
        case_row("K1", common_name),
        case_row("K2", common_name),
        placement_row("P1", common_name, "3201011208880001", "12-08-1988", "81234567890", jenis_kelamin="L"),
        dtsen_row("father", "BUDI SANTOSO", "3201011203650001", "12-03-1965", "L", kk),
        dtsen_row("son", "BUDI SANTOSO", "3201011203650001", "02-09-1992", "L", kk),
        dtsen_row("other", "BUDI SANTOSO", None, "12-03-1965", "L"),
    ])
    clusters = pl.DataFrame({"record_key": records["record_key"], "cluster_id": ["c1"] * 3 + ["c2"] * 3})
    thin = ("p2mi_kasus:K1", "p2mi_kasus:K2")
    by_probability = within_cluster_conflicts(records, clusters, model_json, tf_tables, 0.05)
    assert thin in set(by_probability.select("record_key_l", "record_key_r").iter_rows())
    weight = load_rules().cannot_link_evidence_weight
    assert weight is not None and weight < 0
    with_evidence = within_cluster_conflicts(records, clusters, model_json, tf_tables, 0.05, weight)
    pairs = set(with_evidence.select("record_key_l", "record_key_r").iter_rows())
    assert thin not in pairs
    assert ("dtsen_individu:father", "dtsen_individu:son") in pairs


SLIP_OR_JOINED = "one name's words in the other, with a slip or joined"


@pytest.mark.parametrize(
    ("left", "right", "inside"),
    [
        # a slip in the short name (AMIA for AMINA) and a passport's longer name
        ("AMIA", "AMINA MUHAMAD SALE", True),
        # a compound written joined, its low-information first part left off by the other record
        ("RAMADAN", "ABDULRAMADAN", True),
        ("HAYATI", "NURHAYATI", True),
        # two four-letter names one letter apart are two names
        ("ELIS", "EUIS KARTIKA", False),
        # WAHYUNI and WAHYUNINGSIH: one name the start of the other is not containment
        ("SRIWAHYUNI", "SRI WAHYUNINGSI", False),
        # a joined name whose first part is not a low-information one (SUPRI YANTI is not YANTI)
        ("YANTI", "SUPRIYANTI", False),
    ],
)
def test_a_name_with_a_slip_or_a_joined_compound_is_in_the_other(model, left, right, inside):
    pair = score(model, dtsen_row("1", left, None, "17-01-1988", "P"), dtsen_row("2", right, None, "17-01-1988", "P"))
    assert (pair["name"] == SLIP_OR_JOINED) == inside
    if inside:
        assert pair["mw_name"] > 0


def test_a_case_with_a_slip_in_the_name_is_no_conflict_with_a_lengthened_name(model):
    # At 50,000 heavy persons a case (AMIA, a passport, no NIK) named its placement (AMINA, that
    # passport); the worker's next placement carried AMINA MUHAMAD SALE with the same NIK and
    # phone. Read as "names differ", the case and that placement were a conflict, and the second
    # placement was cut from its person.
    model_json, tf_tables = model
    case = case_row("K1", "AMIA", daerah_asal="3201", jenis_kelamin="P") | {"no_paspor": "C4535134"}
    named = placement_row("P1", "AMINA", "3201014107930001", "01-07-1993", "89658118256") | {"no_paspor": "C4535134"}
    later = placement_row("P2", "AMINA MUHAMAD SALE", "3201014107930001", "01-07-1993", "89658118256")
    assert score(model, case, later)["name"] == SLIP_OR_JOINED
    records = staged([case, named, later])
    clusters = one_cluster(records)
    rules = load_rules()
    conflicts = within_cluster_conflicts(records, clusters, model_json, tf_tables, rules.cannot_link_below,
                                         rules.cannot_link_evidence_weight)
    assert conflicts.is_empty()



def haerudin_namesakes() -> pl.DataFrame:
    """Two HAERUDINs born on one day in neighbouring districts, each NIK naming its own record's
    district, and a case giving the name and the regency, which scores well with both."""
    return staged([
        dtsen_row("1", "HAERUDIN", "3201012706890001", "27-06-1989", "L", kode_desa="3201012001"),
        placement_row("P1", "HAERUDIN", "3201022706890001", "27-06-1989", "81234567890",
                      jenis_kelamin="L", kode_desa_asal="3201022001"),
        case_row("K1", "HAERUDIN", daerah_asal="3201"),
    ])


def test_namesakes_each_with_their_own_nik_joined_through_a_case_are_a_conflict(model):
    # Born on one day in two neighbouring districts, each NIK naming its own record's district; a
    # case giving the name and the regency scores well with both and joins them. Scored directly
    # they are above the probability rule's 0.001, but two NIKs each its own say two people.
    model_json, tf_tables = model
    records = haerudin_namesakes()
    clusters = one_cluster(records)
    rules = load_rules()
    assert rules.cannot_link_conditions
    by_probability = within_cluster_conflicts(records, clusters, model_json, tf_tables, rules.cannot_link_below,
                                              rules.cannot_link_evidence_weight)
    assert by_probability.is_empty()
    conflicts = within_cluster_conflicts(records, clusters, model_json, tf_tables, rules.cannot_link_below,
                                         rules.cannot_link_evidence_weight, rules.cannot_link_conditions)
    assert conflicts.select("record_key_l", "record_key_r").rows() == [("dtsen_individu:1", "p2mi_penempatan:P1")]
    assert 0.001 <= conflicts["match_probability"][0] < 0.5


@pytest.mark.parametrize(
    ("left", "right"),
    [
        # Both records carry the default date 1 July 1983, so each NIK matches its own record on
        # the year only; the NIKs differ in one day digit (41 and 47): a typist's slip as likely
        # as a second person.
        (dtsen_row("1", "NURUL ZAINAB", "3201014107830001", "01-07-1983", "P"),
         dtsen_row("2", "ZAINAB", "3201014707830001", "01-07-1983", "P")),
        # One NIK's sex digit disagrees with its own record (4706, a woman's day, on a man's
        # record): the first day digit mistyped (at 50,000 heavy, one worker's DTSEN row and his
        # placements, cut apart before this exception).
        (dtsen_row("1", "DEN", "3201010706900001", "07-06-1990", "L"),
         dtsen_row("2", "DEDEN", "3201014706900001", "07-06-1990", "L")),
    ],
)
def test_two_niks_one_typo_apart_that_may_be_a_slip_are_no_conflict_by_the_nik_alone(model, left, right):
    # The NIK condition leaves such a pair to the probability rule.
    model_json, tf_tables = model
    pair = score(model, left, right)
    assert pair["mw_nik"] <= -5
    assert 0.001 <= pair["match_probability"] < 0.5
    records = staged([left, right, case_row("K1", right["nama"], daerah_asal="3201", jenis_kelamin=right["jenis_kelamin"])])
    clusters = one_cluster(records)
    conditions_only = within_cluster_conflicts(records, clusters, model_json, tf_tables, 0.0, None,
                                               load_rules().cannot_link_conditions)
    assert conditions_only.is_empty()


def sr_row(record_id: str, nama: str, nik: str | None, tanggal_lahir: str, jenis_kelamin: str,
           no_kk: str | None = None, tempat_lahir: str | None = None) -> dict:
    """A Sekolah Rakyat enrolment as delivered: no address, often no NIK."""
    row = dict.fromkeys(CONTRACTS["sr_siswa"].required + CONTRACTS["sr_siswa"].optional)
    row.update(id_siswa=record_id, nama_siswa=nama, nik=nik, jenis_kelamin=jenis_kelamin, tanggal_lahir=tanggal_lahir,
               nama_sekolah="SR 1", jenjang="SMP", status_siswa="AKTIF", no_kk=no_kk, tempat_lahir=tempat_lahir)
    return {"_source": "sr_siswa", **row}


DEFAULT_DATE_IN_VILLAGE = ("left(l.name_key_nospace, 1) = left(r.name_key_nospace, 1) AND l.village_code = r.village_code "
                           "AND l.birth_year = r.birth_year AND {side}.birth_date_is_default AND l.source <> r.source")


def blocked_pairs(model, rows: list[dict], leave_out: str | None = None) -> set[tuple[str, str]]:
    """The pairs of `rows` that the model's blocking rules (less `leave_out`) let through."""
    model_json, tf_tables = model
    rules = [r for r in model_json["blocking_rules_to_generate_predictions"] if r["blocking_rule"] != leave_out]
    assert leave_out is None or len(rules) == len(model_json["blocking_rules_to_generate_predictions"]) - 1
    pairs = score_all(staged(rows), {**model_json, "blocking_rules_to_generate_predictions": rules}, tf_tables, 0.0)
    return {tuple(sorted(pair)) for pair in pairs.select("record_key_l", "record_key_r").iter_rows()}


@pytest.mark.parametrize(
    ("rows", "rule"),
    [
        # a student on her DTSEN family's card, the name typed differently, no NIK, no address
        ([dtsen_row("1", "EUIS", "3201014101090001", "01-01-2009", "P", no_kk="3201010202100001"),
          sr_row("S1", "EIS", None, "01-01-2009", "P", no_kk="3201010202100001")],
         "l.kk = r.kk AND l.birth_year = r.birth_year"),
        # a placement without its origin village or a NIK, the name mistyped: the birth date and
        # the place of birth against a DTSEN row without a village code
        ([dtsen_row("1", "IKBAL", "3205012407000001", "24-07-2000", "L", kode_desa=None) | {"tempat_lahir": "GARUT"},
          placement_row("P1", "IKABL", None, "24-07-2000", "88890654222", jenis_kelamin="L", kode_desa_asal=None)
          | {"tempat_lahir": "GARUT"}],
         "l.block_date_birth_regency = r.block_date_birth_regency"),
        # a case that gives an age (born 1997 by it, 1996 in DTSEN) and a name cut short: the first
        # name word, the regency, the years in one two-year bin (the case is the right-hand record:
        # its key sorts after the DTSEN row's)
        ([dtsen_row("1", "RETNO SUPRIHATIN", None, "18-09-1996", "P"),
          case_row("K1", "RETNO S", umur="29", daerah_asal="KAB. BOGOR", jenis_kelamin="P")],
         "l.name_first_key = r.name_first_key AND l.regency_code = r.regency_code AND l.birth_year // 2 = "
         "r.birth_year // 2 AND r.birth_date IS NULL"),
        # the same with the first word mistyped and the years in the offset bin (1987 and 1988)
        ([dtsen_row("1", "ENCEP SUHENDAR", None, "23-01-1987", "L"),
          case_row("K1", "ENCP SUHENDAR", umur="38", daerah_asal="KAB. BOGOR", jenis_kelamin="L")],
         "l.name_last_key = r.name_last_key AND l.regency_code = r.regency_code AND (l.birth_year + 1) // 2 = "
         "(r.birth_year + 1) // 2 AND r.birth_date IS NULL"),
        # a case whose address names its village, no date, no age, the name mistyped (CWCEP): the
        # name's first letter within the village (Pondok Rajeg, Cibinong, Kab. Bogor: 32.01.01.1001)
        ([dtsen_row("1", "CECEP", None, "28-06-1998", "L", kode_desa="3201011001"),
          case_row("K1", "CWCEP", daerah_asal="Desa Pondok Rajeg, Kec. Cibinong, Kab. Bogor", jenis_kelamin="L")],
         "left(l.name_key_nospace, 1) = left(r.name_key_nospace, 1) AND l.village_code = r.village_code AND "
         "r.birth_date IS NULL"),
        # the same with the first letter mistyped (IRZKI): the last name word within the village
        ([dtsen_row("1", "RIZKI HIDAYATULA", None, "27-07-1991", "L", kode_desa="3201011001"),
          case_row("K1", "IRZKI HIDAYATULA", daerah_asal="Desa Pondok Rajeg, Kec. Cibinong, Kab. Bogor",
                   jenis_kelamin="L")],
         "l.name_last_key = r.name_last_key AND l.village_code = r.village_code AND r.birth_date IS NULL"),
        # a placement entered on a default date (1 July: the year known, not the day) under a
        # mistyped name (HTIYA), against her DTSEN row of that village with the real date; no NIK
        # on either: the name's first letter, the year and the village
        ([dtsen_row("1", "HOTIYA", None, "30-09-1994", "P"),
          placement_row("P1", "HTIYA", None, "01-07-1994", None)],
         DEFAULT_DATE_IN_VILLAGE.format(side="r")),
        # the same with the default date on the DTSEN row (SUMIATI "1978-07-01", SUMAITI 1978-10-30)
        ([dtsen_row("1", "SUMIATI", None, "01-07-1978", "P"),
          placement_row("P1", "SUMAITI", None, "30-10-1978", None)],
         DEFAULT_DATE_IN_VILLAGE.format(side="l")),
        # a DTSEN row and a placement of one village born on one day a year apart, the name's
        # first letters swapped (USGIANTO 1975-01-11, SUGIANTO 1974-01-11): the birthday within
        # the village
        ([dtsen_row("1", "USGIANTO", None, "11-01-1975", "L"),
          placement_row("P1", "SUGIANTO", None, "11-01-1974", None, jenis_kelamin="L")],
         "l.village_code = r.village_code AND month(l.birth_date) = month(r.birth_date) AND day(l.birth_date) = "
         "day(r.birth_date) AND l.birth_year // 2 = r.birth_year // 2 AND NOT l.birth_date_is_default AND NOT "
         "r.birth_date_is_default AND l.source <> r.source"),
    ],
)
def test_records_without_a_region_a_nik_or_a_date_are_blocked_by_their_own_rule(model, rows, rule):
    records = staged(rows)
    pair = tuple(sorted(records["record_key"]))
    assert pair in blocked_pairs(model, rows)
    assert pair not in blocked_pairs(model, rows, leave_out=rule)


def test_two_rows_of_one_source_are_not_paired_by_a_default_date_in_their_village(model):
    # Two girls of one village born in 2018, one row on a default date, two cards: within DTSEN
    # the rule would pair neighbours' children; it pairs a row with another source's record only.
    dtsen = [dtsen_row("1", "FATIMA", None, "31-12-2018", "P", no_kk="3201010611130001"),
             dtsen_row("2", "FDTIMA", None, "20-09-2018", "P", no_kk="3201012802250001")]
    assert blocked_pairs(model, dtsen) == set()
    placement = placement_row("P1", "FDTIMA", None, "20-09-2018", None)
    assert blocked_pairs(model, [dtsen[0], placement]) == {("dtsen_individu:1", "p2mi_penempatan:P1")}


def test_a_case_filed_under_a_relatives_nik_keeps_the_workers_placements_together(model):
    # The case names its placement (a stated link) but carries another person's NIK and birth
    # date; the worker's second placement has the real NIK. Asked directly, the model says the
    # case and the second placement are two people: as a cannot-link that cut the worker's two
    # placements apart, since the case holds the one it names. A NIK that a stated link
    # contradicts says nothing here, so neither record of such a link gets a conflict.
    model_json, tf_tables = model
    worker_nik, relative_nik = "3201015803840001", "3201011310780001"
    case = case_row("K1", "SITI HOIRIYA WLANDARI", tanggal_lahir="13-10-1978", daerah_asal="KAB. BOGOR",
                    jenis_kelamin="P") | {"nik": relative_nik, "id_penempatan": "P1"}
    records = staged([
        case,
        placement_row("P1", "SITI HOIRIYA WULANDARI", worker_nik, "18-03-1984", "82253523722"),
        placement_row("P2", "SITI HOIRIYA WULANDARI", worker_nik, "18-03-1984", "82253523722"),
    ])
    stated = pl.DataFrame({"record_key_l": ["p2mi_kasus:K1"], "record_key_r": ["p2mi_penempatan:P1"]})
    exempt = nik_contradicted(stated, records.select("record_key", "nik"))
    assert exempt.to_list() == ["p2mi_kasus:K1", "p2mi_penempatan:P1"]
    clusters = one_cluster(records)
    rules = load_rules()
    args = (records, clusters, model_json, tf_tables, rules.cannot_link_below, rules.cannot_link_evidence_weight,
            rules.cannot_link_conditions)
    assert ("p2mi_kasus:K1", "p2mi_penempatan:P2") in set(
        within_cluster_conflicts(*args).select("record_key_l", "record_key_r").iter_rows())
    assert within_cluster_conflicts(*args, exempt).is_empty()


def test_a_case_naming_its_placement_gets_no_conflict_from_its_own_weak_values(model):
    # The case gives a name, a passport and another region than the worker's; it names his
    # placement, whose NIK his DTSEN row carries. Scored directly, the case and the DTSEN row are
    # two people: as a cannot-link that cut the DTSEN row off the worker, since the case holds the
    # placement it names. A case that names its placement is that worker, so it gets no conflict.
    model_json, tf_tables = model
    nik = "3201011909840001"
    case = case_row("K1", "SAIFUL", daerah_asal="KOTA BANJARMASIN", jenis_kelamin=None) | {
        "id_penempatan": "P1", "no_paspor": "C7166507"}
    records = staged([
        case,
        placement_row("P1", "SAIFUL", nik, "19-09-1984", "89735936652", jenis_kelamin="L") | {"no_paspor": "C7166507"},
        dtsen_row("1", "SAIFUL", nik, "19-09-1984", "L"),
    ])
    stated = pl.DataFrame({"record_key_l": ["p2mi_kasus:K1"], "record_key_r": ["p2mi_penempatan:P1"]})
    exempt = conflict_exempt_records(stated, stated, records.select("record_key", "nik"))
    assert exempt.to_list() == ["p2mi_kasus:K1"]  # the NIKs do not differ: only the case
    rules = load_rules()
    args = (records, one_cluster(records), model_json, tf_tables, rules.cannot_link_below,
            rules.cannot_link_evidence_weight, rules.cannot_link_conditions)
    assert ("dtsen_individu:1", "p2mi_kasus:K1") in set(
        within_cluster_conflicts(*args).select("record_key_l", "record_key_r").iter_rows())
    assert within_cluster_conflicts(*args, exempt).is_empty()


def test_only_links_between_two_different_valid_niks_contradict_a_nik():
    links = pl.DataFrame({"record_key_l": ["a", "c", "e", "g"], "record_key_r": ["b", "d", "f", "h"]})
    niks = pl.DataFrame({"record_key": ["a", "b", "c", "d", "e", "f", "g"],
                         "nik": ["1", "2", "3", "3", None, "4", "5"]})
    # a-b differ; c-d agree; e has no NIK; h is not among the records
    assert nik_contradicted(links, niks).to_list() == ["a", "b"]


def test_one_village_weighs_more_than_one_district_and_a_move_within_it_is_no_conflict(model):
    # SITI HALIMA's DTSEN row (no NIK) against her placement, origin in her own village 3201012001
    # or in another village of district 320101; the placement against a namesake elsewhere
    dtsen = dtsen_row("1", "SITI HALIMA", None, "26-03-1997", "P", kode_desa="3201012001")
    same = score(model, dtsen, placement_row("P1", "SITI HALIMA", "3201016603970001", "26-03-1997", None))
    moved = score(model, dtsen, placement_row("P1", "SITI HALIMA", "3201016603970001", "26-03-1997", None,
                                              kode_desa_asal="3201012004"))
    assert same["place"].startswith("same village") and moved["place"] == "same district, villages differ"
    assert same["mw_place"] > moved["mw_place"] + 4
    # a village left within the district is evidence still, not a conflict
    assert moved["mw_place"] > 0
    assert same["match_probability"] > 0.99


def test_two_cases_on_one_splp_are_one_returnee(model):
    # a complaint and the repatriation of one returnee from Phnom Penh, no NIK, no date, her name
    # slipped and her age given a year apart: one emergency travel document
    splp = "SPLP/PNH/2025/60044"
    first = case_row("K1", "ROSMAWATI PANJAITUN", umur="17", daerah_asal="Kab. Karo, Sumatera Utara",
                     jenis_kelamin="P", no_splp=splp)
    second = case_row("K2", "ROSMAWATI PANJAITAN", umur="18", daerah_asal="KARO", jenis_kelamin="P",
                      no_splp=splp.lower())
    same = score(model, first, second)
    # evidence of one person (its weight depends on how rarely SPLP numbers repeat: u from their
    # frequencies, +11.7 at 200,000 heavy-noise persons, less in the test's 3,000)
    assert same["splp"] == "same SPLP" and same["mw_splp"] > 2
    # another SPLP is another return, which says little against one person
    other = score(model, first, {**second, "no_splp": "SPLP/KUL/2026/00017"})
    assert other["splp"] == "SPLPs differ" and -3 < other["mw_splp"] < 0
    assert same["match_probability"] > other["match_probability"]


def test_the_touched_records_pairs_score_as_in_a_full_prediction(generated):
    # An incremental night blocks the touched records' pairs itself and has Splink score only
    # those (score_pairs): the same pairs, the same weights, as a full prediction gives them.
    records, model_json, tf_tables = generated
    threshold = load_rules().predict_threshold
    touched = records["record_key"].sample(150, seed=7)
    full = score_all(records, model_json, tf_tables, threshold).filter(
        pl.col("record_key_l").is_in(touched.implode()) | pl.col("record_key_r").is_in(touched.implode()))
    tonight = score_touched(records, touched, model_json, tf_tables, threshold)
    keys = ["record_key_l", "record_key_r"]
    assert full.height > 100
    assert tonight.select(keys).sort(keys).equals(full.select(keys).sort(keys))
    joined = tonight.join(full, on=keys, suffix="_full")
    assert (joined["match_weight"] - joined["match_weight_full"]).abs().max() < 1e-9
    # Splink's own blocking of the touched records with all the others (for a rule the store
    # cannot join on) gives the same.
    is_touched = pl.col("record_key").is_in(touched.implode())
    blocked_by_splink = score_fresh(records.filter(is_touched), records.filter(~is_touched), model_json,
                                    tf_tables, threshold)
    assert blocked_by_splink.select(tonight.columns).sort(keys).equals(tonight.sort(keys))


def test_splink_scores_a_frame_handed_to_duckdb_in_chunks_as_it_scores_it_whole(generated, monkeypatch):
    # register_frame gives DuckDB a frame in a chunk per core, which it compares side by side
    # (a join leaves a Polars frame in one chunk, which DuckDB compares on one core). Here in
    # chunks of 64 rows for eight cores: the same pairs and weights as whole.
    from splink import DuckDBAPI

    from assets.linkage import backend

    records, model_json, tf_tables = generated
    threshold = load_rules().predict_threshold
    touched = records["record_key"].sample(150, seed=7)
    whole = score_touched(records, touched, model_json, tf_tables, threshold)
    monkeypatch.setattr(backend, "_VECTOR_ROWS", 64)
    monkeypatch.setattr(backend.os, "cpu_count", lambda: 8)
    handed = []
    register = DuckDBAPI.register
    monkeypatch.setattr(DuckDBAPI, "register",
                        lambda self, frame, **kwargs: handed.append(frame.n_chunks()) or register(self, frame, **kwargs))
    chunked = score_touched(records, touched, model_json, tf_tables, threshold)
    assert max(handed) >= 8
    keys = ["record_key_l", "record_key_r"]
    assert whole.height > 100 and chunked.sort(keys).equals(whole.sort(keys))


def test_a_trained_models_linker_skips_splinks_parse_of_each_level_and_the_check_stays_for_others(generated,
                                                                                                    monkeypatch):
    from splink import DuckDBAPI
    from splink.internals.comparison_level import ComparisonLevel
    from splink.internals.dialects import SplinkDialect

    from assets.linkage.backend import make_linker

    records, model_json, _ = generated
    parsed = []
    parse = ComparisonLevel._validate_sql
    monkeypatch.setattr(ComparisonLevel, "_validate_sql", lambda self: parsed.append(self.sql_condition) or parse(self))
    check = ComparisonLevel._validate
    db_api = DuckDBAPI()
    table = db_api.register(records.head(10), dataset_display_name="records")
    make_linker(table, model_json, validate=False)
    assert parsed == [] and ComparisonLevel._validate is check
    make_linker(table, model_json)  # a model being trained: every level parsed
    assert len(parsed) > 50
    with pytest.raises(ValueError, match="Error parsing"):
        ComparisonLevel("nik_l = = nik_r", SplinkDialect.from_string("duckdb"))


def test_a_frame_is_cut_into_a_chunk_per_thread_of_whole_vectors_without_losing_a_row():
    from assets.linkage.backend import _in_chunks

    frame = pl.DataFrame({"n": range(5000)})
    assert _in_chunks(frame, 1).n_chunks() == 1
    assert _in_chunks(frame, 8).n_chunks() == 2  # 5,000 rows hold two vectors of 2,048
    assert _in_chunks(frame, 2)["n"].to_list() == list(range(5000))
    assert _in_chunks(frame.head(2047), 8).n_chunks() == 1
    split = pl.concat([frame.head(10), frame.tail(4990)], rechunk=False)
    assert _in_chunks(split, 2) is split  # in as many chunks already


def test_pairs_already_scored_above_every_threshold_are_not_scored_again_for_conflicts(model, monkeypatch):
    # The HAERUDIN namesakes joined through a case: one conflict. Told that the case and the
    # placement scored 0.9 tonight, the check scores the two other pairs only and finds the same
    # conflict; told that the conflict pair itself scored 0.9 (at or above 0.5, the highest
    # threshold), it cannot be one, and is not.
    import assets.linkage.conflicts as conflicts_module

    model_json, tf_tables = model
    records = haerudin_namesakes()
    rules = load_rules()
    args = (records, one_cluster(records), model_json, tf_tables, rules.cannot_link_below,
            rules.cannot_link_evidence_weight, rules.cannot_link_conditions, None)
    asked = []
    predict_pairs = conflicts_module.predict_pairs
    monkeypatch.setattr(conflicts_module, "predict_pairs",
                        lambda records, pairs, *rest: asked.append(sorted(pairs.rows())) or predict_pairs(records, pairs, *rest))
    keys = sorted(records["record_key"])
    conflict = ("dtsen_individu:1", "p2mi_penempatan:P1")
    other = tuple(sorted(("p2mi_kasus:K1", "p2mi_penempatan:P1")))

    def scored(pair: tuple[str, str], probability: float) -> pl.DataFrame:
        return pl.DataFrame({"record_key_l": [pair[0]], "record_key_r": [pair[1]], "match_probability": [probability]})

    everything = within_cluster_conflicts(*args)
    assert asked.pop() == [(a, b) for i, a in enumerate(keys) for b in keys[i + 1:]]  # the three pairs
    assert everything.select("record_key_l", "record_key_r").rows() == [conflict]
    skipped = within_cluster_conflicts(*args, scored(other, 0.9))
    assert other not in asked.pop() and skipped.equals(everything)
    # Scored below the highest threshold, a pair is scored here again (a condition may hold on it).
    within_cluster_conflicts(*args, scored(other, 0.4))
    assert other in asked.pop()
    assert within_cluster_conflicts(*args, scored(conflict, 0.9)).is_empty()
