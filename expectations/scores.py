"""Score-log gate: every lead scored once per run, scores in range, nothing missing (ml.score_log)."""

from __future__ import annotations

from expectations.suite import Suite, expect

SCORE_LOG_TABLE = "ml.score_log"

SCORES_SUITES: dict[str, Suite] = {
    "score_log": Suite(
        name="scores_score_log",
        table=SCORE_LOG_TABLE,
        # Append-only: each run checks the rows scored since the last passing run.
        incremental_by="scored_at",
        expectations=(
            *(
                expect("ExpectColumnValuesToNotBeNull", column=c)
                for c in (
                    "run_id",
                    "contact_id",
                    "model_version",
                    "model_kind",
                    "config_version",
                    "fit_score",
                    "intent_score",
                    "combined_score",
                    "tier",
                    "reasons",
                )
            ),
            *(
                expect("ExpectColumnValuesToBeBetween", column=c, min_value=0, max_value=100)
                for c in ("fit_score", "intent_score", "combined_score")
            ),
            expect("ExpectColumnValuesToBeInSet", column="tier", value_set=[1, 2, 3]),
            expect("ExpectColumnValuesToBeInSet", column="model_kind", value_set=["learned", "rules"]),
            expect("ExpectCompoundColumnsToBeUnique", column_list=["run_id", "contact_id"]),
        ),
    ),
}
