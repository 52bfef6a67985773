"""Small helpers that turn warehouse rows into metadata the Dagster UI shows."""

from __future__ import annotations

import pandas as pd

MAX_CELL_CHARS = 60


def frame_to_markdown(frame: pd.DataFrame) -> str:
    """A Markdown table of `frame`, cells shortened so previews stay readable."""

    def cell(value: object) -> str:
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        text = text.replace("|", "/").replace("\n", " ")
        return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"

    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    divider = "|" + "---|" * len(frame.columns)
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, divider, *rows])
