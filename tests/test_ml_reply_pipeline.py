"""Reply classifier as a pipeline step: hand labels in the landing contract, training, incremental classification."""

from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest

from landing import ingest_landing
from landing.contract import REPLY_LABEL_VOCABULARY, SOURCES
from ml.config import load_config
from ml.replies import (
    NEEDS_HUMAN,
    REPLIES_SQL,
    REPLY_CLASSES,
    RULES_ONLY_VERSION,
    ReplyModelStore,
    classify_replies,
    train_reply_model,
    unclassified_replies_sql,
)
from sample_world import generate_world, load_truth
from sample_world import vocab as V
from sample_world.reply_labels import LABELLED_SHARE

CONFIG = load_config()


def test_label_vocabulary_is_the_classifier_classes():
    assert list(REPLY_LABEL_VOCABULARY) == REPLY_CLASSES
    assert SOURCES["email_reply_labels"].allowed_values["label"] == REPLY_LABEL_VOCABULARY


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("reply_world")
    generate_world(out, contacts=1500, seed=5)
    return out


def test_sample_world_writes_correct_hand_labels_for_a_share_of_replies(world):
    files = sorted((world / "landing" / "email_reply_labels").glob("*.jsonl"))
    assert files
    labels = pl.concat([pl.read_ndjson(f) for f in files])
    truth = load_truth(world, "replies").select("event_id", "true_class")
    joined = labels.join(truth, on="event_id", how="left")
    assert joined["true_class"].null_count() == 0  # every label is for a real reply
    assert (joined["label"] == joined["true_class"]).all()  # SDR triage is correct
    assert labels["event_id"].n_unique() == labels.height
    share = labels.height / truth.height
    assert LABELLED_SHARE - 0.1 < share <= LABELLED_SHARE + 0.05, share
    assert set(labels["labelled_by"]) <= {name for name, _ in V.OWNERS}

    con = duckdb.connect()
    report = ingest_landing(con, world / "landing")
    assert report is not None
    loaded = con.execute("select count(*) from raw.email_reply_labels").fetchall()[0][0]
    quarantined = con.execute(
        "select count(*) from raw.quarantine_rows where source = 'email_reply_labels'"
    ).fetchall()[0][0]
    assert (loaded, quarantined) == (labels.height, 0)


