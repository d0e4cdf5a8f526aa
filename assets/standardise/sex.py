"""Sex codes as the sources write them (L/P, LAKI-LAKI/PEREMPUAN, 1/2, M/F ...) mapped to the
Dukcapil letters L (laki-laki) and P (perempuan)."""

from __future__ import annotations

import polars as pl

from .values import clean_text

# Keys are compared with everything but letters and digits removed, so LAKI-LAKI, LAKI LAKI and
# Laki-laki all become LAKILAKI. 1 = male, 2 = female as in Dukcapil and BPS codes.
_SEX_CODES: dict[str, str] = {
    "L": "L", "LK": "L", "LAKI": "L", "LAKILAKI": "L", "LAKI2": "L", "PRIA": "L",
    "1": "L", "M": "L", "MALE": "L",
    "P": "P", "PR": "P", "PEREMPUAN": "P", "WANITA": "P", "W": "P",
    "2": "P", "F": "P", "FEMALE": "P",
}


def standardise_sex(raw: pl.Expr) -> pl.Expr:
    """L, P or null (unknown or unreadable)."""
    text = clean_text(raw).str.to_uppercase()
    # "1.0"/"2.0" arrive from spreadsheets that stored the code as a number.
    compact = text.str.replace(r"^([0-9]+)[.,]0+$", "${1}").str.replace_all(r"[^A-Z0-9]", "")
    return compact.replace_strict(_SEX_CODES, default=None, return_dtype=pl.String)
