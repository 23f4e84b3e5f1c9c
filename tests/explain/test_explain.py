import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import (
    ClinicalAttentionClassifier,
    ClinicalTransformer,
    FeatureModulationClassifier,
    FusionInput,
    GatedFusionClassifier,
    ReportFusionClassifier,
)
from skfusion.explain import attention_maps, grad_cam, localization_scores, plot_overlays

from ..conftest import TINY, make_data
from ..conftest import TINY_NO_CLINICAL_DIM as NO_CLINICAL_DIM

SIZE = 64


@pytest.fixture(scope="module")
def data():
    X, y = make_data(n=20, size=SIZE)
    return FusionInput(X.images, X.clinical, text=["marked atrophy", "no atrophy"] * 10), y


def fitted(cls, data, **params):
    X, y = data
    return cls(**{**TINY, **params}).fit(X, y)


def test_grad_cam_shapes_range_determinism_and_response(data):
    X, y = data
    clf = fitted(ClinicalAttentionClassifier, data, max_epochs=3)
    maps = grad_cam(clf, X)
    assert maps.shape == (20, SIZE, SIZE) and maps.dtype == np.float32
    assert maps.min() >= 0 and np.isclose(maps.max(axis=(1, 2)), 1).sum() >= 1
    np.testing.assert_array_equal(maps, grad_cam(clf, X))
    assert not np.allclose(maps[0], maps[1])  # depends on the input
    other = grad_cam(clf, X, target="NC")
    assert other.shape == maps.shape
    with pytest.raises(ValueError, match="not in classes_"):
        grad_cam(clf, X, target="XX")


@pytest.mark.parametrize(
    "make",
    [
        lambda: GatedFusionClassifier(**TINY, n_heads=2, head_dim=4),
        lambda: FeatureModulationClassifier(**NO_CLINICAL_DIM, method="daft"),
        lambda: ReportFusionClassifier(**TINY, embedding_dim=8, hidden_size=8),
    ],
    ids=["gated", "daft", "report"],
)
def test_grad_cam_works_for_every_image_model(data, make):
    X, y = data
    assert grad_cam(make().fit(X, y), X[:5]).shape == (5, SIZE, SIZE)


def test_grad_cam_through_a_pipeline_and_refusal_without_images(data):
    X, y = data
    pipe = make_pipeline(
        ClinicalTransformer(StandardScaler()), ClinicalAttentionClassifier(**TINY)
    ).fit(X, y)
    assert grad_cam(pipe, X[:3]).shape == (3, SIZE, SIZE)
    clinical_only = fitted(ClinicalAttentionClassifier, data, mode="clinical")
    with pytest.raises(ValueError, match="no image path"):
        grad_cam(clinical_only, X)


def test_native_attention_maps(data):
    X, _ = data
    rbca = attention_maps(fitted(ClinicalAttentionClassifier, data), X)["channel_attention"]
    assert sorted(rbca) == [
        "stage2.block0",
        "stage2.block1",
        "stage3.block0",
        "stage3.block1",
        "stage4.block0",
        "stage4.block1",
    ]
    assert rbca["stage2.block0"].shape == (20, 4)  # half of the inner width 8 of stage 2
    gated = attention_maps(fitted(GatedFusionClassifier, data, n_heads=2, head_dim=4), X)
    assert set(gated["spatial_attention"]) == {"stage3", "stage4"}
    assert gated["spatial_attention"]["stage3"].shape == (20, SIZE, SIZE)
    assert gated["gates"].shape == (20, 2, 4)
    report = attention_maps(fitted(ReportFusionClassifier, data, embedding_dim=8, hidden_size=8), X)
    assert [w for w, _ in report["word_attention"][0]] == ["marked", "atrophy"]
    film = FeatureModulationClassifier(**NO_CLINICAL_DIM, method="film").fit(*data)
    scales = attention_maps(film, X)["scale"]
    assert list(scales) == ["stage4.block1"] and scales["stage4.block1"].shape == (20, 32)


def test_grad_cam_stage_choice(data):
    X, _ = data
    clf = fitted(ClinicalAttentionClassifier, data)
    assert grad_cam(clf, X[:2], stage=2).shape == (2, SIZE, SIZE)
    with pytest.raises(ValueError, match="stage must be"):
        grad_cam(clf, X[:2], stage=7)


