"""Sales-reply classifier: a TF-IDF logistic regression plus rules for unsubscribe and legal-threat language.

Conservative by design: rules win for opt-outs and legal threats (a missed opt-out is a compliance incident), and
a model answer below the confidence threshold becomes `needs_human` instead of a guess.

Warehouse steps for the orchestrator (no Dagster here): `train_reply_model` learns from the replies SDRs triaged
by hand (`staging.stg_email__reply_labels`) and stores a versioned artifact (`ReplyModelStore`, under
`<models dir>/reply_classifier/`); `classify_replies` classifies every reply event the current model version has
not classified yet into `ml.reply_classifications`.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from threadpoolctl import threadpool_limits

from .table_names import CLASSIFICATIONS_TABLE

REPLY_CLASSES = ["positive", "objection", "not_now", "unsubscribe", "wrong_person_referral", "compliance_threat"]
NEEDS_HUMAN = "needs_human"

# Legal / regulator language first: it outranks a plain opt-out ("remove me or I will report you").
COMPLIANCE_PATTERNS = [
    r"\bgdpr\b",
    r"\bccpa\b",
    r"can-?spam",
    r"\blawyer",
    r"\battorney",
    r"\blegal (department|team|action)",
    r"\bcease and desist\b",
    r"\bsue\b",
    r"\blawsuit\b",
    r"\breport (you|this)\b",
    r"\bdata protection\b",
    r"\bfile (a|an)? ?complaint\b",
    r"\bfiling a complaint\b",
    r"\bico\b",
    r"\bftc\b",
    r"\bnever consented\b",
    r"\bdelete my data\b",
    r"\berase (it|my)",
    r"personal data you hold",
]
UNSUBSCRIBE_PATTERNS = [
    r"\bunsubscribe",
    r"\bremove me\b",
    r"\bopt (me )?out\b",
    r"\bopt-out\b",
    r"\bstop (emailing|sending|contacting)",
    r"\btake me off\b",
    r"\bdo not (contact|email) me\b",
    r"\bdon'?t (contact|email) me\b",
    r"\bno more emails\b",
    r"\bremove my (email|address)\b",
    r"\bmailing list\b.*\b(off|remove)",
]
_COMPLIANCE_RE = re.compile("|".join(COMPLIANCE_PATTERNS), re.IGNORECASE)
_UNSUBSCRIBE_RE = re.compile("|".join(UNSUBSCRIBE_PATTERNS), re.IGNORECASE)


def rule_class(text: str) -> str | None:
    """`compliance_threat` / `unsubscribe` when the text has that language, else None."""
    if _COMPLIANCE_RE.search(text or ""):
        return "compliance_threat"
    if _UNSUBSCRIBE_RE.search(text or ""):
        return "unsubscribe"
    return None


@dataclass
class ReplyPrediction:
    """One classified reply: final label, the model's own label and confidence, and what decided it."""

    label: str
    model_label: str
    confidence: float
    decided_by: str  # "rule" | "model" | "threshold"


class DistinctTextTfidfVectorizer(TfidfVectorizer):
    """`TfidfVectorizer` that counts the n-grams of each distinct text once.

    Hand-labelled replies repeat (a million contacts' 29,511 labels hold 4,483 distinct texts), and splitting a
    text into n-grams and looking them up is most of the fit. A repeated text's count row is a copy of its first
    one: the rows, the vocabulary (first-seen order, then sorted), the document frequencies, the idf and so the
    fitted model are those of `TfidfVectorizer` on every text (`tests/test_ml_replies.py` compares them)."""

    def _count_vocab(self, raw_documents, fixed_vocab):
        documents = list(raw_documents)
        first_row: dict[Any, int] = {}
        rows = np.fromiter(
            (first_row.setdefault(doc, len(first_row)) for doc in documents), dtype=np.intp, count=len(documents)
        )
        vocabulary, counts = super()._count_vocab(list(first_row), fixed_vocab)
        if len(first_row) == len(documents):
            return vocabulary, counts
        repeated = counts[rows]
        # The same index types as counting every text (int32 unless the counts outgrow it) and sorted indices.
        index_type = counts.indices.dtype if repeated.nnz <= np.iinfo(np.int32).max else np.int64
        repeated.indices, repeated.indptr = repeated.indices.astype(index_type), repeated.indptr.astype(index_type)
        repeated.sort_indices()
        return vocabulary, repeated


