"""dbt project: build the staging layer on a small raw database and check normalized values."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest
from dbt_runner import DBT_PROJECT, create_dev_raw, run_dbt


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("dbt_build")
    warehouse = create_dev_raw(tmp_path / "warehouse.duckdb")
    result = run_dbt(warehouse, tmp_path, "build")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    # The hourly refresh leaves dbt's unit tests out (orchestration/defs/dbt): this build is where they run.
    unit_tests = re.search(r"(\d+) unit tests", result.stdout)
    assert unit_tests and int(unit_tests.group(1)) >= 19, result.stdout[-2000:]
    return warehouse


def _query(warehouse: Path, sql: str):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_contacts_are_deduplicated_and_normalized(built_warehouse):
    rows = _query(
        built_warehouse,
        """select contact_id, last_name, email, email_domain, phone, country_code, website_domain,
                  role_category, seniority, linkedin_url, strftime(last_modified_at, '%Y-%m-%d %H:%M')
           from staging.stg_hubspot__contacts order by contact_id""",
    )
    assert [r[0] for r in rows] == [1001, 1002, 1003, 1004]  # 1001 appears twice in raw
    ana = rows[0]
    assert ana[1:] == (
        "Souza Lima",
        "ana@acme.io",
        "acme.io",
        "+14155550123",
        "US",
        "acme.io",
        "sales",
        "vp",
        "linkedin.com/in/ana-souza",
        "2026-03-01 09:30",
    )
    bernd, chloe, dan = rows[1], rows[2], rows[3]
    assert (bernd[4], bernd[5], bernd[7], bernd[8]) == ("+49301234567", "DE", "marketing", "director")
    assert (chloe[2], chloe[4], chloe[5]) == (None, "+442079460958", "GB")  # invalid email, 0044 prefix
    assert (chloe[7], chloe[8], chloe[10]) == ("engineering", "individual_contributor", "2026-01-07 09:00")
    assert (dan[4], dan[5], dan[7], dan[8]) == (None, None, "other", "intern")


def test_invalid_email_keeps_raw_value(built_warehouse):
    assert _query(
        built_warehouse,
        "select email, email_is_valid, email_raw from staging.stg_hubspot__contacts where contact_id = 1003",
    ) == [(None, False, "chloe@@gamma")]


def test_events_enrichment_and_usage(built_warehouse):
    assert _query(
        built_warehouse,
        "select message_id, is_pricing_page, user_email from staging.stg_segment__web_events where event_type = 'page'",
    ) == [("w-1", True, "ana@acme.io")]
    assert _query(
        built_warehouse,
        "select count(*), count(distinct payload_id) from staging.stg_vendors__enrichment",
    ) == [(4, 2)]
    assert _query(
        built_warehouse,
        "select distinct account_domain from staging.stg_product__usage",
    ) == [("acme.io",)]
    assert _query(
        built_warehouse,
        "select submission_id, strftime(submitted_at, '%H:%M'), role_category, seniority, country_code, phone "
        "from staging.stg_forms__leads order by 1",
    ) == [
        ("9001", "08:15", "sales", "c_level", "FR", "+33612345678"),
        ("9002", "07:00", "marketing", "manager", "NL", "+31612345678"),
    ]


def test_action_contacts_member_lists_equal_one_grouping_of_all_records(built_warehouse):
    """`fct_action_contacts` takes a single-record contact's lists from that record and groups only the contacts of
    several records: the same lists as grouping every record (a record without an email gives [], not [NULL])."""
    reference = """
        select x.golden_contact_id, list(x.source_record_id order by x.source_record_id) as crm_record_ids,
               list_sort(list_distinct(list(s.email))) as emails,
               bool_or(coalesce(s.is_unsubscribed, false)) as is_crm_unsubscribed
        from marts.contact_crosswalk as x
        inner join staging.stg_hubspot__contacts as s on s.contact_id = x.source_record_id
        where x.golden_contact_id is not null
        group by x.golden_contact_id
    """
    mart = "select golden_contact_id, crm_record_ids, emails, is_crm_unsubscribed from marts.fct_action_contacts"
    expected = sorted(_query(built_warehouse, reference))
    assert sorted(_query(built_warehouse, mart)) == expected
    assert ("gc-1003", [1003], [], False) in expected  # chloe's invalid email is NULL


def test_full_refresh_rebuilds_the_clusters_from_scratch(built_warehouse, tmp_path):
    """The clusters model carries its previous clusters over (incremental resolution); `--full-refresh` must not."""
    clusters_table = "intermediate.int_entities__contact_clusters"
    con = duckdb.connect(str(built_warehouse))
    try:
        assert con.execute(f"select count(distinct golden_contact_id) from {clusters_table}").fetchone()[0] > 1
        # A stale state: every record in one cluster (as if a bad run had merged them all).
        con.execute(f"update {clusters_table} set golden_contact_id = 'gc-stale'")
    finally:
        con.close()
    result = run_dbt(built_warehouse, tmp_path, "run", "--select", "int_entities__contact_clusters", "--full-refresh")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    clusters = _query(built_warehouse, f"select record_id, golden_contact_id from {clusters_table}")
    assert "gc-stale" not in {golden for _, golden in clusters}
    assert all(golden == f"gc-{record}" for record, golden in clusters)  # the dev contacts are all different people


def test_record_changes_fingerprint_only_the_records_written_since_their_last_change(built_warehouse, tmp_path):
    """An hourly run of the record changes compares the records' rows stamped (`_written_at`) after its latest
    `changed_at`, not every record: a stored fingerprint of a record not written since is left as it is, one written
    since is compared (and rewritten when it differs), and a record gone is still found among all the records."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, warehouse)
    records, changes = "intermediate.int_entities__contact_records", "intermediate.int_entities__contact_record_changes"
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("set TimeZone = 'UTC'")
        ids = con.execute(f"select record_id from {records} order by 1 limit 3").fetchall()
        kept, written, gone = (record_id for (record_id,) in ids)
        con.execute(f"update {changes} set record_fingerprint = 'stale' where record_id in ({kept}, {written})")
        con.execute(
            f"update {records} set _written_at = (select timezone('UTC', max(changed_at)) from {changes}) "
            f"+ interval 1 second where record_id = {written}"
        )
        con.execute(f"delete from {records} where record_id = {gone}")
    finally:
        con.close()
    result = run_dbt(warehouse, tmp_path, "run", "--select", "int_entities__contact_record_changes")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    rows = dict(
        (record_id, (fingerprint, removed))
        for record_id, fingerprint, removed in _query(
            warehouse,
            f"select record_id, record_fingerprint, is_removed from {changes} where record_id in "
            f"({kept}, {written}, {gone})",
        )
    )
    assert rows[kept] == ("stale", False)  # not written since: not read again
    assert rows[written][0] != "stale" and not rows[written][1]  # written since: compared, its fingerprint rewritten
    assert rows[gone][1]  # gone from the records: marked removed


