"""Code-set membership: is a code one that exists (or existed) in its code system?

ICD-10-CM: the CMS code set as shipped by ``simple-icd-10-cm`` (CMS ICD-10-CM April 1, 2026
tabular; ``CODESET_VERSIONS`` records it). Codes change every October 1, so a code that is not in the
current release is still accepted when it sits in a real, current subtree: its longest prefix that
exists is a category with children (e.g. H40.11X2, deleted in FY2017, under H40.11). Structurally
valid noise under a complete code (I10XXX9 under the leaf I10) is refused.
"""

from collections.abc import Iterable
from functools import cache

import simple_icd_10_cm as icd10cm

CODESET_VERSIONS = {"icd-10-cm": "CMS ICD-10-CM April 1, 2026 (simple-icd-10-cm 1.5.0)"}


@cache
def icd10cm_accepts(code: str) -> bool:
    """True for a current ICD-10-CM code, or a retired one inside a current, non-leaf category."""
    if icd10cm.is_valid_item(code):
        return True
    for length in range(len(code) - 1, 2, -1):
        prefix = code[:length]
        if icd10cm.is_valid_item(prefix):
            return not icd10cm.is_leaf(prefix)
    return False


def icd10cm_verdicts(codes: Iterable[str]) -> list[tuple[str, bool]]:
    """(code, accepted) for each distinct dot-free, upper-case code."""
    return [(code, icd10cm_accepts(code)) for code in sorted(set(codes))]
