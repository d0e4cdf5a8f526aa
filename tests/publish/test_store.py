"""The published store: atomic swap, readers keep the old version, no identifying columns."""

from __future__ import annotations

import os
import stat

import duckdb
import polars as pl
import pytest

from assets.publish.pseudonym import MissingPseudonymKey, resolve_key, token, tokenise
from assets.publish.store import UnsafeColumnError, publish_tables, read_published


def test_publish_swaps_whole_database_and_an_open_reader_keeps_the_old_version(tmp_path):
    publish_tables({"persons": pl.DataFrame({"person_id": ["P1"]})}, tmp_path, "run1")
    reader = duckdb.connect(str(tmp_path / "padu.duckdb"), read_only=True)
    publish_tables({"persons": pl.DataFrame({"person_id": ["P1", "P2"]})}, tmp_path, "run2")
    assert reader.execute("SELECT count(*) FROM persons").fetchall() == [(1,)]
    reader.close()
    fresh = duckdb.connect(str(tmp_path / "padu.duckdb"), read_only=True)
    assert fresh.execute("SELECT count(*) FROM persons").fetchall() == [(2,)]
    fresh.close()
    assert read_published(tmp_path, "persons").height == 2
    assert not list(tmp_path.glob(".incoming-*"))


def test_identifying_columns_are_refused(tmp_path):
    with pytest.raises(UnsafeColumnError, match="nik"):
        publish_tables({"persons": pl.DataFrame({"person_id": ["P1"], "nik": ["3212014107850001"]})},
                       tmp_path, "run1")
    assert not (tmp_path / "padu.duckdb").exists()


def test_tokens_are_keyed_hmac_and_stable(tmp_path):
    frame = pl.DataFrame({"nik": ["3212014107850001", None, "3212014107850001"]})
    out = tokenise(frame, "nik", b"k1", "nik", "nik_token")
    assert out["nik_token"][0] == out["nik_token"][2] == token(b"k1", "nik", "3212014107850001")
    assert out["nik_token"][1] is None
    assert len(out["nik_token"][0]) == 32 and "3212014107850001" not in out["nik_token"][0]
    assert token(b"k2", "nik", "3212014107850001") != out["nik_token"][0]


def test_demo_key_is_owner_only_and_production_refuses_without_key(tmp_path):
    key = resolve_key("", tmp_path, production=False)
    key_file = tmp_path / "secrets" / "pseudonym.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert resolve_key("", tmp_path, production=False) == key  # created once, then reused
    assert resolve_key("configured", tmp_path, production=True) == b"configured"
    with pytest.raises(MissingPseudonymKey):
        resolve_key("", tmp_path / "other", production=True)
