"""Persons layer: stable person ids, and one row per person with identity (as tokens) and status.
Everything written here is already fit for analysts except where a table name says otherwise."""

from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import polars as pl

from assets.metadata import markdown_table, value_counts
from assets.persons.golden import golden_records, parent_links
from assets.linkage.rules import load_rules
from assets.persons.delta import (
    TONIGHT_ROWS, TOUCHED, Generations, PersonsPlan, plan_persons, record_hashes_sql, save_state, update_in_place,
)
from assets.persons.ids import assign_stable_person_ids, id_ages
from assets.persons.status import combine_status
from assets.publish.pseudonym import resolve_key, token_table
from assets.publish.store import published_run, read_published
from assets.linkage.recluster import CLUSTER_STATE, REDONE
from assets.sources.contracts import CONTRACTS
from assets.standardise.assets import records_generations
from assets.standardise.delta import staged_generations, staged_run_id
from assets.warehouse import PaduSettings, Warehouse, full_rebuild_requested, insert_rows, replace_table

PERSONS_GROUP = "persons"
# The run that last assigned the ids in `persons.person_ids` and the clustering it assigned them to.
PERSON_IDS_STATE = "persons.person_ids_state"
REDONE_IDS_MODE = "redone records only"  # the ids step's mode when it gave ids to the redone records only
# On a night that chooses the touched persons only: their records (record_key, person_id), a
# temporary table `_person_tables` makes once from `persons.person_ids` and drops after. The reads
# of those persons' records and staged rows join it instead of each reading the 1.3M ids again (at
# 1M, on a night of 11,248 touched persons, the five reads took 0.18 to 0.19 s with it, 0.35 to 0.40
# s without).
TOUCHED_RECORDS = "__touched_records"

# The published order of `persons`: identity, where the person is found, then status by programme.
PERSON_COLUMNS = [
    "person_id", "nik_token", "sex", "birth_year", "origin_regency_code", "origin_province_code",
    "household_token", "record_count", "sources", "in_dtsen", "in_p2mi_placements", "in_p2mi_cases",
    "in_sekolah_rakyat",
    "migrant_phase", "current_destination_country", "placements", "latest_destination_country",
    "latest_placement_date", "latest_job_title", "troubled_worker", "trafficking_victim", "cases",
    "latest_case_return_date", "referred_to_kemensos",
    "dtsen_desil", "dtsen_period", "bansos_eligible", "receives_pkh", "receives_sembako", "receives_pbi_jk",
    "sr_enrolled", "sr_level", "sr_grade", "sr_status", "sr_migrant_class", "sr_migrant_class_destination",
]

# Only what the rules below read: the staged tables also hold names, addresses and every
# delivered column, which need not leave DuckDB here.
RECORD_COLUMNS = ["record_key", "source", "source_record_id", "nik", "sex", "regency_code", "household_key",
                  "birth_year", "birth_date_is_default"]
STATUS_COLUMNS = {  # per source, what its status function in status.py reads
    "p2mi_penempatan": ["placement_status", "departure_date", "updated_date", "destination_country", "job_title"],
    "p2mi_kasus": ["case_type", "trafficking_indicated", "arrival_date", "referred_to_kemensos"],
    "dtsen_individu": ["period", "delivery_date", "desil", "receives_pkh", "receives_sembako", "receives_pbi_jk"],
    "sr_siswa": ["student_status", "enrolment_date", "school_level", "grade", "migrant_class",
                 "migrant_class_destination", "father_nik", "mother_nik", "guardian_nik"],
}


