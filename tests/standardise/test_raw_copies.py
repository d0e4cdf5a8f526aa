"""A staged table holds the standardised columns, not copies of the delivered text: those stay in
the raw table, one join away. Nothing staging computes may be dropped with them."""

from __future__ import annotations

import polars as pl
import pytest

from assets.sources.contracts import CONTRACTS
from assets.sources.ingest import ingest_source
from assets.standardise.assets import raw_copies
from assets.standardise.issues import flag_invalid_values
from assets.standardise.sources import STAGERS
from synthetic.generator import generate_deliveries


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw_copies") / "landing"
    generate_deliveries(root, persons=400, noise="heavy", progress=False)
    return root


@pytest.mark.parametrize("source", sorted(CONTRACTS))
def test_only_unchanged_copies_of_delivered_columns_leave_the_staged_table(landing, source):
    raw = ingest_source(landing, CONTRACTS[source]).accepted
    staged = flag_invalid_values(source, raw, STAGERS[source](raw))
    dropped = raw_copies(source, raw.columns)
    assert dropped  # the delivered text columns
    for column in dropped:  # each one exactly as delivered: staging changed nothing in it
        assert staged[column].equals(raw[column]), column
    kept = staged.drop(dropped)
    contract = CONTRACTS[source]
    assert {contract.primary_key, "_row_hash", "_row_hash_2", "source_record_id", "nik", "value_issues",
            "delivery_date"} <= set(kept.columns)
    # the row's provenance, new every night for nearly every row, stays in the raw table
    assert {"_file", "_row_number", "_delivery_date"} <= set(dropped)
    assert not {"_file", "_row_number", "_delivery_date"} & set(kept.columns)
    # a staged row still finds its delivered text and its place by its hashes, unique in the raw table
    assert raw.select("_row_hash", "_row_hash_2").is_duplicated().sum() == 0
    joined = kept.select("_row_hash", "_row_hash_2").join(raw, on=["_row_hash", "_row_hash_2"], how="left",
                                                      maintain_order="left")
    assert joined.height == raw.height
    for column in [*dropped, "_row_hash"]:
        assert joined[column].equals(raw[column]), column
