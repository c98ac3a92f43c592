"""Outreach: the morning's ranked call lists for care coordinators, and who was kept off them.

Assets are built by :func:`build_outreach_assets` so the code location can add the marts the
candidate SQL reads (``UPSTREAM_MARTS``: risk scores and measure gaps) as dependencies once they
are part of it; without them the step still runs, on empty stand-ins, and says so in metadata.
Metadata and logs carry counts only: never a name, an identifier or a row.

Publication gate (docs/orchestration.md): every gated table and mart (``GATED_MARTS``: the rates
with sanity-band checks) is upstream of these assets, so a failing blocking check stops them and the
last published lists stay. ``outreach_files`` is the publication: after the files it records the
gated tables' row counts (``audit.row_counts``) and only then moves ``OUT/outreach/latest.json``.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)
from dagster_duckdb import DuckDBResource

from pipelines.outreach import (
    build_candidates,
    build_outreach_list,
    load_roster,
    load_rules,
    write_latest_pointer,
    write_outreach_files,
)
from pipelines.publication import record_row_counts
from pipelines.settings import PopcareSettings

UPSTREAM_MARTS = [AssetKey(["marts", "risk_scores"]), AssetKey(["marts", "measure_patient"])]
# Not read by the lists, but gated: their sanity-band checks must pass before publication.
GATED_MARTS = [AssetKey(["marts", "measure_rates"]), AssetKey(["marts", "readmission_rates"])]

# What sql/marts/outreach_candidates.sql and outreach_suppressed.sql read.
CORE_DEPS = [
    AssetKey(["core", name])
    for name in ("person", "enrollment", "member_months", "encounter", "inpatient_stay")
]
STAGING_DEPS = [
    AssetKey(["staging", name]) for name in ("registry", "provider_attribution", "encounter")
]

SUPPRESSED_KEY = AssetKey(["marts", "outreach_suppressed"])
LIST_KEY = AssetKey(["marts", "outreach_list"])
FILES_KEY = AssetKey(["outreach", "outreach_files"])


def _counts(prefix: str, counts: Mapping[str, int]) -> dict[str, MetadataValue]:
    return {f"{prefix}{key}": MetadataValue.int(int(value)) for key, value in counts.items()}


def build_outreach_assets(extra_deps: Sequence[AssetKey] = ()) -> list[AssetsDefinition]:
    """The three outreach assets; ``extra_deps`` is typically ``UPSTREAM_MARTS`` plus
    ``GATED_MARTS``."""

    @asset(
        key=SUPPRESSED_KEY,
        group_name="marts",
        deps=[*CORE_DEPS, *STAGING_DEPS, *extra_deps],
        compute_kind="duckdb",
        description=(
            "Who would be on the outreach list but is kept off it (deceased, hospice, not "
            "enrolled, inpatient, opted out, recently contacted) or routed to their care manager, "
            "with the reason; builds marts.outreach_candidates on the way."
        ),
    )
    def outreach_suppressed(
        context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> MaterializeResult:
        as_of = settings.as_of_date()
        rules = load_rules()
        with duckdb.get_connection() as con:
            stats = build_candidates(con, as_of, rules)
        suppression = stats["suppression"]
        context.log.info(
            f"outreach candidates: {sum(stats['candidates_by_priority_group'].values())}; "
            f"suppressed or routed: {sum(suppression['by_primary_reason'].values())}"
        )
        for name in stats["missing_upstream"]:
            context.log.warning(f"{name} is not built yet: outreach ran on an empty stand-in")
        metadata: dict[str, MetadataValue] = {
            "as_of": MetadataValue.text(as_of.isoformat()),
            "persons": MetadataValue.int(int(stats["persons"])),
            "missing_upstream": MetadataValue.text(", ".join(stats["missing_upstream"]) or "none"),
        }
        metadata |= _counts("candidates_group_", stats["candidates_by_priority_group"])
        metadata |= _counts("suppressed_primary_", suppression["by_primary_reason"])
        metadata |= _counts("suppressed_any_", suppression["by_reason"])
        metadata |= _counts("outcome_", suppression["by_outcome"])
        return MaterializeResult(metadata=metadata)

    @asset(
        key=LIST_KEY,
        group_name="marts",
        deps=[SUPPRESSED_KEY],
        compute_kind="duckdb",
        description=(
            "The ranked outreach list of the as-of date, one row per person: priority group, "
            "reasons, suggested action and due date, assigned to a coordinator or care manager."
        ),
    )
    def outreach_list(
        context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> MaterializeResult:
        as_of = settings.as_of_date()
        rules = load_rules()
        roster = load_roster()
        with duckdb.get_connection() as con:
            stats = build_outreach_list(con, as_of, rules, roster)
        context.log.info(
            f"outreach list: {stats['rows']} rows over {len(stats['rows_by_team'])} lists"
        )
        metadata: dict[str, MetadataValue] = {
            "as_of": MetadataValue.text(as_of.isoformat()),
            "rows": MetadataValue.int(int(stats["rows"])),
        }
        metadata |= _counts("rows_team_", stats["rows_by_team"])
        metadata |= _counts("over_capacity_team_", stats["over_capacity_by_team"])
        metadata |= _counts("rows_group_", stats["rows_by_priority_group"])
        return MaterializeResult(metadata=metadata)

    @asset(
        key=FILES_KEY,
        group_name="outreach",
        deps=[LIST_KEY],
        compute_kind="python",
        description=(
            "One spreadsheet-safe CSV per team (OUT/outreach/<as_of>/<team>.csv, owner-only) and "
            "a manifest with versions, counts and checksums; then the gated tables' row counts "
            "(audit.row_counts) and OUT/outreach/latest.json, naming the lists just published."
        ),
    )
    def outreach_files(
        context: AssetExecutionContext, settings: PopcareSettings, duckdb: DuckDBResource
    ) -> MaterializeResult:
        as_of = settings.as_of_date()
        rules = load_rules()
        roster = load_roster()
        with duckdb.get_connection() as con:
            stats = write_outreach_files(
                con, settings.out_path, as_of, context.run_id, roster, rules
            )
            counted = record_row_counts(con, context.run_id, as_of)
        latest = write_latest_pointer(
            settings.out_path, as_of, context.run_id, Path(stats["manifest"])
        )
        context.log.info(
            f"outreach files: {stats['files']} CSV files and a manifest written; "
            f"row counts of {len(counted)} gated tables recorded; latest.json updated"
        )
        metadata: dict[str, MetadataValue] = {
            "as_of": MetadataValue.text(as_of.isoformat()),
            "folder": MetadataValue.path(stats["folder"]),
            "manifest": MetadataValue.path(stats["manifest"]),
            "latest": MetadataValue.path(str(latest)),
            "row_counts_recorded": MetadataValue.int(len(counted)),
            "files": MetadataValue.int(int(stats["files"])),
            "missing_upstream": MetadataValue.text(", ".join(stats["missing_upstream"]) or "none"),
        }
        metadata |= _counts("rows_", stats["rows_by_file"])
        metadata |= _counts("suppressed_primary_", stats["suppressed_by_primary_reason"])
        metadata |= _counts("rows_group_", stats["rows_by_priority_group"])
        return MaterializeResult(metadata=metadata)

    return [outreach_suppressed, outreach_list, outreach_files]
