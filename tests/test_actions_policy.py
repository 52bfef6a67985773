"""Policy as code: the default file validates; every kind of mistake is refused with the line it is on; the
command line checks files and switches the suppression list and kill switch."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.policy import DEFAULT_POLICY_PATH, PolicyError, load_policy, parse_policy
from orchestration.cli import main

TEXT = DEFAULT_POLICY_PATH.read_text()


def _line_of(fragment: str, text: str = TEXT) -> int:
    """1-based line of the first line containing `fragment`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def _problems(text: str) -> list[tuple[int, str]]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "candidate.yml")
    return caught.value.problems


def test_default_policy_validates_and_is_versioned():
    policy = load_policy()
    assert policy.version.startswith("v3+") and len(policy.version) == len("v3+") + 12
    assert parse_policy(TEXT + "\n# a comment changes the content hash\n").version != policy.version
    assert policy.risk_class("merge_contacts").value == "approve"
    assert policy.territories_of_country()["US"] == ["NA-West", "NA-East", "NA-Central"]
    assert policy.territory_of_owner()["Marta Schulz"] == "DACH"


@pytest.mark.parametrize(
    ("old", "new", "anchor", "words"),
    [
        (
            "  merge_contacts: approve",
            "  merge_contacts: maybe",
            "  merge_contacts: maybe",
            "'auto', 'approve' or 'never'",
        ),
        (
            "caps:\n",
            "caps:\n  per_acount_weekly_touches: 3\n",
            "per_acount_weekly_touches",
            "unknown key 'per_acount_weekly_touches'",
        ),
        (
            "    compliance_threat: revops",
            "    compliance_threat: legal",
            "compliance_threat: legal",
            "'legal' is not a group",
        ),
        (
            "  send_email: approve",
            "  send_emails: approve",
            "send_emails: approve",
            "unknown action type 'send_emails'",
        ),
        (
            "  positive_min_confidence: 0.7",
            "  positive_min_confidence: 1.7",
            "positive_min_confidence: 1.7",
            "less than or equal to 1",
        ),
        (
            "    Canada: {countries: [CA],",
            "    Canada: {countries: [Canada],",
            "Canada: {countries: [Canada]",
            "should match pattern",
        ),
        (
            "[Isabel Fraser]",
            "[Isabel Fraser, Marta Schulz]",
            "DACH: {countries",
            "'Marta Schulz' is already in territory 'Canada'",
        ),
        (
            "  per_account_weekly_touches: 5",
            "  per_account_weekly_touches: five",
            "weekly_touches: five",
            "valid integer",
        ),
    ],
)
def test_every_mistake_names_its_line(old, new, anchor, words):
    assert old in TEXT
    bad = TEXT.replace(old, new, 1)
    problems = _problems(bad)
    assert any(line == _line_of(anchor, bad) and words in message for line, message in problems), problems


def test_missing_sections_and_bad_yaml_are_reported():
    problems = _problems(TEXT.replace("kpis:", "kpi_list:", 1))
    assert any("missing required key 'kpis'" in m for _, m in problems)
    assert any("unknown key 'kpi_list'" in m for _, m in problems)
    broken = TEXT.replace("  default: 72", "  default: [72", 1)
    (line, message), *_ = _problems(broken)
    assert line >= _line_of("  default: [72", broken) and "not valid YAML" in message


def test_policy_check_command(tmp_path, capsys):
    good = tmp_path / "policy.yml"
    good.write_text(TEXT)
    assert main(["policy", "check", str(good)]) == 0
    assert "valid (policy v3+" in capsys.readouterr().out
    bad = tmp_path / "bad.yml"
    bad.write_text(TEXT.replace("  assign_owner: auto", "  assign_owner: sometimes", 1))
    assert main(["policy", "check", str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:{_line_of('assign_owner: sometimes', bad.read_text())}:" in out and "not accepted" in out


def test_suppression_and_kill_switch_commands(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACTIONHOUSE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ACTIONHOUSE_OPS_DB", raising=False)
    assert main(["suppress", "add", "Jane@Example.com", "--reason", "asked by phone", "--as", "Rita Ops"]) == 0
    assert main(["suppress", "add", "@competitor.io", "--reason", "competitor"]) == 0
    assert main(["suppress", "add", "jane@example.com", "--reason", "asked by phone", "--as", "Rita Ops"]) == 0
    assert "already suppressed" in capsys.readouterr().out
    assert main(["suppress", "list"]) == 0
    listing = capsys.readouterr().out
    assert "jane@example.com" in listing and "competitor.io" in listing and "2 shown of 2" in listing
    assert main(["kill-switch", "on", "--as", "Rita Ops"]) == 2  # a reason is required
    assert main(["kill-switch", "on", "--as", "Rita Ops", "--reason", "bad template"]) == 0
    assert main(["kill-switch", "status"]) == 0
    status = capsys.readouterr().out
    assert "ON: every send is paused" in status and "Rita Ops: bad template" in status
    assert Path(tmp_path / "operations.sqlite").exists()