def _test_failures(warehouse: Path, tmp_path: Path, statements: tuple[str, ...], *models: str) -> list[tuple[int, str]]:
    """Run `statements` on the warehouse, then the dbt tests of `models`: (failing rows, dbt test name) of each test
    that failed."""
    con = duckdb.connect(str(warehouse))
    try:
        for statement in statements:
            con.execute(statement)
    finally:
        con.close()
    result = run_dbt(warehouse, tmp_path, "test", "--select", *models)
    failed = [(int(n), name) for n, name in re.findall(r"FAIL (\d+) (\w+)", result.stdout)]
    assert (result.returncode != 0) == bool(failed), result.stdout[-3000:]
    return failed


def _failing_tests_after(
    warehouse: Path, tmp_path: Path, model: str, statements: tuple[str, ...], *more_models: str
) -> set[str]:
    """Run `statements` on the warehouse, then the dbt tests of `model` (and of `more_models`): the generic tests
    that failed, by name (a test of one of `more_models` as `name:model`)."""
    failed = {name for _, name in _test_failures(warehouse, tmp_path, statements, model, *more_models)}
    names = set()
    for name in failed:
        other = next((m for m in more_models if f"_{m}" in name), None)
        names.add(f"{name.split(f'_{other}')[0]}:{other}" if other else name.split(f"_{model}")[0])
    return names


