"""Regressors: targets standardised in fit, losses, multi-output, the cohort's MMSE task,
and the sklearn tools (pipelines, cross-validation, searches, tuning, explanations, files)."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skfusion
from skfusion import ClinicalAttentionRegressor, ClinicalTransformer, FusionInput
from skfusion.datasets import make_brain_cohort
from skfusion.explain import grad_cam

from ..conftest import TINY, make_data


def small(**params):
    return ClinicalAttentionRegressor(**{**TINY, **params})


@pytest.fixture(scope="module")
def mmse():
    cohort = make_brain_cohort(
        90, task="mmse", n_slices=1, image_size=32, random_state=0, unit="slice"
    )
    clinical = cohort.X.clinical.drop(columns="sex")
    return FusionInput(cohort.X.images, clinical), cohort.y, cohort.groups


def test_a_model_that_learns_beats_a_constant_on_held_out_subjects(mmse):
    X, y, groups = mmse
    model = make_pipeline(
        ClinicalTransformer(StandardScaler()), small(mode="concat", max_epochs=5, lr=1e-3)
    )
    scores = cross_validate(model, X, y, groups=groups, cv=GroupKFold(3), scoring="r2")
    # A constant (the training mean) scores R^2 <= 0 on held-out subjects.
    assert np.mean(scores["test_score"]) > 0.1, scores["test_score"]


def test_targets_are_standardised_inside_fit():
    X, labels = make_data(n=24)
    y = np.where(labels == "AD", 1.0, 0.0) + np.linspace(0, 0.5, 24)
    a = small(random_state=0).fit(X, y)
    b = small(random_state=0).fit(X, 1000 * y + 5)
    np.testing.assert_allclose(b.predict(X), 1000 * a.predict(X) + 5, rtol=1e-4, atol=1e-2)
    np.testing.assert_allclose(b.target_mean_, [1000 * y.mean() + 5])
    assert b.target_scale_[0] == pytest.approx(1000 * y.std())


def test_loss_chooses_the_criterion():
    X, labels = make_data(n=24)
    y = np.linspace(0, 1, 24)
    assert isinstance(small().fit(X, y).net_.criterion_, torch.nn.MSELoss)
    huber = small(loss="huber", huber_delta=0.5).fit(X, y)
    assert isinstance(huber.net_.criterion_, torch.nn.HuberLoss)
    assert huber.net_.criterion_.delta == 0.5


def test_multi_output_targets():
    X, labels = make_data(n=24)
    y = np.column_stack([np.linspace(0, 1, 24), np.linspace(5, -5, 24)])
    model = small().fit(X, y)
    assert model.predict(X).shape == (24, 2)
    np.testing.assert_allclose(model.target_mean_, y.mean(axis=0))
    with pytest.raises(ValueError, match="1 output.* fitted on 2"):
        model.set_params(warm_start=True).fit(X, y[:, 0])


@pytest.mark.parametrize(
    "y, match",
    [
        (np.array(["a", "b"] * 12), "must hold numbers"),
        (np.r_[np.nan, np.ones(23)], "NaN or infinite"),
        (np.ones(23), "23 values but X has 24"),
        (skfusion.survival_target(np.ones(24, bool), np.ones(24)), "Survival estimator"),
        # Standardising these once overflowed to target_scale_=[inf] and all-NaN predictions.
        (np.r_[1e308, -1e308, np.zeros(22)], "cannot be standardised.*largest \\|y\\| = 1e\\+308"),
        (np.r_[1e200, 3e200, np.zeros(22)], "cannot be standardised"),
    ],
)
def test_bad_targets_are_refused_with_a_fix(y, match):
    X, _ = make_data(n=24)
    model = small()
    with pytest.raises(ValueError, match=match):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_grid_search_and_tune_use_regression_scores(mmse):
    X, y, groups = mmse
    search = GridSearchCV(small(mode="clinical"), {"lr": [1e-3, 1e-2]}, cv=2).fit(X, y)
    assert np.isfinite(search.best_score_)
    from skfusion.tuning import tune

    study = tune(
        small(mode="clinical", max_epochs=2),
        X,
        y,
        groups=groups,
        cv=2,
        n_trials=2,
        space={"lr": __import__("optuna").distributions.FloatDistribution(1e-3, 1e-2, log=True)},
        verbose=0,
    )
    assert len(study.trials) == 2
    assert all(np.isfinite(t.value) and t.value <= 1 for t in study.trials)


def test_grad_cam_explains_the_prediction():
    X, labels = make_data(n=24, size=32)
    y = np.where(labels == "AD", 1.0, 0.0)
    model = small(mode="full").fit(X, y)
    maps = grad_cam(model, X[:4])
    assert maps.shape == (4, 32, 32) and maps.max() <= 1
    with pytest.raises(ValueError, match="output index"):
        grad_cam(model, X[:2], target=1)


def test_save_and_load_round_trip(tmp_path):
    X, labels = make_data(n=24)
    y = np.column_stack([np.linspace(0, 1, 24), np.linspace(5, -5, 24)])
    model = small().fit(X, y)
    path = model.save(tmp_path / "model.skf")
    loaded = skfusion.load(path)
    assert type(loaded) is ClinicalAttentionRegressor
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    one = small().fit(X, y[:, 0])
    assert skfusion.load(one.save(tmp_path / "one.skf")).predict(X).shape == (24,)


def test_optuna_search_cv_prunes_a_regressor_through_partial_fit(mmse):
    import optuna
    from optuna_integration import OptunaSearchCV

    X, y, groups = mmse
    search = OptunaSearchCV(
        small(mode="concat"),
        {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)},
        cv=GroupKFold(2),
        enable_pruning=True,
        max_iter=3,
        n_trials=3,
        random_state=0,
        verbose=0,
        study=optuna.create_study(direction="maximize"),
    )
    search.fit(X, y, groups=groups)
    assert max(len(t.intermediate_values) for t in search.trials_) == 3
    assert search.predict(X).shape == y.shape


def test_search_space_of_a_regressor():
    from skfusion.tuning import search_space

    assert {"lr", "mode", "clinical_dim"} <= set(search_space(ClinicalAttentionRegressor()))
