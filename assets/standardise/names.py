"""Indonesian person names standardised for linkage (domain 6.2): a clean display form with titles
and degrees set aside, the given/father split on BIN/BINTI, and phonetic keys that absorb old
spellings (Djoko/Joko, Soesilo/Susilo), the Muhammad and Ahmad families and split compounds."""

from __future__ import annotations

import unicodedata

import polars as pl

from .values import add_struct_fields, clean_text

NAME_FIELDS: tuple[str, ...] = (
    "clean",
    "titles",
    "given",
    "father",
    "tokens",
    "key",
    "key_nospace",
    "key_sorted",
    "first_key",
    "last_key",
    "key_weak",
)

# Rule 2: honorifics and religious, academic or noble titles written before the name, as they
# read once dots are gone (K.H. -> KH). H, R and T are also common initials, hence ONE_LETTER.
HONORIFICS: tuple[str, ...] = (
    "H", "HJ", "HJH", "HAJI", "HAJJAH", "KH", "DR", "DRS", "DRA", "IR", "PROF", "DRG",
    "R", "RA", "RM", "RADEN", "TGK", "TEUKU", "CUT", "T", "DT", "NY", "NYONYA", "NN", "TN",
    "SDR", "SDRI", "BPK", "BAPAK", "IBU", "PAK", "BU", "ALM", "ALMH",
)
ONE_LETTER_HONORIFICS: tuple[str, ...] = ("H", "R", "T")
# Honorifics written with inner dots; matched before dots become spaces so that R.A. is one title
# and not the initial R followed by A.
_DOTTED_HONORIFICS: tuple[str, ...] = ("K.H", "R.A", "R.M")

# Rule 3: degrees, written after the name. Keyed by their dotless form; the value is how the
# `titles` field writes them.
DEGREES: dict[str, str] = {
    "SPD": "S.PD", "SPDI": "S.PD.I", "SE": "S.E", "SH": "S.H", "ST": "S.T", "SKOM": "S.KOM",
    "SSOS": "S.SOS", "SAG": "S.AG", "SIP": "S.IP", "SKEP": "S.KEP", "NS": "NS", "SKM": "S.KM",
    "SFARM": "S.FARM", "SPSI": "S.PSI", "SSI": "S.SI", "SKED": "S.KED", "SHI": "S.HI",
    "AMD": "A.MD", "AMA": "A.MA", "AMDKEP": "A.MD.KEP", "AMAPD": "A.MA.PD", "AMK": "A.MK",
    "MPD": "M.PD", "MM": "M.M", "MSI": "M.SI", "MKOM": "M.KOM", "MH": "M.H", "MAG": "M.AG",
    "MKES": "M.KES", "MT": "M.T", "MSC": "M.SC", "DR": "DR", "PHD": "PH.D",
}
# Written without dots these could be name tokens, so undotted degrees only count in the run at
# the end of the name; dotted ones (S.PD) count anywhere after the first token.
_TRAILING_TITLES: tuple[str, ...] = (*DEGREES, "ALM", "ALMH")

# Rule 4 and 5: abbreviations and the spelling families of Muhammad and Ahmad, one token each.
_MUHAMMAD_FORMS = (
    "MUHAMMAD", "MUHAMAD", "MUHAMMED", "MUHAMED", "MOHAMMAD", "MOHAMAD", "MOHAMMED", "MOHAMED",
    "MOCHAMMAD", "MOCHAMAD", "MOCHAMED", "MUCHAMMAD", "MUCHAMAD", "MOKHAMAD", "MOKHAMMAD",
    "MUKHAMMAD", "MUKHAMAD", "MUHAMMADH", "MOHD", "MUHD", "MOH", "MUH", "MOCH", "MOC", "MHD", "MD",
)
# AHM. (and ACHM., AKHM.) is Ahmad written short, as MUH. is Muhammad (DTSEN has AHM. RIZKI).
_AHMAD_FORMS = ("AHMAD", "ACHMAD", "AKHMAD", "AHMED", "ACHMED", "AKHMED", "AHMMAD", "AHM", "ACHM", "AKHM")

