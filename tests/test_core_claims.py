"""Claims adjudication: replacement wins, void removes, reversals net out, denied lines leave."""

from datetime import date

import duckdb
import pytest

from pipelines.core import build_core_table
from tests.core_fixtures import make_staging

AS_OF = date(2024, 12, 31)


def line(claim_id, line_no=1, **kw):
    row = {
        "claim_id": claim_id,
        "claim_line_number": line_no,
        "claim_type": "professional",
        "person_id": "P1",
        "claim_start_date": "2024-01-10",
        "claim_end_date": "2024-01-10",
        "paid_date": "2024-02-01",
        "paid_amount": 80,
        "allowed_amount": 100,
        "charge_amount": 150,
    }
    row.update(kw)
    return row


def inst(claim_id, bill_type, paid_date, line_no=1, **kw):
    return line(
        claim_id,
        line_no,
        claim_type="institutional",
        bill_type_code=bill_type,
        paid_date=paid_date,
        **kw,
    )


def adjudicate(con, rows):
    make_staging(con, medical_claim=rows)
    build_core_table(con, "medical_claim_adjudication", AS_OF)
    build_core_table(con, "medical_claim_final", AS_OF)
    status = con.execute(
        "select claim_id, claim_line_number, adjudication_status "
        "from core.medical_claim_adjudication order by _row_number"
    ).fetchall()
    final = con.execute(
        "select claim_id, claim_line_number, paid_amount from core.medical_claim_final "
        "order by claim_id, claim_line_number"
    ).fetchall()
    return status, final


@pytest.fixture
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def test_replacement_wins_over_the_original(con):
    status, final = adjudicate(
        con,
        [
            inst("C1", "111", "2024-02-01", 1, paid_amount=1000),
            inst("C1", "111", "2024-02-01", 2, paid_amount=200),
            inst("C1", "117", "2024-03-01", 1, paid_amount=900),
            inst("C1", "117", "2024-03-01", 2, paid_amount=250),
        ],
    )
    assert [s[2] for s in status] == ["replaced", "replaced", "final", "final"]
    assert [(c, n, float(p)) for c, n, p in final] == [("C1", 1, 900.0), ("C1", 2, 250.0)]


def test_latest_of_two_replacements_wins(con):
    _, final = adjudicate(
        con,
        [
            inst("C1", "111", "2024-02-01", paid_amount=1000),
            inst("C1", "117", "2024-03-01", paid_amount=900),
            inst("C1", "117", "2024-04-01", paid_amount=950),
        ],
    )
    assert [float(p) for *_, p in final] == [950.0]


def test_void_removes_the_claim(con):
    status, final = adjudicate(
        con,
        [
            inst("C2", "111", "2024-02-01", 1),
            inst("C2", "111", "2024-02-01", 2),
            inst("C2", "118", "2024-03-01", 1, paid_amount=-80, allowed_amount=-100),
        ],
    )
    assert [s[2] for s in status] == ["voided", "voided", "voided"]
    assert final == []


def test_replacement_then_void_removes_and_void_then_replacement_reinstates(con):
    _, final = adjudicate(
        con,
        [
            inst("C3", "111", "2024-02-01"),
            inst("C3", "117", "2024-03-01"),
            inst("C3", "118", "2024-04-01"),
            inst("C4", "111", "2024-02-01"),
            inst("C4", "118", "2024-03-01"),
            inst("C4", "117", "2024-04-01", paid_amount=70),
        ],
    )
    assert [(c, float(p)) for c, _, p in final] == [("C4", 70.0)]


def test_reversal_nets_out_with_its_original_and_other_lines_stay(con):
    status, final = adjudicate(
        con,
        [
            line("P1", 1, paid_amount=80, allowed_amount=100, charge_amount=150),
            line("P1", 2, paid_amount=40, allowed_amount=50, charge_amount=75),
            line(
                "P1",
                1,
                paid_date="2024-03-01",
                paid_amount=-80,
                allowed_amount=-100,
                charge_amount=-150,
            ),
        ],
    )
    assert [s[2] for s in status] == ["reversed", "final", "reversal"]
    assert [(c, n, float(p)) for c, n, p in final] == [("P1", 2, 40.0)]


def test_reversal_then_reissue_keeps_the_reissued_line(con):
    _, final = adjudicate(
        con,
        [
            line("P2", 1, paid_amount=80),
            line(
                "P2",
                1,
                paid_date="2024-03-01",
                paid_amount=-80,
                allowed_amount=-100,
                charge_amount=-150,
            ),
            line("P2", 1, paid_date="2024-04-01", paid_amount=72, allowed_amount=90),
        ],
    )
    assert [(c, n, float(p)) for c, n, p in final] == [("P2", 1, 72.0)]


def test_a_corrected_line_without_reversal_supersedes_the_earlier_one(con):
    status, final = adjudicate(
        con,
        [line("P3", 1, paid_amount=80), line("P3", 1, paid_date="2024-03-01", paid_amount=60)],
    )
    assert [s[2] for s in status] == ["superseded", "final"]
    assert [float(p) for *_, p in final] == [60.0]


