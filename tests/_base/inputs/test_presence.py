"""Patients without an image or a report: every family and task trains on a mix of complete
and incomplete patients and predicts for both; what sits in a missing image's slot never
reaches the prediction; the refusals say why; model files, export, importance and sklearn's
cross-validation keep working."""

import warnings

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, cross_val_score

import skfusion
from skfusion import ClinicalAttentionClassifier, FusionInput, ReportFusionClassifier
from skfusion.explain import grad_cam, permutation_importance
from skfusion.explain._importance import _modality_source

from ...conftest import TINY, make_data
from ...test_common import (
    FUSION_ESTIMATORS,
    outputs,
    small,
    target_for,
    tiny_inputs,  # noqa: F401  (a fixture)
)

DATA = __import__("pathlib").Path(__file__).parents[2] / "data"


def with_gaps(X, absent=(1, 4, 7, 10, 13), text_absent=()):
    present = np.ones(len(X), dtype=bool)
    present[list(absent)] = False
    masks = {"images": present}
    if text_absent:
        text = np.ones(len(X), dtype=bool)
        text[list(text_absent)] = False
        masks["text"] = text
    return FusionInput(X.images, X.clinical, X.text, subjects=X.subjects, present=masks)


def slot_filled(X, value):
    """X with every missing image's slot holding ``value`` (NaN, noise, a bright square)."""
    images = np.asarray(X.images, dtype=np.float32).copy()
    gone = ~X.present["images"]
    images[gone] = value
    return FusionInput(images, X.clinical, X.text, subjects=X.subjects, present=X.present)


@pytest.mark.parametrize("cls", FUSION_ESTIMATORS, ids=lambda c: c.__name__)
def test_every_estimator_trains_and_predicts_with_incomplete_patients(cls, tiny_inputs):  # noqa: F811
    X, y = tiny_inputs
    text_absent = (2, 5) if "ReportFusion" in cls.__name__ else ()
    gappy = with_gaps(X, text_absent=text_absent)
    model = small(cls).fit(gappy, target_for(cls, y))
    got = outputs(model, gappy)
    assert np.isfinite(got).all()
    # The slot of a missing image is never read: NaN, noise or a bright image, same output.
    for value in (np.nan, 1e3, -7.0):
        np.testing.assert_allclose(
            outputs(model, slot_filled(gappy, value)), got, rtol=0, atol=1e-6
        )
    # ... and the mask does matter: the same pixels, declared present, give other outputs.
    declared = outputs(model, FusionInput(X.images, X.clinical, X.text))
    absent = ~gappy.present["images"]
    assert np.abs(np.asarray(declared) - np.asarray(got))[absent].max() > 1e-5
    used = model.modalities_used(gappy)
    np.testing.assert_array_equal(used["images"], gappy.present["images"])
    assert used["clinical"].all()
    if text_absent:
        np.testing.assert_array_equal(used["text"], gappy.present["text"])


def test_none_entries_are_patients_without_an_image_or_a_report(tiny_inputs):  # noqa: F811
    X, y = tiny_inputs
    images = [None if i in (3, 8) else image for i, image in enumerate(X.images)]
    text = [None if i == 5 else t for i, t in enumerate(X.text)]
    listed = FusionInput(images, X.clinical, text)
    np.testing.assert_array_equal(np.flatnonzero(~listed.present["images"]), [3, 8])
    np.testing.assert_array_equal(np.flatnonzero(~listed.present["text"]), [5])
    model = small(ReportFusionClassifier).fit(listed, y)
    masked = FusionInput(X.images, X.clinical, X.text, present=listed.present)
    np.testing.assert_allclose(model.predict_proba(listed), model.predict_proba(masked), atol=1e-6)
    # Slicing keeps each patient's mask with its row.
    part = listed[[8, 0, 5]]
    np.testing.assert_array_equal(part.present["images"], [False, True, True])
    np.testing.assert_array_equal(part.present["text"], [True, True, False])


def test_slice_stacks_and_localising_models_take_incomplete_patients():
    rng = np.random.RandomState(0)
    stacks = rng.normal(size=(20, 3, 16, 16)).astype(np.float32)
    clinical = rng.normal(size=(20, 2))
    y = np.array(["AD", "NC"] * 10)
    present = np.arange(20) % 4 != 0
    X = FusionInput(stacks, clinical, layout="slices", present={"images": present})
    model = ClinicalAttentionClassifier(mode="concat", **TINY).fit(X, y)
    got = model.predict_proba(X)
    np.testing.assert_allclose(model.predict_proba(slot_filled(X, np.nan)), got, atol=1e-6)
    masks = rng.rand(20, 16, 16) > 0.8
    images = stacks[:, 0]
    X2 = FusionInput(images, clinical, masks=masks, present={"images": present})
    localizing = ClinicalAttentionClassifier(mode="full", **TINY).fit(X2, y)
    assert localizing.localizes_
    assert np.isfinite(localizing.predict_proba(X2)).all()
    with pytest.raises(ValueError, match="localize maps each sample's image.*2 sample"):
        localizing.localize(X2[[0, 1, 4]])
    assert localizing.localize(X2[[1, 2]]).shape == (2, 16, 16)


