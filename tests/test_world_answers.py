"""A world that answers (sample_world/answers.py): next-hour mode reads what the sync wrote to the sandbox CRM and
resolves outcomes from hidden state and those actions; with no actions it writes exactly what it wrote before."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from crm_sandbox.seed import seed_from_landing
from crm_sandbox.store import DEFAULT_ASSOCIATION_TYPES, SandboxStore, StoredObject
from sample_world import answers as AN
from sample_world import generate_next_hours, generate_world, load_truth
from sample_world.util import HOUR

UNIQUE = {"contacts": ("email", "actionhouse_id"), "tasks": ("actionhouse_id",), "notes": ("actionhouse_id",)}


@pytest.fixture(scope="module")
def base_world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("answers") / "world"
    generate_world(out, contacts=1500, seed=11)
    return out


def _copy(base: Path, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(base, target)
    return target


def _files(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name not in skip
    }


def _seeded_store(world: Path, path: Path) -> SandboxStore:
    store = SandboxStore(path, UNIQUE)
    seed_from_landing(store, world / "landing")
    return store


def _task(store: SandboxStore, key: str, subject: str, record_id: int, task_type: str = "TODO") -> int:
    """A task as the sync engine leaves it in the sandbox: upserted on actionhouse_id, associated with a contact."""
    with store.transaction():
        task_id = store.find_id("tasks", "actionhouse_id", key) or store.next_id("tasks")
        ms = store.tick()
        store.put(
            StoredObject(
                "tasks",
                task_id,
                {
                    "hs_task_subject": subject,
                    "hs_task_type": task_type,
                    "hs_task_status": "NOT_STARTED",
                    "actionhouse_id": key,
                },
                ms,
                ms,
            )
        )
        store.associate("tasks", task_id, "contacts", record_id, DEFAULT_ASSOCIATION_TYPES[("tasks", "contacts")])
    return task_id


def _set(store: SandboxStore, object_type: str, record_id: int, **props) -> None:
    with store.transaction():
        obj = store.get(object_type, record_id)
        obj.properties.update(props)
        obj.updated_ms = store.tick()
        store.put(obj)


def test_no_crm_empty_crm_and_a_crm_without_actions_write_the_same_world(base_world, tmp_path):
    plain, empty, seeded = (_copy(base_world, tmp_path, n) for n in ("plain", "empty", "seeded"))
    SandboxStore(tmp_path / "empty.sqlite").close()
    store = _seeded_store(seeded, tmp_path / "seeded.sqlite")
    store.close()
    generate_next_hours(plain, hours=3)
    generate_next_hours(empty, hours=3, crm_db=tmp_path / "empty.sqlite")
    generate_next_hours(seeded, hours=3, crm_db=tmp_path / "seeded.sqlite")
    # The world adds its new contacts to either CRM and reads them back (no owner changed): only the cursor is new.
    assert _files(plain) == _files(empty, skip=(AN.CURSOR_FILE,)) == _files(seeded, skip=(AN.CURSOR_FILE,))
    assert (seeded / "truth" / AN.CURSOR_FILE).exists()
    assert not list((plain / "truth").glob("action_effects*"))


def test_synced_actions_are_answered_once_deterministically_and_the_truth_matches(base_world, tmp_path):
    worlds = []
    for name in ("a", "b"):  # same world, same synced actions, written at other wall-clock times
        world = _copy(base_world, tmp_path, name)
        store = _seeded_store(world, tmp_path / f"{name}.sqlite")
        people = load_truth(world, "people").sort("person_id")
        records = people["record_id"].to_list()
        for i, record in enumerate(records[:6]):
            _task(store, f"act-{i}", f"Answer Person {i}'s reply: it asks for a call", record)
        _task(store, "act-meet", "Acme: three times to talk", records[6], task_type="EMAIL")
        other = [o for o in store.owner_names().values() if o != people["owner"][7]][0]
        owner_id = next(k for k, v in store.owner_names().items() if v == other)
        _set(store, "contacts", records[7], hubspot_owner_id=owner_id)
        store.enroll("seq-1", str(records[8]), "rep@example.com", None)
        renewal = load_truth(world, "renewals").sort("deal_id")["deal_id"][0]
        _set(store, "deals", int(renewal), hs_priority="high", actionhouse_risk_tier="1")
        _set(store, "contacts", records[9], actionhouse_tier="1")  # a score field: no action
        eff = AN.Effects(sequence_resolve_hours=1.5)
        generate_next_hours(world, hours=1, crm_db=tmp_path / f"{name}.sqlite", effects=eff)
        first = load_truth(world, "action_effects")
        assert first.height == 10
        assert sorted(first["action_kind"].to_list()) == sorted(
            ["task"] * 6 + ["email", "owner_change", "sequence", "save_play"]
        )
        assert set(first.filter(pl.col("action_kind") == "task")["workflow"]) == {"reply_routing"}
        assert first.filter(pl.col("action_kind") == "email")["workflow"].to_list() == ["meetings"]
        assert first.filter(pl.col("action_kind") == "owner_change")["new_owner"].to_list() == [other]
        assert first.filter(pl.col("action_kind") == "save_play")["account_id"].is_not_null().all()
        mapped = first.filter(pl.col("crm_object") == "tasks").sort("action_key")
        assert mapped["person_id"].to_list() == people["person_id"].head(7).sort().to_list()
        # Nothing new synced: the next hours answer nothing again; the sequence resolves into email events.
        generate_next_hours(world, hours=2, crm_db=tmp_path / f"{name}.sqlite", effects=eff)
        assert load_truth(world, "action_effects").height == 10
        seq = load_truth(world, "situation_outcomes").filter(pl.col("situation_kind") == "sequence")
        assert seq.height == 1 and seq["outcome_class"][0] in ("positive_reply", "unsubscribe", "spam_report", "none")
        events = pl.concat(
            [pl.read_ndjson(f) for f in (world / "landing" / "email_events").glob("*_h*.jsonl")], how="diagonal_relaxed"
        )
        assert events.filter(pl.col("sequence_id") == "seq-1").height >= 2
        # A re-sync of an answered task (same actionhouse_id, new write) is not answered twice; a new one is.
        _task(store, "act-0", "Answer Person 0's reply: it asks for a call", records[0])
        _task(store, "act-new", "Overdue follow-up: Person 10", records[10])
        _set(store, "contacts", records[7], actionhouse_tier="2")  # read again, same new owner: no second change
        generate_next_hours(world, hours=1, crm_db=tmp_path / f"{name}.sqlite", effects=eff)
        effects = load_truth(world, "action_effects")
        assert effects.height == 11 and effects["action_key"].is_unique().all()
        assert effects.filter(pl.col("action_key") == "act-new")["workflow"].to_list() == ["sla"]
        store.close()
        worlds.append(world)
    assert _files(worlds[0], skip=(AN.CURSOR_FILE,)) == _files(worlds[1], skip=(AN.CURSOR_FILE,))


def _view(n: int, fit: float, intent: float, t0: int, at_risk: bool = True) -> AN.WorldView:
    people = pl.DataFrame(
        {
            "person_id": np.arange(1, n + 1),
            "account_id": np.arange(1, n + 1),
            "fit": np.full(n, fit),
            "intent": np.full(n, intent),
            "owner": ["Ann Lee"] * n,
            "email": [f"p{i}@x.io" for i in range(n)],
            "first_name": ["P"] * n,
            "company_name": ["X"] * n,
        }
    )
    triggers = pl.DataFrame(
        {
            "trigger_id": [f"t{i}" for i in range(n)],
            "person_id": np.arange(1, n + 1),
            "record_id": np.arange(101, n + 101),
            "triggered_at": np.full(n, t0 - 2 * HOUR),
        }
    )
    triggers = triggers.with_columns(resolves_at=pl.col("triggered_at") + 48 * HOUR)
    renewals = pl.DataFrame(
        {
            "deal_id": np.arange(7001, n + 7001),
            "account_id": np.arange(1, n + 1),
            "renewal_at": np.full(n, t0 + 5 * 24 * HOUR),
            "at_risk": [at_risk] * n,
        }
    )
    no_shows = pl.DataFrame(schema=AN.NO_SHOW_SCHEMA)
    return AN.WorldView(
        people,
        {101 + i: i + 1 for i in range(n)},
        {},
        renewals,
        triggers,
        no_shows,
        pl.DataFrame(schema=AN.ACTION_SCHEMA),
    )


def _rows(kind: str, n: int, subject: str = "", task_type: str = "TODO") -> list[dict]:
    if kind == "tasks":
        return [
            {
                "object": "tasks",
                "id": 5000 + i,
                "contacts": [101 + i],
                "properties": {"hs_task_subject": subject, "hs_task_type": task_type, "actionhouse_id": f"k{i}"},
            }
            for i in range(n)
        ]
    if kind == "deals":
        return [
            {"object": "deals", "id": 7001 + i, "contacts": [], "properties": {"hs_priority": "high"}} for i in range(n)
        ]
    return [
        {
            "object": "sequence_enrollments",
            "id": i + 1,
            "contacts": [101 + i],
            "properties": {"sequenceId": "seq-9", "contactId": str(101 + i)},
        }
        for i in range(n)
    ]


def _evaluate(view: AN.WorldView, rows: list[dict], eff: AN.Effects, t0: int) -> pl.DataFrame:
    return AN.evaluate(AN.recognise(rows, view, {}, set()), view, eff, seed=5, hour=1, t0=t0)


def test_effects_follow_hidden_state_and_the_zero_effect_workflow_changes_nothing():
    eff, t0, n = AN.Effects(), 1_800_000_000, 400
    hot, cold = _view(n, 0.9, 0.9, t0), _view(n, 0.1, 0.1, t0)
    touch = "Answer P's reply: it asks for a call"
    for view in (hot, cold):
        r = _evaluate(view, _rows("tasks", n, touch), eff, t0)
        # A timely first touch (2 h after the trigger) raises the chance of a meeting by the decayed uplift.
        assert r["p_with"].to_numpy() == pytest.approx(r["p_without"].to_numpy() + 0.20 * np.exp(-2 / 24))
        assert (r["situation_kind"] == "follow_up_trigger").all()
    hot_touch = _evaluate(hot, _rows("tasks", n, touch), eff, t0)
    assert hot_touch["outcome_with"].sum() > hot_touch["outcome_without"].sum()  # same u: only more meetings
    assert (hot_touch["outcome_with"] >= hot_touch["outcome_without"]).all()
    # The zero-effect workflow (a meeting proposal) leaves every probability and outcome as it was.
    zero = _evaluate(hot, _rows("tasks", n, "Acme: three times to talk", "EMAIL"), eff, t0)
    assert (zero["workflow"] == "meetings").all()
    assert zero["p_with"].to_list() == zero["p_without"].to_list()
    assert zero["outcome_with"].to_list() == zero["outcome_without"].to_list()
    # Sequences: well targeted -> more positive replies; mistargeted -> more unsubscribes and spam reports.
    seq_hot, seq_cold = (_evaluate(v, _rows("enrollments", n), eff, t0) for v in (hot, cold))
    assert seq_hot["p_with"][0] == pytest.approx(0.01 + 0.20 * 0.9)
    assert seq_cold["p_unsubscribe"][0] > seq_hot["p_unsubscribe"][0]
    assert seq_cold["p_spam_report"][0] > seq_hot["p_spam_report"][0]
    assert seq_hot["outcome_with"].sum() > 3 * seq_cold["outcome_with"].sum()
    # Save plays: a truly at-risk account renews more often; a healthy one gains nothing.
    risky = _evaluate(_view(n, 0.5, 0.5, t0, at_risk=True), _rows("deals", n), eff, t0)
    healthy = _evaluate(_view(n, 0.5, 0.5, t0, at_risk=False), _rows("deals", n), eff, t0)
    assert risky["p_with"][0] - risky["p_without"][0] == pytest.approx(0.25)
    assert healthy["p_with"].to_list() == healthy["p_without"].to_list()
    assert risky["outcome_with"].sum() - risky["outcome_without"].sum() > 0.15 * n
    # A late touch (a day and a half after the trigger) is worth less than a timely one.
    late = _evaluate(hot, _rows("tasks", n, touch), eff, t0 + 34 * HOUR)
    assert (late["p_with"] - late["p_without"]).max() < 0.5 * (hot_touch["p_with"] - hot_touch["p_without"]).min()


def test_resolution_uses_p_without_for_untouched_situations_and_adds_effects_per_workflow():
    eff, t0 = AN.Effects(), 1_800_000_000
    view = _view(4, 0.8, 0.8, t0)
    acts = _evaluate(view, _rows("tasks", 2, "Answer P's reply: it asks for a call"), eff, t0)
    view.effects_so_far = acts
    due = t0 + 46 * HOUR  # the triggers (2 h before t0) resolve 48 h after they came in
    out = (
        AN.resolve(view, eff, seed=5, hour=47, t0=due, t1=due + HOUR)
        .filter(pl.col("situation_kind") == "follow_up_trigger")
        .sort("situation_id")
    )
    assert out.height == 4
    touched = out.filter(pl.col("n_actions") > 0)
    assert touched["situation_id"].to_list() == ["trigger:t0", "trigger:t1"]
    assert touched["p"].to_list() == pytest.approx(acts.sort("situation_id")["p_with"].to_list())
    untouched = out.filter(pl.col("n_actions") == 0)
    assert untouched["p"].to_list() == untouched["p_without"].to_list()
    assert (out["outcome"] == (out["u"] < out["p"])).all()


def test_effects_are_parameters(tmp_path):
    f = tmp_path / "effects.yml"
    f.write_text("first_touch_uplift: 0.3\nfirst_touch_scale: {sla: 0.0}\n")
    eff = AN.load_effects(f, save_uplift_at_risk=0.1)
    assert (eff.first_touch_uplift, eff.save_uplift_at_risk) == (0.3, 0.1)
    assert eff.scale("sla") == 0.0 and eff.scale("lead_routing") == 1.0 and eff.scale("meetings") == 0.0
    with pytest.raises(ValueError, match="unknown effect parameters: nope"):
        AN.load_effects(nope=1)
    assert AN.classify_task("[revops] Read and answer a reply: X", "TODO") == ("reply_routing", "task")
    assert AN.classify_task("Acme: two new times", "EMAIL") == ("no_show", "email")
    assert AN.classify_task("Acme: follow-ups that do not slip", "EMAIL") == ("sequence_drafts", "email")


def test_a_treated_vs_untouched_comparison_recovers_the_true_lift():
    """Half of 3,000 hot leads get a timely touch: the measured difference in meetings (outcomes only, as an
    evaluation sees them) lands within its 95% interval of the true lift written in the truth."""
    eff, t0, n = AN.Effects(), 1_800_000_000, 3000
    rng = np.random.default_rng(3)
    view = _view(n, 0.5, 0.5, t0)
    view.people = view.people.with_columns(fit=pl.Series(rng.random(n)), intent=pl.Series(rng.random(n)))
    treated = _rows("tasks", n, "Answer P's reply: it asks for a call")[::2]
    view.effects_so_far = _evaluate(view, treated, eff, t0)
    due = t0 + 46 * HOUR
    out = AN.resolve(view, eff, seed=5, hour=47, t0=due, t1=due + HOUR)
    got = out.group_by(pl.col("n_actions") > 0).agg(pl.col("outcome").mean(), pl.len()).sort("n_actions")
    (p0, n0), (p1, n1) = got.select("outcome", "len").rows()
    measured = p1 - p0
    se = (p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0) ** 0.5
    true = (view.effects_so_far["p_with"] - view.effects_so_far["p_without"]).mean()
    assert true == pytest.approx(0.20 * np.exp(-2 / 24))
    assert abs(measured - true) < 1.96 * se, (measured, true, se)


def test_activity_raises_the_hours_people_and_leads_and_is_bounded(base_world, tmp_path):
    """`activity` scales the people active each hour and the leads coming in (the closed-loop evaluation's knob);
    1.0 is the world as it always was."""
    usual, busy = _copy(base_world, tmp_path, "usual"), _copy(base_world, tmp_path, "busy")
    generate_next_hours(usual, hours=2)
    generate_next_hours(busy, hours=2, activity=10.0)

    def rows(world: Path, folder: str, pattern: str) -> int:
        files = sorted((world / "landing" / folder).glob(pattern))
        return sum(len(f.read_text().splitlines()) for f in files)

    # 1,500 people: 10 active an hour (the floor) against 60; 3 leads an hour (the floor) against 4 or 5.
    assert rows(busy, "email_events", "*_h000*") > 3 * rows(usual, "email_events", "*_h000*")
    assert rows(busy, "leads", "*_h000*") > rows(usual, "leads", "*_h000*")
    with pytest.raises(ValueError, match="activity must be above 0"):
        generate_next_hours(busy, hours=1, activity=0)


def test_a_resolved_renewal_is_written_again_with_its_closing_stage_date_under_the_export_header(base_world, tmp_path):
    """The export header quotes its stage columns (Date entered "Closed Won (Sales Pipeline)", in CSV quoting): the
    resolved renewal rows must keep that header byte for byte and carry the date in the Closed Won / Closed Lost
    column the warehouse reads, or no renewal ever shows as won."""
    import csv

    from sample_world.util import Writer
    from sample_world.world import _renewal_deal_rows

    rows = _renewal_deal_rows(base_world)
    deals = load_truth(base_world, "renewals").sort("deal_id").head(2)
    resolved = pl.DataFrame({
        "situation_id": [f"renewal:{d}" for d in deals["deal_id"]],
        "outcome": [True, False],
        "resolves_at": deals["renewal_at"],
    })
    land = AN.renewals_landing(resolved, rows)
    assert land.height == 2
    writer = Writer(tmp_path, "h0001")
    path = writer.csv("hubspot_deals", "deals", land)
    original = sorted((base_world / "landing" / "hubspot_deals").glob("deals_0*.csv"))[0]
    assert path.read_text().splitlines()[0] == original.read_text().splitlines()[0]
    parsed = {r["Record ID"]: r for r in csv.DictReader(path.open())}
    won, lost = 'Date entered "Closed Won (Sales Pipeline)"', 'Date entered "Closed Lost (Sales Pipeline)"'
    first, second = (parsed[str(d)] for d in deals["deal_id"])
    assert first["Deal Stage"] == "Closed Won" and first[won] and not first[lost]
    assert second["Deal Stage"] == "Closed Lost" and second[lost] and not second[won]


def test_contacts_the_sandbox_creates_never_take_an_id_a_later_export_brings(base_world, tmp_path):
    """The sync creates contacts for new leads; the world numbers its own new contacts on from its exports. The two
    allocators must not meet, or one id names two people (the world would credit one person's routing to another)."""
    import json

    from crm_sandbox.store import CREATED_RECORD_FIRST_ID

    world = _copy(base_world, tmp_path, "ids")
    store = _seeded_store(world, tmp_path / "ids.sqlite")
    created = store.next_id("contacts")
    world_next = json.loads((world / "truth" / "world_state.json").read_text())["counters"]["contact"]
    seeded_max = max(load_truth(world, "people")["record_id"].to_list())
    assert seeded_max < world_next <= created - 100_000_000  # room for a world's years of new contacts
    assert created == CREATED_RECORD_FIRST_ID
    assert store.next_id("tasks") == 1001  # engagements keep their own id space
    store.close()


def test_the_hours_new_contacts_enter_the_sandbox_and_reading_them_back_is_no_action(base_world, tmp_path):
    """Without them, actions on contacts the world created after the seed fail to sync (no such contact)."""
    world = _copy(base_world, tmp_path, "new")
    store = _seeded_store(world, tmp_path / "new.sqlite")
    seeded = store.counts()["contacts"]
    existing = int(load_truth(world, "people")["record_id"][0])
    _set(store, "contacts", existing, actionhouse_fit_score="87")  # what the sync wrote to a known contact
    owners_before = len(store.owner_names())
    store.close()

    generate_next_hours(world, hours=3, crm_db=tmp_path / "new.sqlite")

    new_ids = pl.concat([pl.read_parquet(p) for p in sorted((world / "truth").glob("contacts_h*.parquet"))])
    new_ids = new_ids["record_id"].to_list()
    store = SandboxStore(tmp_path / "new.sqlite", UNIQUE)
    assert new_ids and store.counts()["contacts"] == seeded + len(new_ids)
    exported = pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in sorted((world / "landing").rglob("contacts_h*.csv"))]
    )
    names = store.owner_names()
    for row in exported.filter(pl.col("Record ID").cast(pl.Int64).is_in(new_ids)).iter_rows(named=True):
        record = store.get("contacts", int(row["Record ID"]))
        assert record.properties["email"] == row["Email"]
        assert names[record.properties["hubspot_owner_id"]] == row["Contact owner"]
    assert len(names) == owners_before  # the world's reps, found by name, not created again
    assert store.get("contacts", existing).properties["actionhouse_fit_score"] == "87"  # left as the sync wrote it
    store.close()
    assert not list((world / "truth").glob("action_effects*"))  # its own contacts read back: no action
