"""Weighted Indonesian name lists and a vectorised name drawer.

A person's name follows a naming style (Javanese mononym, Muslim, Sundanese, Balinese, Batak, ...)
chosen from the household's province and the person's birth cohort. Frequent names are frequent:
explicit weights follow the Dukcapil 2024 top-name counts where domain.md 6.1 gives them, the
rest fall off like a Zipf law in list order.
"""

from __future__ import annotations

import numpy as np
import polars as pl

STYLES = ("JAVA_MONO", "JAVA_TWO", "MUSLIM", "SUNDA", "SASAK", "BALI", "BATAK", "TIMUR", "MODERN")
STYLE_ID = {name: i for i, name in enumerate(STYLES)}


def _tokens(spec: str) -> tuple[list[str], np.ndarray]:
    """`"SUTRISNO:144 SLAMET:115 HERMAN"` -> tokens and weights; `_` stands for a space inside a token.

    Tokens without a weight get a Zipf weight from their position so that list order means frequency.
    """
    tokens, weights = [], []
    for rank, item in enumerate(spec.split()):
        token, _, weight = item.partition(":")
        tokens.append(token.replace("_", " "))
        weights.append(float(weight) if weight else 60.0 / (rank + 1) ** 0.7)
    w = np.array(weights)
    return tokens, w / w.sum()


# --- token lists -----------------------------------------------------------------------------------
JAVA_MONO_M = _tokens(
    "SUTRISNO:144 SLAMET:115 MULYADI:112 HERMAN:102 SUPARDI:93 ISMAIL:90 SUPRIYANTO:88 WAHYUDI:86 "
    "JUNAIDI:85 SUPARMAN:85 SUGIANTO:60 SUYANTO:55 SUNARDI:50 SUKIRMAN:45 PAIMAN:40 SUMARNO:40 "
    "SUPARNO:40 SUWARNO:35 SUGENG:35 TUKIMIN:30 KASMAN:30 SAMSUDIN:30 RUSDI:28 SAIFUL:25 KARYONO:25 "
    "WAGIMAN:22 SARIMIN:20 DARSONO:20 TARMIDI:18 KASIMAN:15 SUNYOTO:15 SUDARSONO:15 SUHARTO:15 "
    "SUJADI:12 SUMADI:12 PONIMAN:10 TARYONO:10 CASMADI:10 WARSITO:10 DARMAJI:8"
)
JAVA_MONO_F = _tokens(
    "NURHAYATI:255 SUMARNI:80 SUPARTI:70 WARSINI:60 SUMIATI:60 TUMINAH:55 PAINEM:50 SUNARSIH:45 "
    "KASMINI:40 SUTINAH:40 SUPIYATI:35 SRIYATUN:35 KARSIH:30 SURATMI:30 WAGINEM:25 MARYATI:25 "
    "SUMIYATI:25 RUMINAH:20 SUNARTI:20 KARSINAH:20 SAINI:15 TARSIH:15 DARSIH:15 WASINI:12 RUMIYATI:12 "
    "CASMINAH:10 TURINAH:10 SUYATMI:10"
)
JAVA_FIRST_M = _tokens("AGUS BUDI EKO DWI TRI JOKO BAMBANG HADI ARIS ADI DEDI HERU ANDI TEGUH YUDI RUDI "
                       "IWAN DIDIK BAYU ARIF SUGENG HARI DANANG WAWAN")
JAVA_LAST_M = _tokens("SANTOSO PRASETYO SETIAWAN WIBOWO SUSANTO HARTONO PURNOMO NUGROHO KURNIAWAN "
                      "SUPRIYADI SAPUTRO RAHARJO SETIADI HIDAYAT PRIYANTO WAHYUDI HARYANTO SULISTYO "
                      "CAHYONO PRIBADI SUSILO WIDODO")
JAVA_FIRST_F = _tokens("SRI:40 DWI TRI ENDANG RINA DEWI SITI YULI NUR EKA RETNO TUTIK WATI ANI ATIK")
JAVA_LAST_F = _tokens("WAHYUNI RAHAYU LESTARI HANDAYANI SUSANTI WULANDARI PURWANTI MULYANI SULISTYOWATI "
                      "KURNIASIH ASTUTI NINGSIH SETYANINGSIH WIDAYANTI PUJIATI SUPRIHATIN YULIANTI")
