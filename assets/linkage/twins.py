"""Twins on one family card whose NIK the model cannot see.

Twins are registered on one card, born on one day, often under names one letter apart (NAILA PUTRI
and NAILI PUTRI, FAYAR and FAYRI RAMADAN). With both NIKs the model keeps them apart (the family
card levels in `linkage_rules/model.yaml`); with one NIK missing it sees one card, one date and a
name with one typo, and joins them. A duplicate row of one person on the card looks the same, except
for the name it carries: a typed-over name is one almost nobody else has (AULIA PTURI, DADAG), while
a twin's is an established name.

So two rows of one source on one card (or in one DTSEN family, where a row's card number is
missing: RIZKI and RIZKA ANANDA), born on one day, one NIK missing, under two names that are
each held by at least `clustering.twin_min_name_share` of the population and by
`twin_min_name_holders` people at the least (the model's frozen term frequencies, counted on the
deduplicated DTSEN), neither name's words all inside the other's (AULIA and AULIA PUTRI are one
person written short), are two people: a cannot-link, which the clustering keeps like a reviewer's
non-match (assets/linkage/constraints.py, rule 2). So are two such rows on two different cards
that do not carry one NIK: one person registered twice keeps a name, or a slip of it. And two such
rows of one DTSEN family with two NIKs, when one row lacks the card number: with both cards the
model's family-card comparison keeps them apart, without one it cannot see the card.

Measured on the generator with its hardest noise (docs/linkage.md, "Twins whose NIK is missing"):
at 50,000 persons 7 false pairs fewer and no true one; at 200,000, 69 false pairs fewer and 5 true
ones. On one card, a name written with initials (AULIA P, SITI F) is the other row's name written
short too (stop 28): at 200,000, 6 true pairs more and no false one; 50,000 unchanged. One DTSEN
family as one card (stop 30): at 200,000, 2 false pairs fewer and no true one; 50,000 unchanged;
with two NIKs too (once one village weighed more than one district): 8 and 1 false pairs fewer,
no true one. "Born on one day" includes one row on a default date of the other's year (the register
knew the year only: DIMAS PRASETYO 2011-11-14 and DIMAS PRASETYA 2011-12-31), since stop 31: at
200,000, 4 false pairs fewer and no true one; 50,000 unchanged. A name written without a space
it should have (NAIL IPUTRI) counts as the established name it spells (NAILI PUTRI), since stop
31: at 200,000, 2 false pairs fewer and no true one."""

from __future__ import annotations

from typing import Callable

import polars as pl

from assets.linkage.incremental import PAIR_KEYS as KEYS
from assets.linkage.model import source_of_key

COLUMNS = ["record_key", "nik", "name_key", "name_key_nospace", "kk", "family_id", "birth_date",
           "birth_date_is_default"]


def _words_inside(inner: str, outer: str) -> pl.Expr:
    """Every word of one name is a word of the other."""
    return pl.col(inner).str.split(" ").list.set_difference(pl.col(outer).str.split(" ")).list.len() == 0


def _written_short(left: str, right: str) -> bool:
    """One name is the other with words cut to their initials: as many words, each the other's
    word or its first letter (AULIA P and AULIA PUTRI, SITI F and SITI FATIMA)."""
    a, b = left.split(" "), right.split(" ")
    return len(a) == len(b) and all(
        x == y or (len(x) == 1 and y.startswith(x)) or (len(y) == 1 and x.startswith(y)) for x, y in zip(a, b))


def twin_cannot_links(pairs: pl.DataFrame, records_of: Callable[[pl.DataFrame], pl.DataFrame],
                      name_shares: pl.DataFrame, min_share: float, min_holders: int) -> pl.DataFrame:
    """pairs: record_key_l, record_key_r (every scored pair); records_of: the COLUMNS of the
    records of a frame of record keys; name_shares: name_key, tf_name_key, total (the model's
    term frequencies). A name is established when its share is at least `min_share` and at least
    `min_holders` people hold it (in a small population a share is one person). Returns
    record_key_l, record_key_r of the pairs that are twins by the rule above."""
    same_source = pairs.filter(source_of_key("record_key_l") == source_of_key("record_key_r")).select(KEYS)
    if same_source.is_empty():
        return same_source
    keys = pl.concat([same_source["record_key_l"], same_source["record_key_r"]]).unique().to_frame("record_key")
    established = name_shares.filter(
        pl.col("tf_name_key") >= min_share, pl.col("tf_name_key") * pl.col("total") >= min_holders - 0.5
    )
    # A name is also established when, written without its spaces, it is an established name
    # written without them: a space slipped (NAIL IPUTRI is NAILI PUTRI, SRIWAHYUNINGSI is SRI
    # WAHYUNINGSI).
    names = established["name_key"]
    records = records_of(keys).filter(
        pl.col("name_key").is_in(names.implode())
        | pl.col("name_key_nospace").is_in(names.str.replace_all(" ", "", literal=True).implode()))
    both = (
        same_source
        .join(records.rename(lambda c: f"{c}_l"), on="record_key_l")
        .join(records.rename(lambda c: f"{c}_r"), on="record_key_r")
    )
    one_nik_missing = pl.col("nik_l").is_null() | pl.col("nik_r").is_null()
    # On one card, a name written with initials is the other row's name (the generator and the
    # registers abbreviate established names, so "AULIA P" is one); on two cards it may be a
    # namesake born the same day, as it was in the one such pair at 200,000 heavy-noise persons.
    short = pl.struct("name_key_l", "name_key_r").map_elements(
        lambda names: _written_short(names["name_key_l"], names["name_key_r"]), return_dtype=pl.Boolean)
    # One card: one card number, or one DTSEN family where a row's card number is missing.
    one_number = (pl.col("kk_l") == pl.col("kk_r")).fill_null(False)
    one_family = ~one_number & (pl.col("family_id_l") == pl.col("family_id_r")).fill_null(False)
    one_card = one_number | one_family
    two_cards = (pl.col("kk_l") != pl.col("kk_r")).fill_null(False) & ~one_card
    two_niks = (pl.col("nik_l") != pl.col("nik_r")).fill_null(False)
    return both.filter(
        # one card and a NIK missing (twins), or two cards and not one NIK (two people born on
        # one day, each in the register under a name of their own); one family whose card number
        # a row lacks and two NIKs (twins that the model's family-card comparison cannot see)
        (one_card & one_nik_missing & ~short)
        | (one_family & two_niks & ~short)
        | (two_cards & (one_nik_missing | two_niks)),
        # born on one day, or in one year where a row's date is a default (1 January, 1 July, 31
        # December: the register knew the year only)
        (pl.col("birth_date_l") == pl.col("birth_date_r"))
        | ((pl.col("birth_date_is_default_l") | pl.col("birth_date_is_default_r")).fill_null(False)
           & (pl.col("birth_date_l").dt.year() == pl.col("birth_date_r").dt.year())),
        pl.col("name_key_l") != pl.col("name_key_r"),
        pl.col("name_key_nospace_l") != pl.col("name_key_nospace_r"),
        ~_words_inside("name_key_l", "name_key_r"),
        ~_words_inside("name_key_r", "name_key_l"),
    ).select(KEYS).sort(KEYS)