def test_refusals_say_what_and_how():
    X, y = make_data(n=16)
    with pytest.raises(ValueError, match="declare it missing"):
        images = np.asarray(X.images).copy()
        images[2] = np.nan
        ClinicalAttentionClassifier(**TINY).fit(FusionInput(images, X.clinical), y)
    nothing = FusionInput(X.images, X.clinical, present={"images": np.zeros(16, bool)})
    with pytest.raises(ValueError, match="no sample of X has an image"):
        ClinicalAttentionClassifier(**TINY).fit(nothing, y)
    with pytest.raises(ValueError, match="key\\(s\\) \\['clinical'\\]"):
        FusionInput(X.images, X.clinical, present={"clinical": np.ones(16, bool)})
    with pytest.raises(ValueError, match="one entry per sample \\(16\\)"):
        FusionInput(X.images, X.clinical, present={"images": np.ones(3, bool)})
    with pytest.raises(ValueError, match="must be boolean"):
        FusionInput(X.images, X.clinical, present={"images": np.linspace(0, 1, 16)})
    with pytest.raises(ValueError, match="'text' mask but no text"):
        FusionInput(X.images, X.clinical, present={"text": np.arange(16) > 0})
    with pytest.raises(ValueError, match="holds only None"):
        FusionInput([None, None], np.zeros((2, 1)))
    gappy = with_gaps(X, absent=(0, 3))
    model = ClinicalAttentionClassifier(**TINY).fit(gappy, y)
    with pytest.raises(ValueError, match="this explanation maps each sample's image"):
        grad_cam(model, gappy[:4])
    generator = skfusion.ReportGenerator(
        backbone="resnet18", base_width=4, max_epochs=1, verbose=0, device="cpu"
    )
    with pytest.raises(ValueError, match="ReportGenerator cannot take: a report is generated"):
        generator.fit(FusionInput(gappy.images, None, present=gappy.present), ["a report"] * 16)


def test_model_files_keep_the_stand_ins_and_old_files_refuse_missing_images(tmp_path):
    X, y = make_data(n=20)
    gappy = with_gaps(X)
    model = ClinicalAttentionClassifier(mode="full", **TINY).fit(gappy, y)
    model.save(tmp_path / "model.skf")
    loaded = skfusion.load(tmp_path / "model.skf")
    np.testing.assert_allclose(loaded.predict_proba(gappy), model.predict_proba(gappy), atol=1e-6)
    # skfusion 0.3.0's file: no stand-ins; complete patients as before, incomplete refused.
    old = skfusion.load(DATA / "skfusion-0.3.0-clinical-attention.skf")
    X24, _ = make_data(n=24)
    expected = np.load(DATA / "skfusion-0.3.0-clinical-attention-proba.npy")
    np.testing.assert_allclose(old.predict_proba(X24), expected, atol=1e-6)
    with pytest.raises(ValueError, match="built before skfusion handled missing modalities"):
        old.predict_proba(with_gaps(X24))


def test_exported_graphs_take_the_mask(tmp_path):
    import torch

    X, y = make_data(n=20)
    gappy = with_gaps(X)
    model = ClinicalAttentionClassifier(mode="concat", **TINY).fit(gappy, y)
    signature = model.export(tmp_path / "model.pt", format="torchscript")
    assert [i["name"] for i in signature["inputs"]] == ["images", "clinical", "image_present"]
    with warnings.catch_warnings():  # torch deprecates TorchScript; LibTorch still loads it
        warnings.simplefilter("ignore", DeprecationWarning)
        graph = torch.jit.load(str(tmp_path / "model.pt"))
    clinical = gappy.clinical[signature["clinical"]["columns"]].to_numpy(np.float32)
    images = np.asarray(slot_filled(gappy, 0.0).images, dtype=np.float32)[:, None]
    with torch.no_grad():
        got = graph(
            torch.from_numpy(images),
            torch.from_numpy(clinical),
            torch.from_numpy(gappy.present["images"]),
        ).numpy()
    np.testing.assert_allclose(got, model.predict_proba(gappy), atol=1e-5)


def test_importance_permutes_images_among_patients_with_images_only(tiny_inputs):  # noqa: F811
    X, y = tiny_inputs
    gappy = with_gaps(X)
    rng = np.random.RandomState(0)
    has = gappy.present["images"]
    for _ in range(5):
        source = _modality_source(gappy, "images", None, rng)
        assert has[source[has]].all()  # donors have images
        np.testing.assert_array_equal(source[~has], np.flatnonzero(~has))
    model = ClinicalAttentionClassifier(mode="concat", **TINY).fit(gappy, y)
    result = permutation_importance(model, gappy, y, n_repeats=2, random_state=0)
    assert np.isfinite(result.importances).all()


def test_cross_validation_slices_the_mask_with_the_patients():
    X, y = make_data(n=24)
    gappy = with_gaps(X, absent=range(0, 24, 3))
    groups = np.repeat(np.arange(12), 2)
    scores = cross_val_score(
        ClinicalAttentionClassifier(mode="concat", **TINY),
        gappy,
        y,
        groups=groups,
        cv=GroupKFold(3),
    )
    assert np.isfinite(scores).all()
