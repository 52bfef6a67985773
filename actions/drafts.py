"""Grounded drafts (W6): an email rendered from a policy template, filled only with fields the record holds.

    template = policy.drafts.templates["at_risk_support"]
    draft = render_draft("at_risk_support", template, {"contact_first_name": "Ana", ...}, policy.content)
    draft.blocked        # None, or why it must not be proposed: a missing field (named) or a banned rule
    draft.field_map      # every field the template used -> the value substituted (stored with the draft)

Templates are plain text with `{{ field }}` placeholders and nothing else: no filters, loops, calls or
attribute access (a template with any is refused when it is checked), rendered in Jinja's sandbox with
`StrictUndefined`. So every word of a draft is either template text or a field value from `field_map`, and a
template that needs a field the record lacks is not rendered at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name)


class TemplateError(ValueError):
    """A template that is not plain text with `{{ field }}` placeholders."""


@lru_cache(maxsize=256)
def template_fields(source: str) -> tuple[str, ...]:
    """The fields a template substitutes, in order of first use; raises `TemplateError` for anything but plain
    text and `{{ field }}` placeholders."""
    try:
        tree = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"line {exc.lineno}: {exc.message}") from exc
    names: list[str] = []
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, _ALLOWED_NODES):
            raise TemplateError(
                f"only {{{{ field }}}} placeholders are allowed, found {type(node).__name__.lower()} "
                f"(line {node.lineno})"
            )
        if isinstance(node, nodes.Name) and node.name not in names:
            names.append(node.name)
    return tuple(names)


@lru_cache(maxsize=256)
def _pieces(source: str) -> tuple[tuple[str, bool], ...]:
    """The template as Jinja's parser reads it, in order: its text `(text, False)` and its placeholders
    `(field, True)` (the lexer has already applied whitespace control and the trailing-newline rule to the text).
    Raises `TemplateError` like `template_fields`."""
    template_fields(source)  # refuses anything but text and {{ field }} placeholders
    pieces: list[tuple[str, bool]] = []
    for output in _ENV.parse(source).body:
        for node in output.nodes:  # type: ignore[attr-defined]
            pieces.append((node.name, True) if isinstance(node, nodes.Name) else (node.data, False))
    return tuple(pieces)


def _render(source: str, values: dict[str, str]) -> str:
    """What Jinja's `from_string(source).render(values)` gives, by joining the parsed pieces: a template is only
    text and `{{ field }}` placeholders, every field it names is in `values` (a missing one refuses the draft before
    rendering) and autoescaping is off, so a placeholder renders as its value. Jinja's render creates a context per
    call (most of a render's cost: sequence steps render tens of thousands a run); the text is the same
    (`tests/test_actions_planner_cost.py` compares them)."""
    return "".join([values[text] if is_field else text for text, is_field in _pieces(source)])


@dataclass(frozen=True)
class Draft:
    """A rendered (or refused) draft, with the field -> value map it was filled from."""

    template: str
    subject: str | None
    body: str | None
    field_map: dict[str, str] = field(default_factory=dict)
    missing_fields: tuple[str, ...] = ()
    blocked_rule: str | None = None
    blocked_reason: str | None = None

    @property
    def blocked(self) -> bool:
        """Whether the draft must not be proposed (a missing field or a banned claim or topic)."""
        return self.blocked_rule is not None

    def as_payload(self) -> dict[str, Any]:
        """What the queue stores: the template, the rendered text and the field map."""
        return {"template": self.template, "subject": self.subject, "body": self.body, "field_map": self.field_map}


def _present(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


@lru_cache(maxsize=16)
def _any_phrase(phrases: tuple[str, ...]) -> re.Pattern | None:
    """One case-insensitive whole-word pattern matching any of the phrases (None when there are none)."""
    if not phrases:
        return None
    return re.compile(rf"(?<!\w)(?:{'|'.join(re.escape(p) for p in phrases)})(?!\w)", re.IGNORECASE)


@lru_cache(maxsize=16)
def _ascii_lowered(phrases: tuple[str, ...]) -> tuple[str, ...] | None:
    """The phrases in lower case when all are ASCII (None otherwise: see `banned_hits`)."""
    return tuple(p.lower() for p in phrases) if all(p.isascii() for p in phrases) else None


def banned_hits(text: str, claims: list[str], topic_phrases: dict[str, list[str]]) -> list[tuple[str, str]]:
    """Banned claims and topics found in a text: `(policy rule, the phrase that matched)`, case-insensitive and
    on word boundaries."""
    return banned_test(claims, topic_phrases)(text)


def banned_test(claims: list[str], topic_phrases: dict[str, list[str]]) -> Callable[[str], list[tuple[str, str]]]:
    """`banned_hits` for many texts: `banned_test(claims, topics)(text) == banned_hits(text, claims, topics)`, the
    phrases gathered and their patterns looked up once (a sequence-step run tests ~80,000 drafts at 1M contacts).
    The claims and phrases must not change while the test is used."""
    phrases = (*claims, *(p for topic, ps in topic_phrases.items() for p in (topic, *ps)))
    every = _any_phrase(phrases)
    # The usual case, a text with none of the phrases even inside a word, ruled out by substring tests (a third of
    # the pattern's time; tens of thousands of sequence drafts a run). Only for ASCII text and phrases: there a
    # case-insensitive match is a match of the lower-cased text, while Unicode case folding matches more (the
    # Kelvin sign matches "k"), so any other text goes to the pattern.
    lowered = _ascii_lowered(phrases)

    def hits(text: str) -> list[tuple[str, str]]:
        if every is None:
            return []
        # `map` over the bound `in` test: the same tests, without a generator's frame per phrase.
        if lowered is not None and text.isascii() and not any(map(text.lower().__contains__, lowered)):
            return []
        if not every.search(text):
            return []  # the usual case, in one pass; a hit is attributed to its rule below
        return rule_hits(text, claims, topic_phrases)

    return hits


def rule_hits(text: str, claims: list[str], topic_phrases: dict[str, list[str]]) -> list[tuple[str, str]]:
    """`banned_hits` phrase by phrase, without its quick tests: each claim and each topic's first matching phrase,
    case-insensitive and on word boundaries."""
    hits = []
    for claim in claims:
        if re.search(rf"(?<!\w){re.escape(claim)}(?!\w)", text, re.IGNORECASE):
            hits.append(("content.banned_claims", claim))
    for topic, phrases in topic_phrases.items():
        for phrase in [topic, *phrases]:
            if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE):
                hits.append((f"content.banned_topics: {topic}", phrase))
                break
    return hits


def render_draft(
    name: str,
    subject: str,
    body: str,
    record: dict[str, Any],
    banned_claims: list[str],
    banned_topic_phrases: dict[str, list[str]],
) -> Draft:
    """Render a template's subject and body from a record's fields, or refuse: the first missing field (named),
    else the first banned claim or topic the rendered text contains."""
    return render_draft_with(name, subject, body, record, banned_test(banned_claims, banned_topic_phrases))


@lru_cache(maxsize=256)
def _needed(subject: str, body: str) -> tuple[str, ...]:
    """The fields a subject and body substitute, the subject's first, each once."""
    return tuple(dict.fromkeys([*template_fields(subject), *template_fields(body)]))


def render_draft_with(
    name: str, subject: str, body: str, record: dict[str, Any], banned: Callable[[str], list[tuple[str, str]]]
) -> Draft:
    """`render_draft` with the banned claims and topics given as a `banned_test` (made once for many drafts)."""
    needed = _needed(subject, body)
    missing = tuple(f for f in needed if not _present(record.get(f)))
    if missing:
        return Draft(
            name,
            None,
            None,
            missing_fields=missing,
            blocked_rule="drafts.missing_field",
            blocked_reason=f"the record has no {', '.join(missing)}: template {name} needs it",
        )
    values = {f: str(record[f]).strip() for f in needed}
    rendered_subject = _render(subject, values).strip()
    rendered_body = _render(body, values).strip()
    hits = banned(f"{rendered_subject}\n{rendered_body}")
    if hits:
        rule, phrase = hits[0]
        return Draft(
            name,
            rendered_subject,
            rendered_body,
            values,
            blocked_rule=rule,
            blocked_reason=f'the draft says "{phrase}", which the policy bans ({rule})',
        )
    return Draft(name, rendered_subject, rendered_body, values)