def test_generator_suffix_convention(con):
    """pipelines/synthetic: replacement '<id>-A1' (xx7), duplicate voided by '<id>-V1' (xx8,
    negated), professional reversal '<id>-V1' then re-issue '<id>-A1' (same paid date here, and
    the re-issue sorts before the reversal: pairing is by amount, not by order)."""
    status, final = adjudicate(
        con,
        [
            inst("M1", "111", "2024-02-01", paid_amount=1000),
            inst("M1-A1", "117", "2024-03-07", paid_amount=1050),
            inst("M9", "111", "2024-02-01", paid_amount=1000),
            inst(
                "M9-V1",
                "118",
                "2024-02-22",
                paid_amount=-1000,
                allowed_amount=-100,
                charge_amount=-150,
            ),
            line("M5", 1, paid_amount=80),
            line(
                "M5-A1",
                1,
                paid_date="2024-03-15",
                paid_amount=72,
                allowed_amount=90,
                charge_amount=135,
            ),
            line(
                "M5-V1",
                1,
                paid_date="2024-03-15",
                paid_amount=-80,
                allowed_amount=-100,
                charge_amount=-150,
            ),
        ],
    )
    assert [s[2] for s in status] == [
        "replaced",
        "final",
        "voided",
        "voided",
        "reversed",
        "final",
        "reversal",
    ]
    assert [(c, float(p)) for c, _, p in final] == [("M1-A1", 1050.0), ("M5-A1", 72.0)]


def test_denied_lines_leave_but_quality_codes_and_unknown_amounts_stay(con):
    status, final = adjudicate(
        con,
        [
            line("D1", 1, hcpcs_code="99213", paid_amount=0, allowed_amount=0, charge_amount=120),
            line("D1", 2, hcpcs_code="3074F", paid_amount=0, allowed_amount=0, charge_amount=0.01),
            line("D1", 3, hcpcs_code="G8427", paid_amount=0, allowed_amount=0, charge_amount=0),
            line(
                "D1",
                4,
                hcpcs_code="85025",
                paid_amount=None,
                allowed_amount=None,
                charge_amount=None,
            ),
            line("D1", 5, hcpcs_code="80053", paid_amount=0, allowed_amount=0, charge_amount=None),
            line("D1", 6, hcpcs_code="36415", paid_amount=0, allowed_amount=3, charge_amount=5),
        ],
    )
    assert [s[2] for s in status] == ["denied", "final", "final", "final", "denied", "final"]
    assert [n for _, n, _ in final] == [2, 3, 4, 6]


def test_empty_staging_gives_empty_tables(con):
    status, final = adjudicate(con, [])
    assert status == [] and final == []
    columns = [r[0] for r in con.execute("describe core.medical_claim_final").fetchall()]
    assert columns[:4] == ["claim_id", "claim_line_number", "claim_type", "person_id"]
    assert columns[-2:] == ["_source_file", "_row_number"]


def test_a_zero_dollar_line_reversed_by_negated_units(con):
    """The generator reverses $0 CPT II lines by negating the unit count only."""
    status, final = adjudicate(
        con,
        [
            line(
                "Q1",
                1,
                hcpcs_code="3074F",
                paid_amount=0,
                allowed_amount=0,
                charge_amount=0,
                service_unit_quantity=1,
            ),
            line(
                "Q1-V1",
                1,
                hcpcs_code="3074F",
                paid_date="2024-03-01",
                paid_amount=0,
                allowed_amount=0,
                charge_amount=0,
                service_unit_quantity=-1,
            ),
        ],
    )
    assert [s[2] for s in status] == ["reversed", "reversal"]
    assert final == []


def test_a_repriced_reversal_pairs_with_the_earliest_remaining_line(con):
    """Amounts that negate no line exactly: the reversal still cancels the original, and a
    re-issue that arrived before the reversal stays final."""
    status, final = adjudicate(
        con,
        [
            line("R1", 1, paid_amount=104.55, allowed_amount=130.69, charge_amount=223.34),
            line(
                "R1-A1",
                1,
                paid_date="2024-03-01",
                paid_amount=91.98,
                allowed_amount=114.97,
                charge_amount=173.33,
            ),
            line(
                "R1-V1",
                1,
                paid_date="2024-03-05",
                paid_amount=-95.42,
                allowed_amount=-119.27,
                charge_amount=-244.74,
            ),
        ],
    )
    assert [s[2] for s in status] == ["reversed", "final", "reversal"]
    assert [(c, float(p)) for c, _, p in final] == [("R1-A1", 91.98)]


def test_a_replacement_whose_lines_were_paid_on_different_days_is_kept_whole(con):
    _, final = adjudicate(
        con,
        [
            inst("M2", "111", "2024-02-01", 1),
            inst("M2", "111", "2024-02-03", 2),
            inst("M2-A1", "117", "2024-03-09", 1, paid_amount=90),
            inst("M2-A1", "117", "2024-03-02", 2, paid_amount=95),
        ],
    )
    assert [(c, n, float(p)) for c, n, p in final] == [("M2-A1", 1, 90.0), ("M2-A1", 2, 95.0)]
