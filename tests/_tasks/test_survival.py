"""Time-to-event models: the Cox loss (checked against lifelines), the Breslow baseline,
concordance, censoring, the cohort's conversion task, and the sklearn tools."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import GroupKFold, cross_validate

import skfusion
from skfusion import ClinicalAttentionSurvival, FusionInput, survival_target
from skfusion._tasks.concordance import _harrell_c_numpy, harrell_c
from skfusion.datasets import make_brain_cohort
from skfusion.metrics import brier_score, concordance_index, integrated_brier_score
from skfusion.nn.losses import CoxPHLoss, cox_partial_log_likelihood

from ..conftest import TINY

lifelines = pytest.importorskip("lifelines")


def small(**params):
    return ClinicalAttentionSurvival(**{**TINY, **params})


def known_risk_data(n=80, seed=0, censor_rate=0.3, size=16):
    """Clinical column x0 sets the hazard (hazard ratio e per unit); x1 is noise."""
    rng = np.random.RandomState(seed)
    clinical = rng.normal(size=(n, 2))
    time = rng.exponential(1 / np.exp(clinical[:, 0]))
    censor = rng.exponential(1 / censor_rate * np.ones(n))
    event = time <= censor
    images = rng.normal(size=(n, size, size)).astype(np.float32)
    return FusionInput(images, clinical), survival_target(event, np.minimum(time, censor))


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_a_linear_cox_fit_matches_lifelines(ties):
    rng = np.random.RandomState(0)
    n = 120
    x = rng.normal(size=(n, 2))
    time = np.round(rng.exponential(1 / np.exp(x @ [0.8, -0.5])), 1)  # many ties
    event = rng.rand(n) < 0.75
    weight = torch.zeros(2, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight],
        max_iter=500,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
        line_search_fn="strong_wolfe",
    )
    xt, tt, et = (torch.tensor(v, dtype=torch.float32) for v in (x, time, event))

    def closure():
        optimizer.zero_grad()
        loss = -cox_partial_log_likelihood(xt @ weight, tt, et, ties=ties)
        loss.backward()
        return loss

    optimizer.step(closure)
    frame = pd.DataFrame({"x0": x[:, 0], "x1": x[:, 1], "T": time, "E": event})
    if ties == "efron":  # lifelines' Cox model uses Efron's method
        reference = lifelines.CoxPHFitter().fit(frame, "T", "E").params_.to_numpy()
        np.testing.assert_allclose(weight.detach().numpy(), reference, atol=2e-3)
    else:  # Breslow's likelihood by its definition, maximised at the same weights

        def breslow(w):
            r = x @ w
            return (
                sum(r[i] - np.log(np.exp(r[time >= time[i]]).sum()) for i in np.flatnonzero(event))
                / event.sum()
            )

        w = weight.detach().double().numpy()
        for step in np.eye(2) * 1e-2:
            assert breslow(w) >= max(breslow(w + step), breslow(w - step))
        assert float(-closure().detach()) == pytest.approx(breslow(w), abs=1e-4)


def test_loss_without_events_is_zero_and_finite():
    log_risk = torch.randn(5, 1, requires_grad=True)
    target = torch.tensor([[1.0, 0], [2.0, 0], [3.0, 0], [4.0, 0], [5.0, 0]])
    loss = CoxPHLoss()(log_risk, target)
    loss.backward()
    assert loss.item() == 0 and torch.isfinite(log_risk.grad).all()


def test_loss_is_stable_for_large_risks():
    log_risk = torch.tensor([[500.0], [0.0], [-500.0]], requires_grad=True)
    target = torch.tensor([[1.0, 1], [2.0, 1], [3.0, 0]])
    loss = CoxPHLoss()(log_risk, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(log_risk.grad).all()


def test_concordance_agrees_with_lifelines_and_without_it(monkeypatch):
    rng = np.random.RandomState(1)
    for _ in range(20):
        n = rng.randint(5, 60)
        time = rng.randint(0, 8, n).astype(float)
        event = rng.rand(n) < 0.6
        event[0] = True
        risk = rng.randint(0, 5, n).astype(float)
        time[0] = time.min() - 1
        assert _harrell_c_numpy(time, event, risk) == pytest.approx(
            harrell_c(time, event, risk), abs=1e-12
        )
    import builtins

    real_import = builtins.__import__

    def no_lifelines(name, *args, **kwargs):
        if name.startswith("lifelines"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_lifelines)
    y = survival_target([True, True, False], [1.0, 2.0, 3.0])
    assert concordance_index(y, [3.0, 2.0, 1.0]) == 1.0
    assert concordance_index(y, [1.0, 2.0, 3.0]) == 0.0


def test_a_known_risk_ordering_is_reproduced():
    X, y = known_risk_data(n=160, seed=0)
    X_test, y_test = known_risk_data(n=200, seed=1)
    truth = concordance_index(y_test, X_test.clinical[:, 0])
    model = small(mode="concat", max_epochs=3).fit(X, y)
    assert model.score(X_test, y_test) == pytest.approx(truth, abs=0.05)
    weights = model.net_.module_.shortcut.weight.detach().numpy()[0]
    assert weights[0] > 0.5 and abs(weights[1]) < 0.3  # the linear start found the hazard


@pytest.mark.parametrize("censor_rate", [0.1, 3.0])
def test_censoring_is_handled(censor_rate):
    X, y = known_risk_data(n=120, seed=2, censor_rate=censor_rate)
    assert 0.05 < y["event"].mean() < 0.95
    model = small(mode="concat", max_epochs=2).fit(X, y)
    assert model.score(X, y) > 0.6
    curves = model.predict_survival_function(X, return_array=True)
    assert np.isfinite(curves).all()
    # Censored times are in unique_times_ too; the curve only drops at event times.
    drops = np.flatnonzero(np.diff(np.r_[0, model.baseline_cumulative_hazard_]) > 0)
    assert set(model.unique_times_[drops]) <= set(y["time"][y["event"]])


def test_baseline_is_the_nelson_aalen_estimate_for_equal_risks():
    X, y = known_risk_data(n=50, seed=3)
    model = small(mode="concat", max_epochs=1).fit(X, y)
    risk = np.zeros(50)
    fitted = model._after_training(_ConstantNet(risk), None, _target(y))
    reference = lifelines.NelsonAalenFitter().fit(y["time"], y["event"])
    expected = reference.cumulative_hazard_.iloc[:, 0].reindex(fitted["unique_times_"]).to_numpy()
    np.testing.assert_allclose(fitted["baseline_cumulative_hazard_"], expected, rtol=1e-10)


def test_all_censored_is_refused_and_field_names_are_free():
    X, y = known_risk_data(n=30)
    censored = survival_target(np.zeros(30, bool), y["time"])
    with pytest.raises(ValueError, match="no event"):
        small().fit(X, censored)
    renamed = survival_target(
        y["event"], y["time"], event_name="status", time_name="survival_in_days"
    )
    small().fit(X, renamed)
    with pytest.raises(ValueError, match="structured array"):
        small().fit(X, y["time"])


def test_brier_scores():
    y = survival_target([True, True, False, True], [1.0, 2.0, 2.5, 4.0])
    times = np.array([1.5, 3.0])
    perfect = (y["time"][:, None] > times).astype(float)
    assert integrated_brier_score(y, y, perfect, times) < 0.05
    half = np.full((4, 2), 0.5)
    _, scores = brier_score(y, y, half, times)
    assert scores[0] == pytest.approx(0.25)  # no censoring before t=1.5
    # at t=3: the censored subject (2.5) drops out; the others are reweighted by 1/G
    assert 0.2 < scores[1] < 0.4


def test_conversion_task_of_the_cohort_is_learnt_on_held_out_subjects():
    cohort = make_brain_cohort(
        100, task="conversion_time", n_slices=1, image_size=32, random_state=0, unit="slice"
    )
    clinical = cohort.X.clinical.drop(columns="sex")
    X = FusionInput(cohort.X.images, (clinical - clinical.mean()) / clinical.std())
    scores = cross_validate(
        small(mode="concat", max_epochs=3), X, cohort.y, groups=cohort.groups, cv=GroupKFold(3)
    )
    assert np.mean(scores["test_score"]) > 0.6, scores["test_score"]


def test_early_stopping_split_keeps_subjects_whole_and_events_on_both_sides():
    X, y = known_risk_data(n=60)
    groups = np.repeat(np.arange(20), 3)
    model = small(early_stopping=True, validation_fraction=0.25).fit(X, y, groups=groups)
    valid = model.validation_indices_
    train = np.setdiff1d(np.arange(60), valid)
    assert not set(groups[valid]) & set(groups[train])
    assert y["event"][valid].any() and y["event"][train].any()


def test_save_and_load_round_trip(tmp_path):
    X, y = known_risk_data(n=40)
    model = small().fit(X, y)
    loaded = skfusion.load(model.save(tmp_path / "cox.skf"))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(
        loaded.predict_survival_function(X, return_array=True),
        model.predict_survival_function(X, return_array=True),
    )


def test_grad_cam_of_the_risk():
    from skfusion.explain import grad_cam

    X, y = known_risk_data(n=40, size=32)
    maps = grad_cam(small(mode="full").fit(X, y), X[:3])
    assert maps.shape == (3, 32, 32)


class _ConstantNet:
    def __init__(self, risk):
        self.risk = risk

    def predict_outputs(self, dataset, threads=None):
        return self.risk[:, None]


def _target(y):
    from skfusion._base.core.encoders import Target

    return Target(None, 1, raw=(y["time"].astype(np.float64), y["event"].astype(bool)))


def test_tune_and_grid_search_score_by_concordance():
    import optuna
    from sklearn.model_selection import GridSearchCV

    from skfusion.tuning import tune

    X, y = known_risk_data(n=60)
    groups = np.repeat(np.arange(30), 2)
    study = tune(
        small(mode="concat", max_epochs=2),
        X,
        y,
        groups=groups,
        cv=3,
        n_trials=2,
        space={"lr": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)},
        verbose=0,
    )
    assert all(0.5 < t.value <= 1 for t in study.trials)
    search = GridSearchCV(
        small(mode="concat", max_epochs=1), {"ties": ["efron", "breslow"]}, cv=GroupKFold(2)
    ).fit(X, y, groups=groups)
    assert 0 <= search.best_score_ <= 1
