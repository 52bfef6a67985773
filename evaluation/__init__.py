"""Evaluation of pipeline outputs against the sample world's hidden truth (never imported by the pipeline)."""
