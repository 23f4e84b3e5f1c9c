import numpy as np
import pytest
import torch

import skfusion
from skfusion import FusionInput, ReportFusionClassifier
from skfusion._base.inputs.text import encode_reports, tokenize
from skfusion.datasets import make_brain_cohort
from skfusion.nn import AttentionTextEncoder

from ..conftest import TINY

SMALL = dict(TINY, embedding_dim=16, hidden_size=16)


@pytest.fixture(scope="module")
def cohort():
    return make_brain_cohort(
        40, n_slices=1, image_size=32, reports=True, random_state=0, unit="slice"
    )


def test_cohort_reports_follow_the_findings(cohort):
    assert len(cohort.X.text) == 40 and all(isinstance(r, str) for r in cohort.X.text)
    frame = cohort.frame
    graded = r"(?:marked|severe|pronounced|moderate)"
    positive = frame["report"].str.contains(graded, case=False)
    assert positive[frame["diagnosis"] == "AD"].mean() > positive[frame["diagnosis"] == "NC"].mean()
    # the flag changes nothing else
    plain = make_brain_cohort(40, n_slices=1, image_size=32, random_state=0, unit="slice")
    np.testing.assert_array_equal(plain.X.images, cohort.X.images)


def test_text_encoder_ignores_padding_and_exposes_word_weights():
    torch.manual_seed(0)
    encoder = AttentionTextEncoder(vocabulary_size=10, embedding_dim=4, hidden_size=3).eval()
    weights = []
    encoder.weights_out.register_forward_hook(lambda m, i, o: weights.append(o))
    short = torch.tensor([[2, 3, 0, 0]])
    out = encoder(short)
    assert out.shape == (1, 6)
    assert weights[0][0, 2:].sum() == 0 and torch.isclose(weights[0].sum(), torch.tensor(1.0))
    longer_padding = torch.tensor([[2, 3, 0, 0, 0, 0]])
    torch.testing.assert_close(encoder(longer_padding), out)
    assert torch.isfinite(encoder(torch.zeros(1, 4, dtype=torch.long))).all()  # empty report


def test_tokenizer_and_encoding():
    assert tokenize("Marked hippocampal atrophy; no infarct (2 mm).") == [
        "marked",
        "hippocampal",
        "atrophy",
        "no",
        "infarct",
        "2",
        "mm",
    ]
    ids = encode_reports(["no atrophy here", ""], {"no": 2, "atrophy": 3}, 2)
    np.testing.assert_array_equal(ids, [[2, 3], [0, 0]])


@pytest.mark.parametrize("fusion", ["concat", "gated"])
def test_learns_from_reports_and_shows_which_words_mattered(cohort, fusion):
    clf = ReportFusionClassifier(
        **{**SMALL, "max_epochs": 25, "lr": 3e-3}, fusion=fusion, head_dim=8, n_heads=2
    )
    X = FusionInput(cohort.X.images, None, text=cohort.X.text)
    clf.fit(X, cohort.y)
    assert clf.score(X, cohort.y) > 0.75
    assert clf.n_features_in_ == 0 and "atrophy" in clf.vocabulary_
    attention = clf.word_attention(X[[0, 1]])
    assert len(attention) == 2
    words, weights = zip(*attention[0])
    assert np.isclose(sum(weights), 1, atol=1e-5) and len(set(weights)) > 1


def test_reports_with_clinical_values_save_and_load(cohort, tmp_path):
    clinical = cohort.X.clinical.drop(columns="sex")
    X = FusionInput(cohort.X.images, clinical, text=cohort.X.text)
    clf = ReportFusionClassifier(**SMALL).fit(X, cohort.y)
    assert clf.n_features_in_ == clinical.shape[1]
    loaded = skfusion.load(clf.save(tmp_path / "report.skf"))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.vocabulary_ == clf.vocabulary_


def test_unknown_words_and_bad_text_are_handled(cohort):
    X = FusionInput(cohort.X.images, None, text=cohort.X.text)
    clf = ReportFusionClassifier(**SMALL).fit(X, cohort.y)
    unseen = FusionInput(cohort.X.images[:2], None, text=["zebra xylophone", ""])
    assert np.isfinite(clf.predict_proba(unseen)).all()
    with pytest.raises(ValueError, match="no text"):
        clf.predict(FusionInput(cohort.X.images[:2]))
    with pytest.raises(ValueError, match=r"entries \[1\]"):
        clf.predict(FusionInput(cohort.X.images[:2], None, text=["ok", 3]))
    # None is a patient without a report: predicted from the image alone.
    assert np.isfinite(
        clf.predict_proba(FusionInput(cohort.X.images[:2], None, text=["ok", None]))
    ).all()
