"""Tests for the sample CRM world generator (small worlds, fast)."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from sample_world import generate_next_hours, generate_world, load_truth
from sample_world.vocab import DISPOSABLE

N = 1500


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("world")
    return out, generate_world(out, contacts=N, seed=11)


def test_deterministic(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate_world(a, contacts=400, seed=3)
    generate_world(b, contacts=400, seed=3)
    ha, hb = _hashes(a), _hashes(b)
    assert ha == hb and len(ha) > 15
    generate_world(tmp_path / "c", contacts=400, seed=4)
    assert _hashes(tmp_path / "c") != ha


def test_all_sources_written(world):
    out, summary = world
    for src in ("hubspot_contacts", "hubspot_companies", "hubspot_deals", "hubspot_meetings", "hubspot_tickets",
                "leads", "product_usage", "email_events", "web_events", "product_events", "enrichment",
                "signals"):
        files = list((out / "landing" / src).iterdir())
        assert files, src
        assert summary.rows[src] > 0, src


def test_contacts_header_uses_hubspot_labels(world):
    out, _ = world
    f = sorted((out / "landing" / "hubspot_contacts").glob("*.csv"))[0]
    header = next(csv.reader(f.open(encoding="utf-8")))
    for label in ("Record ID", "First Name", "Last Name", "Email", "Phone Number", "Job Title", "Company Name",
                  "State/Region", "Country/Region", "LinkedIn URL", "Create Date", "Last Modified Date",
                  "Lifecycle Stage", "Contact owner", "Associated Company ID (Primary)",
                  "Unsubscribed from all email", "Human Verified Fields"):
        assert label in header
    deals = sorted((out / "landing" / "hubspot_deals").glob("*.csv"))[0]
    assert 'Date entered "Closed Won (Sales Pipeline)"' in next(csv.reader(deals.open(encoding="utf-8")))


def _keys(obj, acc: set[str]) -> set[str]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            acc.add(k.lower())
            _keys(v, acc)
    return acc


def test_truth_is_separate_from_landing(world):
    out, _ = world
    assert (out / "truth" / "contacts.parquet").exists()
    assert not any(p.suffix == ".parquet" for p in (out / "landing").rglob("*"))
    forbidden = {"person_id", "true_class", "duplicate_kind", "is_wrong", "expected_status", "p_convert",
                 "fit", "intent", "account_id", "negative_kind", "converted", "won", "reason"}
    for p in (out / "landing").rglob("*"):
        if not p.is_file():
            continue
        if p.suffix == ".csv":
            cols = {c.strip().lower() for c in next(csv.reader(p.open(encoding="utf-8")))}
        else:
            cols = set()
            for line in p.read_text(encoding="utf-8").splitlines()[:300]:
                with contextlib.suppress(json.JSONDecodeError):
                    _keys(json.loads(line), cols)
        assert not cols & forbidden, (p.name, cols & forbidden)


def test_truth_tables(world):
    out, summary = world
    contacts = pl.read_parquet(out / "truth" / "contacts.parquet")
    assert {"record_id", "person_id", "account_id", "duplicate_kind"} <= set(contacts.columns)
    dup_rate = contacts["duplicate_kind"].is_not_null().mean()
    assert 0.07 <= dup_rate <= 0.13
    kinds = set(contacts["duplicate_kind"].drop_nulls())
    assert {"typo", "nickname", "email_alias", "missing_email", "swapped_name"} <= kinds
    # Hard negatives: same name at a different company, shared mailboxes; they are not duplicates.
    neg = contacts.filter(pl.col("negative_kind").is_not_null())
    assert {"same_name_other_company", "shared_mailbox"} <= set(neg["negative_kind"])
    assert neg["duplicate_kind"].is_null().all()
    people = pl.read_parquet(out / "truth" / "people.parquet")
    look = people.filter(pl.col("negative_kind") == "same_name_other_company").join(
        people.select(pl.col("person_id").alias("lookalike_person_id"), pl.col("first_name").alias("f2"),
                      pl.col("last_name").alias("l2"), pl.col("account_id").alias("a2")), on="lookalike_person_id")
    assert look.height > 0
    assert (look["first_name"] == look["f2"]).all() and (look["account_id"] != look["a2"]).all()
    assert people["fit"].is_between(0, 1).all() and people["intent"].is_between(0, 1).all()
    assert 0.05 <= people["converted"].mean() <= 0.15
    companies = pl.read_parquet(out / "truth" / "companies.parquet")
    assert companies["is_variant"].any() and companies["parent_account_id"].is_not_null().any()
    replies = pl.read_parquet(out / "truth" / "replies.parquet")
    assert {"positive", "objection", "not_now", "unsubscribe"} <= set(replies["true_class"])
    enr = pl.read_parquet(out / "truth" / "enrichment.parquet")
    assert 0.05 <= enr["is_wrong"].mean() <= 0.2
    state = json.loads((out / "truth" / "world_state.json").read_text())
    assert state["seed"] == 11 and state["clock"] == "2026-11-01T00:00:00Z"


def test_junk_leads(world):
    out, _ = world
    leads = pl.read_parquet(out / "truth" / "leads.parquet")
    assert set(leads["expected_status"]) == {"accepted", "rejected", "quarantined"}
    assert {"free_email", "student", "stealth", "disposable_domain", "gibberish"} <= set(leads["reason"])
    land = pl.concat([pl.read_csv(f, infer_schema=False) for f in (out / "landing" / "leads").glob("*.csv")])
    assert land.height == leads.height
    emails = " ".join(land["Email"].drop_nulls())
    assert any(d in emails for d in DISPOSABLE)
    assert "Stealth" in set(land["Company Name"].drop_nulls())


def test_dirty_rows_accounted(world):
    out, _ = world
    dirty = pl.read_parquet(out / "truth" / "dirty_rows.parquet")
    assert dirty.height >= 4
    for row in dirty.iter_rows(named=True):
        lines = (out / row["file"]).read_text(encoding="utf-8").split("\n")
        bad = lines[row["line"] - 1]
        if row["source"] == "email_events":
            with pytest.raises(json.JSONDecodeError):
                json.loads(bad)
        elif "Record ID" in row["reason"]:
            assert not bad.split(",", 1)[0].isdigit()
        else:
            assert "2026-13-45" in bad or "yesterday" in bad


def test_json_lines_shape(world):
    out, _ = world
    f = sorted((out / "landing" / "email_events").glob("*.jsonl"))[0]
    ev = [json.loads(x) for x in f.read_text().splitlines()[:5]]
    assert set(ev[0]) >= {"event_id", "type", "email", "timestamp", "reply_text", "bounce_type"}
    web = [json.loads(x) for x in sorted((out / "landing" / "web_events").glob("*.jsonl"))[0].read_text()
           .splitlines()]
    assert any(w["type"] == "page" and w["properties"]["path"].startswith("/pricing") for w in web)
    prod = json.loads(sorted((out / "landing" / "product_events").glob("*.jsonl"))[0].read_text()
                      .splitlines()[0])
    assert prod["properties"]["account_domain"]
    enr = json.loads(sorted((out / "landing" / "enrichment").glob("*.jsonl"))[0].read_text().splitlines()[0])
    field = next(iter(enr["fields"].values()))
    assert set(field) == {"value", "confidence", "as_of"}


def test_events_per_contact(world):
    _, summary = world
    per = summary.events / summary.rows["hubspot_contacts"]
    assert 14 <= per <= 28, per


def test_next_hours_only_adds_files(tmp_path):
    out = tmp_path / "w"
    generate_world(out, contacts=600, seed=5)
    before = _hashes(out / "landing")
    truth_before = {k: v for k, v in _hashes(out / "truth").items() if k != "world_state.json"}
    s = generate_next_hours(out, hours=2)
    after = _hashes(out / "landing")
    assert all(after[k] == v for k, v in before.items())
    new = set(after) - set(before)
    assert new and all("_h0001" in k or "_h0002" in k for k in new)
    assert any("hubspot_contacts" in k for k in new) and any("leads" in k for k in new)
    truth_after = _hashes(out / "truth")
    assert all(truth_after[k] == v for k, v in truth_before.items())
    state = json.loads((out / "truth" / "world_state.json").read_text())
    assert state["hour"] == 2 and state["clock"] == "2026-11-01T02:00:00Z"
    assert s.rows["email_events"] > 0
    # Updated contacts keep their Record ID; new contacts continue the id sequence.
    upd = pl.read_csv(out / "landing" / "hubspot_contacts" / "contacts_h0001.csv", infer_schema=False)
    assert upd["Last Modified Date"].min() >= "2026-11-01 00:00"
    people = load_truth(out, "people")
    assert people["person_id"].n_unique() == people.height
    # Deterministic as well.
    out2 = tmp_path / "w2"
    generate_world(out2, contacts=600, seed=5)
    generate_next_hours(out2, hours=2)
    assert _hashes(out2 / "landing") == after


def test_hard_case_export_holds_every_construct_with_truth(tmp_path):
    from sample_world import generate_hard_world
    from sample_world.hard_cases import MODE

    first = generate_hard_world(tmp_path / "a", contacts=3000, seed=5)
    again = generate_hard_world(tmp_path / "b", contacts=3000, seed=5)
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")  # deterministic per (contacts, seed)
    contacts = pl.read_csv(tmp_path / "a/landing/hubspot_contacts/contacts_export.csv", infer_schema_length=0)
    truth = load_truth(tmp_path / "a", "contacts")
    assert contacts.height == truth.height == first.contacts == again.contacts
    assert set(truth["record_id"]) == set(contacts["Record ID"].cast(pl.Int64))
    kinds = set(truth["duplicate_kind"].drop_nulls())
    assert kinds >= {"diacritics", "transliteration", "initials", "nickname", "swapped_name", "double_surname",
                     "particle", "married_name", "acquisition", "job_change", "missing_email", "phone_format",
                     "linkedin_variant", "legal_suffix", "nbsp"}
    assert set(truth["negative_kind"].drop_nulls()) >= {"same_name_same_company", "initial_or_swapped_colleague",
                                                        "role_mailbox", "junk_lookalike"}
    junk = truth.filter("is_junk")
    assert junk.height == first.junk and junk["person_id"].n_unique() == junk.height  # each junk row alone
    companies = load_truth(tmp_path / "a", "companies")
    assert set(companies["construct"]) >= {"subsidiary_shared_domain", "name_twin", "child_company", "legal_suffix"}
    subsidiaries = companies.filter(pl.col("construct") == "subsidiary_shared_domain")
    assert subsidiaries["parent_account_id"].null_count() == 0
    state = json.loads((tmp_path / "a/truth/world_state.json").read_text())
    assert state["mode"] == MODE
    with pytest.raises(ValueError, match="next-hour mode"):
        generate_next_hours(tmp_path / "a", hours=1)
