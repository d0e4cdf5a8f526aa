"""The Spark backend runs the same rules as DuckDB and gives the same pairs and persons: one model
(trained once, on DuckDB) scores generated deliveries on both engines, Spark in local mode, and the
pairs, their comparison levels and weights, the incremental scores and the clusters are compared.
The Spark tests carry the `spark` mark (`pytest -m "not spark"` leaves them out); they start a
local Spark session (Java 17), about a minute and a half on two busy cores."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from assets.linkage.backend import (
    JARO_WINKLER_UDF, SPLINK_ROWS_WORTH_COLLECTING, LinkageBackend, make_db_api, model_in_rules_dialect,
    release_splink, settings_for_backend, to_backend_sql,
)
from assets.linkage.incremental import score_all, score_touched, term_frequency_columns, term_frequency_tables
from assets.linkage.model import LINKAGE_COLUMNS, cluster, cluster_edges, train
from assets.linkage.rules import load_rules
from assets.sources.contracts import CONTRACTS
from assets.sources.ingest import ingest_source
from assets.standardise.block_keys import add_capped_keys
from assets.standardise.sources import STAGERS, to_person_records
from assets.warehouse import env_settings
from synthetic.generator import generate_deliveries

PAIR_KEYS = ["record_key_l", "record_key_r"]
NO_MUST_LINKS = pl.DataFrame(schema={"record_key_l": pl.String, "record_key_r": pl.String})


# --- the rules' SQL on Spark (no Spark session needed) ---------------------------------------------
def test_functions_without_a_spark_form_are_rewritten():
    # Spark resolves function names whatever their case; sqlglot writes them in upper case.
    assert to_backend_sql("jaro_winkler_similarity(name_key_l, name_key_r) >= 0.94", "duckdb", "spark") == (
        f"{JARO_WINKLER_UDF.upper()}(name_key_l, name_key_r) >= 0.94"
    )
    spark = to_backend_sql("list_has_all(string_split(a_l, ' '), string_split(a_r, ' '))", "duckdb", "spark")
    assert spark.startswith("(SIZE(ARRAY_EXCEPT(SPLIT(a_r,") and spark.endswith(")) = 0)")
    assert "yyyyMMdd" in to_backend_sql("strftime(birth_date_l, '%Y%m%d')", "duckdb", "spark")
    assert to_backend_sql("ELSE", "duckdb", "spark") == "ELSE"


def test_every_rule_transpiles_and_a_spark_model_is_saved_in_the_rules_dialect():
    rules = load_rules()
    settings = rules.splink_settings()
    assert settings_for_backend(settings, LinkageBackend("duckdb"), rules.sql_dialect) is settings
    spark = settings_for_backend(settings, LinkageBackend("spark"), rules.sql_dialect)
    conditions = [lvl["sql_condition"] for c in spark["comparisons"] for lvl in c["comparison_levels"]]
    duckdb_only = re.compile(r"\b(strftime|list_has_all|jaro_winkler_similarity)\(", re.IGNORECASE)
    assert not any(duckdb_only.search(sql) for sql in conditions)
    assert all(rule["sql_dialect"] == "spark" for rule in spark["blocking_rules_to_generate_predictions"])
    restored = model_in_rules_dialect(spark, settings, rules.sql_dialect)
    assert [lvl["sql_condition"] for c in restored["comparisons"] for lvl in c["comparison_levels"]] == [
        lvl["sql_condition"] for c in settings["comparisons"] for lvl in c["comparison_levels"]
    ]
    assert [r["blocking_rule"] for r in restored["blocking_rules_to_generate_predictions"]] == rules.blocking_rules
    assert restored["sql_dialect"] == "duckdb"


def test_backend_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("PADU_DATA_DIR", str(tmp_path))
    assert env_settings()[0].backend.name == "duckdb"
    monkeypatch.setenv("PADU_LINKAGE_BACKEND", "spark")
    monkeypatch.setenv("PADU_SPARK_MASTER", "spark://spark-master:7077")
    backend = env_settings()[0].backend
    assert (backend.name, backend.spark_master) == ("spark", "spark://spark-master:7077")
    assert backend.checkpoint_dir == str(tmp_path.resolve() / "spark" / "checkpoints")
    monkeypatch.setenv("PADU_LINKAGE_BACKEND", "postgres")
    with pytest.raises(ValueError, match="linkage backend must be one of duckdb, spark"):
        env_settings()


def test_duckdb_spills_into_the_working_store_and_the_spill_is_deleted(monkeypatch, tmp_path):
    monkeypatch.setenv("PADU_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PADU_LINKAGE_MEMORY_LIMIT", "100MB")
    backend = env_settings()[0].backend
    assert backend.spill_dir == str(tmp_path / "tmp" / "duckdb")
    with make_db_api(backend) as db_api:
        con = db_api.duckdb_con
        assert con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0] in {"95.3 MiB", "100.0 MB"}
        con.execute("SET threads = 1; SET preserve_insertion_order = false")
        # a 300 MB table does not fit in 100 MB: DuckDB writes blocks of it to its temp directory
        con.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS h FROM range(4000000)")
        spill = Path(con.sql("SELECT current_setting('temp_directory')").fetchall()[0][0])
        assert spill.parent == Path(backend.spill_dir) and any(spill.iterdir())
    assert not (tmp_path / "tmp" / "duckdb").exists() or not any((tmp_path / "tmp" / "duckdb").iterdir())


def test_splink_is_released_after_a_large_call_and_not_after_a_small_one():
    import gc
    import weakref

    class Cycle:  # as Splink's linker and its database API, which refer to each other
        def __init__(self):
            self.me = self

    gc.disable()  # no collection but release_splink's
    try:
        left = Cycle()
        alive = weakref.ref(left)
        del left
        release_splink(SPLINK_ROWS_WORTH_COLLECTING - 1)
        assert alive() is not None, "a small call's tables are left to the cycle collector"
        release_splink(SPLINK_ROWS_WORTH_COLLECTING)
        assert alive() is None
        left = Cycle()
        alive = weakref.ref(left)
        del left
        release_splink()  # rows unknown
        assert alive() is None
    finally:
        gc.enable()


# --- the same linkage on both engines ------------------------------------------------------------
@pytest.fixture(scope="module")
def linkage(tmp_path_factory):
    """Generated deliveries (1,000 persons), standardised; a model trained on DuckDB; a local Spark
    backend whose scratch folder is the test's."""
    root = tmp_path_factory.mktemp("spark_backend")
    generate_deliveries(root / "landing", persons=1000, progress=False)
    records = pl.concat(
        [to_person_records(name, STAGERS[name](ingest_source(root / "landing", contract).accepted))
         for name, contract in CONTRACTS.items()],
        how="vertical_relaxed",
    ).pipe(add_capped_keys, load_rules().capped_block_keys).select(LINKAGE_COLUMNS)
    rules = load_rules()
    model_json, _ = train(records, rules)
    tf_tables = term_frequency_tables(records, term_frequency_columns(model_json))
    spark = LinkageBackend("spark", "local[2]", str(root / "checkpoints"))
    yield records, rules, model_json, tf_tables, spark
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.stop()
    scratch = root / "checkpoints"
    assert not scratch.exists() or not any(scratch.iterdir()), "Splink's intermediate tables were left behind"


