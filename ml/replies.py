"""Sales-reply classifier: a TF-IDF logistic regression plus rules for unsubscribe and legal-threat language.

Conservative by design: rules win for opt-outs and legal threats (a missed opt-out is a compliance incident), and
a model answer below the confidence threshold becomes `needs_human` instead of a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

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


class ReplyClassifier:
    """Train on labelled replies (`fit(texts, classes)`), then `predict(texts)`."""

    def __init__(self, min_confidence: float = 0.6, seed: int = 0):
        self.min_confidence = min_confidence
        self.pipeline = Pipeline(
            [
                (
                    "features",
                    FeatureUnion(
                        [
                            ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)),
                            (
                                "chars",
                                TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), min_df=2, sublinear_tf=True),
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
        self.pipeline.fit([t or "" for t in texts], classes)
        return self

    def predict(self, texts: list[str]) -> list[ReplyPrediction]:
        """Classify replies: rules first, then the model, `needs_human` below the confidence threshold."""
        clean = [t or "" for t in texts]
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
