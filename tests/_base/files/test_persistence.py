import json
import os
import pickle
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

import skfusion
from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.callbacks import EpochCheckpoint

from ...conftest import TINY, make_data


@pytest.fixture(scope="module")
def fitted():
    X, y = make_data(n=20)
    clf = ClinicalAttentionClassifier(
        **TINY, optimizer__weight_decay=1e-3, criterion=torch.nn.CrossEntropyLoss
    ).fit(X, y)
    return clf, X, y


def test_save_and_load_give_identical_predictions(fitted, tmp_path):
    clf, X, _ = fitted
    path = clf.save(tmp_path / "model.skf")
    loaded = skfusion.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert list(loaded.feature_names_in_) == ["age", "score", "noise"]
    assert loaded.get_params()["optimizer__weight_decay"] == 1e-3
    assert loaded.image_shape_ == clf.image_shape_
    # the loaded model checks its input like the original
    with pytest.raises(ValueError, match="missing"):
        loaded.predict(FusionInput(X.images, X.clinical.drop(columns="age")))


def test_file_is_json_plus_weights_only_tensors(fitted, tmp_path):
    clf, _, _ = fitted
    path = clf.save(tmp_path / "model.skf")
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["meta.json", "optimizer.pt", "weights.pt"]
        meta = json.loads(archive.read("meta.json"))
        weights = archive.read("weights.pt")
    assert meta["format"] == "skfusion-model" and meta["format_version"] == 2
    assert meta["params"]["criterion"] == {"__object__": "torch.nn.modules.loss:CrossEntropyLoss"}
    state = torch.load(__import__("io").BytesIO(weights), weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def _rewrite(path, out, edit_meta=None, weights=None):
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("meta.json"))
        raw_weights = archive.read("weights.pt")
    if edit_meta:
        edit_meta(meta)
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("meta.json", json.dumps(meta))
        archive.writestr("weights.pt", raw_weights if weights is None else weights)
    return out


def test_newer_format_and_architecture_mismatch_are_refused(fitted, tmp_path):
    clf, _, _ = fitted
    path = clf.save(tmp_path / "model.skf")
    newer = _rewrite(path, tmp_path / "newer.skf", lambda m: m.update(format_version=99))
    with pytest.raises(ValueError, match="format 99.*Upgrade skfusion"):
        skfusion.load(newer)
    other = _rewrite(path, tmp_path / "other.skf", lambda m: m["params"].update(mode="concat"))
    with pytest.raises(ValueError, match="do not fit the network"):
        skfusion.load(other)
    (tmp_path / "junk.skf").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a skfusion model file"):
        skfusion.load(tmp_path / "junk.skf")


def test_loading_never_imports_untrusted_names(fitted, tmp_path):
    clf, _, _ = fitted
    path = clf.save(tmp_path / "model.skf")
    evil = _rewrite(
        path,
        tmp_path / "evil.skf",
        lambda m: m["params"].update(optimizer={"__object__": "os:system"}),
    )
    with pytest.raises(ValueError, match="not among the classes skfusion writes"):
        skfusion.load(evil)
    pickled = tmp_path / "weights.pt"

    class Boom:
        def __reduce__(self):
            return (os.system, ("echo hacked",))

    torch.save({"x": Boom()}, pickled)
    malicious = _rewrite(path, tmp_path / "pickle.skf", weights=pickled.read_bytes())
    with pytest.raises(skfusion.ModelFileError, match="not a plain tensor file"):
        skfusion.load(malicious)


def test_unsaveable_parameters_are_named(tmp_path):
    X, y = make_data(n=20)
    clf = ClinicalAttentionClassifier(
        **TINY, module__norm_layer=lambda c: torch.nn.GroupNorm(1, c)
    ).fit(X, y)
    with pytest.raises(TypeError, match="module__norm_layer"):
        clf.save(tmp_path / "m.skf")