MUSLIM_PREFIX_M = _tokens("MUHAMMAD:40 AHMAD:20 ABDUL:12")
MUSLIM_GIVEN_M = _tokens(
    "RIZKI FAUZI HIDAYAT ARIF YUSUF IQBAL RAMADHAN SYAIFUL FIKRI HASAN HUSEIN ALI IBRAHIM ISMAIL "
    "KHOIRUL ZAINAL SOLEH RAHMAN ROZAK HAFIZ FARHAN ALFIAN SYAHRUL MA'RUF NU'MAN ZAKARIA SAPUTRA "
    "MALIK KARIM HAMID AZIZ ROHIM SYAFI'I JUNAIDI ANSORI MUKHLIS"
)
MUSLIM_THIRD_M = _tokens("SAPUTRA HIDAYATULLAH RAMADHAN AL_FARISI FIRMANSYAH MAULANA PRATAMA NURDIN SYAH")
MUSLIM_PREFIX_F = _tokens("SITI:50 NUR:20 NURUL:10")
MUSLIM_GIVEN_F = _tokens(
    "AMINAH FATIMAH KHOTIJAH AISYAH ZAINAB MARYAM HALIMAH MUNAWAROH SALAMAH ROHMAH KHOIRIYAH "
    "JUMA'AH MA'RIFAH HAYATI AZIZAH ROFIAH MUTMAINAH UMI_KALSUM HASANAH JANNAH KHASANAH MAIMUNAH"
)
SUNDA_FIRST_M = _tokens("ASEP:30 UJANG:20 DEDE CECEP DADANG YAYAT ENDANG AAN OMAN ENCEP DEDEN DODI "
                        "AGUS IWAN")
SUNDA_LAST_M = _tokens("SAEPULOH SUHERMAN SUPRIATNA HERMAWAN KURNIA SOBANDI RUSTANDI MULYANA SUTISNA "
                       "NURJAMAN SOLIHIN SETIAWAN HIDAYAT")
SUNDA_FIRST_F = _tokens("EUIS NENG ENTIN IMAS CUCU ENOK IIS NENI TITIN YAYAH EEN LILIS OOM ELIS")
SUNDA_LAST_F = _tokens("SURYANI KOMALASARI NURHASANAH ROSMAWATI SUMIATI HERAWATI KARTIKA RAHMAWATI "
                       "NURAENI JUBAEDAH")
SASAK_PREFIX_M = _tokens("LALU")
SASAK_PREFIX_F = _tokens("BAIQ")
SASAK_MONO_M = _tokens("SAHNAN MAHSUN SAPARUDIN SAHRUL ZAINUDIN MUNAWIR HAERUDIN SAMSUL AMAQ_SAHLI "
                       "HAMDAN MURDI")
SASAK_MONO_F = _tokens("HAERUNNISA RUKIAH MAHNUN SAMIRAH NURJANAH SAENAH MUNIRAH SUHAENI RAEHAN "
                       "NURHAYATI")
BALI_ORDER_M = _tokens("WAYAN:25 PUTU:15 GEDE:10 MADE:22 KADEK:10 NYOMAN:12 KOMANG:8 KETUT:12")
BALI_ORDER_F = _tokens("LUH:15 PUTU:15 WAYAN:10 MADE:22 KADEK:10 NYOMAN:12 KOMANG:8 KETUT:12")
BALI_GIVEN_M = _tokens("SUDARMA ARTANA SUARDANA MERTA SUKADANA WIRAWAN ADNYANA SUPARTA DARMAWAN "
                       "ASTAWA SUWITRA MAHENDRA")
BALI_GIVEN_F = _tokens("SUARTINI ARIANI SUKARMI WIDIASIH ASTITI SUCIATI PURNAMI SUDARMI MURNI "
                       "SRI_WAHYUNI SUARNI")
BATAK_GIVEN_M = _tokens("JOSUA DANIEL SAMUEL ROBERT JHON RUDI HENDRA MARTIN ANDRÉ BENNY TUMPAL "
                        "PARULIAN RICARDO")
BATAK_GIVEN_F = _tokens("MARIA ROSMAWATI LASMARIA DUMARIA ELISABETH RUTH TIURMA RENTA HOTMAULI "
                        "LAMTIUR RISMA")
BATAK_MARGA = _tokens("SIMANJUNTAK SIREGAR NASUTION HARAHAP SITUMORANG PANJAITAN SINAGA HUTAPEA LUBIS "
                      "PASARIBU SIMATUPANG MANURUNG SIHOMBING TAMBUNAN NAINGGOLAN")