class ReplyClassifier:
    """Train on labelled replies (`fit(texts, classes)`), then `predict(texts)`."""

    def __init__(self, min_confidence: float = 0.6, seed: int = 0):
        self.min_confidence = min_confidence
        self.fitted = False  # unfitted: rules only, everything else goes to a human
        self.pipeline = Pipeline(
            [
                (
                    "features",
                    FeatureUnion(
                        [
                            (
                                "words",
                                DistinctTextTfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                            ),
                            (
                                "chars",
                                DistinctTextTfidfVectorizer(
                                    analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True
                                ),
                            ),
                        ]
                    ),
                ),
                ("model", LogisticRegression(C=5.0, max_iter=2000, random_state=seed)),
            ]
        )

    def fit(self, texts: list[str], classes: list[str]) -> ReplyClassifier:
        """Learn from reply texts and their true classes (any subset of `REPLY_CLASSES`)."""
        unknown = sorted(set(classes) - set(REPLY_CLASSES))
        if unknown:
            raise ValueError(f"unknown reply classes: {unknown}")
        # One BLAS thread, as the lead scorer's fits: OpenBLAS splits each of L-BFGS's dot products over the cores,
        # which made the weights depend on the machine's core count (the order of the sums, ~1e-14) and, at a million
        # contacts' ~74,000 replies, cost more CPU in hand-offs than it saved (docs/scaling.md).
        with threadpool_limits(limits=1, user_api="blas"):
            self.pipeline.fit([t or "" for t in texts], classes)
        self.fitted = True
        return self

    def predict(self, texts: list[str]) -> list[ReplyPrediction]:
        """Classify replies: rules first, then the model, `needs_human` below the confidence threshold.

        Each distinct text is classified once (a text's features and probabilities do not depend on the other
        texts): canned replies repeat ("Thanks, not interested"), so a million contacts' ~74,000 replies hold
        ~11,000 distinct texts."""
        distinct = list(dict.fromkeys(t or "" for t in texts))
        by_text = dict(zip(distinct, self._predict_distinct(distinct), strict=True))
        return [by_text[t or ""] for t in texts]

    def _predict_distinct(self, clean: list[str]) -> list[ReplyPrediction]:
        if not self.fitted:
            return [
                ReplyPrediction(ruled, "", 1.0, "rule")
                if (ruled := rule_class(t))
                else ReplyPrediction(NEEDS_HUMAN, "", 0.0, "threshold")
                for t in clean
            ]
        probs = self.pipeline.predict_proba(clean) if clean else np.zeros((0, 1))
        labels = self.pipeline.classes_
        out = []
        for text, p in zip(clean, probs, strict=True):
            j = int(np.argmax(p))
            model_label, conf = str(labels[j]), float(p[j])
            ruled = rule_class(text)
            if ruled:
                out.append(ReplyPrediction(ruled, model_label, conf, "rule"))
            elif model_label in ("unsubscribe", "compliance_threat"):
                # The model hears an opt-out or a threat the rules missed: act on it (the safe side).
                out.append(ReplyPrediction(model_label, model_label, conf, "model"))
            elif conf < self.min_confidence:
                out.append(ReplyPrediction(NEEDS_HUMAN, model_label, conf, "threshold"))
            else:
                out.append(ReplyPrediction(model_label, model_label, conf, "model"))
        return out