def same_pairs(duck: pl.DataFrame, spark: pl.DataFrame) -> None:
    assert duck.height > 0
    assert sorted(duck.columns) == sorted(spark.columns)
    joined = duck.join(spark, on=PAIR_KEYS, how="full", suffix="_spark", coalesce=True)
    assert joined["match_weight"].null_count() == 0 and joined["match_weight_spark"].null_count() == 0, (
        "a pair scored on one engine only"
    )
    for column in (c for c in duck.columns if c.startswith("gamma_")):
        assert (joined[column] == joined[f"{column}_spark"]).all(), f"{column} differs"
    # The same levels give the same weights; only the order of a floating-point sum may differ.
    for column in (c for c in duck.columns if c.startswith("mw_") or c == "match_weight"):
        assert (joined[column] - joined[f"{column}_spark"]).abs().max() < 1e-9, f"{column} differs"


@pytest.mark.spark
def test_spark_scores_and_clusters_as_duckdb_does(linkage):
    records, rules, model_json, tf_tables, spark = linkage
    duck_pairs = score_all(records, model_json, tf_tables, rules.predict_threshold)
    spark_pairs = score_all(records, model_json, tf_tables, rules.predict_threshold, spark)
    same_pairs(duck_pairs, spark_pairs)

    duck = cluster(records, cluster_edges(duck_pairs, NO_MUST_LINKS), rules.cluster_threshold)
    on_spark = cluster(records, cluster_edges(spark_pairs, NO_MUST_LINKS), rules.cluster_threshold, spark)

    def partition(clusters: pl.DataFrame) -> set[frozenset[str]]:
        return {frozenset(keys) for keys in clusters.group_by("cluster_id").agg("record_key")["record_key"]}

    assert on_spark.height == duck.height == records.height
    assert partition(on_spark) == partition(duck)
    assert duck["cluster_id"].n_unique() < records.height  # some records were linked


@pytest.mark.spark
def test_spark_scores_an_incremental_night_as_duckdb_does(linkage):
    records, rules, model_json, tf_tables, spark = linkage
    touched = records["record_key"].sample(60, seed=5).to_list()
    same_pairs(
        score_touched(records, touched, model_json, tf_tables, rules.predict_threshold),
        score_touched(records, touched, model_json, tf_tables, rules.predict_threshold, spark),
    )
