"""Names of warehouse tables the scoring library writes and other steps read, in a module that imports nothing:
the steps that copy them before the dbt build (`ml.lead_tiers`, `ml.reply_classes`) read the names without loading
the scoring code and scikit-learn under it (`ml.pipeline`, `ml.replies`)."""

PUBLISHED_TABLE = "ml.lead_scores"
RUN_VERDICTS_TABLE = "ml.score_run_verdicts"
CLASSIFICATIONS_TABLE = "ml.reply_classifications"