def classification_report(true: list[str], predicted: list[str]) -> dict[str, dict[str, float]]:
    """Per class precision / recall / support; `needs_human` counts as a miss for recall, not a false positive."""
    report = {}
    t, p = np.asarray(true), np.asarray(predicted)
    for cls in REPLY_CLASSES:
        tp = int(((t == cls) & (p == cls)).sum())
        fp = int(((t != cls) & (p == cls)).sum())
        fn = int(((t == cls) & (p != cls)).sum())
        prec = tp / (tp + fp) if tp + fp else float("nan")
        rec = tp / (tp + fn) if tp + fn else float("nan")
        f1 = 2 * prec * rec / (prec + rec) if tp else 0.0
        report[cls] = {"precision": prec, "recall": rec, "f1": f1, "support": int((t == cls).sum())}
    report["_needs_human_share"] = {"share": float((p == NEEDS_HUMAN).mean()) if p.size else 0.0}
    return report


def macro_f1(report: dict[str, dict[str, float]]) -> float:
    """Mean F1 over the classes with support."""
    f1s = [v["f1"] for k, v in report.items() if not k.startswith("_") and v["support"] > 0]
    return float(np.mean(f1s)) if f1s else float("nan")


# ---------------------------------------------------------------------------------------------------------------
# Warehouse steps: train from hand labels, classify every reply incrementally.

RULES_ONLY_VERSION = "reply-rules"  # no (usable) labels yet: rules decide, everything else goes to a human
HOLDOUT_SHARE = 0.25

LABELS_SQL = """
select event_id, reply_label, reply_text, labelled_at
from staging.stg_email__reply_labels
where reply_found and reply_text is not null
order by event_id
"""

# Every reply with the golden contact it belongs to (known HubSpot record id, else the email of a member record).
# `{replies}` filters the reply events before the joins (`unclassified_replies_sql`); the member emails are only
# those of these replies, the same minimum golden id for each email that can match.
_REPLIES_SQL_TEMPLATE = """
with replies as (
    select e.* from staging.stg_email__events e
    where e.event_type = 'reply'{replies}
),
member_emails as (
    select s.email, min(x.golden_contact_id) as golden_contact_id
    from staging.stg_hubspot__contacts s
    inner join marts.contact_crosswalk x on x.source_record_id = s.contact_id
    where s.email is not null and x.golden_contact_id is not null
      and s.email in (select email from replies)
    group by s.email
)
select e.event_id, e.contact_id, coalesce(x.golden_contact_id, m.golden_contact_id) as golden_contact_id,
       e.occurred_at as replied_at, e.reply_text
from replies e
left join marts.contact_crosswalk x on x.source_record_id = e.contact_id
left join member_emails m on x.golden_contact_id is null and m.email = e.email
"""
REPLIES_SQL = _REPLIES_SQL_TEMPLATE.format(replies="")


def unclassified_replies_sql(table: str) -> str:
    """`REPLIES_SQL` for the replies `table` holds no row of for the model version bound as the one parameter:
    the reply events are filtered first, so an hour with few new replies joins only those."""
    unclassified = f"select 1 from {table} c where c.event_id = e.event_id and c.model_version = ?"
    return _REPLIES_SQL_TEMPLATE.format(replies=f"\n      and not exists ({unclassified})")


