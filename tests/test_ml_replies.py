"""Reply classifier: rules catch opt-outs and legal threats, low confidence goes to a human."""

import pytest

from ml.replies import NEEDS_HUMAN, ReplyClassifier, classification_report, macro_f1, rule_class

TRAIN = [
    ("Can we set up 30 minutes next week?", "positive"),
    ("Yes, happy to chat Tuesday.", "positive"),
    ("Send me a few times for a demo.", "positive"),
    ("Interested, what does pricing look like?", "positive"),
    ("We already use Salesforce for this.", "objection"),
    ("Too expensive for us.", "objection"),
    ("We built this in-house.", "objection"),
    ("Our budget for tooling is frozen.", "objection"),
    ("Not right now, maybe next quarter.", "not_now"),
    ("Check back in 6 months.", "not_now"),
    ("Timing is bad, try me in January.", "not_now"),
    ("Circle back in Q3.", "not_now"),
    ("Please remove me from your list.", "unsubscribe"),
    ("Unsubscribe.", "unsubscribe"),
    ("Stop emailing me.", "unsubscribe"),
    ("Opt me out of these emails.", "unsubscribe"),
    ("Not the right person, try Ana Lopez.", "wrong_person_referral"),
    ("You want to talk to Bo Chan, our Head of Sales Ops.", "wrong_person_referral"),
    ("Wrong person, Ed Park handles tooling.", "wrong_person_referral"),
    ("This would be Jo Kim's call, not mine.", "wrong_person_referral"),
    ("Under GDPR I demand you delete my data.", "compliance_threat"),
    ("Our lawyer will be in touch.", "compliance_threat"),
    ("I will report you to the FTC.", "compliance_threat"),
    ("Cease and desist.", "compliance_threat"),
]


@pytest.fixture(scope="module")
def classifier():
    texts, classes = zip(*TRAIN, strict=True)
    return ReplyClassifier(min_confidence=0.5).fit(list(texts), list(classes))


def test_rules_catch_opt_outs_and_threats_the_model_never_saw(classifier):
    unseen = [
        "pls take me off this",
        "I do not want these. Do not contact me again!!",
        "kindly STOP SENDING these",
        "Remove me or I will report you to the FTC",
        "Forwarding this to our attorney.",
        "This breaks CAN-SPAM.",
    ]
    got = [p.label for p in classifier.predict(unseen)]
    assert got[:3] == ["unsubscribe"] * 3
    assert got[3:] == ["compliance_threat"] * 3
    assert all(p.decided_by == "rule" for p in classifier.predict(unseen))
    assert rule_class("Sounds great, let's talk Thursday") is None


def test_low_confidence_goes_to_a_human(classifier):
    preds = classifier.predict(["asdf qwerty zxcv", "Yes, happy to chat Tuesday."])
    assert preds[0].label == NEEDS_HUMAN and preds[0].decided_by == "threshold"
    assert preds[1].label == "positive"


def test_a_repeated_reply_is_classified_once_and_as_it_would_be_alone(classifier, monkeypatch):
    texts = ["Too expensive for us.", None, "Unsubscribe.", "Too expensive for us.", "", "Check back in 6 months."] * 50
    alone = [classifier.predict([t])[0] for t in texts]
    scored_rows = []
    predict_proba = classifier.pipeline.predict_proba
    monkeypatch.setattr(
        classifier.pipeline, "predict_proba", lambda rows: scored_rows.append(len(rows)) or predict_proba(rows)
    )
    assert classifier.predict(texts) == alone
    assert scored_rows == [4]  # four distinct texts (no text and an empty one are the same "")


def test_report_counts_needs_human_as_a_miss():
    report = classification_report(["unsubscribe", "positive", "positive"], ["unsubscribe", NEEDS_HUMAN, "positive"])
    assert report["unsubscribe"]["recall"] == 1.0
    assert report["positive"]["recall"] == 0.5 and report["positive"]["precision"] == 1.0
    assert 0 < macro_f1(report) <= 1


def test_unknown_class_is_rejected():
    with pytest.raises(ValueError, match="unknown reply classes"):
        ReplyClassifier().fit(["hi"], ["maybe"])
