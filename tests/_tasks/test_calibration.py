"""calibration="temperature": one temperature fitted on held-out subjects after training."""

import numpy as np
import pytest
from scipy.special import log_softmax, softmax
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from skfusion import ClinicalAttentionClassifier, FusionInput, load

from ..conftest import TINY, make_data


def _nll(logits, labels, temperature):
    scaled = log_softmax(logits / temperature, axis=1)
    return -np.mean(scaled[np.arange(len(labels)), labels])


@pytest.fixture(scope="module")
def overconfident():
    """A quarter of the labels flipped and learned by heart: a confident network that is
    often wrong on new subjects."""
    rng = np.random.RandomState(0)
    X, y = make_data(n=64)
    flip = rng.rand(64) < 0.25
    y = np.where(flip, np.where(y == "AD", "NC", "AD"), y)
    model = ClinicalAttentionClassifier(
        **{**TINY, "max_epochs": 25, "lr": 3e-3, "clinical_shortcut": False},
        calibration="temperature",
        validation_fraction=0.25,
    )
    return model.fit(X, y), X, y


def test_the_temperature_maximises_the_held_out_likelihood(overconfident):
    model, X, y = overconfident
    held_out = model.validation_indices_
    assert len(held_out) == 16
    logits = model._outputs(X[held_out])
    labels = np.searchsorted(model.classes_, y[held_out])
    t = model.temperature_
    assert t > 1  # an overconfident network is cooled
    for other in (t / 1.3, t * 1.3, 1.0):
        if 0.05 <= other <= 20:  # the range searched
            assert _nll(logits, labels, t) <= _nll(logits, labels, other) + 1e-6


def test_probabilities_change_and_decisions_do_not(overconfident):
    model, X, y = overconfident
    raw = model._outputs(X)
    proba = model.predict_proba(X)
    assert np.allclose(proba, softmax(raw / model.temperature_, axis=1), atol=1e-6)
    assert (model.predict(X) == model.classes_[raw.argmax(axis=1)]).all()
    assert roc_auc_score(y == "NC", proba[:, 1]) == pytest.approx(
        roc_auc_score(y == "NC", raw[:, 1] - raw[:, 0])
    )
    assert np.allclose(np.exp(model.predict_log_proba(X)), proba, atol=1e-6)
    assert np.allclose(
        model.decision_function(X), (raw[:, 1] - raw[:, 0]) / model.temperature_, atol=1e-6
    )


def test_it_survives_files_pickles_clones_and_export(overconfident, tmp_path):
    import pickle

    import torch

    model, X, _ = overconfident
    loaded = load(model.save(tmp_path / "calibrated.skf"))
    assert loaded.temperature_ == model.temperature_
    assert np.allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert pickle.loads(pickle.dumps(model)).temperature_ == model.temperature_
    assert not hasattr(clone(model), "temperature_")
    model.export(tmp_path / "calibrated.pt", format="torchscript")
    graph = torch.jit.load(str(tmp_path / "calibrated.pt"))
    clinical = torch.as_tensor(np.asarray(X.clinical, dtype=np.float32))
    images = torch.as_tensor(np.asarray(X.images, dtype=np.float32)[:, None])
    with torch.no_grad():
        exported = graph(images, clinical, torch.ones(len(images), dtype=torch.bool)).numpy()
    assert np.allclose(exported, model.predict_proba(X), atol=1e-4)


def test_the_early_stopping_split_is_the_calibration_split():
    X, y = make_data(n=40)
    both = ClinicalAttentionClassifier(**TINY, calibration="temperature", early_stopping=True).fit(
        X, y
    )
    stopping = ClinicalAttentionClassifier(**TINY, early_stopping=True).fit(X, y)
    assert (both.validation_indices_ == stopping.validation_indices_).all()
    assert hasattr(both, "temperature_") and not hasattr(stopping, "temperature_")


def test_subjects_stay_whole_and_warm_start_refits_the_temperature():
    X, y = make_data(n=48)
    subjects = np.repeat(np.arange(24), 2)
    X = FusionInput(X.images, X.clinical, subjects=subjects)
    model = ClinicalAttentionClassifier(
        **TINY, calibration="temperature", validation_fraction=0.25
    ).fit(X, y)
    held_out = set(subjects[model.validation_indices_])
    assert not held_out & set(subjects[np.setdiff1d(np.arange(48), model.validation_indices_)])
    first = model.temperature_
    model.set_params(warm_start=True, max_epochs=3).fit(X, y)
    assert model.temperature_ != first


