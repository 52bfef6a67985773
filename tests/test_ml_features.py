"""Point-in-time features: decay, windows, ICP match, and no leakage from the future."""

from datetime import timedelta

import polars as pl
import pytest

from ml.config import load_config
from ml.features import (
    LeakageError,
    assert_point_in_time,
    build_features,
    conversion_labels,
    feature_schema,
    icp_components,
)
from ml.synthetic import AS_OF, synthetic_leads

CONFIG = load_config()


def _contacts():
    return pl.DataFrame(
        {
            "contact_id": [1, 2],
            "role_category": ["sales", "hr"],
            "seniority": ["vp", "intern"],
            "country_code": ["US", "BR"],
            "industry": ["Computer Software", "retail"],
            "employees": [300, 5],
            "technologies": [["salesforce", "gong", "jira"], []],
            "company_domain": ["acme.io", "shop.br"],
        }
    )


def _events(rows):
    return pl.DataFrame(
        rows, schema={"contact_id": pl.Int64, "kind": pl.String, "occurred_at": pl.Datetime("us", "UTC")}, orient="row"
    )


def test_decay_windows_recency_and_icp_match():
    events = _events(
        [
            (1, "pricing_visit", AS_OF - timedelta(days=7)),
            (1, "pricing_visit", AS_OF - timedelta(days=1)),
            (1, "email_reply", AS_OF - timedelta(days=40)),
        ]
    )
    signals = pl.DataFrame(
        {"domain": ["acme.io"], "kind": ["hiring_signal"], "occurred_at": [AS_OF - timedelta(days=45)]}
    )
    f = build_features(_contacts(), events, signals, AS_OF, CONFIG).sort("contact_id")
    first = f.row(0, named=True)
    # pricing half-life 7 days: a visit 7 days ago counts 0.5, one a day ago 2^(-1/7).
    assert first["decayed_pricing_visit"] == pytest.approx(0.5 + 2 ** (-1 / 7))
    assert first["count_pricing_visit_7d"] == 1 and first["count_pricing_visit_30d"] == 2
    assert first["count_email_reply_30d"] == 0 and first["count_email_reply_90d"] == 1
    assert first["decayed_hiring_signal"] == pytest.approx(0.5)  # half-life 45 days
    assert first["days_since_last_touch"] == pytest.approx(1.0)
    assert first["icp_tech_matches"] == 2  # salesforce and gong are ICP technologies, jira is not
    second = f.row(1, named=True)
    assert second["days_since_last_touch"] == 365 and second["decayed_pricing_visit"] == 0
    assert first["icp_match"] > 0.9 > 0.3 > second["icp_match"]
    assert set(feature_schema(CONFIG)) <= set(f.columns)


def test_events_at_or_after_as_of_are_ignored():
    past = _events([(1, "demo_request", AS_OF - timedelta(days=2))])
    future = pl.concat(
        [
            past,
            _events(
                [
                    (1, "demo_request", AS_OF),
                    (1, "demo_request", AS_OF + timedelta(days=3)),
                    (2, "pricing_visit", AS_OF + timedelta(hours=1)),
                ]
            ),
        ]
    )
    a = build_features(_contacts(), past, None, AS_OF, CONFIG)
    b = build_features(_contacts(), future, None, AS_OF, CONFIG)
    assert a.equals(b)


def test_feature_dated_after_label_date_fails():
    data = synthetic_leads(300, seed=3)
    labels = conversion_labels(data.contacts, data.outcomes, AS_OF, 30)
    ok = build_features(data.contacts, data.events, data.signals, AS_OF, CONFIG)
    assert_point_in_time(ok, labels)  # cut off exactly at the label start: fine
    late = build_features(data.contacts, data.events, data.signals, AS_OF + timedelta(days=1), CONFIG)
    with pytest.raises(LeakageError, match="after their label date"):
        assert_point_in_time(late, labels)


def test_labels_window_and_already_converted_dropped():
    contacts = _contacts().vstack(_contacts().with_columns(pl.lit(3, dtype=pl.Int64).alias("contact_id")).head(1))
    outcomes = _events(
        [
            (1, "meeting", AS_OF + timedelta(days=5)),
            (2, "meeting", AS_OF + timedelta(days=31)),
            (3, "meeting", AS_OF - timedelta(days=1)),
        ]
    )
    labels = conversion_labels(contacts, outcomes, AS_OF, 30).sort("contact_id")
    assert labels["contact_id"].to_list() == [1, 2]  # 3 converted before as_of: not a lead to score
    assert labels["label"].to_list() == [1, 0]  # 2 converted after the 30-day horizon


def test_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match="industry"):
        build_features(_contacts().drop("industry"), _events([]), None, AS_OF, CONFIG)


def test_icp_technology_matches_ignore_case_and_count_each_entry():
    # Each list entry whose lowercased name is an ICP technology counts (a name twice counts twice); NULL entries,
    # NULL lists and empty lists count nothing.
    n = 5
    contacts = pl.DataFrame(
        {
            "contact_id": [f"c{i}" for i in range(n)],
            "technologies": [["HubSpot", None], None, [], ["SALESFORCE", "salesforce", "jira"], ["Gong", "dbt"]],
            "industry": pl.Series([None] * n, dtype=pl.String),
            "employees": [10] * n,
            "country_code": ["US"] * n,
            "role_category": ["sales"] * n,
            "seniority": ["vp"] * n,
        }
    )
    matches = icp_components(contacts, CONFIG)["icp_tech_matches"].to_list()
    assert matches == [1.0, 0.0, 0.0, 2.0, 2.0]
