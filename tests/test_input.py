import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import _num_samples

from skfusion import FusionInput
from skfusion._input import as_fusion_input


@pytest.fixture
def X():
    images = np.arange(5 * 2 * 2, dtype=np.float32).reshape(5, 2, 2)
    clinical = pd.DataFrame({"a": np.arange(5.0), "b": list("vwxyz")}, index=[10, 3, 7, 1, 0])
    return FusionInput(images, clinical, text=[f"report {i}" for i in range(5)])


@pytest.mark.parametrize(
    "key, positions",
    [
        ([0, 2], [0, 2]),
        (np.array([4, 1]), [4, 1]),
        (slice(1, 3), [1, 2]),
        (np.array([True, False, True, False, True]), [0, 2, 4]),
        (np.array([], dtype=int), []),
        ([], []),
    ],
)
def test_indexing_slices_every_part_by_position(X, key, positions):
    part = X[key]
    assert isinstance(part, FusionInput)
    assert len(part) == len(positions)
    np.testing.assert_array_equal(part.images, X.images[positions])
    assert part.clinical["a"].tolist() == [float(p) for p in positions]
    assert part.text == [f"report {p}" for p in positions]


def test_sklearn_counts_and_slices_it(X):
    assert _num_samples(X) == 5
    part = _safe_indexing(X, [3, 0])
    assert part.clinical["a"].tolist() == [3.0, 0.0]
    train, test = train_test_split(X, test_size=2, random_state=0)
    assert len(train) == 3 and len(test) == 2
    y = np.array([0, 1, 0, 1, 0])
    for cv in (KFold(5), StratifiedKFold(2)):
        for train_idx, _ in cv.split(X, y):
            assert len(X[train_idx]) == len(train_idx)


def test_integer_and_column_indexing_are_refused_with_a_fix(X):
    with pytest.raises(IndexError, match=r"X\[\[1\]\]"):
        X[1]
    with pytest.raises(IndexError, match="indexed by sample only"):
        X[0, 1]
    with pytest.raises(IndexError, match="boolean mask"):
        X[np.array([True, False])]
    with pytest.raises(IndexError, match="integer positions"):
        X[np.array([0.5])]
    with pytest.raises(TypeError, match="not iterable"):
        list(X)


def test_lengths_must_agree():
    with pytest.raises(ValueError, match="images has 3, clinical has 2"):
        FusionInput(np.zeros((3, 4, 4)), np.zeros((2, 1)))
    with pytest.raises(ValueError, match="text has 1"):
        FusionInput(np.zeros((3, 4, 4)), np.zeros((3, 1)), text=["a"])


def test_optional_parts_and_repr(X):
    only_images = FusionInput(np.zeros((3, 4, 4)))
    assert only_images[[0]].clinical is None
    assert "images=ndarray of shape (5, 2, 2)" in repr(X)
    assert "text=list of length 5" in repr(X)


def test_pickles(X):
    clone = pickle.loads(pickle.dumps(X))
    np.testing.assert_array_equal(clone.images, X.images)
    pd.testing.assert_frame_equal(clone.clinical, X.clinical)


def test_as_fusion_input_accepts_tuples_and_refuses_the_rest():
    images, clinical = np.zeros((2, 3, 3)), np.zeros((2, 1))
    assert isinstance(as_fusion_input((images, clinical)), FusionInput)
    assert as_fusion_input((images, clinical, ["a", "b"])).text == ["a", "b"]
    with pytest.raises(TypeError, match="X must be a FusionInput or a tuple"):
        as_fusion_input(images)
    with pytest.raises(TypeError, match="tuple of length 1"):
        as_fusion_input((images,))
    with pytest.raises(TypeError, match="FusionInput or a tuple"):
        as_fusion_input([1.0, 2.0])
