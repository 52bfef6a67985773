"""Reply classifier: rules catch opt-outs and legal threats, low confidence goes to a human."""

import numpy as np
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


def _repeated_training_set() -> tuple[list[str], list[str]]:
    """TRAIN with its texts repeated unevenly (canned replies), interleaved, plus a few one-off texts."""
    texts, classes = [], []
    for k in range(7):
        for i, (text, cls) in enumerate(TRAIN):
            if (i + k) % 3:
                texts.append(text)
                classes.append(cls)
        texts.append(f"One-off reply number {k}, maybe later.")
        classes.append("not_now")
    return texts, classes


@pytest.mark.parametrize("settings", [{"ngram_range": (1, 2)}, {"analyzer": "char_wb", "ngram_range": (3, 5)}])
def test_distinct_text_vectorizer_counts_each_text_once_and_equals_tfidf(settings, monkeypatch):
    from scipy import sparse
    from sklearn.feature_extraction.text import TfidfVectorizer

    from ml.replies import DistinctTextTfidfVectorizer

    texts, _ = _repeated_training_set()
    plain = TfidfVectorizer(min_df=2, sublinear_tf=True, **settings)
    expected = plain.fit_transform(texts)
    analysed = []
    distinct = DistinctTextTfidfVectorizer(min_df=2, sublinear_tf=True, **settings)
    original = distinct.build_analyzer

    def counting_analyzer():
        analyze = original()
        return lambda doc: analysed.append(doc) or analyze(doc)

    monkeypatch.setattr(distinct, "build_analyzer", counting_analyzer)
    got = distinct.fit_transform(texts)
    assert sorted(analysed) == sorted(set(texts))  # each distinct text split into n-grams once
    assert distinct.vocabulary_ == plain.vocabulary_ and np.array_equal(distinct.idf_, plain.idf_)
    assert sparse.issparse(got) and type(got) is type(expected)
    for part in ("data", "indices", "indptr"):
        assert np.array_equal(getattr(got, part), getattr(expected, part))
        assert getattr(got, part).dtype == getattr(expected, part).dtype
    assert (distinct.transform(texts) != plain.transform(texts)).nnz == 0


def test_reply_model_on_repeated_texts_is_the_model_on_every_text():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts, classes = _repeated_training_set()
    ours = ReplyClassifier(min_confidence=0.5).fit(texts, classes)
    plain = ReplyClassifier(min_confidence=0.5)
    for _, vectorizer in plain.pipeline.named_steps["features"].transformer_list:
        vectorizer.__class__ = TfidfVectorizer  # the vectorizer before distinct texts were counted once
    plain.fit(texts, classes)
    assert np.array_equal(ours.pipeline.named_steps["model"].coef_, plain.pipeline.named_steps["model"].coef_)
    probe = [*texts, "Totally new text about pricing next week"]
    assert np.array_equal(ours.pipeline.predict_proba(probe), plain.pipeline.predict_proba(probe))


def test_the_fitted_weights_do_not_depend_on_how_many_cores_blas_may_use():
    # ~47,000 n-gram weights per class: past the size at which OpenBLAS splits a dot product over its threads, which
    # changed the order of the sums (weights ~1e-14 apart with one or two threads) before the fit ran on one.
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghijklmnop"))
    words = ["".join(rng.choice(letters, size=rng.integers(3, 9))) for _ in range(3000)]
    classes = sorted({cls for _, cls in TRAIN})
    texts = [" ".join(rng.choice(words, size=12)) + f" {classes[i % len(classes)]}" for i in range(1500)]
    labels = [classes[i % len(classes)] for i in range(1500)]

    def weights(blas_threads: int) -> np.ndarray:
        with threadpool_limits(limits=blas_threads, user_api="blas"):
            model = ReplyClassifier(min_confidence=0.5).fit(texts, labels)
        return model.pipeline.named_steps["model"].coef_

    one, two = weights(1), weights(2)
    assert one.shape[1] > 20_000
    assert np.array_equal(one, two)