def test_event_tests_check_the_latest_runs_rows_against_the_whole_table(built_warehouse, tmp_path):
    """The email events' id and email tests are given `written_at: _staged_at`: on a table written by several runs a
    duplicate id or a malformed email in the latest run's rows fails them; in an earlier run's rows alone (that
    run's tests checked them) it is not looked at again. Written by one run, every row is checked."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, warehouse)

    def failing_tests(*statements: str) -> set[str]:
        return _failing_tests_after(warehouse, tmp_path, "stg_email__events", statements)

    table = "staging.stg_email__events"
    earlier, latest = "timestamp '2026-01-01 00:00:00'", "timestamp '2026-01-02 00:00:00'"
    copy_of_a_row = f"insert into {table} select * replace ({{}}) from {table} order by event_id limit 1"
    # One run's rows: a repeated id and a malformed email are found.
    assert failing_tests(
        copy_of_a_row.format("'Bad@Example.com' as email"),
    ) == {"unique_by_latest_write", "is_normalized_email"}
    # The same rows as an earlier run's, and a latest run bringing a new event: nothing of the latest run is wrong.
    assert (
        failing_tests(
            f"update {table} set _staged_at = {earlier}",
            copy_of_a_row.format(f"'e-new' as event_id, 'new@example.com' as email, {latest} as _staged_at"),
        )
        == set()
    )
    # The latest run repeats an earlier run's event id, with a malformed email.
    assert failing_tests(
        copy_of_a_row.format(f"'Bad2@Example.com' as email, {latest} as _staged_at"),
    ) == {"unique_by_latest_write", "is_normalized_email"}


def test_key_and_null_tests_fail_on_a_null_key_a_repeated_key_and_a_null_in_a_later_column(built_warehouse, tmp_path):
    """A model's key test (`unique_not_null`, dbt's `unique` and `not_null` in one) fails on a NULL key (contacts)
    and on a repeated one (companies); its NULL test (`not_null_columns`) on a NULL in the second of its three
    columns."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, warehouse)
    contacts, companies = "staging.stg_hubspot__contacts", "staging.stg_hubspot__companies"
    copy_of_a_row = "insert into {0} select * replace ({1}) from {0} order by all limit 1"
    assert _failing_tests_after(
        warehouse,
        tmp_path,
        "stg_hubspot__contacts",
        (
            copy_of_a_row.format(contacts, "null as contact_id"),
            copy_of_a_row.format(contacts, "-1 as contact_id, null as role_category"),
            copy_of_a_row.format(companies, "company_id as company_id"),
        ),
        "stg_hubspot__companies",
    ) == {"unique_not_null", "not_null_columns", "unique_not_null:stg_hubspot__companies"}


