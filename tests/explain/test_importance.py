"""Which clinical variables and which modalities a fitted model relies on: permutation
importance (per column, per modality, per subject) and Integrated Gradients."""

import sys

import numpy as np
import pandas as pd
import pytest

import skfusion
from skfusion import FusionInput
from skfusion.explain import integrated_gradients, permutation_importance, plot_importances
from skfusion.explain._importance import _source_rows

from ..conftest import TINY


def signal_in_two_columns(n=120, seed=0):
    """The label depends on columns ``a`` (numeric) and ``group`` (a text category) only; the
    images are noise."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    group = rng.choice(["low", "high"], n)
    y = ((a + 1.5 * (group == "high") + 0.3 * rng.normal(size=n)) > 0.75).astype(int)
    clinical = pd.DataFrame(
        {"noise1": rng.normal(size=n), "a": a, "group": group, "noise2": rng.normal(size=n)}
    )
    images = rng.normal(size=(n, 8, 8)).astype(np.float32)
    return FusionInput(images, clinical), y


@pytest.fixture(scope="module")
def fitted():
    X, y = signal_in_two_columns()
    params = dict(TINY, max_epochs=3)
    concat = skfusion.ClinicalAttentionClassifier(mode="concat", **params).fit(X[:80], y[:80])
    image = skfusion.ClinicalAttentionClassifier(mode="image", **params).fit(X[:80], y[:80])
    return X[80:], y[80:], concat, image


def test_the_columns_that_carry_signal_rank_first(fitted):
    X, y, concat, _ = fitted
    result = permutation_importance(concat, X, y, n_repeats=5, random_state=0)
    assert result.names == ["noise1", "a", "group", "noise2", "images", "clinical"]
    assert result.importances.shape == (6, 5)
    np.testing.assert_allclose(result.importances_mean, result.importances.mean(axis=1))
    ranked = [result.names[i] for i in np.argsort(result.importances_mean[:4])[::-1]]
    assert set(ranked[:2]) == {"a", "group"}
    assert result.baseline_score == concat.score(X, y)
    clinical = result.importances_mean[result.names.index("clinical")]
    assert clinical >= result.importances_mean[:4].max() - 0.05


def test_a_modality_the_model_ignores_has_no_importance(fitted):
    X, y, _, image = fitted
    result = permutation_importance(image, X, y, n_repeats=3, random_state=0)
    ignored = [result.names.index(n) for n in ("noise1", "a", "group", "noise2", "clinical")]
    np.testing.assert_array_equal(result.importances[ignored], 0.0)


def test_scoring_names_several_metrics_and_seeds(fitted):
    X, y, concat, _ = fitted
    one = permutation_importance(concat, X, y, scoring="roc_auc", n_repeats=2, random_state=3)
    again = permutation_importance(concat, X, y, scoring="roc_auc", n_repeats=2, random_state=3)
    np.testing.assert_array_equal(one.importances, again.importances)
    both = permutation_importance(
        concat, X, y, scoring=["roc_auc", "accuracy"], n_repeats=2, random_state=3
    )
    assert set(both) == {"roc_auc", "accuracy"}
    np.testing.assert_allclose(both["roc_auc"].importances, one.importances)
    with pytest.raises(ValueError, match="n_repeats must be a positive int"):
        permutation_importance(concat, X, y, n_repeats=0)
    with pytest.raises(ValueError, match="groups must have one subject id per sample"):
        permutation_importance(concat, X, y, groups=[1, 2])


def test_whole_subjects_are_permuted_when_subjects_are_known():
    subjects = np.repeat(["s1", "s2", "s3", "s4", "s5"], [3, 3, 2, 4, 3])
    for seed in range(20):
        source = _source_rows(len(subjects), subjects, np.random.RandomState(seed))
        for subject in np.unique(subjects):
            rows = np.flatnonzero(subjects == subject)
            donors = subjects[source[rows]]
            assert len(set(donors)) == 1  # one subject's rows all come from one subject
            donor_rows = np.flatnonzero(subjects == donors[0])
            assert set(source[rows]) == set(donor_rows[: len(rows)]) | (
                set(donor_rows) if len(donor_rows) < len(rows) else set()
            )
    assert sorted(_source_rows(6, None, np.random.RandomState(0))) == list(range(6))


def test_subject_permutation_through_the_api(fitted):
    X, y, concat, _ = fitted
    groups = np.arange(len(y)) // 2
    grouped = permutation_importance(concat, X, y, groups=groups, n_repeats=2, random_state=0)
    carried = permutation_importance(
        concat, FusionInput(X.images, X.clinical, subjects=groups), y, n_repeats=2, random_state=0
    )
    np.testing.assert_array_equal(grouped.importances, carried.importances)


def test_integrated_gradients_are_complete_and_find_the_signal(fitted):
    pytest.importorskip("captum")
    X, y, concat, _ = fitted
    result = integrated_gradients(concat, X, n_steps=64)
    encoder = concat.clinical_encoder_
    assert result.names == encoder.output_names_
    assert result.attributions.shape == (len(y), len(result.names))
    assert result.columns == ["noise1", "a", "group", "noise2"]
    # Completeness: attributions sum to the output difference from the reference.
    assert np.abs(result.convergence_delta).max() < 1e-2
    group_inputs = [i for i, c in enumerate(encoder.output_columns_) if c == "group"]
    np.testing.assert_allclose(
        result.column_attributions[:, 2], result.attributions[:, group_inputs].sum(axis=1)
    )
    strength = np.abs(result.column_attributions).mean(axis=0)
    assert set(np.argsort(strength)[::-1][:2]) == {1, 2}
    mean_baseline = integrated_gradients(concat, X, target=1, baseline="mean", n_steps=8)
    assert mean_baseline.attributions.shape == result.attributions.shape
    with pytest.raises(ValueError, match="baseline must have one value per encoded"):
        integrated_gradients(concat, X, baseline=[0.0, 1.0])
    with pytest.raises(ValueError, match="not in classes_"):
        integrated_gradients(concat, X, target="maybe")


def test_integrated_gradients_refuse_what_they_cannot_explain(fitted, monkeypatch):
    X, y, concat, image = fitted
    with pytest.raises(ValueError, match="does not read clinical values"):
        integrated_gradients(image, X)
    monkeypatch.setitem(sys.modules, "captum.attr", None)
    with pytest.raises(ImportError, match=r"skfusion\[explain\]"):
        integrated_gradients(concat, X)


def test_plot_importances_draws_both_kinds(fitted, tmp_path):
    pytest.importorskip("captum")
    X, y, concat, _ = fitted
    permuted = permutation_importance(concat, X, y, n_repeats=2, random_state=0)
    ax = plot_importances(permuted, path=tmp_path / "perm.png")
    assert (tmp_path / "perm.png").stat().st_size > 0
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == permuted.names[
        int(np.argmax(permuted.importances_mean))
    ]
    ax = plot_importances(integrated_gradients(concat, X, n_steps=8), top=2)
    assert len(ax.get_yticklabels()) == 2
    with pytest.raises(ValueError, match="permutation_importance or integrated_gradients"):
        plot_importances({"x": 1})


def test_reports_are_a_modality_and_pipelines_permute_the_raw_columns():
    from sklearn.compose import make_column_transformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from ..test_common import REPORTS, small

    X, y = signal_in_two_columns(n=40)
    X = FusionInput(X.images, X.clinical, text=[REPORTS[i % 4] for i in range(40)])
    report = small(skfusion.ReportFusionClassifier, max_epochs=1).fit(X, y)
    result = permutation_importance(report, X, y, n_repeats=2, random_state=0)
    assert result.names[-3:] == ["images", "clinical", "text"]
    assert result.importances.shape == (7, 2)
    encoder = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["group"]), remainder=StandardScaler()
    )
    pipe = make_pipeline(
        skfusion.ClinicalTransformer(encoder),
        skfusion.ClinicalAttentionClassifier(mode="concat", **TINY),
    )
    pipe.fit(FusionInput(X.images, X.clinical), y)
    piped = permutation_importance(
        pipe, FusionInput(X.images, X.clinical), y, n_repeats=2, random_state=0
    )
    assert piped.names[:4] == ["noise1", "a", "group", "noise2"]  # the raw table's columns
    assert np.isfinite(piped.importances).all()
