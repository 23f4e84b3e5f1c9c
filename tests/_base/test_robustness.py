"""Bad input never crashes deep inside torch, never returns garbage, never changes a model.

Property-based (hypothesis) over the cases below. Each drawn case must end in either a
correct result (finite probabilities, one row per sample, rows summing to 1) or a
ValueError/TypeError whose message names the argument at fault — and the fitted model must
predict exactly as before. ``pytest`` prints how many cases were tried (see conftest).

Cases (predict on a fitted model unless marked fit):
  images_2d, images_5d ....... wrong number of dimensions
  zero_samples, one_sample ... 0 or 1 sample
  images_nan, images_inf ..... non-finite pixels
  clinical_nan, clinical_inf . non-finite clinical values
  constant_images ............ every pixel equal (zeros or a constant)
  huge_images, denormal ...... values near the float32 limit, or below its normal range
  images_<dtype> ............. object, bool, int, float16, float64 images
  clinical_<dtype> ........... object, bool, int clinical values; a list of lists
  non_contiguous, read_only .. strided views and read-only arrays
  columns_shuffled / _renamed / _missing / _extra
  length_mismatch ............ images and clinical rows differ
  unseen_category ............ a category never seen in fit (pipeline with OneHotEncoder)
  fit_y_length, fit_single_class, fit_mixed_labels, fit_none_label, fit_continuous_y
  fit_unseen_label_warm ...... a label the fitted model does not know, with warm_start
  columns_duplicated, fit_duplicated_columns ... repeated clinical column names
  clinical_complex, images_complex, fit_complex_clinical ... complex values
  images_channels_last_rgb, fit_channels_last_rgb ...... (n, H, W, 3) images
  images_requires_grad ....... a torch tensor that is part of a graph
  images_scaled, clinical_scaled ... values far from the training range
  fit_no_clinical_columns .... a clinical table with no columns
  fit_text_one_string ........ one string as the reports of all samples
  setting_augment_* .......... fit with a misbehaving augment callable (wrong shape, a
                               sample dropped, NaN pixels, integers, an array) or a policy
                               out of range
  setting_image_weights_* .... fit with a weights file that does not exist or is not weights
  setting_freeze_alone ....... freeze= without image_weights=
"""

import collections
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.compose import make_column_transformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skfusion import ClinicalAttentionClassifier, ClinicalTransformer, FusionInput

from ..conftest import TINY, make_data

TRIED = collections.Counter()
ARGUMENT_WORDS = ("X", "images", "clinical", "text", "y", "label", "categor")


def _images_case(transform):
    return lambda X, rng, n: FusionInput(transform(X.images[:n].copy(), rng), X.clinical[:n])


def _clinical_case(transform):
    return lambda X, rng, n: FusionInput(X.images[:n], transform(X.clinical[:n].copy(), rng))


def _with_nan(images, rng):
    images[rng.randint(len(images)), rng.randint(16), rng.randint(16)] = np.nan
    return images


def _with_inf(images, rng):
    images[rng.randint(len(images)), 0, 0] = np.inf
    return images


def _read_only(X, rng, n):
    images, clinical = X.images[:n].copy(), X.clinical[:n].to_numpy()
    images.setflags(write=False)
    clinical.setflags(write=False)
    return FusionInput(images, clinical)


