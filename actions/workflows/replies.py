"""W7 reply routing: every recent reply gets the next step its class calls for — never an automated reply.

Signal: replies classified by the reply model (`ml.reply_classifications`) within the policy's look-back.
Decision: positive -> a task for the owner due within the SLA of the contact's tier; objection / not now -> a
follow-up date; wrong person / referral -> a proposal to add the person named (approve); compliance threat and
"needs a person" -> an escalation task for a person. Guardrail: uncertain positives go to a person; unsubscribes
are suppressed in the same refresh (see `workflows/suppression.py`). Done metric: median time to first response
on positives; % positives within SLA; unsubscribe compliance = 100%.
"""

from __future__ import annotations

import re
from datetime import timedelta

import polars as pl

from actions.catalog import Workflow
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal
from actions.policy import Policy
from actions.workflows.common import contact_evidence, contact_index, contact_target, iso

REPLY_TABLE = "ml.reply_classifications"
TRIGGER_TABLE = "marts.fct_follow_up_triggers"
# A referred person's name: two or three capitalised words (letters, accents, apostrophes, hyphens).
_NAME = re.compile(r"\b([A-Z][\w'’-]+(?:\s+(?:(?:de|da|del|dos|du|van|von|der|den|la|le)\s+)*[A-Z][\w'’-]+){1,2})")
_NOT_NAME_WORDS = {
    "Sales",
    "Ops",
    "RevOps",
    "Head",
    "CRM",
    "Please",
    "Not",
    "This",
    "Wrong",
    "Our",
    "You",
    "I",
    "Thanks",
    "Hi",
    "Marketing",
    "Operations",
    "Team",
    "Director",
    "Manager",
    "VP",
    "Chief",
    "Officer",
    "Hello",
    "Dear",
}


def referred_name(text: str | None, company: str | None = None) -> tuple[str, str] | None:
    """The (first, last) name of the person a referral reply points to, when the text names one."""
    if not text:
        return None
    company_words = set((company or "").split())
    for match in _NAME.finditer(text):
        words = match.group(1).replace("’", "'").split()
        words = [w.removesuffix("'s") for w in words]
        if any(w in _NOT_NAME_WORDS or w in company_words for w in words):
            continue
        return words[0], " ".join(words[1:])
    return None


def is_procurement_ask(text: str | None, policy: Policy) -> bool:
    """Whether a reply asks for procurement paperwork (the policy's keywords)."""
    if not text:
        return False
    lowered = text.lower()
    return any(keyword.lower() in lowered for keyword in policy.reply_routing.procurement_keywords)


def recent_replies(inputs: PlanningInputs, policy: Policy) -> pl.DataFrame:
    """Classified replies within the look-back, with their text and the contact's tier."""
    since = inputs.as_of - timedelta(days=policy.reply_routing.lookback_days)
    texts = inputs.triggers.filter(pl.col("trigger_kind") == "reply").select(
        pl.col("trigger_id").alias("event_id"), "reply_text"
    )
    return (
        inputs.replies.filter((pl.col("replied_at") >= since) & (pl.col("replied_at") <= inputs.as_of))
        .join(texts, on="event_id", how="left")
        .sort("replied_at", "event_id")
    )


