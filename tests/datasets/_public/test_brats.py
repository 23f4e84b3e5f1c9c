"""BraTS's own layout: case folders of four co-registered sequences and a segmentation, and
the survival table of 2019/2020 (with its "ALIVE (N days later)" entries). The replica is
written here with BraTS's file names, on a tiny grid."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from skfusion.datasets import load_brats, load_nifti_volumes

SEQUENCES_2020 = ("t1", "t1ce", "t2", "flair")
SEQUENCES_2023 = ("t1n", "t1c", "t2w", "t2f")


def _case(folder, name, suffixes, separator="_", seed=0, skip=()):
    rng = np.random.default_rng(seed)
    case = folder / name
    case.mkdir(parents=True)
    for k, suffix in enumerate(suffixes):
        if suffix in skip:
            continue
        data = rng.normal(100 * (k + 1), 10, size=(6, 5, 4)).astype(np.float32)
        nib.save(nib.Nifti1Image(data, np.eye(4)), case / f"{name}{separator}{suffix}.nii.gz")
    if "seg" not in skip:
        seg = np.zeros((6, 5, 4), np.float32)
        seg[2:4, 1:3, 1:3] = [[[1, 2], [4, 4]], [[2, 2], [1, 4]]]
        nib.save(nib.Nifti1Image(seg, np.eye(4)), case / f"{name}{separator}seg.nii.gz")


@pytest.fixture
def brats2020(tmp_path):
    names = [f"BraTS20_Training_{i:03d}" for i in range(1, 5)]
    for i, name in enumerate(names):
        _case(tmp_path, name, SEQUENCES_2020, seed=i)
    pd.DataFrame(
        {
            "Brats20ID": names[:3] + ["BraTS20_Training_099"],
            "Age": [60.5, 52.0, 71.3, 40.0],
            "Survival_days": ["289", "ALIVE (361 days later)", "150", "77"],
            "Extent_of_Resection": ["GTR", np.nan, "STR", "GTR"],
        }
    ).to_csv(tmp_path / "survival_info.csv", index=False)
    return tmp_path, names


def test_the_2020_layout_with_its_survival_table(brats2020):
    folder, names = brats2020
    X, y, groups = load_brats(folder)
    assert list(groups) == names[:3]  # the cases of the table that have a folder
    assert X.images.shape == (3, 4, 5, 4, 6) and X.channel_names == SEQUENCES_2020
    assert y["event"].tolist() == [True, False, True]  # ALIVE: censored
    assert y["time"].tolist() == [289.0, 361.0, 150.0]
    assert X.clinical["Age"].tolist() == [60.5, 52.0, 71.3]
    assert X.clinical["Extent_of_Resection"].isna().tolist() == [False, True, False]
    flair = load_nifti_volumes(
        [folder / n / f"{n}_flair.nii.gz" for n in names[:3]], normalize="zscore"
    )
    assert np.allclose(X.images[:, 3], flair)  # channel 3 is FLAIR, z-scored
    assert X.masks.shape == (3, 5, 4, 6) and X.masks.sum() == 3 * 8  # the whole tumour
    everyone, no_y, ids = load_brats(folder, survival_table=None, segmentation=False)
    assert no_y is None and everyone.clinical is None and len(ids) == 4
    assert everyone.masks is None


def test_the_2023_naming_is_detected(tmp_path):
    for i in range(2):
        _case(tmp_path, f"BraTS-GLI-0000{i}-000", SEQUENCES_2023, separator="-", seed=i)
    X, y, groups = load_brats(tmp_path, size=3)
    assert X.channel_names == SEQUENCES_2023 and y is None
    assert X.images.shape == (2, 4, 5, 3, 3) and X.masks.shape == (2, 5, 3, 3)


def test_incomplete_cases_are_refused_or_dropped(brats2020):
    folder, names = brats2020
    (folder / names[1] / f"{names[1]}_t1ce.nii.gz").unlink()
    with pytest.raises(
        FileNotFoundError,
        match=r"1 of 3 cases lack files "
        r"\(BraTS20_Training_002: t1ce\)",
    ):
        load_brats(folder)
    with pytest.warns(UserWarning, match="left out 1 cases"):
        X, y, groups = load_brats(folder, missing="drop")
    assert list(groups) == [names[0], names[2]] and len(y) == 2


def test_bad_arguments_and_layouts_are_refused(tmp_path, brats2020):
    folder, _ = brats2020
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_brats(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="missing='allow': expected 'raise' or 'drop'"):
        load_brats(folder, missing="allow")
    with pytest.raises(ValueError, match="sequences='t1': expected 'auto' or a list"):
        load_brats(folder, sequences="t1")
    table = pd.DataFrame({"ID": ["x"], "Age": [1]})
    with pytest.raises(ValueError, match=r"needs an id column \(Brats20ID, BraTS19ID\)"):
        load_brats(folder, survival_table=table)
    other = tmp_path / "other"
    (other / "case1").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds BraTS's sequence files"):
        load_brats(other)
    unlisted = pd.DataFrame({"Brats20ID": ["BraTS20_Training_777"], "Survival_days": [5]})
    with pytest.raises(ValueError, match="no case folder .* is in the survival table"):
        load_brats(folder, survival_table=unlisted)