def test_localization_scores_on_hand_built_maps():
    masks = np.zeros((2, 4, 4), bool)
    masks[:, :2, :2] = True
    perfect = masks.astype(float)
    opposite = np.zeros((2, 4, 4))
    opposite[:, 3, 3] = 1.0
    assert localization_scores(perfect, masks) == {
        "iou": 1.0,
        "dice": 1.0,
        "pointing_game": 1.0,
        "n_samples": 2,
    }
    scores = localization_scores(opposite, masks)
    assert scores["iou"] == 0.0 and scores["pointing_game"] == 0.0 and scores["dice"] == 0.0
    half = np.zeros((2, 4, 4))
    half[:, 0, :2] = 0.9  # 2 of the 4 mask pixels: IoU 1/2, Dice 2/3
    half[1] = 0.2  # below 0.5: nothing on in absolute terms, half the max in relative
    absolute = localization_scores(half, masks, relative=False, per_sample=True)
    np.testing.assert_allclose(absolute["per_sample"]["iou"], [0.5, 0.0])
    np.testing.assert_allclose(absolute["per_sample"]["dice"], [2 / 3, 0.0])
    assert absolute["n_samples"] == 2 and list(absolute["samples"]) == [0, 1]
    assert localization_scores(half, masks)["iou"] == pytest.approx((0.5 + 4 / 16) / 2)
    with pytest.raises(ValueError, match="both be"):
        localization_scores(perfect[0], masks)


def test_plot_overlays(tmp_path, data):
    X, _ = data
    maps = np.random.RandomState(0).rand(4, SIZE, SIZE)
    path = plot_overlays(
        X.images[:4], maps, maps > 0.8, path=tmp_path / "o.png", titles=list("abcd")
    )
    assert path.stat().st_size > 5_000


def test_logit_parts_split_the_output_into_shortcut_and_deep(data):
    from skfusion.explain import logit_parts

    X, y = data
    clf = fitted(ClinicalAttentionClassifier, data, mode="concat", max_epochs=2)
    parts = logit_parts(clf, X)
    assert set(parts) == {"total", "shortcut", "image_shortcut", "deep"}
    assert parts["total"].shape == (20, 2)
    assert np.all(parts["image_shortcut"] == 0)  # no image shortcut in this network
    np.testing.assert_allclose(
        parts["total"][:, 1] - parts["total"][:, 0], clf.decision_function(X)
    )
    np.testing.assert_allclose(parts["shortcut"] + parts["deep"], parts["total"])
    # The shortcut's part is the one the network adds in its own forward pass.
    seen = []
    hook = clf.net_.module_.shortcut.register_forward_hook(
        lambda module, inputs, output: seen.append(output.detach().double().numpy())
    )
    try:
        clf.predict_proba(X)
    finally:
        hook.remove()
    np.testing.assert_allclose(np.concatenate(seen), parts["shortcut"], rtol=1e-5, atol=1e-5)
    assert np.std(parts["shortcut"][:, 1]) > 0
    # Other images move only the deep part.
    shuffled = FusionInput(X.images[::-1].copy(), X.clinical, text=X.text)
    moved = logit_parts(clf, shuffled)
    np.testing.assert_allclose(moved["shortcut"], parts["shortcut"])
    assert not np.allclose(moved["deep"], parts["deep"])


def test_logit_parts_without_a_shortcut_and_through_a_pipeline(data):
    from skfusion.explain import logit_parts

    X, y = data
    plain = fitted(ClinicalAttentionClassifier, data, mode="concat", clinical_shortcut=False)
    parts = logit_parts(plain, X[:4])
    np.testing.assert_array_equal(parts["shortcut"], 0)
    np.testing.assert_array_equal(parts["deep"], parts["total"])
    pipe = make_pipeline(
        ClinicalTransformer(StandardScaler()), ClinicalAttentionClassifier(**TINY, mode="full")
    ).fit(X, y)
    parts = logit_parts(pipe, X[:4])
    np.testing.assert_allclose(parts["total"], pipe[-1]._outputs(pipe[:-1].transform(X[:4])))
    with pytest.raises(TypeError, match="fitted skfusion estimator"):
        logit_parts(StandardScaler().fit(np.zeros((3, 2))), X[:4])