@pytest.mark.slow
def test_pickle_round_trip_across_processes(fitted, tmp_path):
    clf, X, _ = fitted
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "images.npy", X.images)
    X.clinical.to_pickle(tmp_path / "clinical.pkl")
    script = textwrap.dedent(f"""
        import pickle, numpy as np, pandas as pd
        from skfusion import FusionInput
        clf = pickle.loads(open({str(tmp_path / "model.pkl")!r}, 'rb').read())
        X = FusionInput(np.load({str(tmp_path / "images.npy")!r}),
                        pd.read_pickle({str(tmp_path / "clinical.pkl")!r}))
        np.save({str(tmp_path / "proba.npy")!r}, clf.predict_proba(X))
    """)
    subprocess.run([sys.executable, "-c", script], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "proba.npy"), clf.predict_proba(X))


class InterruptAt(Callback):
    """Simulate Ctrl-C in the middle of an epoch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training and len(net.history) == self.epoch and len(net.history[-1]["batches"]) == 1:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_the_last_finished_epoch():
    X, y = make_data(n=24)
    reference = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 2}).fit(X, y)
    with pytest.warns(UserWarning, match="interrupted during epoch 3.*epoch 2"):
        clf = ClinicalAttentionClassifier(
            **{**TINY, "max_epochs": 5}, callbacks=[InterruptAt(3)]
        ).fit(X, y)
    assert clf.interrupted_ and clf.n_epochs_ == 2
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    # the copy of the weights kept during training is released afterwards
    assert dict(clf.net_.callbacks_)["interrupt_recovery"]._state is None
    assert dict(reference.net_.callbacks_)["interrupt_recovery"]._state is None


def test_ctrl_c_in_the_first_epoch_leaves_the_estimator_unchanged():
    X, y = make_data(n=24)
    clf = ClinicalAttentionClassifier(**TINY).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(callbacks=[InterruptAt(1)])
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert not clf.interrupted_


class ExplodingLoss(torch.nn.CrossEntropyLoss):
    """A loss that becomes NaN, as a diverging training's does."""

    def forward(self, logits, target):
        return super().forward(logits, target) * float("nan")


def test_divergence_is_reported_and_the_old_model_kept():
    X, y = make_data(n=24)
    clf = ClinicalAttentionClassifier(**TINY).fit(X, y)
    before = clf.predict_proba(X)
    clf.set_params(criterion=ExplodingLoss)
    with pytest.raises(ValueError, match="training diverged.*keeps its previous state"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_non_finite_outputs_are_reported(fitted):
    clf, X, _ = fitted
    with pytest.raises(ValueError, match="NaN or infinite outputs"):
        clf.predict_proba(FusionInput(np.full_like(X.images, 3e38), X.clinical))


def test_checkpoints_resume_and_never_collide(tmp_path):
    X, y = make_data(n=24)
    first = EpochCheckpoint(tmp_path)
    second = EpochCheckpoint(tmp_path)
    ClinicalAttentionClassifier(**{**TINY, "max_epochs": 3}, callbacks=[first]).fit(X, y)
    ClinicalAttentionClassifier(**{**TINY, "max_epochs": 3}, callbacks=[second]).fit(X, y)
    assert first.run_dir_ != second.run_dir_
    assert [p.name for p in first.files_] == ["epoch_0001.skf", "epoch_0002.skf", "epoch_0003.skf"]
    # resume from epoch 1 for two more epochs == three epochs straight
    straight = ClinicalAttentionClassifier(**{**TINY, "max_epochs": 3}).fit(X, y)
    resumed = skfusion.load(first.files_[0]).set_params(warm_start=True, max_epochs=2, verbose=0)
    assert resumed.n_epochs_ == 1
    resumed.fit(X, y)
    assert resumed.n_epochs_ == 3
    np.testing.assert_allclose(
        resumed.predict_proba(X), straight.predict_proba(X), rtol=1e-6, atol=1e-9
    )


def test_warm_start_continues_and_restores_on_error():
    X, y = make_data(n=24)
    clf = ClinicalAttentionClassifier(**TINY, warm_start=True).fit(X, y)
    assert clf.n_epochs_ == 2
    clf.fit(X, y)
    assert clf.n_epochs_ == 4
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match=r"label\(s\) \['MCI'\]"):
        clf.fit(X, np.where(y == "AD", "MCI", y))
    clf.set_params(lr=1e30)
    with pytest.raises(ValueError, match="diverged"):
        clf.fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), before)
    assert clf.n_epochs_ == 4