def test_field_candidates_and_pairs_key_tests_check_the_latest_runs_rows(built_warehouse, tmp_path):
    """The field candidates stamp the rows each run writes (`_written_at`) and their key test is given it: a repeated
    (contact, field, source, record) that the latest run wrote fails it; one left by earlier runs alone was checked by
    those runs and is not looked at again. The pairs' key test is given `features_through`, which every row a run
    writes carries and which never goes back from one run to the next: the same for a repeated (left, right) pair."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, warehouse)
    table = "intermediate.int_entities__contact_field_candidates"
    pairs = "intermediate.int_entities__contact_pairs"
    earlier, latest = "timestamp '2026-01-01 00:00:00'", "timestamp '2026-01-02 00:00:00'"
    copy_of_a_row = f"insert into {table} select * replace ({{}}) from {table} order by all limit 1"
    # The dev contacts are all different people: no pair of the build; pairs of other ids with the columns tested.
    a_pair = f"insert into {pairs} by name select {{}}, 0.9 as match_probability, 'review' as decision"

    def failing_tests(*statements: str) -> set[str]:
        return _failing_tests_after(
            warehouse, tmp_path, "int_entities__contact_field_candidates", statements, "int_entities__contact_pairs"
        )

    # An earlier run's repeated key, and a latest run writing a contact (a pair) of its own: nothing of the latest run
    # is wrong.
    assert (
        failing_tests(
            f"update {table} set _written_at = {earlier}",
            copy_of_a_row.format("'gc-repeated' as entity_id"),
            copy_of_a_row.format("'gc-repeated' as entity_id"),
            copy_of_a_row.format(f"'gc-new' as entity_id, {latest} as _written_at"),
            a_pair.format(f"-1 as left_id, -2 as right_id, {earlier} as features_through"),
            a_pair.format(f"-1 as left_id, -2 as right_id, {earlier} as features_through"),
            a_pair.format(f"-3 as left_id, -4 as right_id, {latest} as features_through"),
        )
        == set()
    )
    # The latest run writes a key an earlier run wrote.
    assert failing_tests(
        copy_of_a_row.format(f"{latest} as _written_at"),
        a_pair.format(f"-1 as left_id, -2 as right_id, {latest} as features_through"),
    ) == {"unique_combination", "unique_combination:int_entities__contact_pairs"}


def test_golden_fields_and_product_usage_key_tests_check_the_rows_the_latest_run_wrote(built_warehouse, tmp_path):
    """Golden fields stamp the rows each run writes (`_written_at`, one instant a run) and product usage too
    (`_staged_at`); their key tests (`unique_combination`, `unique_not_null`) are given the stamp. Rows of one run (a
    full build): a repeated key anywhere fails. An hourly run (real dbt) stamps only what it writes again: a contact
    drawn again, a usage day restated by a later load, their old rows deleted and rewritten, which is no duplicate;
    a key repeated by earlier runs' rows alone was checked by those runs and is not looked at again. Then a
    latest-run row repeating an earlier row's key and two latest-run rows of a new key each fail (a failing row
    each), and so does a NULL usage id of an earlier run."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(built_warehouse, warehouse)
    fields, usage = "intermediate.int_entities__contact_golden_fields", "staging.stg_product__usage"
    earlier = "timestamp '2026-01-01 00:00:00'"
    contact, other_contact = (
        row[0] for row in _query(warehouse, f"select distinct golden_contact_id from {fields} order by all limit 2")
    )
    day, other_day = (row[0] for row in _query(warehouse, f"select usage_id from {usage} order by all limit 2"))
    copy_field = f"insert into {fields} select * replace ({{}}) from {fields} where golden_contact_id = '{{}}' limit 1"
    copy_day = f"insert into {usage} select * replace ({{}}) from {usage} where usage_id = '{{}}'"
    models = ("int_entities__contact_golden_fields", "stg_product__usage")

    def failures(*statements: str) -> dict[str, int]:
        """The failing tests of the two models after `statements`, by name, with their failing rows."""
        return {
            name.split("_int_entities")[0].split("_stg_")[0] + (":usage" if "product__usage" in name else ""): n
            for n, name in _test_failures(warehouse, tmp_path, statements, *models)
        }

    # A full build's rows (one stamp): a repeated key anywhere fails.
    assert failures(
        copy_field.format("golden_contact_id as golden_contact_id", other_contact),
        copy_day.format("usage_id as usage_id", other_day),
    ) == {"unique_combination": 1, "unique_not_null:usage": 1}
    # Every row an earlier run's, the repeated keys among them; the first contact's stored hash altered (the hourly
    # run draws it again) and the first day restated by a later load.
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(f"update {fields} set _written_at = {earlier}")
        con.execute(f"update {usage} set _staged_at = {earlier}")
        con.execute(f"update {fields} set candidates_hash = null where golden_contact_id = '{contact}'")
        rows_of_contact = con.execute(f"select count(*) from {fields} where golden_contact_id = '{contact}'").fetchone()
        con.execute(
            "insert into raw.product_usage select * replace ("
            "(select max(_loaded_at) from raw.product_usage) + interval 1 hour as _loaded_at) from raw.product_usage "
            f"where (_source_file, _source_line) = (select (_source_file, _source_line) from {usage} "
            f"where usage_id = '{day}')"
        )
    finally:
        con.close()
    result = run_dbt(warehouse, tmp_path, "run", "--select", *models)
    assert result.returncode == 0, result.stdout[-3000:]
    # Only what the run wrote again holds its stamp.
    assert sorted(
        _query(
            warehouse,
            f"select golden_contact_id = '{contact}', _written_at > {earlier}, count(*) from {fields} group by all",
        )
    )[1:] == [(True, True, rows_of_contact[0])]
    assert sorted(
        _query(warehouse, f"select usage_id = '{day}', _staged_at > {earlier}, count(*) from {usage} group by all")
    )[1:] == [(True, True, 1)]
    assert failures() == {}
    # The latest run repeats an earlier row's key, and writes two rows of a new key; an earlier run's NULL usage id.
    latest_field, latest_day = f"(select max(_written_at) from {fields})", f"(select max(_staged_at) from {usage})"
    assert failures(
        copy_field.format(f"{latest_field} as _written_at", other_contact),
        copy_field.format(f"'gc-new' as golden_contact_id, {latest_field} as _written_at", contact),
        copy_field.format(f"'gc-new' as golden_contact_id, {latest_field} as _written_at", contact),
        copy_day.format(f"{latest_day} as _staged_at", other_day),
        copy_day.format(f"'new.io|2026-01-01' as usage_id, {latest_day} as _staged_at", day),
        copy_day.format(f"'new.io|2026-01-01' as usage_id, {latest_day} as _staged_at", day),
        copy_day.format(f"null as usage_id, {earlier} as _staged_at", day),
    ) == {"unique_combination": 2, "unique_not_null:usage": 3}


