"""The planning step's cheaper parts (issue 14) give what the plain versions gave: the sequence-step drafts tested
against one `banned_test` made once a run, and multi-threading's picks made from three columns."""

from __future__ import annotations

import random
from functools import partial

import polars as pl
from planning_fixtures import contact, frame, inputs

import actions.workflows.multithreading as mt
from actions.catalog import Workflow
from actions.drafts import banned_hits, banned_test, render_draft, render_draft_with
from actions.inputs import MULTITHREAD_SCHEMA
from actions.model import ProposalStub, StubTarget, built
from actions.policy import load_policy

POLICY = load_policy()


def test_one_banned_test_for_many_drafts_finds_what_each_plain_call_finds():
    claims, topics = POLICY.content.banned_claims, POLICY.content.topic_phrase_map()
    phrases = [*claims, *(p for topic, ps in topics.items() for p in (topic, *ps))]
    texts = ["", "Nothing to see here.", "a \u017fcam", "\u212a", *(f"Hi,\n{p.upper()}!" for p in phrases)]
    test = banned_test(claims, topics)
    assert any(test(t) for t in texts)
    assert [test(t) for t in texts] == [banned_hits(t, claims, topics) for t in texts]
    assert banned_test([], {})("a scam") == []

    template = next(iter(POLICY.drafts.templates.values()))
    base = {"contact_first_name": "Ana", "contact_name": "Ana Ruiz", "company_name": "Acme", "industry": "Retail"}
    base["owner_name"] = "Sam Lee"
    records = [base, {**base, "company_name": "  "}, {**base, "contact_first_name": None}]
    records += [{**base, "company_name": f"{p.title()} Ltd"} for p in phrases]
    for record in records:
        plain = render_draft("t", template.subject, template.body, record, claims, topics)
        assert render_draft_with("t", template.subject, template.body, record, test) == plain
    assert any(render_draft_with("t", template.subject, template.body, r, test).blocked for r in records)


def plain_multithreading_proposals(inputs, policy):
    """`multithreading_proposals` as it was: every candidate row read whole (`iter_rows(named=True)`)."""
    settings = policy.multithreading
    thin = inputs.multithread_candidates.filter(pl.col("engaged_stakeholders") < settings.min_engaged)
    flags = inputs.contacts.filter(
        pl.col("golden_contact_id").is_in(thin["candidate_golden_contact_id"].implode())
    ).select("golden_contact_id", "is_crm_unsubscribed")
    unsubscribed = dict(zip(flags["golden_contact_id"].to_list(), flags["is_crm_unsubscribed"].to_list(), strict=True))
    picked, out, deals = [], [], {}
    for r in thin.sort("deal_id").iter_rows(named=True):
        deals.setdefault(r["deal_id"], []).append(r)
    for deal_id, rows in deals.items():
        first = rows[0]
        covered = set(first["functions_covered"] or [])
        picks = []
        for function in settings.functions:
            if function in covered:
                continue
            options = [
                r
                for r in rows
                if r["candidate_function"] == function
                and r["candidate_golden_contact_id"] in unsubscribed
                and not unsubscribed[r["candidate_golden_contact_id"]]
            ]
            if options:
                options.sort(
                    key=lambda r: (
                        mt.SENIORITY_ORDER.get(r["candidate_seniority"] or "", 9),
                        r["candidate_golden_contact_id"],
                    )
                )
                picks.append(options[0])
            if len(picks) == settings.max_contacts:
                break
        if len(picks) >= settings.min_contacts:
            picked.append((deal_id, first, covered, picks))
    ids = [pick["candidate_golden_contact_id"] for *_, picks in picked for pick in picks]
    contacts = mt.contact_index(inputs.contacts.filter(pl.col("golden_contact_id").is_in(ids)))
    for deal_id, first, covered, picks in picked:
        for n, pick in enumerate(picks):
            c = contacts[pick["candidate_golden_contact_id"]]
            out.append(
                ProposalStub(
                    Workflow.MULTITHREADING,
                    "enroll_sequence",
                    StubTarget("contact", c["golden_contact_id"], c.get("golden_account_id")),
                    f"deal={deal_id}",
                    first["owner"],
                    partial(mt._enrolment, inputs, settings, deal_id, first, covered, pick, c, n, len(picks)),
                )
            )
    return out


def _thin_deals_world(seed: int):
    rng = random.Random(seed)
    functions = [*POLICY.multithreading.functions, "legal"]
    seniorities = [*mt.SENIORITY_ORDER, None, "intern"]
    people = [
        contact(f"gc-{i}", "Alice Carter", "US", golden_account_id=f"ga-{i % 7}", is_crm_unsubscribed=i % 9 == 0)
        for i in range(1, 41)
    ]
    rows = []
    for deal_id in rng.sample(range(1, 10_000), 80):
        covered = rng.choice([None, [], rng.sample(functions, rng.randint(1, 3))])
        deal = {
            "deal_id": deal_id,
            "deal_name": rng.choice([None, f"Deal {deal_id}"]),
            "owner": rng.choice([None, "Alice Carter", "Bo Li"]),
            "stage": "contract sent",
            "golden_account_id": f"ga-{deal_id % 7}",
            "engaged_stakeholders": rng.randint(0, POLICY.multithreading.min_engaged),
            "functions_covered": covered,
        }
        for _ in range(rng.randint(1, 12)):
            rows.append(
                {
                    **deal,
                    "candidate_golden_contact_id": rng.choice([f"gc-{rng.randint(1, 40)}", "gc-999"]),
                    "candidate_function": rng.choice(functions),
                    "candidate_seniority": rng.choice(seniorities),
                    "candidate_job_title": rng.choice([None, "Head of Things"]),
                }
            )
    world = inputs(people)
    world.multithread_candidates = frame(rows, MULTITHREAD_SCHEMA)
    return world


def test_multithreading_picks_from_columns_what_it_picked_from_whole_rows():
    for seed in range(6):
        world = _thin_deals_world(seed)
        new, plain = mt.multithreading_proposals(world, POLICY), plain_multithreading_proposals(world, POLICY)
        assert len(new) > 10, seed
        assert [(s.slot_key, s.owner, s.target) for s in new] == [(s.slot_key, s.owner, s.target) for s in plain]
        assert [built(s) for s in new] == [built(s) for s in plain]
