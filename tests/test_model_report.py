"""``evaluation.model_report``: one self-contained HTML page (checked in a real headless
browser where Chromium is installed), its numbers from the out-of-fold predictions, the
decision curve and conformal coverage computed right, and its refusals."""

import re
import shutil
import subprocess

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.evaluation import cross_val_diagnostics, model_report
from skfusion.evaluation._report_numbers import conformal_coverage, decision_curve
from skfusion.evaluation._report_page import SECTIONS

from .conftest import TINY, make_data

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    X, y = make_data(n=24)
    clinical = X.clinical.assign(sex=np.where(np.arange(24) % 3 == 0, "F", "M"))
    X = FusionInput(X.images, clinical)
    path = tmp_path_factory.mktemp("report") / "model.html"
    report = model_report(
        ClinicalAttentionClassifier(**TINY),
        X,
        y,
        path=path,
        cv=2,
        pos_label="AD",
        by="sex",
        n_maps=2,
        n_bootstraps=20,
        verbose=0,
    )
    return X, y, report


def test_the_page_holds_every_section_and_no_outside_resource(made):
    _, _, report = made
    page = report.path.read_text()
    for key, name in SECTIONS:
        assert f'<section id="{key}"><h2>{name}</h2>' in page
    assert page.count("data:image/png;base64,") == 4  # ROC, reliability, decision, maps
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "Grad-CAM maps are not available" not in page
    assert "ClinicalAttentionClassifier" in page and "torch" in page


def test_its_numbers_are_the_out_of_fold_predictions(made):
    X, y, report = made
    oof = report.folds.attrs["out_of_fold"]
    assert list(oof.index) == list(range(len(y)))
    np.testing.assert_array_equal(oof["y"], y)
    auc = report.discrimination.loc[("all", "AUC"), "value"]
    assert auc == pytest.approx(roc_auc_score(y == "AD", oof["score"]))
    assert set(report.subgroups.index.get_level_values("subgroup")) == {"F", "M"}
    assert report.subgroups.loc[("F", "n"), "value"] == 8
    assert hasattr(report.model, "net_")  # the final model, fitted on every patient


def test_out_of_fold_rows_follow_X_and_say_their_fold():
    X, y = make_data(n=20)
    folds = cross_val_diagnostics(
        ClinicalAttentionClassifier(**TINY), X, y, cv=2, pos_label="AD", verbose=0
    )
    oof = folds.attrs["out_of_fold"]
    assert list(oof.index) == list(range(20)) and sorted(oof["fold"].unique()) == [1, 2]
    np.testing.assert_array_equal(oof["y"], y)
    assert ((oof["score"] >= 0.5) == (oof["predicted"] == "AD")).all()


def test_the_decision_curve_follows_its_formula():
    y = np.array([1, 1, 0, 0, 0])
    score = np.array([0.9, 0.4, 0.6, 0.2, 0.1])
    curve = decision_curve(y, score, 1, thresholds=[0.5, 0.3]).set_index("threshold")
    # t=0.5: treated 0.9 (event) and 0.6 (no event): 1/5 - 1/5 * 1
    assert curve.loc[0.5, "model"] == pytest.approx(0.0)
    # t=0.3: treated 0.9, 0.4 (events), 0.6: 2/5 - 1/5 * 0.3/0.7
    assert curve.loc[0.3, "model"] == pytest.approx(0.4 - 0.2 * 3 / 7)
    assert curve.loc[0.3, "treat all"] == pytest.approx(0.4 - 0.6 * 3 / 7)
    assert (curve["treat none"] == 0).all()


def test_conformal_sets_cover_as_promised():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    score = np.clip(0.5 + (y - 0.5) * 0.4 + rng.normal(0, 0.25, n), 0.01, 0.99)
    table = conformal_coverage(
        y, score, np.arange(n), np.array([0, 1]), 1, alpha=0.1, n_splits=50, seed=0
    )
    assert 0.88 <= table.loc["coverage", "mean"] <= 0.95
    perfect = conformal_coverage(
        y, y.astype(float), np.arange(n), np.array([0, 1]), 1, alpha=0.1, n_splits=5, seed=0
    )
    assert perfect.loc["coverage", "mean"] == 1 and perfect.loc["mean set size", "mean"] == 1


def _chromium():
    return next(
        (
            shutil.which(name)
            for name in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(name)
        ),
        None,
    )


def assert_renders_in_a_browser(path, n_figures):
    """Open the page in headless Chromium (skip where it is not installed) and check that
    its script ran, every figure decoded and every section is there."""
    browser = _chromium()
    if browser is None:
        pytest.skip(
            "Chromium is not installed here (CI installs Debian's package: "
            ".ci/chromium.sh); the page's structure is checked without it"
        )
    done = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=5000",
            "--dump-dom",
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    dom = done.stdout
    assert 'data-ready="yes"' in dom, done.stderr[-2000:]
    rendered = re.findall(r'data-rendered="(\w+)"', dom)
    assert len(rendered) == n_figures and set(rendered) == {"yes"}
    for key, _ in SECTIONS:
        assert f'id="{key}"' in dom


def test_a_real_browser_renders_every_figure_and_section(made):
    assert_renders_in_a_browser(made[2].path, 4)


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(path="missing-folder/r.html"), "folder .* does not exist"),
        (dict(path="report.pdf"), "give the path an .html suffix"),
        (dict(alpha=1.5), r"alpha=1.5.*between 0 and 1"),
        (dict(by="ward"), r"by='ward'\) is not a column"),
        (dict(n_maps=-1), "n_maps=-1"),
    ],
)
def test_bad_arguments_are_refused_before_any_training(tmp_path, monkeypatch, change, match):
    monkeypatch.chdir(tmp_path)
    X, y = make_data(n=12)
    settings = {"path": "report.html", **change}
    with pytest.raises(ValueError, match=match):
        model_report(
            ClinicalAttentionClassifier(**TINY), X, y, pos_label="AD", verbose=0, **settings
        )
    three = np.arange(12) % 3
    with pytest.raises(ValueError, match="binary tasks; y holds 3"):
        model_report(ClinicalAttentionClassifier(**TINY), X, three, path="r.html", verbose=0)
    assert not (tmp_path / "report.html").exists()


def test_map_panels_name_the_patient_its_label_and_its_probability(tmp_path, monkeypatch):
    import skfusion.explain

    X, y = make_data(n=16)
    X = FusionInput(X.images, X.clinical, subjects=[f"pt{i}" for i in range(16)])
    seen = {}
    real = skfusion.explain.plot_overlays
    monkeypatch.setattr(
        skfusion.explain,
        "plot_overlays",
        lambda *a, titles, **k: seen.setdefault("titles", titles) and real(*a, titles=titles, **k),
    )
    report = model_report(
        ClinicalAttentionClassifier(**TINY),
        X,
        y,
        path=tmp_path / "r.html",
        cv=2,
        pos_label="AD",
        n_maps=2,
        n_bootstraps=0,
        verbose=0,
    )
    oof = report.folds.attrs["out_of_fold"]
    assert seen["titles"] == [f"pt{r}: {y[r]}\nP(AD) {oof['score'][r]:.2f}" for r in (0, 1)]
    assert "white-space: nowrap" in report.path.read_text()
