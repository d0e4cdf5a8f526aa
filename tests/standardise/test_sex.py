"""Sex codes from the four sources mapped to L/P (contract 2)."""

from __future__ import annotations

import polars as pl

from assets.standardise.sex import standardise_sex


def test_every_contract_form_maps_to_l_or_p():
    raw = [
        "L", "l", "LAKI-LAKI", "Laki-laki", "LAKI LAKI", "PRIA", "1", "1.0", "M", "MALE",
        "P", "p", "PEREMPUAN", "Perempuan", "WANITA", "2", "2.0", "F", "FEMALE",
    ]
    frame = pl.DataFrame({"jenis_kelamin": raw})
    result = frame.select(standardise_sex(pl.col("jenis_kelamin"))).to_series().to_list()
    assert result == ["L"] * 10 + ["P"] * 9


def test_unknown_and_missing_codes_are_null():
    frame = pl.DataFrame({"jenis_kelamin": ["X", "3", "", "-", " ", None]}, schema={"jenis_kelamin": pl.String})
    result = frame.select(standardise_sex(pl.col("jenis_kelamin"))).to_series().to_list()
    assert result == [None] * 6