# Rule 8: patronymic markers; B. (with its dot) is turned into BIN before dots are dropped.
_PATRONYMIC = {"BIN": "BIN", "BINTI": "BINTI", "BT": "BINTI", "BTI": "BINTI"}

# Rule 6: old (pre-1972 and pre-1947) spellings and common transliteration variants, applied all
# at once, leftmost first. Old `dj` is modern `j` and old `j` is modern `y`, so both land on Y:
# DJOKO = JOKO -> YOKO and JANTI = YANTI -> YANTI. Likewise SJ -> SY -> S and TJ -> C.
_PHONETIC: dict[str, str] = {
    "OE": "U", "DJ": "Y", "TJ": "C", "NJ": "NY", "SJ": "S", "J": "Y",
    "CH": "H", "KH": "H", "DH": "D", "TH": "T", "PH": "F", "SY": "S", "SH": "S",
    "Q": "K", "DZ": "Z", "AE": "AI", "OU": "U",
}
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _accent_folding() -> dict[str, str]:
    """Latin letters with diacritics -> ASCII (É -> E, Ñ -> N); combining marks and apostrophes
    -> nothing.

    One Aho-Corasick pass over the names is several times faster than NFKD normalisation.
    """
    folding = {chr(c): "" for c in range(0x0300, 0x0370)}
    # An apostrophe joins (MA'RUF = MARUF); other punctuation separates, further down.
    folding |= dict.fromkeys("'’‘`´\"", "")
    for code in range(0x00C0, 0x0250):
        char = chr(code)
        decomposed = unicodedata.normalize("NFKD", char)
        ascii_form = "".join(c for c in decomposed if not unicodedata.combining(c))
        if ascii_form != char and ascii_form.isascii() and ascii_form.isalpha():
            folding[char] = ascii_form.upper()
    return folding


_ACCENT_FOLDING = _accent_folding()
_DOUBLES = [letter * 2 for letter in _LETTERS]


def _degree_pattern(written: str) -> str:
    return r"\.\s?".join(written.split("."))


def _alternation(forms: list[str]) -> str:
    # Longest first: the regex takes the first alternative that matches (S.PD.I before S.PD).
    return "|".join(_degree_pattern(f) for f in sorted(forms, key=len, reverse=True))


# One pass for both: honorifics may open the name, degrees need a token before them (so a leading
# "M.H." stays Muhammad H.). The match is rewritten as ~TITLE~ for the steps below.
_DOTTED_TITLES_RE = (
    r"(^|[\s,])(" + _alternation(list(_DOTTED_HONORIFICS)) + r")\b\.?"
    r"|([\s,])(" + _alternation([d for d in DEGREES.values() if "." in d]) + r")\b\.?"
)
_MARKED = r"~[^~]*~"


def _collapse_doubles(expr: pl.Expr) -> pl.Expr:
    # Two passes of AA -> A (and so on) shorten runs of up to four letters to one; the Rust regex
    # engine has no backreferences for (.)\1.
    once = expr.str.replace_many(_DOUBLES, list(_LETTERS), leftmost=True)
    return once.str.replace_many(_DOUBLES, list(_LETTERS), leftmost=True)


def _words(forms) -> str:
    return "(?:" + "|".join(sorted(forms, key=len, reverse=True)) + ")"


# Token-level rules run as regexes over the space-separated name: Polars list.eval with positions
# is some fifty times slower, and 1,000,000 names must take seconds. The name keeps at least one
# token: the leading run must be followed by a space and a token, and the trailing run needs a
# space before it, so it cannot take the first token (leftmost match = longest trailing run).
_LEADING_TITLES_RE = r"^((?:" + _words(HONORIFICS) + r" )+)"
_TRAILING_TITLES_RE = r"((?: " + _words(_TRAILING_TITLES) + r")+)$"
_ONE_LETTER_FIRST_RE = r"^" + _words(ONE_LETTER_HONORIFICS) + " "
_EXPANSIONS: tuple[tuple[str, str], ...] = (
    (r"\b" + _words(f for f in _MUHAMMAD_FORMS if f != "MUHAMMAD") + r"\b", "MUHAMMAD"),
    (r"\b" + _words(f for f in _AHMAD_FORMS if f != "AHMAD") + r"\b", "AHMAD"),
    (r"\b(?:ABD|AB)\b", "ABDUL"),
    (r"\bNR\b", "NUR"),
    # M only before another token: a final M (SRI M.) is an initial.
    (r"\bM ", "MUHAMMAD "),
)