def reply_proposals(inputs: PlanningInputs, policy: Policy) -> list[Proposal]:
    """The next step for every recent reply (unsubscribes are handled by the suppression workflow)."""
    replies = recent_replies(inputs, policy).filter(pl.col("predicted_class") != "unsubscribe")
    contacts = contact_index(
        inputs.contacts.filter(pl.col("golden_contact_id").is_in(replies["golden_contact_id"].implode()))
    )
    rules = policy.reply_routing
    proposals: list[Proposal] = []
    for reply in replies.iter_rows(named=True):
        contact = contacts.get(reply["golden_contact_id"])
        if contact is None:
            continue
        name = contact["contact_name"] or contact["golden_contact_id"]
        owner = contact["contact_owner"]
        tier = contact["tier"] or 3
        cls = reply["predicted_class"]
        sure = reply["confidence"] if reply["confidence"] is not None else 1.0
        evidence = [
            EvidenceRow(
                source_table=REPLY_TABLE,
                key=reply["event_id"],
                field="predicted_class",
                value=cls,
                observed_at=reply["replied_at"],
            ),
            EvidenceRow(source_table=REPLY_TABLE, key=reply["event_id"], field="confidence", value=reply["confidence"]),
            EvidenceRow(
                source_table=TRIGGER_TABLE, key=reply["event_id"], field="reply_text", value=reply["reply_text"]
            ),
            *contact_evidence(contact, "contact_owner", "tier"),
        ]
        common = {
            "target": contact_target(contact),
            "evidence": evidence,
            "evidence_window": reply["event_id"],
            "owner": owner,
            "model_version": reply["model_version"],
            "workflow": Workflow.REPLY_ROUTING,
        }
        said = f"{name} replied on {reply['replied_at']:%Y-%m-%d %H:%M} UTC"
        confidence = f"the reply model reads it as {cls.replace('_', ' ')} ({sure:.0%} sure)"
        if cls == "positive" and sure >= rules.positive_min_confidence and not reply["needs_human"]:
            channel = "procurement_ask" if is_procurement_ask(reply["reply_text"], policy) else "positive_reply"
            hours = policy.sla_hours(channel, tier)
            due = reply["replied_at"] + timedelta(hours=hours)
            what = "asks for procurement paperwork" if channel == "procurement_ask" else "is positive"
            proposals.append(
                Proposal(
                    action_type="create_task",
                    payload={
                        "subject": f"Answer {name}'s reply: it {what}",
                        "assignee": owner,
                        "due_at": iso(due),
                        "sla_channel": channel,
                        "notes": reply["reply_text"],
                    },
                    reasons=[
                        f"{said}; {confidence}.",
                        f"Tier {tier} {channel.replace('_', ' ')}s are answered within {hours:g} h: "
                        f"due {due:%Y-%m-%d %H:%M} UTC.",
                    ],
                    **common,
                )
            )
        elif cls == "positive":
            proposals.append(
                Proposal(
                    action_type="escalate_reply",
                    payload={
                        "assignee": owner,
                        "reply_class": cls,
                        "notes": reply["reply_text"],
                        "automated_reply": False,
                    },
                    reasons=[
                        f"{said}; {confidence} — below the {rules.positive_min_confidence:.0%} the policy asks for, "
                        "so a person reads it and decides (no automated reply)."
                    ],
                    **common,
                )
            )
        elif cls in ("objection", "not_now"):
            days = rules.follow_up_days[cls]
            follow_up = (reply["replied_at"] + timedelta(days=days)).date().isoformat()
            proposals.append(
                Proposal(
                    action_type="set_follow_up_date",
                    payload={"follow_up_date": follow_up, "reply_class": cls},
                    reasons=[
                        f"{said}; {confidence}.",
                        f"The policy waits {days} days after a {cls.replace('_', ' ')}: follow up on {follow_up}.",
                    ],
                    **common,
                )
            )
        elif cls == "wrong_person_referral":
            referral = referred_name(reply["reply_text"], contact.get("company_name"))
            if referral:
                first, last = referral
                proposals.append(
                    Proposal(
                        action_type="add_referred_contact",
                        payload={
                            "first_name": first,
                            "last_name": last,
                            "email": None,
                            "job_title": None,
                            "company": contact.get("company_name"),
                            "account_id": contact.get("golden_account_id"),
                            "referred_by": contact["golden_contact_id"],
                            "owner": owner,
                        },
                        reasons=[
                            f"{said}; {confidence}.",
                            f"They name {first} {last} as the right person at "
                            f"{contact.get('company_name') or 'their company'}: add them with the same owner "
                            "(a person confirms).",
                        ],
                        **common,
                    )
                )
            else:
                proposals.append(
                    Proposal(
                        action_type="escalate_reply",
                        payload={
                            "assignee": owner,
                            "reply_class": cls,
                            "notes": reply["reply_text"],
                            "automated_reply": False,
                        },
                        reasons=[
                            f"{said}; {confidence}.",
                            "The reply names nobody Actionhouse can add: a person reads it and finds the "
                            "right contact.",
                        ],
                        **common,
                    )
                )
        elif cls in ("compliance_threat", "needs_human"):
            group = rules.escalate_to[cls]
            assignee = owner if group == "owner" else group
            what = "a legal or compliance threat" if cls == "compliance_threat" else "unclear"
            proposals.append(
                Proposal(
                    action_type="escalate_reply",
                    payload={
                        "assignee": assignee,
                        "reply_class": cls,
                        "notes": reply["reply_text"],
                        "automated_reply": False,
                    },
                    reasons=[
                        f"{said}; {confidence}.",
                        f"The reply is {what}: it goes to {assignee}, and Actionhouse never answers it automatically.",
                    ],
                    **common,
                )
            )
    return proposals