def test_a_malformed_temperature_in_a_file_is_refused(overconfident, tmp_path):
    import json
    import zipfile

    from skfusion import ModelFileError

    model, _, _ = overconfident
    path = model.save(tmp_path / "model.skf")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["meta.json"])
    meta["fitted"]["temperature"] = -1.0
    members["meta.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(tmp_path / "edited.skf", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match="temperature"):
        load(tmp_path / "edited.skf")


@pytest.fixture(scope="module")
def shifted():
    """A network trained on 3 AD per NC and calibrated on subjects drawn the same way: its
    probabilities lean towards AD, which a bias corrects and one temperature cannot."""
    X, y = make_data(n=96, seed=3)
    rng = np.random.RandomState(1)
    y = np.where((y == "NC") & (rng.rand(96) < 0.5), "AD", y)  # noisy labels, mostly AD
    common = dict(
        **{**TINY, "max_epochs": 20, "lr": 3e-3, "clinical_shortcut": False},
        validation_fraction=0.25,
    )
    both = ClinicalAttentionClassifier(**common, calibration="temperature_bias").fit(X, y)
    alone = ClinicalAttentionClassifier(**common, calibration="temperature").fit(X, y)
    return both, alone, X, y


def test_temperature_and_bias_maximise_the_held_out_likelihood(shifted):
    both, alone, X, y = shifted
    assert (both.validation_indices_ == alone.validation_indices_).all()
    held_out = both.validation_indices_
    logits = both._outputs(X[held_out])
    labels = np.searchsorted(both.classes_, y[held_out])

    def nll(t, bias):
        scaled = log_softmax(logits / t + bias, axis=1)
        return -np.mean(scaled[np.arange(len(labels)), labels])

    t, bias = both.temperature_, both.calibration_bias_
    assert bias.shape == (2,) and bias[0] == 0
    assert nll(t, bias) <= nll(alone.temperature_, 0.0) + 1e-6  # one more free parameter
    for dt, db in ((1.2, 0), (1 / 1.2, 0), (1, 0.3), (1, -0.3)):
        assert nll(t, bias) <= nll(t * dt, bias + [0, db]) + 1e-6
    raw = both._outputs(X)
    assert np.allclose(both.predict_proba(X), softmax(raw / t + bias, axis=1), atol=1e-6)
    assert roc_auc_score(y == "NC", both.predict_proba(X)[:, 1]) == pytest.approx(
        roc_auc_score(y == "NC", raw[:, 1] - raw[:, 0])
    )


def test_the_bias_survives_files_and_export_and_goes_with_a_refit(shifted, tmp_path):
    import torch

    both, _, X, _ = shifted
    loaded = load(both.save(tmp_path / "both.skf"))
    assert np.array_equal(loaded.calibration_bias_, both.calibration_bias_)
    assert np.allclose(loaded.predict_proba(X), both.predict_proba(X))
    both.export(tmp_path / "both.pt", format="torchscript")
    graph = torch.jit.load(str(tmp_path / "both.pt"))
    with torch.no_grad():
        exported = graph(
            torch.as_tensor(np.asarray(X.images, np.float32)[:, None]),
            torch.as_tensor(np.asarray(X.clinical, np.float32)),
            torch.ones(len(X), dtype=torch.bool),
        ).numpy()
    assert np.allclose(exported, both.predict_proba(X), atol=1e-4)
    again = load(both.save(tmp_path / "again.skf"))
    again.set_params(calibration=None, max_epochs=1).fit(X, shifted[3])
    assert not hasattr(again, "calibration_bias_") and not hasattr(again, "temperature_")


def test_a_calibration_split_with_few_subjects_of_a_class_warns_with_the_counts():
    X, y = make_data(n=40)
    model = ClinicalAttentionClassifier(**TINY, calibration="temperature", validation_fraction=0.25)
    with pytest.warns(
        UserWarning,
        match=r"few subjects of some class \('AD': 5, 'NC': 5; "
        r"at least 10 of each",
    ):
        model.fit(X, y)
    assert hasattr(model, "temperature_")  # fitted all the same, with the warning


def test_a_temperature_near_its_search_bound_warns():
    """One held-out subject: nothing bounds the temperature from below."""
    X, y = make_data(n=12)
    model = ClinicalAttentionClassifier(
        **{**TINY, "max_epochs": 30, "lr": 1e-2},
        calibration="temperature",
        validation_fraction=0.05,
        attention_form="paper",  # a network that overfits its one held-out subject
        attention_start="paper",
    )
    with pytest.warns(UserWarning) as caught:
        model.fit(X, y)
    messages = " ".join(str(w.message) for w in caught)
    assert len(model.validation_indices_) == 1 and model.temperature_ < 0.075
    assert "few subjects of some class" in messages
    assert "landed near its search bound" in messages


def test_a_held_out_split_without_a_finite_optimum_gets_the_bound_not_an_arbitrary_point():
    from skfusion._tasks.classification import TEMPERATURE_BOUNDS, _separated_temperature

    low, high = TEMPERATURE_BOUNDS
    confident = np.array([[8.0, -8.0], [-6.0, 6.0]])
    assert _separated_temperature(confident, np.array([0, 1])) == low  # all right: T -> 0
    assert _separated_temperature(confident, np.array([1, 0])) == high  # all wrong: T -> inf
    mixed = np.array([[2.0, -2.0], [1.0, -1.0], [-3.0, 3.0]])
    assert _separated_temperature(mixed, np.array([0, 1, 1])) is None  # a finite optimum
    # three classes, every label second: the slope at T = inf is negative, so the search runs
    second = np.array([[3.0, 2.0, -9.0], [-9.0, 3.0, 2.0]])
    assert _separated_temperature(second, np.array([1, 2])) is None