def _split_titles(name: pl.Expr, part: str) -> pl.Expr:
    """Adds {part}_core (the name) and {part}_titles to the staged struct, from {part}_text.

    A one-letter honorific in first place (maybe an initial) goes only when at least two name
    tokens remain; after another honorific (DR. H. SUTRISNO) it always goes (rules 2-3).
    """
    f = pl.field
    text = f(f"{part}_text")
    name = name.struct.with_fields(
        **{f"{part}_lead": text.str.extract(_LEADING_TITLES_RE, 1)}
    ).struct.with_fields(
        **{f"{part}_rest": text.str.slice(f(f"{part}_lead").str.len_chars().fill_null(0))}
    ).struct.with_fields(
        **{f"{part}_trail": f(f"{part}_rest").str.extract(_TRAILING_TITLES_RE, 1)}
    )
    lead, trail = f(f"{part}_lead"), f(f"{part}_trail")
    rest = f(f"{part}_rest")
    core = rest.str.slice(0, rest.str.len_chars() - trail.str.len_chars().fill_null(0))
    name = name.struct.with_fields(**{f"{part}_core": core})
    core = f(f"{part}_core")
    keep_first = lead.str.contains(_ONE_LETTER_FIRST_RE) & ~core.str.contains(" ")
    return name.struct.with_fields(
        **{
            f"{part}_core": pl.when(keep_first).then(lead.str.slice(0, 2) + core).otherwise(core),
            f"{part}_titles": pl.concat_str(
                [pl.when(keep_first).then(lead.str.slice(2)).otherwise(lead), trail],
                separator=" ",
                ignore_nulls=True,
            ).str.strip_chars(" "),
        }
    )


def _expand(text: pl.Expr) -> pl.Expr:
    """Rules 4-5: abbreviations and the Muhammad/Ahmad families as one token each (ST -> SITI is
    left to the given name, as it depends on the position after titles)."""
    for pattern, replacement in _EXPANSIONS:
        text = text.str.replace_all(pattern, replacement)
    return text


def _null_if_empty(expr: pl.Expr) -> pl.Expr:
    # replace() evaluates `expr` once; when(expr != "").then(expr) would evaluate it twice.
    return expr.replace({"": None})


def phonetic_key(text: pl.Expr) -> pl.Expr:
    """Rule 6 on upper-case, space-separated tokens: old spellings and variants merged, double
    letters collapsed, a token's final H dropped (FATIMAH = FATIMA), and a final Y after a
    consonant read as I (RIZKY = RIZKI, DEDY = DEDI, both spellings are common). Token order is
    kept."""
    key = _collapse_doubles(text.str.replace_many(_PHONETIC, leftmost=True))
    # \B: an H that ends a longer token; a lone initial H stays.
    return key.str.replace_all(r"\BH\b", "").str.replace_all(r"([B-DF-HJ-NP-TV-Z])Y\b", "${1}I")


OCR_DIGITS = {"0": "O", "1": "I", "2": "Z", "3": "E", "4": "A", "5": "S", "6": "G", "7": "T", "8": "B", "9": "G"}