class ReplyModelStore:
    """Versioned reply classifiers under a folder: `<root>/<version>/classifier.pkl` + `metadata.json`.

    The version is a fingerprint of the training labels and settings, so the same labels give the same version
    (no retraining, no reclassification) and a changed label set gives a new one. `current.json` names the
    version in use; files are written atomically.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, data: bytes) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def has(self, version: str) -> bool:
        """True if `version` is stored."""
        return (self.root / version / "metadata.json").exists()

    def save(self, version: str, classifier: ReplyClassifier, metadata: dict[str, Any]) -> None:
        """Store a classifier and its metadata under `version` and make it current."""
        folder = self.root / version
        folder.mkdir(parents=True, exist_ok=True)
        self._write(folder / "classifier.pkl", pickle.dumps(classifier))
        self._write(folder / "metadata.json", json.dumps(metadata, indent=2, sort_keys=True, default=str).encode())
        self.set_current(version)

    def set_current(self, version: str) -> None:
        """Make a stored version the one `classify_replies` uses."""
        self._write(self.root / "current.json", json.dumps({"version": version, "set_at": time.time()}).encode())

    def current_version(self) -> str | None:
        """The version in use (None before any training)."""
        path = self.root / "current.json"
        return json.loads(path.read_text())["version"] if path.exists() else None

    def metadata(self, version: str) -> dict[str, Any]:
        """Metadata of a stored version."""
        return json.loads((self.root / version / "metadata.json").read_text())

    def load(self, version: str) -> ReplyClassifier:
        """The stored classifier of `version` (our own artifact, written by `save`)."""
        return pickle.loads((self.root / version / "classifier.pkl").read_bytes())  # noqa: S301


@dataclass
class ReplyTrainingOutcome:
    """What `train_reply_model` did: the version in use, whether it trained, and the figures in its metadata."""

    version: str
    trained: bool
    reason: str
    metadata: dict[str, Any] = field(default_factory=dict)


def _holdout_mask(ids: pl.Series, share: float) -> np.ndarray:
    return (ids.hash(seed=17).to_numpy() % 10_000) < share * 10_000


def _fingerprint(labels: pl.DataFrame, min_confidence: float, seed: int) -> str:
    digest = hashlib.sha256(f"{min_confidence}|{seed}|{sorted(REPLY_CLASSES)}".encode())
    for event_id, label, text in labels.select("event_id", "reply_label", "reply_text").iter_rows():
        digest.update(f"{event_id}\x1f{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()[:12]


def train_reply_model(
    con, store: ReplyModelStore, config: dict[str, Any], seed: int = 0, force: bool = False
) -> ReplyTrainingOutcome:
    """Train the reply classifier on the hand-labelled replies and make it current.

    Holdout figures (per-class precision / recall, needs_human share) come from a model trained on 75% of the
    labels (split by event id hash) and tested on the rest; the stored model is then refit on all labels. With
    fewer than `replies.min_labelled` usable labels or fewer than two classes, the current model is the
    rules-only classifier (`reply-rules`): opt-out and legal language by rule, every other reply to a human.
    """
    settings = config["replies"]
    min_confidence = float(settings["min_confidence"])
    min_labelled = int(settings.get("min_labelled", 50))
    labels = con.sql(LABELS_SQL).pl()
    class_counts = {k: int(v) for k, v in labels["reply_label"].value_counts().iter_rows()} if labels.height else {}
    base = {"labelled_replies": labels.height, "labels_per_class": class_counts, "min_confidence": min_confidence}
    if labels.height < min_labelled or len(class_counts) < 2:
        reason = f"only {labels.height} labelled replies in {len(class_counts)} classes (< {min_labelled} or < 2)"
        if not store.has(RULES_ONLY_VERSION):
            store.save(RULES_ONLY_VERSION, ReplyClassifier(min_confidence), {**base, "kind": "rules", "reason": reason})
        store.set_current(RULES_ONLY_VERSION)
        return ReplyTrainingOutcome(RULES_ONLY_VERSION, False, reason, {**base, "kind": "rules"})
    version = f"reply-{_fingerprint(labels, min_confidence, seed)}"
    if store.has(version) and not force:
        store.set_current(version)
        return ReplyTrainingOutcome(version, False, "labels unchanged since this version", store.metadata(version))
    hold = _holdout_mask(labels["event_id"], HOLDOUT_SHARE)
    train, test = labels.filter(pl.Series(~hold)), labels.filter(pl.Series(hold))
    holdout: dict[str, Any] = {}
    if train["reply_label"].n_unique() >= 2 and test.height:
        probe = ReplyClassifier(min_confidence, seed).fit(train["reply_text"].to_list(), train["reply_label"].to_list())
        predicted = [p.label for p in probe.predict(test["reply_text"].to_list())]
        holdout = classification_report(test["reply_label"].to_list(), predicted)
    texts, classes = labels["reply_text"].to_list(), labels["reply_label"].to_list()
    classifier = ReplyClassifier(min_confidence, seed).fit(texts, classes)
    metadata = {
        **base,
        "kind": "learned",
        "version": version,
        "trained_at": datetime.now(UTC).isoformat(),
        "holdout_rows": test.height,
        "holdout_report": holdout,
        "holdout_macro_f1": macro_f1(holdout) if holdout else None,
        "labels_until": str(labels["labelled_at"].max()),
    }
    store.save(version, classifier, metadata)
    return ReplyTrainingOutcome(version, True, f"trained on {labels.height} labelled replies", metadata)


@dataclass
class ReplyClassificationOutcome:
    """One classification run: model version, replies classified now, and figures over the version's rows."""

    model_version: str
    classified: int
    class_counts: dict[str, int]
    needs_human_share: float
    total_for_version: int