PREDICT_CASES = {
    "images_2d": lambda X, rng, n: FusionInput(X.images[:n, 0], X.clinical[:n]),
    "images_5d": _images_case(lambda a, rng: a[:, None, None]),
    "zero_samples": lambda X, rng, n: FusionInput(X.images[:0], X.clinical[:0]),
    "one_sample": lambda X, rng, n: X[[0]],
    "images_nan": _images_case(_with_nan),
    "images_inf": _images_case(_with_inf),
    "clinical_nan": _clinical_case(lambda c, rng: c.assign(age=np.nan)),
    "clinical_inf": _clinical_case(lambda c, rng: c.assign(score=np.inf)),
    "constant_images": _images_case(lambda a, rng: np.full_like(a, rng.choice([0.0, 7.5]))),
    "huge_images": _images_case(lambda a, rng: a * np.float32(rng.choice([1e20, 1e37]))),
    "denormal": _images_case(lambda a, rng: a * np.float32(1e-40)),
    "images_object": _images_case(lambda a, rng: a.astype(object)),
    "images_bool": _images_case(lambda a, rng: a > 0),
    "images_int": _images_case(lambda a, rng: (a * 10).astype(np.int32)),
    "images_float16": _images_case(lambda a, rng: a.astype(np.float16)),
    "images_float64": _images_case(lambda a, rng: a.astype(np.float64)),
    "clinical_object": _clinical_case(lambda c, rng: c.astype(object)),
    "clinical_bool": _clinical_case(lambda c, rng: c > 0),
    "clinical_int": _clinical_case(lambda c, rng: c.round().astype(int)),
    "clinical_list": lambda X, rng, n: FusionInput(
        X.images[:n], X.clinical[:n].to_numpy().tolist()
    ),
    "non_contiguous": lambda X, rng, n: FusionInput(
        np.repeat(X.images[:n], 2, axis=2)[:, :, ::2], X.clinical[:n]
    ),
    "read_only": _read_only,
    "columns_shuffled": _clinical_case(lambda c, rng: c[list(rng.permutation(c.columns))]),
    "columns_renamed": _clinical_case(lambda c, rng: c.rename(columns={"age": "Age"})),
    "columns_missing": _clinical_case(lambda c, rng: c.drop(columns="noise")),
    "columns_extra": _clinical_case(lambda c, rng: c.assign(extra=1.0)),
    "length_mismatch": lambda X, rng, n: (X.images[:n], X.clinical[: max(n - 1, 0)]),
    "columns_duplicated": _clinical_case(
        lambda c, rng: c.set_axis(["age", "age", "noise"], axis=1)
    ),
    "clinical_complex": _clinical_case(lambda c, rng: c.astype({"age": complex})),
    "images_complex": _images_case(lambda a, rng: a.astype(np.complex64)),
    "images_channels_last_rgb": _images_case(
        lambda a, rng: np.repeat(a[..., None], rng.choice([3, 4]), axis=-1)
    ),
    "images_requires_grad": lambda X, rng, n: FusionInput(
        __import__("torch").tensor(X.images[:n], requires_grad=True), X.clinical[:n]
    ),
    "images_scaled": _images_case(lambda a, rng: a * np.float32(rng.uniform(-100, 100))),
    "clinical_scaled": _clinical_case(lambda c, rng: c * rng.uniform(-1e6, 1e6)),
}

