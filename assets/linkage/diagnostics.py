"""Diagnostics of a linkage run, with no personal values: the model's weights as Splink charts,
how many pairs each blocking rule creates, and link rates per source pair and per province."""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from splink import DuckDBAPI
from splink.blocking_analysis import count_comparisons_from_blocking_rules

from assets.frames import query_frames
from assets.linkage.backend import make_linker
from assets.linkage.incremental import scoring_linker
from assets.linkage.model import LINKAGE_COLUMNS
from assets.publish.pseudonym import token
from assets.linkage.rules import LinkageRules


# Above this many records the report counts on a random sample and scales up: the exact count
# at 1M records took 83 s of a night, more than the prediction it describes is worth.
EXACT_COUNT_MAX_RECORDS = 200_000


# Splink's warning for an estimate that rests on fewer sampled pairs than it recommends.
_FEW_SAMPLED = re.compile(r"for blocking rule '(?P<rule>.*)' is based on (?P<pairs>[0-9,]+) sampled", re.S)


def blocking_report(records: pl.DataFrame, rules: LinkageRules) -> pl.DataFrame:
    """Pair counts per blocking rule: new pairs each rule adds, and the running total; exact up
    to EXACT_COUNT_MAX_RECORDS records, estimated from a sample above (`is_estimate`). Where an
    estimate rests on fewer sampled pairs than the 1,000 Splink recommends (a rare key: a passport,
    a phone), `few_sampled_pairs` says how many: Splink's warning about it, printed on the
    terminal before, is this column."""
    db_api = DuckDBAPI(connection=duckdb.connect())
    table = db_api.register(records.select(LINKAGE_COLUMNS), dataset_display_name="person_records")
    proportion = min(1.0, EXACT_COUNT_MAX_RECORDS / max(records.height, 1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        counts = count_comparisons_from_blocking_rules(
            table, blocking_rules=rules.blocking_rules, link_type="dedupe_only",
            unique_id_column_name=rules.unique_id_column, record_sample_proportion=proportion,
        )
    few: dict[str, int] = {}
    for warning in caught:
        match = _FEW_SAMPLED.search(str(warning.message))
        if match:
            few[match["rule"]] = int(match["pairs"].replace(",", ""))
        else:  # not ours to judge: shown as it would have been
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return pl.DataFrame(
        {
            "rule": [c["blocking_rule"] for c in counts],
            "new_pairs": [int(c["marginal_comparison_count"]) for c in counts],
            "cumulative_pairs": [int(c["cumulative_comparison_count"]) for c in counts],
            "is_estimate": [bool(c["is_estimate"]) for c in counts],
            "few_sampled_pairs": [few.get(c["blocking_rule"]) for c in counts],
        },
        schema_overrides={"few_sampled_pairs": pl.Int64},
    )


# The blocking report describes the rules on the whole population: an incremental night that
# changed a few records would move its counts by about as much, less than the sampling error of a
# recount above EXACT_COUNT_MAX_RECORDS. It is counted again on a full night, when the rules
# changed, or once the records changed since the count (new, changed and deleted, summed over the
# nights) reach this share of tonight's records.
BLOCKING_RECOUNT_SHARE = 0.05
BLOCKING_STATE = "linkage.blocking_report_state"


def blocking_recount_reason(previous: dict | None, rules_version: str, linkage_mode: str,
                            changed_since: int, records: int) -> str | None:
    """Why the blocking report must be counted again tonight, or None to carry last night's over.
    previous: the state row of the last count (rules_version, records_changed_since), if any;
    changed_since: that count plus tonight's new, changed and deleted records."""
    if previous is None:
        return "no earlier count"
    if linkage_mode != "incremental":
        return "a full linkage night"
    if previous["rules_version"] != rules_version:
        return "the rules changed"
    if changed_since >= BLOCKING_RECOUNT_SHARE * max(records, 1):
        return f"{changed_since} records changed since the count (at least {BLOCKING_RECOUNT_SHARE:.0%})"
    return None


CHARTS = ("match_weights", "m_u_parameters")


@dataclass
class RecountPlan:
    """Whether a report on the whole population is made tonight or carried over, and the state
    row that goes with it (its table: run_id, linkage_run_id, rules_version, records,
    records_changed_since, and whatever the report adds)."""

    previous: dict | None
    linkage_run_id: str
    rules_version: str
    records: int
    changed_since: int
    reason: str | None  # why it is made tonight; None: carried over

    def carried_state(self) -> pl.DataFrame:
        return pl.DataFrame([{**self.previous, "linkage_run_id": self.linkage_run_id,
                              "records_changed_since": self.changed_since}])

    def fresh_state(self, run_id: str, **extra) -> pl.DataFrame:
        return pl.DataFrame([{"run_id": run_id, "linkage_run_id": self.linkage_run_id,
                              "rules_version": self.rules_version, "records": self.records,
                              "records_changed_since": 0, **extra}])


def plan_recount(warehouse, state_table: str, report_table: str, rules_version: str) -> RecountPlan:
    """The plan for a report kept in `report_table` with its state row in `state_table`, after
    tonight's linkage (`linkage.state`): the records changed since it was made add up night by
    night, tonight's counted once however often the step runs."""
    linkage = warehouse.read("linkage.state").row(0, named=True)
    previous = None
    if warehouse.exists(state_table) and warehouse.exists(report_table):
        previous = warehouse.read(state_table).row(0, named=True)
    changed_since = 0 if previous is None else previous["records_changed_since"]
    if previous is not None and previous["linkage_run_id"] != linkage["run_id"]:
        # Records whose capped keys alone moved change which pairs the key rules count, too.
        changed_since += (linkage["records_new"] + linkage["records_changed"] + linkage["records_deleted"]
                          + (linkage.get("records_rekeyed") or 0))
    records = int(warehouse.query("SELECT count(*) AS n FROM staging.person_records")["n"][0])
    reason = blocking_recount_reason(previous, rules_version, linkage["mode"], changed_since, records)
    return RecountPlan(previous, linkage["run_id"], rules_version, records, changed_since, reason)


def model_charts(model_json: dict, out_dir: Path) -> dict[str, Path]:
    """Splink's match-weights and m/u charts of the trained model, as standalone HTML files.
    They are built from the model alone (an empty frame of the right columns), so they can hold
    no record."""
    out_dir.mkdir(parents=True, exist_ok=True)
    empty = pl.DataFrame(schema={c: pl.String for c in LINKAGE_COLUMNS})
    db_api = DuckDBAPI(connection=duckdb.connect())
    linker = make_linker(db_api.register(empty, dataset_display_name="no_records"), model_json, validate=False)
    charts = {
        "match_weights": linker.visualisations.match_weights_chart(),
        "m_u_parameters": linker.visualisations.m_u_parameters_chart(),
    }
    paths = {}
    for name in CHARTS:
        paths[name] = out_dir / f"{name}.html"
        # Written aside and renamed: a run killed mid-write leaves no half chart to be kept.
        partial = out_dir / f".partial-{name}.html"
        charts[name].save(str(partial))
        partial.rename(paths[name])
    return paths


def model_charts_of(model_id: str, model_json: dict, reports_dir: Path) -> dict[str, Path]:
    """The charts of one trained model, drawn the first night it scores and kept under
    `reports/models/<model_id>/`: they depend on the model alone (0.3 s a night at 1M)."""
    out_dir = reports_dir / "models" / model_id
    paths = {name: out_dir / f"{name}.html" for name in CHARTS}
    if all(path.exists() for path in paths.values()):
        return paths
    return model_charts(model_json, out_dir)


LINK_RATE_PERSONS = "linkage.link_rate_persons"
LINK_RATE_PROVINCES = "linkage.link_rate_provinces"


def link_rate_parts_sql(records: str, clusters: str, where: str = "true") -> tuple[str, str]:
    """What the link rates count, per person: over the tables (or views) `records` (record_key,
    source, regency_code) and `clusters` (record_key, cluster_id), for the persons whose cluster_id
    satisfies `where` (on `c.cluster_id`), two queries:
    - per person, the sources it has records in and those it has more than one record of;
    - per person and province, its records there and whether the person has more than one record.
    A person's rows depend on its own records only: an incremental night counts the persons it
    clustered again and keeps the others' rows (at 1M, counting every person took most of the 1.0 s
    of an incremental night's diagnostics)."""
    joined = (f"SELECT r.source, r.regency_code, c.cluster_id FROM {records} r "
              f"JOIN {clusters} c USING (record_key) WHERE {where}")
    persons = f"""WITH per AS (SELECT cluster_id, source, count(*) AS n FROM ({joined}) GROUP BY ALL)
        SELECT cluster_id, list_sort(list(source)) AS sources,
               list_sort(coalesce(list(source) FILTER (WHERE n > 1), []::VARCHAR[])) AS repeated
        FROM per GROUP BY cluster_id"""
    provinces = f"""WITH f AS ({joined}), sizes AS (SELECT cluster_id, count(*) AS size FROM f GROUP BY cluster_id)
        SELECT cluster_id, coalesce(left(regency_code, 2), '(unknown)') AS province, count(*) AS records,
               any_value(size) > 1 AS linked
        FROM f JOIN sizes USING (cluster_id) GROUP BY cluster_id, province"""
    return persons, provinces


def link_rates_sql(persons: str, provinces: str) -> tuple[str, str]:
    """The two link-rate reports from the parts `link_rate_parts_sql` gives (tables or views
    `persons` and `provinces`): per source pair, the persons in the first source and those found
    in both (within one source: persons with more than one of its records); per province, the
    records and the share of them linked to at least one other record."""
    by_pair = f"""WITH p AS (SELECT sources, repeated, count(*) AS persons FROM {persons} GROUP BY ALL),
        src AS (SELECT DISTINCT unnest(sources) AS source FROM p)
        SELECT a.source AS source_a, b.source AS source_b,
               sum(p.persons) FILTER (WHERE list_contains(p.sources, a.source))::BIGINT AS persons_in_a,
               coalesce(sum(p.persons) FILTER (WHERE CASE WHEN a.source = b.source
                   THEN list_contains(p.repeated, a.source)
                   ELSE list_contains(p.sources, a.source) AND list_contains(p.sources, b.source) END), 0)::BIGINT
                   AS persons_in_both
        FROM src a JOIN src b ON a.source <= b.source CROSS JOIN p
        GROUP BY ALL ORDER BY source_a, source_b"""
    by_province = f"""SELECT province, sum(records)::BIGINT AS records,
               round(coalesce(sum(records) FILTER (WHERE linked), 0) / sum(records), 4) AS share_linked
        FROM {provinces} GROUP BY province ORDER BY province"""
    return by_pair, by_province


def link_rates(records: pl.DataFrame, clusters: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The link-rate reports of frames held in memory (tests, tools), by the queries the step runs."""
    frames = {"__records": records.select("record_key", "source", "regency_code"), "__clusters": clusters}
    parts = dict(zip(("__persons", "__provinces"),
                     (query_frames(sql, frames) for sql in link_rate_parts_sql("__records", "__clusters"))))
    return tuple(query_frames(sql, parts) for sql in link_rates_sql("__persons", "__provinces"))


# Columns of a record that identify a person: the comparison viewer shows them as keyed tokens,
# a name word by word, so that equal values (and shared words) still show as equal.
MASKED_WORDS = ["name_key", "name_key_nospace", "name_key_sorted", "name_first_key", "name_last_key", "lone_name_key"]
# The village is an address (a desa holds a few thousand people); districts and regencies are shown.
MASKED_VALUES = ["nik", "birth_date", "birth_year", "kk", "passport", "splp", "phone", "village_code"]
VIEWER_TOKEN_CHARS = 6


def _masked(column: pl.Expr, key: bytes, kind: str, words: bool) -> pl.Expr:
    def mask(value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split(" ") if words else [value]
        return " ".join("#" + token(key, f"viewer:{kind}", part)[:VIEWER_TOKEN_CHARS] for part in parts)

    return column.cast(pl.String).map_elements(mask, return_dtype=pl.String)


def mask_comparisons(frame: pl.DataFrame, key: bytes) -> pl.DataFrame:
    """Every `<column>_l` / `<column>_r` of an identifying column replaced by its token."""
    masks = []
    for column in MASKED_WORDS + MASKED_VALUES:
        for side in ("_l", "_r"):
            if column + side in frame.columns:
                masks.append(_masked(pl.col(column + side), key, column, column in MASKED_WORDS).alias(column + side))
    return frame.with_columns(masks)


def comparison_viewer(records: pl.DataFrame, pairs: pl.DataFrame, model_json: dict,
                      tf_tables: dict[str, pl.DataFrame], key: bytes, out_path: Path,
                      max_pairs: int = 2_000, seed: int = 0) -> int:
    """Splink's comparison viewer dashboard over a sample of tonight's scored pairs (up to
    `max_pairs`, spread over the probability bands), every identifying value shown as a keyed
    token. Returns the number of pairs in the viewer."""
    band = (pl.col("match_probability") * 10).floor().clip(5, 9)
    per_band = max(1, max_pairs // 5)
    sample = pairs.select("record_key_l", "record_key_r", "match_probability").with_columns(band.alias("band"))
    sample = sample.filter(pl.int_range(pl.len()).shuffle(seed=seed).over("band") < per_band)
    keys = pl.concat([sample["record_key_l"], sample["record_key_r"]]).unique()
    subset = records.filter(pl.col("record_key").is_in(keys.implode())).select(LINKAGE_COLUMNS)
    settings = {**model_json, "retain_matching_columns": True, "retain_intermediate_calculation_columns": True}
    con = duckdb.connect()
    db_api = DuckDBAPI(connection=con)
    linker, _ = scoring_linker({"person_records": subset}, settings, tf_tables, db_api)
    predicted = pl.from_arrow(linker.inference.predict(threshold_match_probability=0.5).as_pyarrow_table())
    # Only the sampled pairs, in either order.
    predicted = predicted.join(
        pl.concat([sample.select("record_key_l", "record_key_r"),
                   sample.select(pl.col("record_key_r").alias("record_key_l"), pl.col("record_key_l").alias("record_key_r"))]),
        on=["record_key_l", "record_key_r"], how="semi",
    )
    # A table, not a registered frame: the viewer's SQL picks its examples by rowid.
    masked_frame = mask_comparisons(predicted, key).to_arrow()
    con.execute("CREATE TABLE masked_predictions AS SELECT * FROM masked_frame")
    masked = db_api.table_to_splink_dataframe("__splink__df_predict", "masked_predictions")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    linker.visualisations.comparison_viewer_dashboard(masked, str(out_path), overwrite=True, num_example_rows=2)
    return predicted.height


def cluster_metrics(clusters: pl.DataFrame, edges: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Per person of three or more records, how well its records hold together: the edges at or
    above `threshold` inside it, its density (edges over possible pairs: 1.0 when every record is
    linked to every other, near 2/n for a chain) and its weakest edge. clusters: record_key,
    cluster_id; edges: record_key_l, record_key_r, match_probability."""
    sizes = clusters.group_by("cluster_id").len("size").filter(pl.col("size") >= 3)
    keyed = clusters.join(sizes, on="cluster_id", how="semi").select("record_key", pl.col("cluster_id").cast(pl.String))
    inside = (
        edges.filter(pl.col("match_probability") >= threshold)
        .join(keyed.rename({"record_key": "record_key_l"}), on="record_key_l")
        .join(keyed.rename({"record_key": "record_key_r", "cluster_id": "cluster_r"}), on="record_key_r")
        .filter(pl.col("cluster_id") == pl.col("cluster_r"))
        .unique(["record_key_l", "record_key_r"])
        .group_by("cluster_id")
        .agg(pl.len().alias("edges"), pl.col("match_probability").min().alias("weakest_edge"))
    )
    return (
        sizes.with_columns(pl.col("cluster_id").cast(pl.String))
        .join(inside, on="cluster_id", how="left")
        .with_columns(pl.col("edges").fill_null(0))
        .with_columns((pl.col("edges") / (pl.col("size") * (pl.col("size") - 1) / 2)).alias("density"))
        .sort("density", "cluster_id")
    )
