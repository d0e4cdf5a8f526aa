"""The clerical review loop end to end: an answer changes the next run's persons and keeps
doing so on the runs after it."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from assets.linkage.review import ReviewAnswerError, append_answer, read_answers
from assets.warehouse import PaduSettings, Warehouse
from pipelines import review as review_cli
from pipelines.definitions import ALL_ASSETS
from synthetic.generator import generate_deliveries


def person_of(published, key: str) -> str:
    source, record_id = key.split(":", 1)
    records = pl.read_parquet(published / "person_records.parquet")
    return records.filter((pl.col("source") == source) & (pl.col("source_record_id") == record_id))["person_id"].item()


def test_answers_become_constraints_that_survive_later_runs(tmp_path, monkeypatch):
    landing, data = tmp_path / "landing", tmp_path / "data"
    # Heavy noise: the review band needs pairs on both sides of the cluster threshold, and at 2,000
    # persons with the default noise it held three (stop 31), all of them joined.
    generate_deliveries(landing, persons=2000, noise="heavy", progress=False)
    resources = {
        "padu": PaduSettings(landing_dir=str(landing), data_dir=str(data), pseudonym_key="k"),
        "warehouse": Warehouse(path=str(data / "warehouse.duckdb")),
    }
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize(ALL_ASSETS, resources=resources, instance=instance).success
    published = data / "published"
    queue = pl.read_csv(data / "review" / "queue.csv", infer_schema=False)
    assert queue.height > 0
    assert set(queue.columns) >= {"pair_id", "record_key_l", "record_key_r", "match_probability", "mw_name"}
    queue = queue.with_columns(pl.col("match_probability").cast(pl.Float64))
    # A pair the run joined (at the cluster threshold, or as each other's sole candidate), whose
    # two records form a person of their own, and a pair it left apart.
    sizes = pl.read_parquet(published / "person_records.parquet").group_by("person_id").len()
    two = set(sizes.filter(pl.col("len") == 2)["person_id"].to_list())
    linked = next(r for r in queue.iter_rows(named=True)
                  if person_of(published, r["record_key_l"]) in two
                  and person_of(published, r["record_key_l"]) == person_of(published, r["record_key_r"]))
    apart = next(r for r in queue.filter(pl.col("match_probability") < 0.95).iter_rows(named=True)
                 if person_of(published, r["record_key_l"]) != person_of(published, r["record_key_r"]))
    # The queue says what the night made of each pair.
    assert (linked["one_person_tonight"], apart["one_person_tonight"]) == ("true", "false")
    assert queue.select(pl.col("one_person_tonight").is_in(["true", "false"]).all()).item()

    monkeypatch.setenv("PADU_DATA_DIR", str(data))
    assert review_cli.main(["answer", linked["pair_id"], "non-match", "--reviewer", "tester"]) == 0
    assert review_cli.main(["answer", apart["pair_id"], "match", "--reviewer", "tester"]) == 0
    assert review_cli.main(["answer", "000000000000", "match", "--reviewer", "tester"]) == 1

    for _ in range(2):  # the next run, and the one after it
        assert dg.materialize(ALL_ASSETS, resources=resources, instance=instance).success
        assert person_of(published, linked["record_key_l"]) != person_of(published, linked["record_key_r"])
        assert person_of(published, apart["record_key_l"]) == person_of(published, apart["record_key_r"])
        answered = pl.read_csv(data / "review" / "queue.csv", infer_schema=False)["pair_id"].to_list()
        assert linked["pair_id"] not in answered and apart["pair_id"] not in answered


def test_malformed_answers_name_the_line(tmp_path):
    path = tmp_path / "answers.csv"
    append_answer(path, "sr_siswa:1", "dtsen_individu:9", "match", "a")
    with path.open("a") as handle:
        handle.write("x,sr_siswa:2,dtsen_individu:8,maybe,b,\n")
    with pytest.raises(ReviewAnswerError, match="line 3: answer must be 'match' or 'non-match'"):
        read_answers(path)
