"""NIK structure checks and decoding: PP KK CC DDMMYY SSSS, women's day + 40 (domain 1.1)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from assets.standardise.nik import NIK_FIELDS, standardise_nik, standardise_nik_column

REFERENCE = date(2026, 11, 27)


def parse(raw: str | None, birth_date: date | None = None, reference: date = REFERENCE) -> dict:
    frame = pl.DataFrame(
        {"nik": [raw], "tanggal_lahir": [birth_date]},
        schema={"nik": pl.String, "tanggal_lahir": pl.Date},
    )
    birth = pl.col("tanggal_lahir") if birth_date is not None else None
    return frame.select(standardise_nik(pl.col("nik"), birth, reference).alias("r")).item(0, "r")


def test_female_nik_decodes_day_minus_40():
    assert parse("3201014107080001") == {
        "nik": "3201014107080001",
        "issue": None,
        "sex": "P",
        "birth_date": date(2008, 7, 1),
        "region_code": "320101",
        "excel_last_digit_suspect": False,
    }


def test_male_nik_from_indramayu():
    result = parse("3212011708850003")
    assert (result["sex"], result["birth_date"], result["region_code"]) == ("L", date(1985, 8, 17), "321201")


def test_struct_fields_are_in_documented_order():
    frame = pl.DataFrame({"nik": ["3201014107080001"]})
    struct = frame.select(standardise_nik(pl.col("nik"), reference_date=REFERENCE)).to_series()
    assert tuple(field.name for field in struct.dtype.fields) == NIK_FIELDS


@pytest.mark.parametrize(
    ("raw", "issue"),
    [
        (None, "missing"),
        ("", "missing"),
        ("-", "missing"),
        ("0", "missing"),
        ("3.27305E+15", "excel_scientific"),
        ("3,27305E+15", "excel_scientific"),
        ("32730117O8850003", "not_digits"),   # letter O typed for zero
        ("327301170885003", "wrong_length"),  # a digit lost
        ("32120117088500031", "wrong_length"),
        ("0000000000000000", "repeated_digit"),
        ("1111111111111111", "repeated_digit"),
        ("2001014107080001", "bad_province"),  # there is no province 20
        ("9901014107080001", "bad_province"),
        ("3200014107080001", "bad_regency"),
        ("3201004107080001", "bad_district"),
        ("3201013207080001", "bad_birth_date"),  # day 32
        ("3201017207080001", "bad_birth_date"),  # day 72 (women run 41-71)
        ("3201014013080001", "bad_birth_date"),  # day 40
        ("3201011513080001", "bad_birth_date"),  # month 13
        ("3201013002080001", "bad_birth_date"),  # 30 February
        ("3201012902010001", "bad_birth_date"),  # 29-02-01: neither 1901 nor 2001 is a leap year
        ("3201014107080000", "zero_serial"),
    ],
)
def test_invalid_niks_say_why_and_decode_nothing(raw, issue):
    result = parse(raw)
    assert result["issue"] == issue
    assert result["nik"] is None and result["sex"] is None and result["birth_date"] is None
    assert result["region_code"] is None and result["excel_last_digit_suspect"] is False


def test_separators_and_white_space_are_removed():
    assert parse(" 3212.0117.0885.0003\u00a0")["nik"] == "3212011708850003"
    assert parse("3212-0117-0885-0003")["nik"] == "3212011708850003"


def test_29_february_00_exists_only_in_2000():
    assert parse("3201012902000001")["birth_date"] == date(2000, 2, 29)


def test_float_text_ending_in_zero_is_suspect_of_a_lost_last_digit():
    result = parse("3273011708850010.0")
    assert result["nik"] == "3273011708850010" and result["excel_last_digit_suspect"] is True
    # The same digits typed as text carry no such evidence.
    assert parse("3273011708850010")["excel_last_digit_suspect"] is False
    # A float form whose last digit survived is not suspect.
    assert parse("3273011708850011.0")["excel_last_digit_suspect"] is False


def test_scientific_notation_with_all_15_digits_is_recovered_but_suspect():
    result = parse("3.27301170885001E+15")
    assert result["nik"] == "3273011708850010" and result["excel_last_digit_suspect"] is True


def test_century_follows_the_record_birth_date_when_its_year_agrees():
    nik = "3273011708200003"  # born 17-08-?20
    assert parse(nik, birth_date=date(1920, 8, 17))["birth_date"] == date(1920, 8, 17)
    # Without a record date, or with one whose year disagrees, the latest possible century wins.
    assert parse(nik)["birth_date"] == date(2020, 8, 17)
    assert parse(nik, birth_date=date(1985, 1, 1))["birth_date"] == date(2020, 8, 17)


def test_century_puts_the_date_on_or_before_the_reference_date():
    assert parse("3273012711260003")["birth_date"] == date(2026, 11, 27)
    assert parse("3273012811260003")["birth_date"] == date(1926, 11, 28)
    assert parse("3273012811260003", reference=date(2027, 1, 1))["birth_date"] == date(2026, 11, 28)


def test_legacy_papua_nik_stays_valid():
    # Merauke was 91.01 before Papua Selatan (93) was created; the NIK keeps the old code.
    result = parse("9101014107080001")
    assert result["issue"] is None and result["region_code"] == "910101"


def test_nik_column_unnests_with_prefix_and_uses_record_birth_date_text():
    frame = pl.DataFrame(
        {
            "nik_ibu": ["3273015708200004", "3.27305E+15"],
            "tanggal_lahir": ["17-08-1920", "01-07-1970"],
        }
    )
    out = standardise_nik_column(frame, "nik_ibu", "tanggal_lahir", REFERENCE, prefix="mother_nik")
    assert out.columns == [
        "nik_ibu", "tanggal_lahir", "mother_nik", "mother_nik_issue", "mother_nik_sex",
        "mother_nik_birth_date", "mother_nik_region", "mother_nik_excel_suspect",
    ]
    assert out.row(0) == (
        "3273015708200004", "17-08-1920", "3273015708200004", None, "P", date(1920, 8, 17), "327301", False,
    )
    assert out["mother_nik_issue"].to_list() == [None, "excel_scientific"]


def test_nik_column_named_like_the_prefix_is_replaced():
    out = standardise_nik_column(pl.DataFrame({"nik": ["3201014107080001"]}), "nik", reference_date=REFERENCE)
    assert out.columns == ["nik", "nik_issue", "nik_sex", "nik_birth_date", "nik_region", "nik_excel_suspect"]
    assert out["nik_birth_date"].to_list() == [date(2008, 7, 1)]
