"""What each console page reads from the publication: aggregation and paging in DuckDB, small results out.

Every function takes a cursor on the publication (`PublicationReader.cursor()`) and returns plain rows. A table a
refresh did not publish (its inputs were not built) reads as empty, and the page says so.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

PAGE_SIZE = 50


def rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict[str, Any]]:
    """The result as a list of dicts."""
    result = cur.execute(sql, params or [])
    names = [d[0] for d in result.description]
    return [dict(zip(names, r, strict=True)) for r in result.fetchall()]


def published_tables(cur: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables in this publication."""
    return {r[0] for r in cur.execute("select table_name from duckdb_tables() where database_name = 'pub'").fetchall()}


def publication_info(cur: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """When it was published, by which refresh, row counts and what was left out."""
    info = rows(cur, "select * from publication_info")[0]
    info["tables"] = json.loads(info["tables"]) if info["tables"] else {}
    info["missing"] = json.loads(info["missing"]) if info["missing"] else {}
    return info


# ---- filters -------------------------------------------------------------------------------------------------
SCORE_FILTERS = ("owner", "segment", "source")


def score_where(filters: dict[str, str]) -> tuple[str, list]:
    """A `where` clause over `scores` for the owner / segment / source filters that are set."""
    clauses, params = [], []
    for name in SCORE_FILTERS:
        value = filters.get(name)
        if value:
            clauses.append(f"{name} = ?")
            params.append(value)
    return (" where " + " and ".join(clauses)) if clauses else "", params


def filter_options(cur: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The values each score filter can take (most common first, at most 200), counted at publication."""
    out: dict[str, list[str]] = {name: [] for name in SCORE_FILTERS}
    for name, value in cur.execute(
        "select filter, value from (select *, row_number() over (partition by filter order by leads desc, value) "
        "as n from score_filter_values) where n <= 200 order by filter, n"
    ).fetchall():
        out[name].append(value)
    return out


# ---- scores --------------------------------------------------------------------------------------------------
def tier_distribution(cur, filters: dict[str, str]) -> list[dict[str, Any]]:
    where, params = score_where(filters)
    return rows(
        cur,
        f"""select tier, count(*) as leads, avg(converted::int) as conversion_rate
        from scores{where} group by tier order by tier""",
        params,
    )


def score_histogram(cur, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Leads per 5-point band of the combined score, split by tier."""
    where, params = score_where(filters)
    return rows(
        cur,
        f"""select least(floor(combined_score / 5) * 5, 95)::int as band_start, tier, count(*) as leads
        from scores{where} group by all order by 1, 2""",
        params,
    )


def conversion_by_decile(cur, filters: dict[str, str]) -> list[dict[str, Any]]:
    """Conversion (an opportunity or a meeting for the lead) per score decile of the whole scored population."""
    where, params = score_where(filters)
    return rows(
        cur,
        f"""select decile, count(*) as leads, avg(converted::int) as conversion_rate,
               avg(combined_score) as mean_score
        from scores{where} group by decile order by decile""",
        params,
    )


def top_reasons(cur, filters: dict[str, str], limit: int = 10) -> list[dict[str, Any]]:
    """The most frequent reasons among Tier 1 leads (the reason text without its weight), from the publication's
    per-filter counts (`tier_reasons`)."""
    where, params = score_where(filters)
    return rows(
        cur,
        f"""select reason, sum(leads)::bigint as leads from tier_reasons{where}
        group by 1 order by 2 desc, 1 limit {int(limit)}""",
        params,
    )


def movers(cur, limit: int = 20) -> dict[str, Any]:
    """Leads into / out of Tier 1 since the previous scoring run."""
    counts = dict(cur.execute("select direction, count(*) from tier_movers group by 1").fetchall())
    examples = rows(
        cur,
        f"""select m.contact_id, m.previous_tier, m.tier, m.direction, s.name, s.company_name
        from tier_movers m left join scores s using (contact_id)
        order by m.direction, m.contact_id limit {int(limit)}""",
    )
    return {"into": counts.get("into Tier 1", 0), "out": counts.get("out of Tier 1", 0), "examples": examples}


def drift(cur) -> list[dict[str, Any]]:
    return rows(cur, "select * from drift order by psi desc")


def models(cur) -> list[dict[str, Any]]:
    out = rows(cur, "select * from models order by model_version desc")
    for row in out:
        row["holdout_metrics"] = json.loads(row["holdout_metrics"]) if row["holdout_metrics"] else {}
    return out


def leads_page(cur, filters: dict[str, str], search: str = "", page: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of leads, best combined score first, and how many match."""
    where, params = score_where(filters)
    if search:
        where = (where + " and " if where else " where ") + "(name ilike ? or company_name ilike ? or contact_id = ?)"
        params += [f"%{search}%", f"%{search}%", search]
    total = cur.execute(f"select count(*) from scores{where}", params).fetchone()[0]
    page_rows = rows(
        cur,
        f"""select contact_id, name, company_name, owner, segment, source, tier, fit_score, intent_score,
               combined_score
        from scores{where} order by combined_score desc, contact_id limit {PAGE_SIZE} offset {int(page) * PAGE_SIZE}""",
        params,
    )
    return page_rows, total


# ---- one lead ------------------------------------------------------------------------------------------------
def lead(cur, contact_id: str) -> dict[str, Any] | None:
    """Everything the lead page shows from the publication."""
    found = rows(cur, "select * from scores where contact_id = ?", [contact_id])
    contact = rows(cur, "select * from contacts where golden_contact_id = ?", [contact_id])
    if not found and not contact:
        return None
    features = rows(cur, "select * from lead_scores where contact_id = ?", [contact_id])
    feature_values = (
        [(k[2:], v) for k, v in features[0].items() if k.startswith("f_") and v is not None] if features else []
    )
    golden = contact[0] if contact else {}
    provenance = json.loads(golden.pop("provenance")) if golden.get("provenance") else {}
    return {
        "score": found[0] if found else None,
        "reasons": [r.strip() for r in (found[0]["reasons"] or "").split(";") if r.strip()] if found else [],
        "features": feature_values,
        "history": rows(
            cur,
            "select * from score_history where contact_id = ? order by scored_at",
            [contact_id],
        ),
        "golden": golden,
        "provenance": provenance,
        "fields": rows(
            cur, "select * from golden_fields where golden_contact_id = ? order by field_name", [contact_id]
        ),
        "crosswalk": rows(
            cur,
            "select * from crosswalk where golden_contact_id = ? order by is_anchor_record desc, source_record_id",
            [contact_id],
        ),
    }


# ---- data quality --------------------------------------------------------------------------------------------
def quarantine_by_source(cur) -> list[dict[str, Any]]:
    return rows(
        cur,
        """select source, count(*) filter (where status = 'loaded') as loads,
               count(*) filter (where status = 'rejected') as files_rejected,
               coalesce(sum(rows_loaded), 0) as rows_loaded, coalesce(sum(rows_quarantined), 0) as rows_quarantined,
               max(loaded_at) filter (where status <> 'failed') as last_loaded_at
        from load_files group by source order by source""",
    )


def quarantined_rows(cur, limit: int = 200) -> list[dict[str, Any]]:
    return rows(
        cur,
        f"""select source, path, line, reason, left(raw_text, 160) as raw_text, quarantined_at
        from quarantine_rows order by quarantined_at desc, source, line limit {int(limit)}""",
    )


def latest_gate_results(cur) -> list[dict[str, Any]]:
    """Each suite's latest run: expectations passed and failed, with failing examples of the failures."""
    return rows(
        cur,
        """with latest as (
              select suite, max(checked_at) as checked_at from expectation_results group by suite
           )
           select e.stage, e.suite, e.table_name, e.checked_at, count(*) as expectations,
                  count(*) filter (where e.success) as passed, count(*) filter (where not e.success) as failed,
                  list(struct_pack(expectation := e.expectation, column_name := e.column_name,
                                   unexpected := e.unexpected_count, examples := e.failing_examples::varchar))
                     filter (where not e.success) as failures
           from expectation_results e join latest l using (suite, checked_at)
           group by all order by e.stage, e.suite""",
    )


def merge_proposals(cur, limit: int = 100) -> list[dict[str, Any]]:
    return rows(
        cur,
        f"""select proposal_id, left_golden_contact_id, right_golden_contact_id, reason, match_probability, status
        from merge_proposals order by match_probability desc limit {int(limit)}""",
    )


def enrichment_reviews(cur, limit: int = 100) -> list[dict[str, Any]]:
    return rows(
        cur,
        f"""select golden_contact_id, field_name, proposed_value, vendor, confidence, reason
        from enrichment_review order by confidence desc limit {int(limit)}""",
    )


# ---- pipeline ------------------------------------------------------------------------------------------------
CLOSED_STAGES = ("closed won", "closed lost", "closedwon", "closedlost")


def _deal_columns(cur) -> set[str]:
    return {
        r[0]
        for r in cur.execute(
            "select column_name from duckdb_columns() where database_name = 'pub' and table_name = 'deals'"
        ).fetchall()
    }


def pipeline(cur) -> dict[str, Any]:
    """Open pipeline by stage and owner, deals created per week, stage velocity, deals missing a next step."""
    cols = _deal_columns(cur)
    stage = "deal_stage" if "deal_stage" in cols else "stage"
    owner = "deal_owner" if "deal_owner" in cols else "owner"
    closed = ", ".join(f"'{s}'" for s in CLOSED_STAGES)
    # The pipeline mart (W14) says which deals are open; staged deals are open unless in a closed stage.
    open_where = "is_open" if "is_open" in cols else f"lower({stage}) not in ({closed})"
    modified = "last_modified_at" if "last_modified_at" in cols else "created_at"
    out: dict[str, Any] = {
        "by_stage": rows(
            cur,
            f"""select {stage} as stage, count(*) as deals, coalesce(sum(amount), 0)::double as amount
            from deals where {open_where} group by 1 order by 3 desc""",
        ),
        "by_owner": rows(
            cur,
            f"""select coalesce({owner}, '(no owner)') as owner, count(*) as deals,
                   coalesce(sum(amount), 0)::double as amount
            from deals where {open_where} group by 1 order by 3 desc""",
        ),
        "created_per_week": rows(
            cur,
            """select date_trunc('week', created_at)::date as week, count(*) as deals
            from deals where created_at is not null group by 1 order by 1""",
        ),
    }
    entered = sorted(c for c in cols if c.endswith("_entered_at"))
    if entered:
        # Epoch arithmetic rather than time-zone-aware date functions: one pass over the unpivoted stage dates.
        stage_dates = ", ".join(entered)
        out["velocity"] = rows(
            cur,
            f"""select replace(replace(stage_column, '_entered_at', ''), '_', ' ') as stage, count(*) as deals,
                   median((epoch(entered_at) - epoch(created_at)) / 86400.0) as median_days_from_created
            from (unpivot (select created_at, {stage_dates} from deals)
                  on {stage_dates} into name stage_column value entered_at)
            group by 1 order by 3""",
        )
    else:
        out["velocity"] = []
    if "has_next_step" in cols:
        out["missing_next_step_rule"] = "open deals with no meeting scheduled and no open task (pipeline mart)"
        missing_where = f"{open_where} and not has_next_step"
    elif "next_step" in cols:
        out["missing_next_step_rule"] = "open deals with no next step"
        missing_where = f"{open_where} and coalesce(trim(next_step), '') = ''"
    else:
        out["missing_next_step_rule"] = "open deals not modified in the last 14 days of data (no next step field)"
        missing_where = f"{open_where} and {modified} < (select max({modified}) from deals) - interval 14 day"
    out["missing_next_step"] = rows(
        cur,
        f"""select deal_id, deal_name, {stage} as stage, {owner} as owner, amount::double as amount,
               {modified} as last_modified_at
        from deals where {missing_where} order by amount desc nulls last, deal_id limit 100""",
    )
    return out


def deals(cur, stage: str | None = None, owner: str | None = None, page: int = 0) -> tuple[list[dict], int]:
    """The deals behind a pipeline figure (paged)."""
    cols = _deal_columns(cur)
    stage_col = "deal_stage" if "deal_stage" in cols else "stage"
    owner_col = "deal_owner" if "deal_owner" in cols else "owner"
    modified = "last_modified_at" if "last_modified_at" in cols else "created_at"
    clauses, params = [], []
    if stage:
        clauses.append(f"{stage_col} = ?")
        params.append(stage)
    if owner:
        clauses.append(f"coalesce({owner_col}, '(no owner)') = ?")
        params.append(owner)
    where = (" where " + " and ".join(clauses)) if clauses else ""
    total = cur.execute(f"select count(*) from deals{where}", params).fetchone()[0]
    found = rows(
        cur,
        f"""select deal_id, deal_name, {stage_col} as stage, {owner_col} as owner, amount::double as amount,
               created_at, close_date, {modified} as last_modified_at
        from deals{where} order by amount desc nulls last, deal_id limit {PAGE_SIZE} offset {int(page) * PAGE_SIZE}""",
        params,
    )
    return found, total


# ---- workflows: lift vs holdout, done metrics per week -----------------------------------------------------------
def workflow_lift(cur) -> list[dict[str, Any]]:
    """Each workflow's lift vs its holdout group per outcome (the mart `marts.fct_workflow_lift`)."""
    return rows(cur, "select * from workflow_lift order by workflow, outcome")


def workflow_outcomes_weekly(cur, weeks: int = 4) -> list[dict[str, Any]]:
    """The weekly done-metric rows of the latest `weeks` weeks (the mart `marts.fct_workflow_outcomes`)."""
    return rows(
        cur,
        f"""select metric, workflow, segment, period_start, numerator, denominator, median_hours
        from workflow_outcomes_weekly
        where period_start in (select distinct period_start from workflow_outcomes_weekly
                               order by period_start desc limit {int(weeks)})
        order by workflow, metric, segment, period_start""",
    )