TIMUR_GIVEN_M = _tokens("YOHANES YOSEF FRANSISKUS PETRUS MARKUS YOSEPH JOSÉ ANDRÉ RENÉ AGUSTINUS "
                        "MIKAEL STEFANUS")
TIMUR_GIVEN_F = _tokens("MARIA MAGDALENA YOHANA KRISTINA AGUSTINA FRANSISKA YULIANA THERESIA "
                        "MARGARETHA ROSALINA")
TIMUR_SURNAME = _tokens("DA_COSTA DE_JESUS NDAPA LAKE TAOLIN MANAFE WENDA KOGOYA MANUPUTTY SUMAMPOUW "
                        "LAKA TUAN KEFI")
MODERN_FIRST_M = _tokens("MUHAMMAD:50 RIZKY FARHAN DIMAS ALIF RAFI AZKA FATHAN GILANG REZA ADITYA "
                         "DAFFA ARKAN")
MODERN_LAST_M = _tokens("PRATAMA RAMADHAN SAPUTRA MAULANA AL_FATIH ALFARIZI HIDAYAT FIRMANSYAH "
                        "NUGRAHA AKBAR")
MODERN_FIRST_F = _tokens("AULIA NAYLA ZAHRA PUTRI AZZAHRA ANISA SALSABILA KEYSHA NABILA ALYA FITRI "
                         "DINDA AYU INTAN")
MODERN_LAST_F = _tokens("PUTRI RAMADHANI AZZAHRA NURAINI SAFITRI LESTARI WULANDARI AMELIA "
                        "KHAIRUNNISA MAHARANI")
# Single given names used as the grandfather's name on Saudi-bound passports.
GRANDFATHER = _tokens("MUHAMMAD:30 AHMAD:20 ABDULLAH:10 HASAN UMAR SALEH YUSUF IBRAHIM ISMAIL "
                      "HAMZAH IDRIS MUSA")

# A style is, per sex, a list of slots: (tokens, probability that the slot is present).
_SLOTS: dict[tuple[str, bool], list[tuple[tuple[list[str], np.ndarray], float]]] = {
    ("JAVA_MONO", False): [(JAVA_MONO_M, 1.0)],
    ("JAVA_MONO", True): [(JAVA_MONO_F, 1.0)],
    ("JAVA_TWO", False): [(JAVA_FIRST_M, 1.0), (JAVA_LAST_M, 1.0)],
    ("JAVA_TWO", True): [(JAVA_FIRST_F, 1.0), (JAVA_LAST_F, 1.0)],
    ("MUSLIM", False): [(MUSLIM_PREFIX_M, 0.6), (MUSLIM_GIVEN_M, 1.0), (MUSLIM_THIRD_M, 0.25)],
    ("MUSLIM", True): [(MUSLIM_PREFIX_F, 0.55), (MUSLIM_GIVEN_F, 1.0), (JAVA_LAST_F, 0.15)],
    ("SUNDA", False): [(SUNDA_FIRST_M, 1.0), (SUNDA_LAST_M, 0.7)],
    ("SUNDA", True): [(SUNDA_FIRST_F, 1.0), (SUNDA_LAST_F, 0.6)],
    ("SASAK", False): [(SASAK_PREFIX_M, 0.2), (SASAK_MONO_M, 1.0)],
    ("SASAK", True): [(SASAK_PREFIX_F, 0.15), (SASAK_MONO_F, 1.0)],
    ("BALI", False): [(_tokens("I"), 0.92), (BALI_ORDER_M, 1.0), (BALI_GIVEN_M, 1.0)],
    ("BALI", True): [(_tokens("NI"), 0.92), (BALI_ORDER_F, 1.0), (BALI_GIVEN_F, 1.0)],
    ("BATAK", False): [(BATAK_GIVEN_M, 1.0), (BATAK_MARGA, 1.0)],
    ("BATAK", True): [(BATAK_GIVEN_F, 1.0), (BATAK_MARGA, 1.0)],
    ("TIMUR", False): [(TIMUR_GIVEN_M, 1.0), (TIMUR_SURNAME, 1.0)],
    ("TIMUR", True): [(TIMUR_GIVEN_F, 1.0), (TIMUR_SURNAME, 1.0)],
    ("MODERN", False): [(MODERN_FIRST_M, 1.0), (MODERN_LAST_M, 1.0), (MUSLIM_THIRD_M, 0.2)],
    ("MODERN", True): [(MODERN_FIRST_F, 1.0), (MODERN_LAST_F, 1.0)],
}