@dg.asset(
    key=["persons", "person_ids"],
    deps=[dg.AssetKey(["linkage", "clusters"])],
    group_name=PERSONS_GROUP,
    description="`person_id` of every record, carried over from the last published tables where "
    "the person is the same (docs/status_and_ids.md), with tonight's id events "
    "(`persons.person_id_events`: created, merged, split, moved, retired, each with its records "
    "and the pairs that caused it). On an incremental night only the records the clustering did not "
    "keep are assigned again; the others keep their row (`persons.person_ids_state` says which).",
    kinds={"duckdb", "polars"},
)
def person_ids(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse):
    threshold = load_rules().cluster_threshold
    history = read_published(padu.published_path, "person_id_events", ["event", "person_id", "recorded_at"])
    cluster_state = warehouse.read(CLUSTER_STATE).row(0, named=True)
    reason = _full_ids_reason(context, padu, warehouse, cluster_state, history)
    if reason is None:  # only the records the clustering did not keep: the others keep their id
        redone = warehouse.read(REDONE)
        clusters = warehouse.read_rows_of("linkage.clusters", redone)
        previous = warehouse.read_rows_of("persons.person_ids", redone)
    else:
        redone = None
        clusters = warehouse.read("linkage.clusters")
        previous = read_published(padu.published_path, "person_records", ["source", "source_record_id", "person_id"])
        if previous is not None:
            previous = previous.select(
                (pl.col("source") + ":" + pl.col("source_record_id")).alias("record_key"), "person_id"
            )
    ids = None if previous is None else previous["person_id"].unique().implode()
    mapping, events = assign_stable_person_ids(
        clusters, previous, context.run.run_id,
        ages=id_ages(history if history is None or ids is None else history.filter(pl.col("person_id").is_in(ids))),
        edges=_joining_pairs(warehouse, threshold, None if redone is None else REDONE), dropped_pairs=(
            warehouse.read("linkage.dropped_pairs") if warehouse.exists("linkage.dropped_pairs") else None),
        issued_ids=None if history is None else history["person_id"],
    )
    kept = 0 if previous is None else mapping.join(previous, on=["record_key", "person_id"]).height
    state = pl.DataFrame({"run_id": [context.run.run_id], "cluster_run_id": [cluster_state["run_id"]],
                          "mode": ["full" if redone is None else REDONE_IDS_MODE],
                          "reason": [reason or "the clustering kept the other records"],
                          "records_assigned": [mapping.height]})
    with warehouse.transaction() as con:
        last_persons = _persons_counted(con) if redone is not None else None
        if redone is None:
            replace_table(con, "persons.person_ids", mapping)
        else:
            con.execute("DELETE FROM persons.person_ids WHERE record_key IN "
                        "(SELECT record_key FROM linkage.cluster_redo)")
            insert_rows(con, "persons.person_ids", mapping)
        records = con.execute("SELECT count(*) FROM persons.person_ids").fetchall()[0][0]
        if last_persons is None:
            persons = con.execute("SELECT count(DISTINCT person_id) FROM persons.person_ids").fetchall()[0][0]
        else:
            # The kept records' ids are held by no redone record, last night or tonight
            # (_full_ids_reason): the persons are last night's, less the redone records' ids of
            # last night, plus tonight's (counting every id took 0.1 s at 1M).
            kept += records - mapping.height
            persons = last_persons - previous["person_id"].n_unique() + mapping["person_id"].n_unique()
        replace_table(con, "persons.person_id_events", events)
        replace_table(con, PERSON_IDS_STATE, state.with_columns(pl.lit(persons, pl.Int64).alias("persons")))
    context.log.info(f"person ids: {mapping.height} of {records} records assigned tonight ({state['reason'][0]})")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": records,
            "persons": persons,
            "records_keeping_their_id": kept,
            "records_assigned_tonight": mapping.height,
            "person_ids_mode": f"{state['mode'][0]}: {state['reason'][0]}",
            "events": markdown_table(value_counts(events, "event")),
        }
    )


def _persons_counted(con) -> int | None:
    """The persons last night's ids step counted (None: a state from before it kept the count)."""
    counted = con.sql(f"SELECT * FROM {PERSON_IDS_STATE}").pl()
    return int(counted["persons"][0]) if "persons" in counted.columns else None


