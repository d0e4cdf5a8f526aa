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
    assert {contract.primary_key, "_file", "_row_number", "_delivery_date", "_row_hash", "_row_hash_2",
            "source_record_id", "nik", "value_issues"} <= set(kept.columns)
    # a staged row still finds its delivered text
    joined = kept.select("_file", "_row_number").join(raw, on=["_file", "_row_number"], how="left")
    assert joined.height == raw.height and joined[dropped[0]].equals(raw[dropped[0]])
