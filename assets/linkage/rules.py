"""Loads the linkage model from `linkage_rules/` and turns it into Splink settings. The rules are
data; their hash is the code version of every asset that depends on them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import sqlglot
import sqlglot.errors
import yaml

from assets.standardise.block_keys import CappedKey, parse_capped_keys

RULES_DIR = Path(__file__).resolve().parents[2] / "linkage_rules"
MODEL_FILE = RULES_DIR / "model.yaml"
# A level key of ours, not Splink's: training sets the level's u from the named column's value
# frequencies (splink_settings leaves it out).
U_FROM_FREQUENCIES = "u_from_value_frequencies"
# A record's column in a pair condition: `nik_l`, `birth_date_is_default_r`.
_RECORD_COLUMN = re.compile(r"\b([a-z][a-z0-9_]*?)_[lr]\b")


def columns_of_levels(comparison: dict) -> set[str]:
    """The record columns a comparison's levels read (`nik` for `nik_l = nik_r`)."""
    return {m.group(1) for level in comparison["comparison_levels"]
            for m in _RECORD_COLUMN.finditer(level["sql_condition"])}


@dataclass(frozen=True)
class LinkageRules:
    raw: dict[str, Any]
    version_hash: str

    @property
    def unique_id_column(self) -> str:
        return self.raw["unique_id_column"]

    @property
    def sql_dialect(self) -> str:
        """The SQL dialect the conditions and blocking rules are written in: DuckDB's, unless the
        file says otherwise (`sql_dialect:`). Other backends get them transpiled
        (assets/linkage/backend.py)."""
        return str(self.raw.get("sql_dialect", "duckdb"))

    @property
    def blocking_rules(self) -> list[str]:
        return list(self.raw["blocking_rules_to_generate_predictions"])

    @property
    def capped_block_keys(self) -> list[CappedKey]:
        """The blocking keys with a size limit that staging adds to every record
        (assets/standardise/block_keys.py)."""
        return parse_capped_keys(self.raw.get("capped_block_keys"))

    @property
    def training(self) -> dict[str, Any]:
        return self.raw["training"]

    @property
    def predict_threshold(self) -> float:
        return float(self.raw["thresholds"]["predict_match_probability"])

    @property
    def cluster_threshold(self) -> float:
        return float(self.raw["thresholds"]["cluster_match_probability"])

    @property
    def thin_record_cluster_threshold(self) -> float | None:
        """The cluster threshold of a pair with a record that has neither a NIK nor a birth date
        (assets/linkage/model.py, `held_back`); None: the cluster threshold."""
        value = self.raw["thresholds"].get("thin_record_cluster_match_probability")
        return None if value is None else float(value)

    @property
    def thin_record_lone_person_min_probability(self) -> float | None:
        """A thin record whose every candidate is one person joins that person from this
        probability (assets/linkage/sole_candidates.py, `lone_person_links`); None: never below
        the thin records' own threshold."""
        value = self.raw["thresholds"].get("thin_record_lone_person_min_probability")
        return None if value is None else float(value)

    @property
    def max_cluster_size(self) -> int:
        return int(self.raw["clustering"]["max_cluster_size"])

    @property
    def cannot_link_below(self) -> float:
        return float(self.raw["clustering"]["cannot_link_below_match_probability"])

    @property
    def cannot_link_evidence_weight(self) -> float | None:
        """A pair inside a cluster is a cannot-link only when some comparison weighs at most this
        against it (assets/linkage/conflicts.py); None: the probability alone decides."""
        value = self.raw["clustering"].get("cannot_link_evidence_weight")
        return None if value is None else float(value)

    @property
    def cannot_link_conditions(self) -> list[tuple[str, float]]:
        """(DuckDB condition on a scored pair, below probability): a pair inside a cluster that
        meets the condition is a cannot-link up to that higher probability
        (assets/linkage/conflicts.py). A condition may read the comparisons' weights (`mw_<name>`)
        and the columns the comparisons read (`<column>_l`, `<column>_r`): the scored pairs carry
        no others, so anything else is refused when the rules are read (before any step), naming the
        rule."""
        comparisons = {c["output_column_name"] for c in self.raw["comparisons"]}
        matching = set().union(*(columns_of_levels(c) for c in self.raw["comparisons"]))
        conditions = []
        for i, rule in enumerate(self.raw["clustering"].get("cannot_link_conditions") or []):
            condition = rule["sql_condition"]
            where = f"{MODEL_FILE.name}, clustering.cannot_link_conditions[{i}] ({condition!r})"
            try:
                sqlglot.parse_one(condition, dialect="duckdb")
            except sqlglot.errors.ParseError as error:
                raise ValueError(f"{where}: not valid DuckDB SQL: {error}") from None
            weights = {m.group(1) for m in re.finditer(r"\bmw_(?:tf_adj_)?([a-z_]+)\b", condition)}
            unknown = sorted(weights - comparisons) + sorted(
                m.group(0) for m in _RECORD_COLUMN.finditer(condition) if m.group(1) not in matching)
            if unknown:
                raise ValueError(f"{where}: reads {', '.join(unknown)}, which the scored pairs do not carry "
                                 f"(comparisons: mw_<{'|'.join(sorted(comparisons))}>; columns a comparison reads, "
                                 "with _l and _r)")
            conditions.append((condition, float(rule["below_match_probability"])))
        return conditions

    @property
    def sole_candidate_min_probability(self) -> float | None:
        """Pairs of different sources that are each other's only candidate join from this
        probability (assets/linkage/sole_candidates.py); None: only at the cluster threshold."""
        value = self.raw["clustering"].get("sole_candidate_min_probability")
        return None if value is None else float(value)

    @property
    def sole_candidate_runner_up_ratio(self) -> float:
        """How far behind the pair a sole candidate's other candidates must score (0: none)."""
        return float(self.raw["clustering"].get("sole_candidate_runner_up_ratio", 0.0))

    @property
    def twin_name_rule(self) -> tuple[float, int] | None:
        """(share, holders) that make a name established for the twins rule
        (assets/linkage/twins.py); None: no such rule."""
        clustering = self.raw["clustering"]
        if clustering.get("twin_min_name_share") is None:
            return None
        return float(clustering["twin_min_name_share"]), int(clustering.get("twin_min_name_holders", 1))

    @property
    def family_roles(self) -> dict[str, str]:
        """DTSEN relation (upper case) -> role, for the family-roles rule
        (assets/linkage/families.py); empty: no such rule."""
        roles = self.raw["clustering"].get("family_roles") or {}
        return {str(relation).strip().upper(): str(role) for relation, role in roles.items()}

    @property
    def stricter_thresholds(self) -> tuple[float, ...]:
        return tuple(float(t) for t in self.raw["clustering"]["stricter_thresholds"])

    @property
    def review_band(self) -> tuple[float, float]:
        band = self.raw["review"]
        return float(band["lower_match_probability"]), float(band["upper_match_probability"])

    @property
    def comparison_columns(self) -> list[str]:
        return [c["output_column_name"] for c in self.raw["comparisons"]]

    def u_from_value_frequencies(self) -> dict[tuple[str, str], str]:
        """(comparison, level label) -> column, for the levels whose u training takes from how
        often the column's values repeat (`u_from_value_frequencies:` in the file) instead of
        from random pairs (assets/linkage/model.py, `frequency_u`)."""
        return {
            (c["output_column_name"], level["label_for_charts"]): level[U_FROM_FREQUENCIES]
            for c in self.raw["comparisons"] for level in c["comparison_levels"] if U_FROM_FREQUENCIES in level
        }

    def splink_settings(self) -> dict[str, Any]:
        """Settings in Splink's own dictionary format (the same shape as a saved model)."""
        return {
            "link_type": self.raw["link_type"],
            "unique_id_column_name": self.unique_id_column,
            "blocking_rules_to_generate_predictions": [
                {"blocking_rule": rule} for rule in self.blocking_rules
            ],
            "comparisons": [
                {**c, "comparison_levels": [
                    {k: v for k, v in level.items() if k != U_FROM_FREQUENCIES} for level in c["comparison_levels"]
                ]}
                for c in self.raw["comparisons"]
            ],
            # Keeps the comparison levels (gamma_*) and their weights (mw_*) for explaining a pair.
            "retain_intermediate_calculation_columns": True,
            "retain_matching_columns": False,
        }


def load_rules(path: Path = MODEL_FILE) -> LinkageRules:
    """The rules in `path`, read once per process. A run executes every step in one process (the
    in-process executor), so all of its steps see one version of the file even when someone edits
    it during the run: staging, blocking and diagnostics from different versions failed the run
    on a blocking key that staging had not made. The next run reads the edit."""
    return _read_rules(path.resolve())


@cache
def _read_rules(path: Path) -> LinkageRules:
    text = path.read_bytes()
    rules = LinkageRules(raw=yaml.safe_load(text), version_hash=hashlib.sha256(text).hexdigest()[:12])
    rules.cannot_link_conditions  # checked when read: a bad condition stops the run before any step
    return rules


@cache
def rules_code_version() -> str:
    """Code version for the Dagster assets: changes whenever a rule changes."""
    return load_rules().version_hash
