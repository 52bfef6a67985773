"""The reply classes asset: ml.reply_classifications appended into raw.reply_classes, only the classifications not
copied yet, so a copy with nothing new changes nothing and earlier rows are never rewritten."""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb

from ml.config import load_config
from ml.replies import ReplyClassifier, ReplyModelStore, classify_replies
from ml.reply_classes import TABLE, copy_reply_classes
from orchestration.defs.ml.reply_classes import REPLY_CLASSES_KEY, reply_classes
from orchestration.resources import WarehouseResource

CONFIG = load_config()
T1, T2, T3, T4 = (datetime(2026, 11, 2, h, 0, tzinfo=UTC) for h in (9, 10, 11, 12))


def _warehouse(path: str) -> duckdb.DuckDBPyConnection:
    """The staging / mart tables classify_replies reads, with two replies (one opt-out)."""
    con = duckdb.connect(path)
    con.execute(
        """
        create schema staging; create schema marts;
        create table staging.stg_email__events as select * from (values
            ('r1', 'reply', 1::bigint, 'a@x.io', timestamptz '2026-11-01 10:00:00+00', 'Please unsubscribe me.'),
            ('r2', 'reply', 2::bigint, 'b@x.io', timestamptz '2026-11-01 11:00:00+00', 'Sounds good, call me.'),
            ('s1', 'sent', 2::bigint, 'b@x.io', timestamptz '2026-11-01 09:00:00+00', null)
        ) as t(event_id, event_type, contact_id, email, occurred_at, reply_text);
        create table staging.stg_hubspot__contacts as select * from (values (1::bigint, 'a@x.io'), (2, 'b@x.io'))
            as t(contact_id, email);
        create table marts.contact_crosswalk as select * from (values (1::bigint, 'gc-1'), (2, 'gc-2'))
            as t(source_record_id, golden_contact_id);
        """
    )
    return con


def _copied(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    con.execute("set TimeZone = 'UTC'")
    return con.execute(
        f"select event_id, predicted_class, model_version, copied_at from {TABLE} order by model_version, event_id"
    ).fetchall()


def test_copy_appends_only_new_classifications_and_is_idempotent(tmp_path):
    con = _warehouse(str(tmp_path / "w.duckdb"))
    store = ReplyModelStore(tmp_path / "reply_classifier")
    # Nothing classified yet: an empty table dbt can read.
    assert (copy_reply_classes(con, now=T1).rows, copy_reply_classes(con, now=T1).new) == (0, 0)

    classify_replies(con, store, CONFIG)  # rules only: the opt-out by rule, the other reply to a human
    first = copy_reply_classes(con, now=T1)
    assert (first.rows, first.new) == (2, 2)
    expected = [("r1", "unsubscribe", "reply-rules", T1), ("r2", "needs_human", "reply-rules", T1)]
    assert _copied(con) == expected
    # Again with nothing new: nothing copied, nothing rewritten.
    again = copy_reply_classes(con, now=T2)
    assert (again.rows, again.new) == (2, 0) and _copied(con) == expected

    # A new reply is classified alone and copied alone; the earlier rows keep their copied_at.
    con.execute(
        "insert into staging.stg_email__events values "
        "('r3', 'reply', 1, 'a@x.io', timestamptz '2026-11-02 08:00:00+00', 'Stop emailing me')"
    )
    classify_replies(con, store, CONFIG)
    third = copy_reply_classes(con, now=T3)
    assert (third.rows, third.new) == (3, 1)
    assert _copied(con) == [*expected, ("r3", "unsubscribe", "reply-rules", T3)]

    # A new model version reclassifies every reply: all three rows are new (one per reply and version).
    store.save("reply-v2", ReplyClassifier(0.6), {"kind": "rules", "reason": "test"})
    classify_replies(con, store, CONFIG)
    fourth = copy_reply_classes(con, now=T4)
    assert (fourth.rows, fourth.new) == (6, 3)
    assert [r for r in _copied(con) if r[2] == "reply-v2"] == [
        ("r1", "unsubscribe", "reply-v2", T4),
        ("r2", "needs_human", "reply-v2", T4),
        ("r3", "unsubscribe", "reply-v2", T4),
    ]

    # A classification stamped at the very moment of the newest copied one (the same classifying run) is not
    # lost to the mark, and the ones already there are not copied twice.
    con.execute(
        "insert into ml.reply_classifications by name select 'r4' as event_id, 'positive' as predicted_class, "
        "'reply-v2' as model_version, max(classified_at) as classified_at from ml.reply_classifications"
    )
    late = copy_reply_classes(con, now=T4)
    assert (late.rows, late.new) == (7, 1)
    assert copy_reply_classes(con, now=T4).new == 0
    assert con.execute(f"select count(*) from (select distinct event_id, model_version from {TABLE})").fetchone() == (
        7,
    )


def test_asset_reports_the_copy(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    resources = {"warehouse": WarehouseResource(database_path=str(path), landing_dir=str(tmp_path / "landing"))}
    result = dg.materialize([reply_classes], resources=resources)
    assert result.success
    (materialization,) = result.asset_materializations_for_node("raw__reply_classes")
    assert materialization.asset_key == REPLY_CLASSES_KEY
    assert materialization.metadata["dagster/row_count"].value == 0

    con = _warehouse(str(path))
    classify_replies(con, ReplyModelStore(tmp_path / "reply_classifier"), CONFIG)
    con.close()
    for new in (2, 0):
        result = dg.materialize([reply_classes], resources=resources)
        (materialization,) = result.asset_materializations_for_node("raw__reply_classes")
        assert materialization.metadata["new"].value == new
        assert materialization.metadata["dagster/row_count"].value == 2