FIT_CASES = {
    "fit_y_length": lambda X, y, rng: (X, y[:-1]),
    "fit_single_class": lambda X, y, rng: (X, np.full(len(y), "AD")),
    "fit_mixed_labels": lambda X, y, rng: (X, np.array(["AD", 1] * (len(y) // 2), dtype=object)),
    "fit_none_label": lambda X, y, rng: (
        X,
        np.where(np.arange(len(y)) == 0, None, y).astype(object),
    ),
    "fit_continuous_y": lambda X, y, rng: (X, rng.rand(len(y))),
    "fit_duplicated_columns": lambda X, y, rng: (
        FusionInput(X.images, X.clinical.set_axis(["age", "score", "age"], axis=1)),
        y,
    ),
    "fit_complex_clinical": lambda X, y, rng: (
        FusionInput(X.images, X.clinical.astype({"score": complex})),
        y,
    ),
    "fit_channels_last_rgb": lambda X, y, rng: (
        FusionInput(np.repeat(X.images[..., None], 3, axis=-1), X.clinical),
        y,
    ),
    "fit_no_clinical_columns": lambda X, y, rng: (FusionInput(X.images, X.clinical[[]]), y),
    "fit_text_one_string": lambda X, y, rng: ((X.images, X.clinical, "report " * 4), y),
}


@pytest.fixture(scope="module")
def model():
    X, y = make_data(n=20)
    clf = ClinicalAttentionClassifier(**TINY).fit(X, y)
    return clf, X, y, clf.predict_proba(X)


def check_outcome(action, n_expected):
    try:
        proba = action()
    except (ValueError, TypeError) as exc:
        message = str(exc)
        assert any(word in message for word in ARGUMENT_WORDS), message
        assert "Traceback" not in message
        return "error"
    assert proba.shape == (n_expected, 2)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    return "result"


@pytest.mark.parametrize("case", sorted(PREDICT_CASES))
@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_bad_predict_input(model, case, n, seed):
    clf, X, _, before = model
    rng = np.random.RandomState(seed)
    bad = PREDICT_CASES[case](X, rng, n)
    expected_rows = len(bad.images) if isinstance(bad, FusionInput) else len(bad[0])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X.clinical has no column names")
        outcome = check_outcome(lambda: clf.predict_proba(bad), expected_rows)
    TRIED[f"{case}:{outcome}"] += 1
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def _cut(images, rng):
    axis = rng.randint(0, images.dim())
    return images.narrow(axis, 0, images.shape[axis] - 1)


def _not_weights(rng, tmp):
    path = tmp / f"w{rng.randint(10**6)}{rng.choice(['.pt', '.pth', '.safetensors'])}"
    path.write_bytes(rng.bytes(rng.randint(0, 64)))
    return {"image_weights": str(path)}


#: Training settings a user can get wrong, drawn per seed: (rng, tmp folder) -> parameters.
SETTING_CASES = {
    "setting_augment_wrong_shape": lambda rng, tmp: {
        "augment": lambda images, generator, masks=None: _cut(images, rng)
    },
    "setting_augment_nan": lambda rng, tmp: {
        "augment": lambda images, generator, masks=None: (
            images * float(rng.choice([np.nan, np.inf, -np.inf]))
        )
    },
    "setting_augment_integers": lambda rng, tmp: {
        "augment": lambda images, generator, masks=None: images.to(
            rng.choice([__import__("torch").int32, __import__("torch").uint8])
        )
    },
    "setting_augment_array": lambda rng, tmp: {
        "augment": lambda images, generator, masks=None: images.numpy()
    },
    "setting_augment_policy": lambda rng, tmp: {
        "augment": {
            "degrees": rng.uniform(181, 1e9),
            "scale": rng.uniform(1, 1e3),
            "shift": rng.uniform(1, 1e3),
            "gain": rng.uniform(1, 1e3),
            "flip": rng.uniform(1.001, 1e3),
            "blur": 1.0,
        }
    },
    "setting_image_weights_missing": lambda rng, tmp: {
        "image_weights": str(tmp / f"absent{rng.randint(10**6)}.pt")
    },
    "setting_image_weights_not_weights": _not_weights,
    "setting_freeze_alone": lambda rng, tmp: {"freeze": rng.choice(["stem", "encoder", 2])},
    "setting_freeze_bool": lambda rng, tmp: {
        "freeze": bool(rng.randint(2)),
        "image_weights": str(tmp / "w.pt"),
    },
}
SETTING_WORDS = ("augment", "image_weights", "freeze")


@pytest.mark.parametrize("case", sorted(SETTING_CASES))
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**16))
def test_bad_training_settings_keep_the_fitted_model(model, case, seed, tmp_path_factory):
    clf, X, y, before = model
    rng = np.random.RandomState(seed)
    params = SETTING_CASES[case](rng, tmp_path_factory.mktemp("settings"))
    if case == "setting_augment_policy":  # one key out of range at a time, or an unknown key
        key = rng.choice(sorted(params["augment"]))
        params = {"augment": {key: params["augment"][key]}}
    trial = clone(clf).set_params(**params)
    with pytest.raises((ValueError, TypeError, FileNotFoundError)) as info:
        trial.fit(X, y)
    assert any(word in str(info.value) for word in SETTING_WORDS), info.value
    assert not hasattr(trial, "net_")
    TRIED[f"{case}:error"] += 1
    np.testing.assert_array_equal(clf.predict_proba(X), before)


@pytest.mark.parametrize("case", sorted(FIT_CASES))
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**16))
def test_bad_fit_input_keeps_the_fitted_model(model, case, seed):
    clf, X, y, before = model
    bad_X, bad_y = FIT_CASES[case](X, y, np.random.RandomState(seed))
    fresh = clone(clf)
    with pytest.raises((ValueError, TypeError)) as info:
        clf.fit(bad_X, bad_y)
    assert any(word in str(info.value) for word in ARGUMENT_WORDS)
    with pytest.raises((ValueError, TypeError)):
        fresh.fit(bad_X, bad_y)
    assert not hasattr(fresh, "net_")
    TRIED[f"{case}:error"] += 1
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_unseen_label_with_warm_start(model):
    _, X, y, _ = model
    clf = ClinicalAttentionClassifier(**TINY, warm_start=True).fit(X, y)
    before = clf.predict_proba(X)
    with pytest.raises(ValueError, match="label"):
        clf.fit(X, np.where(y == "AD", "MCI", y))
    TRIED["fit_unseen_label_warm:error"] += 1
    np.testing.assert_array_equal(clf.predict_proba(X), before)


def test_unseen_category_through_a_pipeline():
    X, y = make_data(n=20)
    clinical = X.clinical.assign(sex=np.where(np.arange(20) % 2, "F", "M"))
    strict = make_pipeline(
        ClinicalTransformer(
            make_column_transformer((OneHotEncoder(), ["sex"]), remainder=StandardScaler())
        ),
        ClinicalAttentionClassifier(**TINY),
    ).fit(FusionInput(X.images, clinical), y)
    unseen = FusionInput(X.images, clinical.assign(sex="X"))
    with pytest.raises(ValueError, match="unknown categor"):
        strict.predict(unseen)
    lenient = make_pipeline(
        ClinicalTransformer(
            make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), ["sex"]), remainder=StandardScaler()
            )
        ),
        ClinicalAttentionClassifier(**TINY),
    ).fit(FusionInput(X.images, clinical), y)
    assert np.isfinite(lenient.predict_proba(unseen)).all()
    TRIED["unseen_category:error"] += 1
    TRIED["unseen_category:result"] += 1


def test_every_listed_case_was_tried():
    """Run last in this module: the property tests must have drawn every case."""
    tried = {key.split(":")[0] for key in TRIED}
    missing = (set(PREDICT_CASES) | set(FIT_CASES) | set(SETTING_CASES)) - tried
    assert not missing, f"cases never run: {sorted(missing)}"
