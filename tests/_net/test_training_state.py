"""Interrupts, warm starts, threads and small input defects keep their promises (issue 11)."""

import threading

import numpy as np
import pandas as pd
import pytest
import torch
from skorch.callbacks import Callback

import skfusion
from skfusion import ClinicalAttentionClassifier, FusionInput, ReportFusionClassifier
from skfusion.callbacks import EpochCheckpoint

from ..conftest import TINY, make_data


class InterruptAtEpochEnd(Callback):
    """Ctrl-C landing just after epoch ``epoch`` finished."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


class InterruptInBatch(Callback):
    """Ctrl-C during the second batch of epoch ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch and len(net.history[-1]["batches"]) == 2:
            raise KeyboardInterrupt


def test_ctrl_c_between_epochs_is_marked_and_warned():
    X, y = make_data(n=24)
    with pytest.warns(UserWarning, match="interrupted after epoch 2 finished"):
        clf = ClinicalAttentionClassifier(
            **{**TINY, "max_epochs": 5}, callbacks=[InterruptAtEpochEnd(2)]
        ).fit(X, y)
    assert clf.interrupted_ and clf.n_epochs_ == 2
    reference = ClinicalAttentionClassifier(**TINY).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))


def test_resuming_after_ctrl_c_restores_optimizer_and_shuffling():
    """Interrupted in epoch 3 then resumed for one epoch == three epochs straight."""
    X, y = make_data(n=24)
    straight = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 3}).fit(X, y)
    with pytest.warns(UserWarning, match="during epoch 3"):
        clf = ClinicalAttentionClassifier(
            **{**TINY, "max_epochs": 5}, callbacks=[InterruptInBatch(3)]
        ).fit(X, y)
    assert clf.n_epochs_ == 2
    clf.set_params(warm_start=True, max_epochs=1, callbacks=None).fit(X, y)
    assert clf.n_epochs_ == 3
    np.testing.assert_allclose(
        clf.predict_proba(X), straight.predict_proba(X), rtol=1e-6, atol=1e-9
    )


def test_warm_start_uses_the_callbacks_it_is_given(tmp_path):
    X, y = make_data(n=24)
    path = ClinicalAttentionClassifier(**TINY).fit(X, y).save(tmp_path / "m.skf")
    checkpoint = EpochCheckpoint(tmp_path / "ck")
    resumed = skfusion.load(path).set_params(warm_start=True, max_epochs=2, callbacks=[checkpoint])
    resumed.fit(X, y)
    assert [p.name for p in checkpoint.files_] == ["epoch_0003.skf", "epoch_0004.skf"]
    assert skfusion.load(checkpoint.files_[-1]).n_epochs_ == 4