def classify_replies(
    con, store: ReplyModelStore, config: dict[str, Any], table: str = CLASSIFICATIONS_TABLE
) -> ReplyClassificationOutcome:
    """Classify every reply the current model version has not classified yet and append the rows to `table`.

    Columns: `event_id`, `contact_id` (HubSpot record, when the sender knew it), `golden_contact_id`, `replied_at`,
    `predicted_class` (a reply class or `needs_human`), `model_class`, `confidence`, `needs_human`, `rule_hit`,
    `decided_by` (rule / model / threshold), `model_version`, `classified_at`. One row per reply and model version.
    """
    version = store.current_version()
    if version is None:  # nothing trained yet: the rules-only classifier, registered on first use
        version = RULES_ONLY_VERSION
        if not store.has(version):
            min_confidence = float(config["replies"]["min_confidence"])
            store.save(version, ReplyClassifier(min_confidence), {"kind": "rules", "reason": "no training run yet"})
    classifier = store.load(version)
    schema_name = table.rpartition(".")[0]
    if schema_name:
        con.execute(f"create schema if not exists {schema_name}")
    con.execute(
        f"""create table if not exists {table} (
            event_id varchar, contact_id bigint, golden_contact_id varchar, replied_at timestamptz,
            predicted_class varchar, model_class varchar, confidence double, needs_human boolean,
            rule_hit boolean, decided_by varchar, model_version varchar, classified_at timestamptz)"""
    )
    todo = con.sql(f"select r.* from ({unclassified_replies_sql(table)}) r order by r.event_id", params=[version]).pl()
    if todo.height:
        predictions = classifier.predict(todo["reply_text"].to_list())
        rows = todo.select("event_id", "contact_id", "golden_contact_id", "replied_at").with_columns(
            pl.Series("predicted_class", [p.label for p in predictions], dtype=pl.String),
            pl.Series("model_class", [p.model_label or None for p in predictions], dtype=pl.String),
            pl.Series("confidence", [round(p.confidence, 4) for p in predictions], dtype=pl.Float64),
            pl.Series("needs_human", [p.label == NEEDS_HUMAN for p in predictions], dtype=pl.Boolean),
            pl.Series("rule_hit", [p.decided_by == "rule" for p in predictions], dtype=pl.Boolean),
            pl.Series("decided_by", [p.decided_by for p in predictions], dtype=pl.String),
            pl.lit(version).alias("model_version"),
            pl.lit(datetime.now(UTC)).alias("classified_at"),
        )
        arrow_rows = rows.to_arrow()  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"insert into {table} by name select * from arrow_rows")
    counts = dict(
        con.execute(
            f"select predicted_class, count(*) from {table} where model_version = ? group by 1 order by 1", [version]
        ).fetchall()
    )
    total = sum(counts.values())
    return ReplyClassificationOutcome(
        version, todo.height, counts, counts.get(NEEDS_HUMAN, 0) / total if total else 0.0, total
    )


def latest_classifications(con, table: str = CLASSIFICATIONS_TABLE) -> pl.DataFrame:
    """Each reply's classification by the newest model version that classified it."""
    try:
        return con.sql(
            f"select * from {table} qualify row_number() over (partition by event_id order by classified_at desc) = 1"
        ).pl()
    except duckdb.CatalogException:
        return pl.DataFrame()