# Naming style by region group and birth cohort (born <1980, 1980-1999, >=2000) [D].
REGION_GROUPS = ("JAWA", "SUNDA", "METRO", "SASAK", "BALI", "BATAK", "TIMUR", "LAMPUNG", "OTHER")
_GROUP_OF_PROVINCE = {
    33: "JAWA", 34: "JAWA", 35: "JAWA", 32: "SUNDA", 36: "SUNDA", 31: "METRO", 21: "METRO", 52: "SASAK",
    51: "BALI", 12: "BATAK", 53: "TIMUR", 71: "TIMUR", 81: "TIMUR", 82: "TIMUR", 91: "TIMUR", 92: "TIMUR",
    93: "TIMUR", 94: "TIMUR", 95: "TIMUR", 96: "TIMUR", 18: "LAMPUNG",
}
_STYLE_MIX: dict[str, tuple[dict[str, float], dict[str, float], dict[str, float]]] = {
    "JAWA": ({"JAVA_MONO": .45, "JAVA_TWO": .30, "MUSLIM": .25},
             {"JAVA_MONO": .15, "JAVA_TWO": .45, "MUSLIM": .30, "MODERN": .10},
             {"JAVA_MONO": .03, "JAVA_TWO": .25, "MUSLIM": .32, "MODERN": .40}),
    "SUNDA": ({"SUNDA": .45, "MUSLIM": .35, "JAVA_MONO": .10, "JAVA_TWO": .10},
              {"SUNDA": .35, "MUSLIM": .35, "JAVA_TWO": .15, "MODERN": .15},
              {"SUNDA": .15, "MUSLIM": .35, "JAVA_TWO": .05, "MODERN": .45}),
    "METRO": ({"MUSLIM": .35, "JAVA_TWO": .30, "JAVA_MONO": .15, "SUNDA": .10, "BATAK": .05, "TIMUR": .05},
              {"MUSLIM": .35, "JAVA_TWO": .30, "SUNDA": .10, "BATAK": .05, "TIMUR": .05, "MODERN": .15},
              {"MUSLIM": .30, "JAVA_TWO": .10, "BATAK": .05, "TIMUR": .05, "MODERN": .50}),
    "SASAK": ({"SASAK": .65, "MUSLIM": .35}, {"SASAK": .50, "MUSLIM": .40, "MODERN": .10},
              {"SASAK": .30, "MUSLIM": .35, "MODERN": .35}),
    "BALI": ({"BALI": .90, "MUSLIM": .05, "JAVA_TWO": .05}, {"BALI": .90, "MUSLIM": .05, "JAVA_TWO": .05},
             {"BALI": .85, "MUSLIM": .05, "MODERN": .10}),
    "BATAK": ({"BATAK": .55, "MUSLIM": .35, "JAVA_TWO": .10}, {"BATAK": .55, "MUSLIM": .35, "JAVA_TWO": .10},
              {"BATAK": .50, "MUSLIM": .25, "MODERN": .25}),
    "TIMUR": ({"TIMUR": .85, "MUSLIM": .15}, {"TIMUR": .85, "MUSLIM": .15},
              {"TIMUR": .75, "MUSLIM": .10, "MODERN": .15}),
    "LAMPUNG": ({"JAVA_MONO": .30, "JAVA_TWO": .30, "MUSLIM": .30, "SUNDA": .10},
                {"JAVA_MONO": .10, "JAVA_TWO": .35, "MUSLIM": .35, "SUNDA": .05, "MODERN": .15},
                {"JAVA_TWO": .20, "MUSLIM": .35, "MODERN": .45}),
    "OTHER": ({"MUSLIM": .60, "JAVA_TWO": .20, "JAVA_MONO": .10, "BATAK": .05, "TIMUR": .05},
              {"MUSLIM": .55, "JAVA_TWO": .20, "JAVA_MONO": .05, "MODERN": .15, "BATAK": .05},
              {"MUSLIM": .45, "JAVA_TWO": .10, "MODERN": .45}),
}