def _full_ids_reason(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse,
                     cluster_state: dict, history: pl.DataFrame | None) -> str | None:
    """Why every record's id is decided again tonight, or None when only the records the
    clustering did not keep are (`linkage.cluster_redo`). The others' clusters are last night's,
    each one a person whose id was published and is held by no other record, so the id rules keep
    it (ids.unchanged_persons); they apply to the redone records only, which hold every record of
    every person they touch, and give what they give over every cluster."""
    if full_rebuild_requested(context):
        return "the run asks for a full rebuild"
    if cluster_state["mode"] != "incremental":
        return "every record was clustered tonight"
    if history is None or not warehouse.exists(PERSON_IDS_STATE) or not warehouse.exists(REDONE):
        return "no earlier ids to build on"
    state = warehouse.read(PERSON_IDS_STATE).row(0, named=True)
    if state["cluster_run_id"] != cluster_state.get("built_on_run_id"):
        return "the last ids were not given to the clusters tonight's clustering kept"
    published = read_published(padu.published_path, "run_info", ["run_id"])
    if published is None or published["run_id"][0] != state["run_id"]:
        return "the last ids were not published"
    return None


def _joining_pairs(warehouse: Warehouse, threshold: float, redone: str | None) -> pl.DataFrame:
    """The pairs that join tonight's persons (the evidence of id events): scored at the cluster
    threshold, stated links and sole-candidate links; with a record in the table `redone`, when
    given."""
    # Only the joining pairs leave DuckDB: most scored pairs are below the cluster threshold, and
    # on an incremental night most of the others join records not clustered again (at 1M, reading
    # the pairs over the threshold took 0.09 s).
    inside = "" if redone is None else (
        f" AND (record_key_l IN (SELECT record_key FROM {redone}) OR record_key_r IN (SELECT record_key FROM {redone}))")
    return pl.concat([
        warehouse.query("SELECT record_key_l, record_key_r, match_weight FROM linkage.pairs "
                        f"WHERE match_probability >= ?{inside}", [threshold]),
        warehouse.query("SELECT record_key_l, record_key_r, NULL::DOUBLE AS match_weight FROM staging.stated_links "
                        f"WHERE true{inside}"),
        # Pairs joined below the threshold as each other's sole candidate.
        warehouse.query("SELECT s.record_key_l, s.record_key_r, p.match_weight FROM linkage.sole_candidate_links s "
                        f"JOIN linkage.pairs p USING (record_key_l, record_key_r) WHERE true{inside}"),
    ])


@dg.asset(
    key=["persons", "persons"],
    deps=[person_ids],
    group_name=PERSONS_GROUP,
    description="One row per person: NIK and household as tokens, sex, birth year, origin "
    "regency, the sources they are in, and their status (migrant phase, destination, troubled "
    "and trafficking flags, DTSEN desil and bansos eligibility, Sekolah Rakyat). Also writes "
    "`persons.person_records` (record → person with link confidence), "
    "`persons.household_links` and `persons.parent_links`.",
    kinds={"duckdb", "polars"},
)
def persons(context: dg.AssetExecutionContext, padu: PaduSettings, warehouse: Warehouse) -> dg.MaterializeResult:
    key = resolve_key(padu.pseudonym_key, padu.data_path, padu.production)
    full_requested = full_rebuild_requested(context)
    # One connection and one transaction: the plan's temporary table of record hashes is saved
    # with the tables it describes, or not at all.
    with warehouse.transaction() as con:
        staged = {source: staged_run_id(con, source) for source in CONTRACTS}
        ids_mode, ids_run = con.execute(f"SELECT mode, run_id FROM {PERSON_IDS_STATE}").fetchall()[0]
        # Tonight's ids step gave ids to the records clustered again only, on the published ids.
        reassigned = (f"SELECT record_key FROM {REDONE}"
                      if (ids_mode, ids_run) == (REDONE_IDS_MODE, context.run.run_id) else None)
        generations = Generations({source: staged_generations(con, source) for source in CONTRACTS},
                                  records_generations(con))
        plan = plan_persons(con, key, full_requested,
                            lambda sources, scoped=(): record_hashes_sql(RECORD_COLUMNS, STATUS_COLUMNS, sources, scoped),
                            staged, reassigned, published_run(padu.published_path), generations)
        table, record_table, households, parents = _person_tables(con, key, plan)
        # A full night writes every row; another deletes and inserts the touched persons' rows only.
        tables = {"persons.persons": table, "persons.household_links": households,
                  "persons.person_records": record_table}
        for name, frame in tables.items():
            (replace_table if plan.full else update_in_place)(con, name, frame)
            replace_table(con, TONIGHT_ROWS[name], frame.clear() if plan.full else frame)
        replace_table(con, "persons.parent_links", parents)
        save_state(con, key, plan, table.height, context.run.run_id, staged, generations)
        # Counted in DuckDB: the million persons' rows need not leave it.
        totals = con.sql("SELECT count(*) AS persons, sum(troubled_worker::INT) AS troubled, "
                         "sum(trafficking_victim::INT) AS trafficking, sum(bansos_eligible::INT) AS bansos, "
                         "sum(sr_enrolled::INT) AS sr, (SELECT count(*) FROM persons.person_records) AS records "
                         "FROM persons.persons").pl().row(0, named=True)
        # As metadata.value_counts counts: nulls as (none), most frequent first.
        phases, by_sources = (con.sql(f"SELECT coalesce({c}, '(none)') AS {c}, count(*) AS rows FROM persons.persons "
                                      "GROUP BY 1 ORDER BY rows DESC, 1").pl() for c in ("migrant_phase", "sources"))
    context.log.info(f"persons: {table.height} of {totals['persons']} chosen tonight ({plan.reason})")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": totals["persons"],
            "records": totals["records"],
            "persons_chosen_tonight": table.height,
            "persons_mode": "full" if plan.full else "changed persons only",
            "persons_reason": plan.reason,
            "records_compared": "every record" if plan.full else (
                f"written since last night: {', '.join(plan.scoped) or 'none'}; "
                f"all: {', '.join(plan.whole) or 'none'}"),
            "migrant_phase": markdown_table(phases),
            "troubled_workers": int(totals["troubled"] or 0),
            "trafficking_victims": int(totals["trafficking"] or 0),
            "bansos_eligible": int(totals["bansos"] or 0),
            "sr_enrolled": int(totals["sr"] or 0),
            "persons_by_sources": markdown_table(by_sources),
            "parent_links": parents.height,
        }
    )