def _manifest(dbt_manifest) -> dict:
    import json

    return json.loads(Path(dbt_manifest).read_text())


def test_every_raw_source_has_freshness_on_its_load_time(dbt_manifest):
    sources = _manifest(dbt_manifest)["sources"].values()
    from landing.contract import SOURCES

    # Every landing source, plus the decision log the queue copies in (its changed actions), the lead tiers the ml
    # assets scored (replaced whole) and the reply classes they classified (appended), each stamped copied_at.
    copies = {"decision_log", "lead_tiers", "reply_classes"}
    assert {s["identifier"] for s in sources} == {spec.table.split(".")[-1] for spec in SOURCES.values()} | copies
    for source in sources:
        freshness = source["freshness"] or {}
        if source["identifier"] in copies:  # copied in the same refresh as dbt runs: nothing to be late
            assert not freshness.get("warn_after", {}).get("count"), source["unique_id"]
            continue
        assert source["loaded_at_field"] == "_loaded_at", source["unique_id"]
        warn, error = freshness.get("warn_after") or {}, freshness.get("error_after") or {}
        assert warn.get("period") == error.get("period") == "hour", source["unique_id"]
        # An hourly refresh: never a warning before one refresh was missed, errors after the warning.
        assert 2 <= warn["count"] < error["count"], source["unique_id"]


def test_every_incremental_model_has_tests_on_its_unique_key(dbt_manifest):
    nodes = _manifest(dbt_manifest)["nodes"].values()
    tested: dict[str, set[tuple[str, ...]]] = {}
    for test in (n for n in nodes if n["resource_type"] == "test" and n.get("attached_node")):
        metadata = test.get("test_metadata") or {}
        kwargs = metadata.get("kwargs") or {}
        if metadata.get("name") in ("unique", "unique_not_null", "unique_by_latest_write"):
            tested.setdefault(test["attached_node"], set()).add((kwargs["column_name"],))
        elif metadata.get("name") == "unique_combination":
            columns = kwargs.get("columns") or (kwargs.get("arguments") or {}).get("columns")
            tested.setdefault(test["attached_node"], set()).add(tuple(columns))
    incremental = [n for n in nodes if n["resource_type"] == "model" and n["config"]["materialized"] == "incremental"]
    assert len(incremental) >= 8
    for model in incremental:
        key = model["config"].get("unique_key")
        if key is None:  # append-only or whole-table replacement: the model's own key column
            assert tested.get(model["unique_id"]), model["unique_id"]
            continue
        key = (key,) if isinstance(key, str) else tuple(key)
        # A group key (delete+insert replacing every row of each changed payload or contact) is not unique; such a
        # model names its row key in `meta.row_key`, and that is what must be tested.
        row_key = model["config"].get("meta", {}).get("row_key")
        if row_key is not None:
            key = (row_key,) if isinstance(row_key, str) else tuple(row_key)
        assert key in tested.get(model["unique_id"], set()), (model["unique_id"], key)


def test_dbt_plugin_imports_every_library_module_a_python_model_imports():
    """dbt runs Python models on several threads; the plugin imports their modules first (see landing.dbt_plugin)."""
    import ast

    from landing.dbt_plugin import PYTHON_MODEL_IMPORTS

    libraries = {"landing", "matching", "ml", "actions"}
    imported = set()
    for path in (DBT_PROJECT / "models").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) else []
            names += [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            imported |= {name for name in names if name and name.split(".")[0] in libraries}
    assert imported and imported <= set(PYTHON_MODEL_IMPORTS), sorted(imported - set(PYTHON_MODEL_IMPORTS))