def _style_cdf() -> np.ndarray:
    """Cumulative style probabilities, shape (groups, cohorts, styles)."""
    cdf = np.zeros((len(REGION_GROUPS), 3, len(STYLES)))
    for g, group in enumerate(REGION_GROUPS):
        for c in range(3):
            p = np.array([_STYLE_MIX[group][c].get(s, 0.0) for s in STYLES])
            cdf[g, c] = np.cumsum(p / p.sum())
    return cdf


_STYLE_CDF = _style_cdf()


def region_group(prov_code: np.ndarray) -> np.ndarray:
    """Region group index per province code (int array)."""
    lookup = np.full(100, REGION_GROUPS.index("OTHER"))
    for code, group in _GROUP_OF_PROVINCE.items():
        lookup[code] = REGION_GROUPS.index(group)
    return lookup[prov_code]


def draw_styles(rng: np.random.Generator, group: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
    cohort = np.where(birth_year < 1980, 0, np.where(birth_year < 2000, 1, 2))
    cdf = _STYLE_CDF[group, cohort]  # (n, styles)
    u = rng.random(len(group))[:, None]
    return np.minimum((u > cdf).sum(axis=1), len(STYLES) - 1).astype(np.int8)


def draw_names(rng: np.random.Generator, style: np.ndarray, female: np.ndarray) -> pl.Series:
    """One upper-case name per person, built slot by slot for each (style, sex) group."""
    n = len(style)
    vocab: list[str] = []
    slots = [np.full(n, -1, dtype=np.int64) for _ in range(3)]
    for (style_name, is_female), slot_specs in _SLOTS.items():
        rows = np.nonzero((style == STYLE_ID[style_name]) & (female == is_female))[0]
        for k, ((tokens, weights), p_present) in enumerate(slot_specs):
            offset = len(vocab)
            vocab.extend(tokens)
            if len(rows) == 0:
                continue
            picked = offset + rng.choice(len(tokens), size=len(rows), p=weights)
            if p_present < 1.0:
                picked[rng.random(len(rows)) >= p_present] = -1
            slots[k][rows] = picked
    words = pl.Series(vocab, dtype=pl.Utf8)
    frame = pl.DataFrame({f"s{k}": words.gather(np.maximum(slots[k], 0)) for k in range(3)})
    present = [pl.when(pl.Series(slots[k] >= 0)).then(pl.col(f"s{k}")) for k in range(3)]
    return frame.select(pl.concat_str(present, separator=" ", ignore_nulls=True).alias("name"))["name"]


def draw_tokens(rng: np.random.Generator, spec: tuple[list[str], np.ndarray], n: int) -> np.ndarray:
    tokens, weights = spec
    return np.asarray(tokens, dtype=object)[rng.choice(len(tokens), size=n, p=weights)]


# Twins get similar names on purpose (hard negatives): (name 1, sex 1, name 2, sex 2).
TWIN_NAMES: list[tuple[str, str, str, str]] = [
    ("MUHAMMAD HASAN", "L", "MUHAMMAD HUSEIN", "L"),
    ("HASAN BASRI", "L", "HUSEIN BASRI", "L"),
    ("AHMAD FAUZI", "L", "AHMAD FAUZAN", "L"),
    ("FAJAR RAMADHAN", "L", "FAJRI RAMADHAN", "L"),
    ("DIMAS PRASETYO", "L", "DIMAS PRASETYA", "L"),
    ("RIZKY ANANDA", "L", "RIZKA ANANDA", "P"),
    ("PUTRA RAMADHAN", "L", "PUTRI RAMADHANI", "P"),
    ("ADAM MAULANA", "L", "HAWA MAULIDA", "P"),
    ("SITI NUR AINI", "P", "SITI NUR AISYAH", "P"),
    ("AYU LESTARI", "P", "AYU WULANDARI", "P"),
    ("FITRI HANDAYANI", "P", "FITRIA HANDAYANI", "P"),
    ("SRI WAHYUNI", "P", "SRI WAHYUNINGSIH", "P"),
    ("NAILA PUTRI", "P", "NAILI PUTRI", "P"),
    ("I WAYAN ADI", "L", "I MADE ADI", "L"),
]

# Frequent mononyms for the "same name, same default birth date, same regency" hard negative.
COMMON_MONONYMS_M = ["SUTRISNO", "SLAMET", "MULYADI", "SUPARDI", "JUNAIDI", "SUPARMAN", "WAHYUDI"]
COMMON_MONONYMS_F = ["NURHAYATI", "SUMARNI", "TUMINAH", "SUPARTI"]
