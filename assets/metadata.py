"""Metadata the Dagster UI renders: small markdown tables of counts. Only counts, codes and
reasons go here, never a personal value: the UI shows metadata to every user."""

from __future__ import annotations

import dagster as dg
import polars as pl


def markdown_table(frame: pl.DataFrame, max_rows: int = 50) -> dg.MetadataValue:
    if frame.is_empty():
        return dg.MetadataValue.md("_none_")
    with pl.Config(
        tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
        tbl_rows=max_rows, fmt_str_lengths=200, tbl_width_chars=400,
    ):
        return dg.MetadataValue.md(str(frame.head(max_rows)))


def value_counts(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Rows per value of a code column (nulls counted as `(none)`), most frequent first."""
    return (
        frame.group_by(pl.col(column).fill_null("(none)"))
        .len("rows")
        .sort("rows", column, descending=[True, False])
    )


def value_counts_sql(table: str, column: str) -> str:
    """`value_counts` of a column of a warehouse table, counted where the table is."""
    return (f'SELECT coalesce("{column}", \'(none)\') AS "{column}", count(*) AS rows FROM {table} '
            f'GROUP BY 1 ORDER BY rows DESC, "{column}"')