def _warehouse(n_replies: int, labelled_share: float, path: str = ":memory:") -> duckdb.DuckDBPyConnection:
    """A warehouse with the staging / mart tables the reply steps read: template replies, some labelled."""
    con = duckdb.connect(path)
    con.execute("create schema staging; create schema marts")
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = []
    for i in range(n_replies):
        cls = REPLY_CLASSES[i % len(REPLY_CLASSES)]
        templates = V.REPLY_TEMPLATES[cls]
        text = templates[(i // len(REPLY_CLASSES)) % len(templates)].format(
            first="Alice", company=f"Acme{i % 7}", colleague="Dana Fox"
        )
        rows.append((f"e-{i:05d}", 1000 + i % 40, f"p{i % 40}@acme.io", t0 + timedelta(hours=i), text, cls))
    events = pl.DataFrame(
        rows, schema=["event_id", "contact_id", "email", "occurred_at", "reply_text", "true_class"], orient="row"
    )
    con.register("events_df", events.to_arrow())
    con.execute(
        "create table staging.stg_email__events as select event_id, 'reply' as event_type, contact_id, email, "
        "occurred_at, reply_text from events_df"
    )
    con.execute("create table staging.stg_hubspot__contacts as select distinct contact_id, email from events_df")
    # Two records per person: record 1000+k and 1020+k resolve to the same golden contact.
    con.execute(
        "create table marts.contact_crosswalk as select distinct contact_id as source_record_id, "
        "'gc-' || (1000 + (contact_id - 1000) % 20) as golden_contact_id from events_df"
    )
    labelled = events.with_row_index().filter(pl.col("index") % 100 < labelled_share * 100)
    con.register("labels_df", labelled.to_arrow())
    con.execute(
        "create table staging.stg_email__reply_labels as select event_id, true_class as reply_label, "
        "occurred_at + interval 2 hour as labelled_at, true as reply_found, reply_text from labels_df"
    )
    return con


def test_train_classify_incrementally_and_retrain_on_new_labels(tmp_path):
    con = _warehouse(600, 0.4)
    store = ReplyModelStore(tmp_path / "reply_classifier")
    trained = train_reply_model(con, store, CONFIG)
    assert trained.trained and trained.version.startswith("reply-") and trained.metadata["kind"] == "learned"
    assert trained.metadata["labelled_replies"] == 240
    report = trained.metadata["holdout_report"]
    assert report["unsubscribe"]["recall"] == 1.0 and trained.metadata["holdout_macro_f1"] > 0.8

    first = classify_replies(con, store, CONFIG)
    assert first.classified == 600 and first.total_for_version == 600
    rows = con.sql("select * from ml.reply_classifications").pl()
    assert rows["golden_contact_id"].null_count() == 0
    assert rows.filter(pl.col("contact_id") == 1025)["golden_contact_id"].unique().to_list() == ["gc-1005"]
    assert set(rows["predicted_class"]) <= {*REPLY_CLASSES, NEEDS_HUMAN}
    assert (rows["needs_human"] == (rows["predicted_class"] == NEEDS_HUMAN)).all()
    assert rows.filter(pl.col("rule_hit"))["predicted_class"].is_in(["unsubscribe", "compliance_threat"]).all()

    # Same labels: same version, nothing to classify again.
    again = train_reply_model(con, store, CONFIG)
    assert (again.version, again.trained) == (trained.version, False)
    assert classify_replies(con, store, CONFIG).classified == 0

    # A new reply is classified alone; a new label makes a new version that reclassifies everything.
    con.execute(
        "insert into staging.stg_email__events values ('e-99999', 'reply', 1003, 'p3@acme.io', "
        "timestamptz '2026-06-01 10:00:00+00', 'Please unsubscribe me from this list.')"
    )
    assert classify_replies(con, store, CONFIG).classified == 1
    con.execute(
        "insert into staging.stg_email__reply_labels values ('e-99999', 'unsubscribe', "
        "timestamptz '2026-06-01 12:00:00+00', true, 'Please unsubscribe me from this list.')"
    )
    retrained = train_reply_model(con, store, CONFIG)
    assert retrained.trained and retrained.version != trained.version
    assert classify_replies(con, store, CONFIG).classified == 601
    versions = con.sql("select model_version, count(*) from ml.reply_classifications group by 1").fetchall()
    assert dict(versions) == {trained.version: 601, retrained.version: 601}


def test_too_few_labels_fall_back_to_rules_and_humans(tmp_path):
    con = _warehouse(60, 0.1)  # 10 labels
    store = ReplyModelStore(tmp_path / "reply_classifier")
    outcome = train_reply_model(con, store, CONFIG)
    assert outcome.version == RULES_ONLY_VERSION and not outcome.trained and "only 10 labelled" in outcome.reason
    result = classify_replies(con, store, CONFIG)
    rows = con.sql("select * from ml.reply_classifications").pl()
    assert result.classified == 60
    ruled = rows.filter(pl.col("rule_hit"))
    assert ruled.height and ruled["predicted_class"].is_in(["unsubscribe", "compliance_threat"]).all()
    assert rows.filter(~pl.col("rule_hit"))["predicted_class"].eq(NEEDS_HUMAN).all()


def test_dagster_assets_train_classify_and_report(tmp_path, monkeypatch, warehouse):
    import dagster as dg

    from orchestration.defs.ml.assets import reply_classifications, reply_classifier

    monkeypatch.setenv("ACTIONHOUSE_MODELS_DIR", str(tmp_path / "models"))
    _warehouse(300, 0.4, warehouse.database_path).close()
    result = dg.materialize([reply_classifier, reply_classifications], resources={"warehouse": warehouse})
    assert result.success
    trained = result.asset_materializations_for_node("ml__reply_classifier")[0].metadata
    assert trained["model_kind"].text == "learned" and trained["labelled_replies"].value == 120
    assert "| unsubscribe |" in trained["holdout_per_class"].value
    classified = result.asset_materializations_for_node("ml__reply_classifications")[0].metadata
    assert classified["classified_this_run"].value == 300 and classified["dagster/row_count"].value == 300
    assert sum(v.value for k, v in classified.items() if k.startswith("class_")) == 300
    assert 0 <= classified["needs_human_share"].value < 0.5
    # Hourly refresh with nothing new: same version, nothing reclassified.
    again = dg.materialize([reply_classifier, reply_classifications], resources={"warehouse": warehouse})
    assert (
        again.asset_materializations_for_node("ml__reply_classifications")[0].metadata["classified_this_run"].value == 0
    )


def test_unclassified_replies_are_the_replies_less_the_classified_ones():
    """The hour's query filters the reply events before the joins: the same rows (golden contact by record id,
    else by a member's email, else none) as every reply less those the version classified."""
    con = _warehouse(60, 0.0)
    con.execute(
        "insert into staging.stg_email__events values "
        "('e-90001', 'reply', 5555, 'p3@acme.io', timestamptz '2026-06-01 10:00:00+00', 'Sounds good.'), "
        "('e-90002', 'reply', null, 'p7@acme.io', timestamptz '2026-06-01 11:00:00+00', 'Call me.'), "
        "('e-90003', 'reply', 6666, 'nobody@else.io', timestamptz '2026-06-01 12:00:00+00', 'Who is this?'), "
        "('e-90004', 'open', 1003, 'p3@acme.io', timestamptz '2026-06-01 12:00:00+00', null)"
    )
    con.execute("create schema ml")
    con.execute("create table ml.c (event_id varchar, model_version varchar)")
    con.execute("insert into ml.c select event_id, 'v1' from staging.stg_email__events where event_id < 'e-00030'")
    con.execute("insert into ml.c values ('e-00045', 'v0'), ('e-90001', 'v1')")
    for version in ("v1", "v0", "v2"):
        old = con.execute(
            f"select r.* from ({REPLIES_SQL}) r where not exists "
            "(select 1 from ml.c c where c.event_id = r.event_id and c.model_version = ?) order by r.event_id",
            [version],
        ).fetchall()
        new_sql = f"select r.* from ({unclassified_replies_sql('ml.c')}) r order by r.event_id"
        new = con.execute(new_sql, [version]).fetchall()
        assert new == old
    by_id = {row[0]: row[2] for row in con.execute(REPLIES_SQL).fetchall()}
    assert (by_id["e-90001"], by_id["e-90002"], by_id["e-90003"]) == ("gc-1003", "gc-1007", None)
    assert len(by_id) == 63
