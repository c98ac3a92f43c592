"""The fixed cast every chunk shares: facilities, practices, clinicians, care managers, and the
vocabulary that turns integer codes into strings. Built once from (seed, patients) so that chunks
generated in any order, or in other processes, agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.check_digits import npi_check_digit
from pipelines.synthetic import codes

# Facilities: (name, kind, in the health system's EHR). "A handful", as the issue asks.
FACILITIES = (
    ("Riverside Medical Center", "acute", True),
    ("Eastside Community Hospital", "acute", True),
    ("Northfield General Hospital", "acute", True),
    ("St. Brendan University Hospital", "acute", False),
    ("Lakeview Regional Hospital", "acute", False),
    ("Riverside Skilled Nursing", "snf", True),
    ("Maple Grove Care Center", "snf", False),
    ("Riverside Home Health", "hh", True),
    ("Compassus-like Home Care", "hh", False),
    ("Riverside Hospice", "hospice", True),
    ("Heartland Hospice House", "hospice", False),
    ("Central Reference Laboratory", "lab", False),
    ("Riverside Imaging Center", "imaging", True),
    ("Riverside Endoscopy ASC", "asc", True),
    ("Riverside Outpatient Pharmacy", "pharmacy", True),
    ("Corner Drug Co.", "pharmacy", False),
    ("MailScript Home Delivery", "pharmacy", False),
)
ACUTE = [i for i, f in enumerate(FACILITIES) if f[1] == "acute"]
# Share of acute admissions at each hospital: the system's three hospitals take most.
ACUTE_SHARE = np.array([0.38, 0.22, 0.15, 0.15, 0.10])
SNF = [i for i, f in enumerate(FACILITIES) if f[1] == "snf"]
HH = [i for i, f in enumerate(FACILITIES) if f[1] == "hh"]
HOSPICE = [i for i, f in enumerate(FACILITIES) if f[1] == "hospice"]
LAB = FACILITIES.index(("Central Reference Laboratory", "lab", False))
IMAGING = FACILITIES.index(("Riverside Imaging Center", "imaging", True))
ASC = FACILITIES.index(("Riverside Endoscopy ASC", "asc", True))
PHARMACY = [i for i, f in enumerate(FACILITIES) if f[1] == "pharmacy"]
PRACTICE_NAMES = (
    "Riverside Family Medicine",
    "Eastside Primary Care",
    "Northfield Internal Medicine",
    "German Village Family Practice",
    "Linden Community Health",
    "Westerville Primary Care",
    "Hilltop Family Health",
    "Dublin Internal Medicine",
    "Whitehall Family Medicine",
    "Grove City Primary Care",
    "Gahanna Medical Group",
    "Clintonville Family Physicians",
)


class Vocab:
    """Every string value the generator writes, addressed by a small integer; -1 means null."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, value: str) -> int:
        i = self.index.get(value)
        if i is None:
            i = len(self.values)
            self.values.append(value)
            self.index[value] = i
        return i

    def __getitem__(self, value: str) -> int:
        return self.add(value)

    def many(self, values) -> np.ndarray:
        return np.array([self.add(v) for v in values], dtype=np.int32)


@dataclass
class World:
    seed: int
    n_pcp: int
    vocab: Vocab
    facility_npi: np.ndarray  # vocab ids
    facility_tin: np.ndarray
    facility_name: np.ndarray
    pcp_npi: np.ndarray
    pcp_practice: np.ndarray  # practice index per PCP
    practice_id: np.ndarray  # vocab ids ("PR01" ...)
    practice_tin: np.ndarray
    practice_name: np.ndarray
    hospitalist_npi: np.ndarray
    ed_npi: np.ndarray
    surgeon_npi: np.ndarray
    radiologist_npi: np.ndarray
    gi_npi: np.ndarray
    care_managers: np.ndarray
    pcp_names: list[str]


def _npis(rng: np.random.Generator, k: int, taken: set[str]) -> list[str]:
    out = []
    while len(out) < k:
        first9 = str(int(rng.integers(100_000_000, 300_000_000)))
        if first9[0] not in "12":
            continue
        npi = first9 + str(npi_check_digit(first9))
        if npi not in taken:
            taken.add(npi)
            out.append(npi)
    return out


def _tins(rng: np.random.Generator, k: int) -> list[str]:
    return [f"{int(x):09d}" for x in rng.integers(200_000_000, 999_999_999, k)]


def build_world(seed: int, patients: int) -> World:
    rng = np.random.default_rng([seed, 0xF00D])
    vocab = Vocab()
    vocab.add("")  # keep index 0 harmless
    # About 1,500 attributed patients per PCP (AAFP panel-size surveys put the average near 2,000).
    n_pcp = int(min(2000, max(10, patients // 1500)))
    n_practice = min(len(PRACTICE_NAMES), max(4, n_pcp // 3))
    taken: set[str] = set()
    fac_npi = _npis(rng, len(FACILITIES), taken)
    pcp = _npis(rng, n_pcp, taken)
    n_spec = max(6, n_pcp // 4)
    hosp = _npis(rng, n_spec, taken)
    ed = _npis(rng, n_spec, taken)
    surg = _npis(rng, max(3, n_spec // 2), taken)
    rad = _npis(rng, max(3, n_spec // 2), taken)
    gi = _npis(rng, max(3, n_spec // 2), taken)
    n_cm = max(4, patients // 2500)
    first = rng.choice(codes.FIRST_NAMES_F + codes.FIRST_NAMES_M, n_pcp)
    last = rng.choice(codes.LAST_NAMES, n_pcp)
    return World(
        seed=seed,
        n_pcp=n_pcp,
        vocab=vocab,
        facility_npi=vocab.many(fac_npi),
        facility_tin=vocab.many(_tins(rng, len(FACILITIES))),
        facility_name=vocab.many([f[0] for f in FACILITIES]),
        pcp_npi=vocab.many(pcp),
        pcp_practice=rng.integers(0, n_practice, n_pcp),
        practice_id=vocab.many([f"PR{i + 1:02d}" for i in range(n_practice)]),
        practice_tin=vocab.many(_tins(rng, n_practice)),
        practice_name=vocab.many(PRACTICE_NAMES[:n_practice]),
        hospitalist_npi=vocab.many(hosp),
        ed_npi=vocab.many(ed),
        surgeon_npi=vocab.many(surg),
        radiologist_npi=vocab.many(rad),
        gi_npi=vocab.many(gi),
        care_managers=vocab.many([f"CM{i + 1:03d}" for i in range(n_cm)]),
        pcp_names=[f"{a} {b}" for a, b in zip(first, last, strict=True)],
    )