@pytest.mark.slow
def test_identical_predictions_across_n_jobs_with_fixed_threads():
    from sklearn.model_selection import KFold, cross_val_predict

    X, y = make_data(n=32)
    model = ClinicalAttentionClassifier(**TINY, n_threads=1)
    serial = cross_val_predict(model, X, y, cv=KFold(2), method="predict_proba", n_jobs=1)
    parallel = cross_val_predict(model, X, y, cv=KFold(2), method="predict_proba", n_jobs=2)
    np.testing.assert_array_equal(serial, parallel)


def test_n_threads_is_restored_after_fit():
    X, y = make_data(n=20)
    before = torch.get_num_threads()
    ClinicalAttentionClassifier(**TINY, n_threads=1).fit(X, y)
    assert torch.get_num_threads() == before


@pytest.mark.slow
def test_prediction_memory_stays_flat_for_large_inputs(tmp_path):
    """Peak memory grows with the input array, not with activations of all samples at once."""
    script = textwrap.dedent("""
        import resource, sys, numpy as np, torch
        from skfusion import ClinicalAttentionClassifier, FusionInput
        rng = np.random.RandomState(0)
        small = FusionInput(rng.rand(16, 64, 64).astype("float32"), rng.rand(16, 2))
        clf = ClinicalAttentionClassifier(backbone="resnet18", base_width=32, clinical_dim=8,
                                          max_epochs=1, batch_size=8, device="cpu", verbose=0,
                                          random_state=0).fit(small, np.arange(16) % 2)
        n = int(sys.argv[1])
        X = FusionInput(rng.rand(n, 64, 64).astype("float32"), rng.rand(n, 2))
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        clf.predict_proba(X)
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024)
    """)

    def peak_growth_mb(n):
        out = subprocess.run(
            [sys.executable, "-c", script, str(n)], capture_output=True, text=True, check=True
        )
        return float(out.stdout.strip().splitlines()[-1])

    small, large = peak_growth_mb(64), peak_growth_mb(1024)
    # 960 more images are 15 MB of input (plus a copy); unbatched activations of a width-32
    # ResNet18 on 1024 images of 64x64 would need well over 500 MB.
    assert large - small < 120, (small, large)


def test_a_file_written_by_skfusion_0_2_0_loads_and_predicts_as_it_did():
    """Model file format 2, written by skfusion 0.2.0 (before the task-neutral core):
    ClinicalAttentionClassifier(mode="concat", early_stopping=True, class_weight="balanced")
    with the tests' TINY settings, fitted on make_data(n=30, size=16)."""
    import pathlib

    from ...conftest import make_data

    folder = pathlib.Path(__file__).parents[2] / "data"
    model = skfusion.load(folder / "skfusion-0.2.0-clinical-attention.skf")
    X, y = make_data(n=30, size=16)
    expected = np.load(folder / "skfusion-0.2.0-clinical-attention-proba.npy")
    # Probabilities were computed by torch's softmax then, by scipy's now: equal to 1e-15.
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=0, atol=1e-15)
    assert model.classes_.tolist() == ["AD", "NC"] and model.mode == "concat"


def test_a_family_of_ones_own_loads_when_its_class_is_passed(tmp_path):
    """A model file names its estimator; a class outside skfusion's registry comes from the
    caller at load (``custom_objects``), and without it the refusal names that fix."""
    from skfusion import ClinicalAttentionClassifier, load
    from skfusion._base.files.file_checks import ModelFileError

    class MyAttentionClassifier(ClinicalAttentionClassifier):
        pass

    X, y = make_data(n=20)
    model = MyAttentionClassifier(**TINY, mode="concat").fit(X, y)
    path = tmp_path / "mine.skf"
    model.save(path)
    with pytest.raises(
        ModelFileError,
        match=r"custom_objects=\{'MyAttentionClassifier': "
        r"MyAttentionClassifier\}",
    ):
        load(path)
    with pytest.raises(ModelFileError, match="not one of skfusion's"):
        load(path, custom_objects={"MyAttentionClassifier": dict})  # not an estimator
    loaded = load(path, custom_objects={"MyAttentionClassifier": MyAttentionClassifier})
    assert type(loaded) is MyAttentionClassifier
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), atol=1e-6)
