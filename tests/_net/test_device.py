"""A fitted model shared between threads: explanations in one thread, predictions in another,
neither sees the other's samples nor fails because of it."""

import threading

import numpy as np
import pytest

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.explain import attention_maps, grad_cam

from ..conftest import TINY, make_data


@pytest.fixture(scope="module")
def fitted():
    X, y = make_data(n=64)
    return ClinicalAttentionClassifier(mode="full", **TINY).fit(X, y), X


def _alongside(work, model, X, rounds=6):
    """Run ``work`` ``rounds`` times while another thread predicts on other samples; return
    the results and any error of the predicting thread."""
    errors, stop = [], threading.Event()
    other = FusionInput(X.images[32:], X.clinical.iloc[32:])

    def predict():
        try:
            while not stop.is_set():
                model.predict_proba(other)
        except Exception as exc:  # reported to the test below
            errors.append(exc)

    thread = threading.Thread(target=predict)
    thread.start()
    try:
        results = [work() for _ in range(rounds)]
    finally:
        stop.set()
        thread.join()
    return results, errors


def test_attention_maps_hold_only_their_own_samples_while_another_thread_predicts(fitted):
    model, X = fitted
    first = FusionInput(X.images[:32], X.clinical.iloc[:32])
    alone = attention_maps(model, first)["channel_attention"]
    results, errors = _alongside(
        lambda: attention_maps(model, first)["channel_attention"], model, X
    )
    assert not errors
    for maps in results:  # once 64 rows: the other thread's samples mixed in
        for name, value in alone.items():
            np.testing.assert_allclose(maps[name], value, atol=1e-6)


def test_grad_cam_in_one_thread_leaves_predictions_in_another_working(fitted):
    model, X = fitted
    first = FusionInput(X.images[:32], X.clinical.iloc[:32])
    alone = grad_cam(model, first)
    results, errors = _alongside(lambda: grad_cam(model, first), model, X)
    assert not errors, errors[:1]  # once: "can't retain_grad on Tensor ..."
    for maps in results:
        np.testing.assert_allclose(maps, alone, atol=1e-5)