def standardise_name(raw: pl.Expr) -> pl.Expr:
    """Struct of the fields in NAME_FIELDS for a raw name (see the module docstring).

    Built in stages (struct.with_fields) so that every intermediate is computed once.
    """
    f = pl.field
    marked = (
        clean_text(raw)
        .str.to_uppercase()
        .str.replace_many(_ACCENT_FOLDING)
        # Dotted titles are cut out whole before dots are dropped: set between ~ marks, then
        # collected and removed.
        .str.replace_all(_DOTTED_TITLES_RE, "${1}${3}~${2}${4}~")
    )
    name = pl.struct(marked=marked).struct.with_fields(
        dotted=f("marked").str.extract_all(_MARKED).list.join(" "),
        text=f("marked")
        .str.replace_all(_MARKED, " ")
        # "SUTRISNO B. AHMAD": B. is bin; without its dot B stays an initial.
        .str.replace_all(r"(\S)\s+B\.\s*([A-Z])", "${1} BIN ${2}")
        .str.replace_all(r"[^A-Z0-9 ]+", " ")
        # Names hold no digits (Permendagri 73/2022): a digit is a scanning or typing slip
        # for the letter it looks like (5ITI = SITI, 0 = O).
        .str.replace_many(OCR_DIGITS)
        .str.replace_all(r" {2,}", " ")
        .str.strip_chars(" ")
        .pipe(_expand),
    )
    # Rule 8: the first BIN/BINTI after the first token splits given name from father's name.
    name = name.struct.with_fields(
        parts=f("text").str.extract_groups(r"^(.+?) (BIN|BINTI|BT|BTI)(?: (.+))?$")
    ).struct.with_fields(
        given_text=pl.coalesce(f("parts").struct.field("1"), f("text")),
        marker=f("parts").struct.field("2").replace(_PATRONYMIC),
        father_text=f("parts").struct.field("3"),
    )
    for part in ("given", "father"):
        name = _split_titles(name, part)
    name = name.struct.with_fields(
        # ST is Siti only as the first token; elsewhere it is the S.T. degree.
        given=_null_if_empty(f("given_core").str.replace(r"^ST ", "SITI ")),
        father=_null_if_empty(f("father_core").str.replace(r"^ST ", "SITI ")),
        titles=pl.concat_str(
            [f("given_titles"), f("father_titles"), f("dotted")], separator=" ", ignore_nulls=True
        ),
    )
    name = name.struct.with_fields(
        clean=pl.concat_str(
            [f("given"), f("marker"), f("father")], separator=" ", ignore_nulls=True
        ),
        # Split and mapped only where there are titles: list.eval costs per row, even empty.
        titles=_null_if_empty(f("titles").str.replace_all(r"[~.]", "").str.strip_chars(" "))
        .str.split(" ")
        .list.eval(pl.element().filter(pl.element() != "").replace(DEGREES))
        .list.join(" "),
        tokens=f("given").str.split(" "),
        key=phonetic_key(f("given")),
    )
    name = name.struct.with_fields(
        # ABDUL RAHMAN = ABDURRAHMAN: Arabic al- assimilates to a following sun letter.
        key_nospace=_collapse_doubles(
            f("key")
            .str.replace_all(" ", "", literal=True)
            .str.replace_all(r"ABDUL([RSTDZNL])", "ABDU${1}")
        ),
        key_tokens=f("key").str.split(" "),
    )
    return name.struct.eval(
        clean=_null_if_empty(f("clean")),
        titles=f("titles"),
        given=f("given"),
        father=f("father"),
        tokens=f("tokens"),
        key=f("key"),
        key_nospace=f("key_nospace"),
        key_sorted=f("key_tokens").list.eval(pl.element().sort()).list.join(" "),
        first_key=f("key_tokens").list.first(),
        last_key=f("key_tokens").list.last(),
        # Javanese final -O and -A alternate (SUSILO/SUSILA, SUTRISNO/SUTRISNA).
        key_weak=f("key").str.replace_all(r"O\b", "A"),
    )


def standardise_name_column(df: pl.DataFrame, column: str, prefix: str = "name") -> pl.DataFrame:
    """Adds {prefix}_clean, {prefix}_titles, ... {prefix}_key_weak (the fields of NAME_FIELDS)."""
    names = [f"{prefix}_{field}" for field in NAME_FIELDS]
    return add_struct_fields(df, standardise_name(pl.col(column)), names)
