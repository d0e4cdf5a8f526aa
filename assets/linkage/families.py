"""Two roles in one DTSEN family are two people.

A DTSEN family lists each member once, with one relation to its head (`hubungan_keluarga`): the
head, a spouse, a child, a grandchild, a parent or parent-in-law, a child-in-law. The registry's
own duplicates keep the relation they had: one person entered twice in one family is entered in
one role twice. So two rows of one family (`id_keluarga`) in two different roles are two people,
whatever their names and dates say: YOHANES LAKE the head (no NIK, no birth date) and YOHANES LAKE
his son; MAHNUN and MAHSUN, wife and head, the husband's row carrying his wife's NIK.

Rows in a vague role (FAMILI LAIN, PEMBANTU, LAINNYA, none) are left to the model: a duplicate of a
child may be entered once as ANAK and once as FAMILI LAIN. Roles that name one relation two ways
(SUAMI and ISTRI, ORANG TUA and MERTUA) are one role here; `clustering.family_roles` in
`linkage_rules/model.yaml` gives the mapping.

Measured on the generator with its hardest noise, 200,000 persons: of the 3,857 pairs of rows that
are one person twice in one family, 3,751 have one relation and the others differ only in a vague
role or in ORANG TUA against MERTUA; no pair in two roles of this mapping is one person. Five such
pairs had been joined; the rule took them apart and changed no true pair (docs/linkage.md, "Two
roles in one DTSEN family").

Applied to the records of each connected component before the split (recluster.cluster_people),
as cannot-links that the constrained split keeps, like the model's own conflicts: two roles
joined through a third record are kept apart too."""

from __future__ import annotations

from typing import Callable

import polars as pl

from assets.linkage.model import source_of_key

SOURCE = "dtsen_individu"
# The columns of the records the rule reads (staging.person_records: DTSEN's `id_keluarga` and
# `hubungan_keluarga`, null for the other sources).
COLUMNS = ["record_key", "family_id", "family_relation"]


def family_role_conflicts(components: pl.DataFrame, records_of: Callable[[pl.DataFrame], pl.DataFrame],
                          roles: dict[str, str]) -> pl.DataFrame:
    """components: record_key, cluster_id; records_of: at least the COLUMNS of the records of a
    frame of record keys; roles: relation (upper case) -> role. Returns record_key_l,
    record_key_r (smaller key left) of every two DTSEN rows of one component and one family whose
    relations map to two different roles."""
    empty = pl.DataFrame(schema={"record_key_l": pl.String, "record_key_r": pl.String})
    if not roles:
        return empty
    dtsen = components.filter(source_of_key("record_key") == SOURCE).select(
        "record_key", pl.col("cluster_id").cast(pl.String))
    shared = dtsen.group_by("cluster_id").len().filter(pl.col("len") >= 2).select("cluster_id")
    dtsen = dtsen.join(shared, on="cluster_id", how="semi")
    if dtsen.is_empty():
        return empty
    members = dtsen.join(records_of(dtsen.select("record_key")).select(COLUMNS), on="record_key").with_columns(
        pl.col("family_relation").replace_strict(roles, default=None, return_dtype=pl.String).alias("role"),
    ).filter(pl.col("family_id").is_not_null(), pl.col("role").is_not_null())
    pairs = members.join(members, on=["cluster_id", "family_id"], suffix="_r").filter(
        pl.col("record_key") < pl.col("record_key_r"), pl.col("role") != pl.col("role_r"))
    return pairs.select(pl.col("record_key").alias("record_key_l"), "record_key_r").sort("record_key_l", "record_key_r")
