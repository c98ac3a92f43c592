"""The readmissions mart on the public Tuva Input Layer sample (10 Medicare persons, 2016-2018).

The sample holds six acute stays and one 30-day readmission (person 10046: discharged 2018-04-10
to an inpatient rehabilitation facility, readmitted 2018-04-17 elsewhere). The mart must find it,
and say why each stay it does not count is not counted. Loaded with the crude staging stand-in of
tests/core_fixtures.py, as-of 2018-12-31, measurement year 2018.
"""

from datetime import date

import duckdb
import pytest

from pipelines.core import build_core
from pipelines.readmissions import build_readmissions
from pipelines.settings import REPO_ROOT
from tests.core_fixtures import load_tuva_sample

AS_OF = date(2018, 12, 31)
TUVA_SAMPLE = REPO_ROOT.parent / "shared" / "data" / "tuva-synthetic-10"


@pytest.fixture(scope="module")
def tuva_marts():
    if not TUVA_SAMPLE.is_dir():
        pytest.skip(f"public Tuva sample not found at {TUVA_SAMPLE} (../shared/data is absent)")
    con = duckdb.connect()
    load_tuva_sample(con, TUVA_SAMPLE)  # read-only: nothing is written next to the files
    build_core(con, AS_OF)
    stats = build_readmissions(con, AS_OF, date(2018, 1, 1), date(2018, 12, 31))
    yield con, stats
    con.close()


def test_the_samples_readmission_is_found(tuva_marts):
    con, stats = tuva_marts
    row = con.execute(
        "select stay_id, discharge_date, discharge_disposition_code, is_index, readmitted_30d, "
        "readmission_stay_id, days_to_readmission, readmission_planned "
        "from marts.readmission_index_stays where person_id = '10046' order by admission_date"
    ).fetchall()
    assert row == [
        # Discharged to an inpatient rehabilitation facility (62, not an acute transfer); the
        # readmission at another hospital 7 days later has no procedure and a knee-pain principal
        # diagnosis (M25561, CCS 204): unplanned.
        ("c:1654062", date(2018, 4, 10), "62", True, True, "c:692645", 7, False),
        # The readmission is an index stay itself, with nothing in the 30 days after it.
        ("c:692645", date(2018, 4, 24), "03", True, False, None, None, None),
    ]
    index = stats["readmission_index_stays"]
    assert (index["index_stays"], index["readmissions"]) == (3, 1)
    assert index["overall_rate"] == 0.3333


def test_every_stay_not_counted_has_its_reason(tuva_marts):
    con, _ = tuva_marts
    rows = con.execute(
        "select i.person_id, i.stay_id, i.is_index, i.exclusion_reason, i.readmitted_30d, "
        "s.principal_diagnosis_code, s.principal_diagnosis_source, s.principal_diagnosis_ccs "
        "from marts.readmission_index_stays as i "
        "inner join marts.readmission__stay as s using (stay_id) "
        "order by i.person_id, i.admission_date"
    ).fetchall()
    assert rows == [
        # Index, not readmitted. The claim has no diagnosis_code_1: the principal diagnosis comes
        # from a linked claim (Z452, vascular access device, not in the shipped crosswalk).
        ("10007", "c:1254568", True, None, False, "Z452", "linked_claim", None),
        # Principal diagnosis F32.9 (depression, CCS 657): HWR psychiatric exclusion.
        ("10017", "c:340806", False, "psychiatric", None, "F329", "stay", 657),
        # Discharge disposition 07: left against medical advice.
        ("10017", "c:690699", False, "against_medical_advice", None, "R509", "linked_claim", 246),
        ("10046", "c:1654062", True, None, True, "R079", "linked_claim", 102),
        ("10046", "c:692645", True, None, False, "M25561", "linked_claim", 204),
        # Discharged 2016-02-22; eligibility stops 2016-02-29 and resumes 2016-04-01: the 30 days
        # after discharge are not covered.
        (
            "10111",
            "c:370805",
            False,
            "not_enrolled_through_follow_up",
            None,
            "R0602",
            "linked_claim",
            133,
        ),
    ]


def test_rates_and_pcr_on_the_sample(tuva_marts):
    con, stats = tuva_marts
    rates = {
        (g, v): (n, r)
        for g, v, n, r, _ in con.execute("select * from marts.readmission_rates").fetchall()
    }
    assert rates[("overall", "all")] == (3, 1)
    assert rates[("payer", "medicare")] == (3, 1)
    assert rates[("facility", "1164469243")] == (1, 1)
    assert rates[("discharge_month", "2018-04")] == (2, 1)
    # PCR 2018 (discharges Jan 1 - Dec 1): 10007 (62) and the AMA stay of 10017 (33) are 18-64
    # index stays (PCR keeps AMA discharges); 65+: 10046's observation stay of 2018-03-06 and
    # both of its acute stays; the 2018-04-10 stay is readmitted.
    assert stats["readmission_pcr"] == {
        "index_stays_18_64": 2,
        "readmissions_18_64": 0,
        "observed_rate_18_64": 0.0,
        "index_stays_65_plus": 3,
        "readmissions_65_plus": 1,
        "observed_rate_65_plus": 0.3333,
    }