def test_fits_in_threads_are_reproducible():
    X, y = make_data(n=24)
    settings = {**TINY, "n_threads": 1, "max_epochs": 3}
    sequential = ClinicalAttentionClassifier(**settings).fit(X, y).predict_proba(X)
    results = [None] * 4

    def work(i):
        results[i] = ClinicalAttentionClassifier(**settings).fit(X, y).predict_proba(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proba in results:
        np.testing.assert_array_equal(proba, sequential)


def test_global_torch_seed_does_not_change_the_model():
    X, y = make_data(n=24)
    torch.manual_seed(1)
    first = ClinicalAttentionClassifier(**TINY).fit(X, y).predict_proba(X)
    torch.manual_seed(2)
    torch.rand(100)
    second = ClinicalAttentionClassifier(**TINY).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_duplicate_clinical_columns_are_refused_at_fit():
    X, y = make_data(n=24)
    clinical = X.clinical.copy()
    clinical.columns = ["age", "age", "noise"]
    clf = ClinicalAttentionClassifier(**TINY)
    with pytest.raises(ValueError, match=r"duplicated column names \['age'\]"):
        clf.fit(FusionInput(X.images, clinical), y)
    assert not hasattr(clf, "net_")


def test_zero_clinical_columns_with_a_clinical_mode_is_a_clear_error():
    X, y = make_data(n=24)
    empty = FusionInput(X.images, pd.DataFrame(index=range(24)))
    with pytest.raises(ValueError, match="0 columns.*mode='image'"):
        ClinicalAttentionClassifier(**TINY, mode="full").fit(empty, y)


def test_images_that_require_grad_are_accepted():
    X, y = make_data(n=24)
    images = torch.tensor(X.images, requires_grad=True)
    clf = ClinicalAttentionClassifier(**TINY).fit(FusionInput(images, X.clinical), y)
    np.testing.assert_array_equal(
        clf.predict_proba(FusionInput(images, X.clinical)), clf.predict_proba(X)
    )


def test_complex_values_are_refused():
    X, y = make_data(n=24)
    clinical = X.clinical.astype({"age": complex})
    with pytest.raises(ValueError, match="complex"):
        ClinicalAttentionClassifier(**TINY).fit(FusionInput(X.images, clinical), y)
    with pytest.raises(ValueError, match="complex"):
        ClinicalAttentionClassifier(**TINY).fit(
            FusionInput(X.images, X.clinical.to_numpy().astype(complex)), y
        )
    with pytest.raises(ValueError, match="complex"):
        ClinicalAttentionClassifier(**TINY).fit(
            FusionInput(X.images.astype(complex), X.clinical), y
        )


def test_channels_last_rgb_is_refused_with_the_fix():
    X, y = make_data(n=24)
    rgb = np.repeat(X.images[..., None], 3, axis=-1)
    with pytest.raises(ValueError, match=r"channels-last.*np\.moveaxis\(images, -1, 1\)"):
        ClinicalAttentionClassifier(**TINY).fit(FusionInput(rgb, X.clinical), y)
    clf = ClinicalAttentionClassifier(**TINY).fit(
        FusionInput(np.moveaxis(rgb, -1, 1), X.clinical), y
    )
    assert clf.image_shape_ == (3, 16, 16)


def test_one_string_as_text_is_refused():
    X, y = make_data(n=24)
    with pytest.raises(ValueError, match="one string"):
        FusionInput(X.images, X.clinical, text="x" * 24)
    with pytest.raises(ValueError, match="one string"):
        ReportFusionClassifier(**TINY).fit((X.images, X.clinical, "x" * 24), y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(directory="ck", every=0), "every must be an int >= 1"),
        (dict(directory=None), "directory must be a folder path"),
    ],
)
def test_bad_checkpoint_settings_fail_before_training(tmp_path, kwargs, match, monkeypatch):
    monkeypatch.chdir(tmp_path)
    X, y = make_data(n=24)
    clf = ClinicalAttentionClassifier(**TINY, callbacks=[EpochCheckpoint(**kwargs)])
    with pytest.raises(ValueError, match=match):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")


def test_unsaveable_random_state_with_checkpoints_fails_before_training(tmp_path):
    X, y = make_data(n=24)
    clf = ClinicalAttentionClassifier(
        **{**TINY, "random_state": np.random.RandomState(0)}, callbacks=[EpochCheckpoint(tmp_path)]
    )
    with pytest.raises(TypeError, match="random_state.*an int"):
        clf.fit(X, y)
    assert not hasattr(clf, "net_")
    assert not list(tmp_path.iterdir())


def test_weights_that_turn_non_finite_in_the_last_step_are_reported():
    """A last step can leave NaN weights behind a finite loss (images scaled by 1e-42 did,
    in one epoch): every later predict then failed. Training now stops with the reason and
    the estimator keeps its previous state."""
    import torch
    from skorch.callbacks import Callback

    from skfusion import ClinicalAttentionClassifier

    from ..conftest import TINY, make_data

    class PoisonLastStep(Callback):
        """NaN weights after the epoch's last step (2 batches of 8), behind finite losses."""

        def on_batch_end(self, net, batch=None, training=False, **kwargs):
            self.steps = getattr(self, "steps", 0) + training
            if training and self.steps == 2:
                with torch.no_grad():
                    next(net.module_.parameters()).fill_(float("nan"))

    X, y = make_data(n=16)
    model = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 1}, callbacks=[PoisonLastStep()])
    import pytest

    with pytest.raises(ValueError, match=r"weights became NaN or infinite \(.*\) in the last"):
        model.fit(X, y)
    assert not hasattr(model, "net_")