def note_touched_records(con) -> None:
    """Makes TOUCHED_RECORDS: the records of the touched persons (TOUCHED), with their person_id."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE {TOUCHED_RECORDS} AS SELECT record_key, person_id "
                f"FROM persons.person_ids WHERE person_id IN (SELECT person_id FROM {TOUCHED})")


def _with_ids(con, source: str, touched: bool) -> pl.DataFrame:
    """One source's staged status columns with their person_id (of the touched persons only, from
    TOUCHED_RECORDS, the source's id cut from their record keys: the staged rows join on their own
    column instead of a record key built for each of them)."""
    columns = ", ".join(f's."{c}"' for c in ["source_record_id", *STATUS_COLUMNS[source]])
    if not touched:
        return con.sql(f"""
            SELECT {columns}, i.person_id FROM staging.{source} s
            JOIN persons.person_ids i ON i.record_key = '{source}:' || s.source_record_id""").pl()
    prefix = f"{source}:"
    return con.sql(f"""
        SELECT {columns}, t.person_id FROM staging.{source} s
        JOIN (SELECT substr(record_key, {len(prefix) + 1}) AS __id, person_id FROM {TOUCHED_RECORDS}
              WHERE prefix(record_key, '{prefix}')) t ON t.__id = s.source_record_id""").pl()


def _person_tables(con, key: bytes, plan: PersonsPlan):
    """The rows of tonight's chosen persons (all of them, or the touched ones) in persons,
    household_links and person_records; parent_links whole."""
    # Only the chosen persons' records leave DuckDB (on a night of 1% changes, reading all 1.3M
    # records of a 1M night took 0.4 s).
    if not plan.full:
        note_touched_records(con)
    chosen = con.sql(
        f"SELECT {', '.join('r.' + c for c in RECORD_COLUMNS)}, i.person_id FROM staging.person_records r "
        f"JOIN {'persons.person_ids' if plan.full else TOUCHED_RECORDS} i USING (record_key)").pl()
    students = _with_ids(con, "sr_siswa", touched=False)  # all of them: parent links are whole
    # The tokens of every NIK and household key of the chosen records (a person's chosen values
    # are among them) are made in a thread beside the Polars and DuckDB work below, which mostly
    # runs without the GIL: one HMAC per value in Python took 1.9 s at 1M persons.
    with ThreadPoolExecutor(max_workers=1) as tokens:
        nik_tokens = tokens.submit(token_table, chosen["nik"], key, "nik", "nik_token")
        household_tokens = tokens.submit(token_table, chosen["household_key"], key, "household", "household_token")
        golden = golden_records(chosen)
        table = combine_status(
            golden, *(_with_ids(con, source, touched=not plan.full)
                      for source in ("p2mi_penempatan", "p2mi_kasus", "dtsen_individu")),
            students if plan.full else students.filter(pl.col("person_id").is_in(plan.touched.implode())),
        )
        link_confidence = _link_confidence(con, touched=not plan.full)
        nik_tokens, household_tokens = nik_tokens.result(), household_tokens.result()
    table = table.join(nik_tokens, on="nik", how="left")
    household_rows = (
        chosen.filter(pl.col("household_key").is_not_null())
        .select("person_id", "source", "household_key").unique()
        .join(household_tokens, on="household_key", how="left")
    )
    table = table.join(household_tokens, on="household_key", how="left")
    table = table.with_columns(
        pl.col("regency_code").alias("origin_regency_code"),
        pl.col("regency_code").str.slice(0, 2).alias("origin_province_code"),
    ).rename({"records": "record_count"}).select(PERSON_COLUMNS)
    # Unsorted: publishing orders both tables (an incremental night appends to them in place).
    households = household_rows.drop("household_key")

    record_table = (
        chosen.select("source", "source_record_id", "record_key", "person_id")
        .join(link_confidence, on="record_key", how="left")
        .with_columns(pl.len().over("person_id").cast(pl.Int32).alias("person_record_count"))
        # By source, then source record id: the record key "<source>:<id>" sorts the same, since
        # no source name begins another, and one string column sorts faster than two (1.3M: 0.3
        # against 0.45 s).
        .sort("record_key")
        .drop("record_key")
    )
    # A NIK on the records of two persons: the person of its first record by record key. Not the
    # smaller person id: a new person's id hashes the run id, so two runs of one night would choose
    # differently.
    # Only the NIKs the school records name are looked up (sorting all 1.3M records took 0.4 s).
    parent_niks = students.select(pl.concat_list("father_nik", "mother_nik", "guardian_nik").explode().alias("nik"))
    con.register("__parent_niks", parent_niks.drop_nulls().unique().to_arrow())
    nik_to_person = con.sql(
        "SELECT r.nik, arg_min(i.person_id, r.record_key) AS person_id FROM staging.person_records r "
        "JOIN persons.person_ids i USING (record_key) SEMI JOIN __parent_niks p USING (nik) GROUP BY r.nik").pl()
    con.unregister("__parent_niks")
    con.execute(f"DROP TABLE IF EXISTS {TOUCHED_RECORDS}")
    parents = parent_links(students.select("person_id", "father_nik", "mother_nik", "guardian_nik"), nik_to_person)
    return table, record_table, households, parents


def _link_confidence(con, touched: bool) -> pl.DataFrame:
    """Per record, the strongest scored link to another record of the same person (null for a
    person of one record, or one joined only by a stated link); of the touched persons' records
    only, when `touched`. Joined in DuckDB, where the pairs are: only the result comes out."""
    # Both records of such a pair are the person's: of the touched persons, both sides join their
    # records only (TOUCHED_RECORDS; at 1M, 0.04 s against 0.14 s reading them from every record's id).
    ids = TOUCHED_RECORDS if touched else "persons.person_ids"
    best = con.sql(f"""
        WITH same AS (
            SELECT p.record_key_l, p.record_key_r, p.match_probability, p.match_weight
            FROM linkage.pairs p
            JOIN {ids} l ON l.record_key = p.record_key_l
            JOIN {ids} r ON r.record_key = p.record_key_r
            WHERE l.person_id = r.person_id
        )
        SELECT record_key, max(match_probability) AS best_link_probability,
               max(match_weight) AS best_link_weight
        FROM (SELECT record_key_l AS record_key, match_probability, match_weight FROM same
              UNION ALL
              SELECT record_key_r, match_probability, match_weight FROM same)
        GROUP BY record_key""").pl()
    return best.with_columns(pl.col("best_link_weight").round(3))  # rounded as Polars always did
