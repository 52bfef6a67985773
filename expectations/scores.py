"""ML output gates: the score log (every golden contact scored once per run, scores in range, nothing missing)
and the reply classifications (every reply once per model version, classes from the vocabulary)."""

from __future__ import annotations

from expectations.suite import Suite, expect
from landing.contract import REPLY_LABEL_VOCABULARY

SCORE_LOG_TABLE = "ml.score_log"
REPLY_CLASSIFICATIONS_TABLE = "ml.reply_classifications"

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
    "reply_classifications": Suite(
        name="scores_reply_classifications",
        table=REPLY_CLASSIFICATIONS_TABLE,
        incremental_by="classified_at",
        expectations=(
            *(
                expect("ExpectColumnValuesToNotBeNull", column=c)
                for c in ("event_id", "predicted_class", "needs_human", "rule_hit", "model_version", "classified_at")
            ),
            expect(
                "ExpectColumnValuesToBeInSet",
                column="predicted_class",
                value_set=[*REPLY_LABEL_VOCABULARY, "needs_human"],
            ),
            expect("ExpectColumnValuesToBeBetween", column="confidence", min_value=0, max_value=1),
            expect("ExpectCompoundColumnsToBeUnique", column_list=["event_id", "model_version"]),
        ),
    ),
}
