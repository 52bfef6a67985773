"""`trimmed_id_at_least` (dbt_project/macros), the constant range fct_outcome_events reads the raw email events with in
an hour: every raw id whose trim() is one of the hour's ids must pass it, however it is padded (a leading ' ' or a
leading space outside ASCII sorts below the trimmed id), and ids sorting below the smallest without padding must not
(else the range would skip no row group). Rendered from the macro file and run in DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import jinja2

MACRO = Path(__file__).resolve().parents[1] / "dbt_project" / "macros" / "trimmed_id_at_least.sql"


def _render(smallest: str | None) -> str:
    source = MACRO.read_text() + "{{ trimmed_id_at_least('r', smallest) }}"
    return jinja2.Environment().from_string(source).render(smallest=smallest).strip()


def test_every_padded_version_of_an_id_passes_and_smaller_ids_do_not():
    con = duckdb.connect()
    # Every character up to U+3100 that DuckDB's trim removes (' ', U+00A0, U+1680, U+2000-U+200A, U+3000, ...).
    padding = [
        chr(c)
        for (c,) in con.execute(
            "select c from (select range::integer as c from range(1, 12544))"
            " where c not between 55296 and 57343 and trim(chr(c) || 'x' || chr(c)) = 'x'"
        ).fetchall()
    ]
    assert " " in padding and "\u3000" in padding and "\u00a0" in padding
    ids = ["e-0008736306", "e-1", "a", "zz", "é-7", "O'Brien-3", "\u4e00-1", "~"]
    for smallest in ids:
        condition = _render(smallest)
        versions = [smallest]
        for pad in padding:
            versions += [pad + smallest, smallest + pad, pad + smallest + pad, pad + pad + smallest]
        con.execute("create or replace temp table v as select unnest(?::varchar[]) as r", [versions])
        assert con.execute("select count(*) from v where trim(r) <> ?", [smallest]).fetchone()[0] == 0
        failing = con.execute(f"select list(r) from v where not coalesce({condition}, false)").fetchone()[0]
        assert not failing, (smallest, failing)
        # Larger trimmed ids pass too; NULL never does.
        assert con.execute(f"select {condition} from (select ? || 'x' as r)", [smallest]).fetchone()[0]
        assert not con.execute(f"select coalesce({condition}, false) from (select null::varchar as r)").fetchone()[0]
    # Ids below the smallest, unpadded, are left out: the range skips the row groups holding only them.
    condition = _render("e-0008736306")
    below = "(values ('e-0000001'), ('e-0008736305'), ('a')) as t(r)"
    assert not con.execute(f"select bool_or({condition}) from {below}").fetchone()[0]
    # No id staged since: nothing is read.
    assert _render(None) == "false"
