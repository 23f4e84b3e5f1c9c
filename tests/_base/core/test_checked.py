"""skfusion._base.core.checked: X is checked once per call, into one immutable object that
everything downstream reads (issue 39)."""

import dataclasses

import numpy as np
import pytest

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion._base import estimator as core
from skfusion._base.core.checked import CheckedInput
from skfusion.explain import logit_parts

from ...conftest import TINY, make_data


def _counting(monkeypatch):
    calls = {"check_fusion_input": 0, "presence_arrays": 0}
    for name in calls:
        original = getattr(core, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(core, name, counted)
    return calls


def test_fit_and_every_prediction_check_X_once(monkeypatch):
    X, y = make_data(n=20)
    present = np.ones(20, dtype=bool)
    present[:3] = False
    X = FusionInput(X.images, X.clinical, present={"images": present})
    calls = _counting(monkeypatch)
    model = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 1}, clinical_shortcut=True)
    model.fit(X, y)
    assert calls == {"check_fusion_input": 1, "presence_arrays": 1}
    for predict in (
        model.predict_proba,
        model.predict,
        model.decision_function,
        lambda X: logit_parts(model, X),
    ):
        calls.update(check_fusion_input=0, presence_arrays=0)
        predict(X)
        assert calls == {"check_fusion_input": 1, "presence_arrays": 1}, predict


def test_a_checked_input_is_immutable_and_passes_as_it_is():
    X, y = make_data(n=12)
    model = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 1}).fit(X, y)
    checked = model._check_X(X, fitting=False)
    assert isinstance(checked, CheckedInput) and checked.n_samples == 12
    assert model._check_X(checked, fitting=False) is checked
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked.images = None
    with pytest.raises(TypeError):
        checked.present["image_present"] = np.ones(12, dtype=bool)
    encoded = checked.with_clinical(np.zeros_like(checked.clinical))
    assert encoded is not checked and not np.array_equal(encoded.clinical, checked.clinical)
    np.testing.assert_array_equal(model._outputs(checked), model._outputs(X))
