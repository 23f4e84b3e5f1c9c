"""OASIS-1 as nilearn's fetch_oasis_vbm leaves it: tissue maps per subject folder and
oasis_cross-sectional.csv with OASIS's columns (young adults without a CDR, a partial
fetch). The replica is written here on a tiny grid."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from skfusion.datasets import load_nifti_volumes, load_oasis


@pytest.fixture
def oasis(tmp_path):
    ids = [f"OAS1_{s:04d}_MR1" for s in (1, 2, 3, 4, 5, 6)]
    pd.DataFrame(
        {
            "ID": ids,
            "M/F": ["F", "M", "F", "M", "F", "M"],
            "Hand": ["R"] * 6,
            "Age": [74, 55, 73, 28, 82, 68],
            "Educ": [2, 4, 4, np.nan, 2, 3],
            "SES": [3, 1, 3, np.nan, 4, 2],
            "MMSE": [29, 29, 27, np.nan, 20, 30],
            "CDR": [0, 0, 0.5, np.nan, 1, 0],
            "eTIV": [1344, 1147, 1454, 1588, 1300, 1500],
            "nWBV": [0.743, 0.81, 0.708, 0.803, 0.7, 0.75],
            "ASF": [1.306, 1.531, 1.207, 1.105, 1.3, 1.2],
            "Delay": [np.nan] * 6,
        }
    ).to_csv(tmp_path / "oasis_cross-sectional.csv", index=False)
    rng = np.random.default_rng(0)
    for subject in ids[:5]:  # the sixth was not fetched
        (tmp_path / subject).mkdir()
        for prefix in ("mwrc1", "mwrc2"):
            nib.save(
                nib.Nifti1Image(rng.random((5, 6, 4)).astype(np.float32), np.eye(4)),
                tmp_path / subject / f"{prefix}{subject}_mpr_anon_fslswapdim_bet.nii.gz",
            )
    return tmp_path, ids


def test_rated_subjects_with_their_grey_matter_maps(oasis):
    folder, ids = oasis
    with pytest.raises(
        FileNotFoundError,
        match=r"1 of 5 rated subjects have no gm map .*"
        r"OAS1_0006_MR1.*missing='drop'",
    ):
        load_oasis(folder)
    with pytest.warns(UserWarning, match="left out 1 rated subjects"):
        X, y, groups = load_oasis(folder, missing="drop")
    assert list(groups) == [ids[0], ids[1], ids[2], ids[4]]  # 0004 (age 28) has no CDR
    assert list(y) == ["nondemented", "nondemented", "demented", "demented"]
    assert list(X.clinical.columns) == ["M/F", "Age", "Educ", "SES", "eTIV"]
    paths = [folder / s / f"mwrc1{s}_mpr_anon_fslswapdim_bet.nii.gz" for s in groups]
    assert np.array_equal(X.images, load_nifti_volumes(paths))
    assert X.channel_names is None


def test_both_tissues_as_named_channels_and_the_cdr_task(oasis):
    folder, _ = oasis
    with pytest.warns(UserWarning):
        X, y, _ = load_oasis(
            folder, tissue="both", task="cdr", missing="drop", columns=["Age", "nWBV"]
        )
    assert X.images.shape == (4, 2, 6, 4, 5) and X.channel_names == ("gm", "wm")
    assert y.tolist() == [0.0, 0.0, 0.5, 1.0] and list(X.clinical.columns) == ["Age", "nWBV"]


def test_bad_arguments_and_layouts_are_refused(oasis, tmp_path_factory):
    folder, _ = oasis
    with pytest.raises(ValueError, match="task='ad_vs_nc': expected one of"):
        load_oasis(folder, task="ad_vs_nc")
    with pytest.raises(ValueError, match="tissue='csf'"):
        load_oasis(folder, tissue="csf")
    with pytest.raises(ValueError, match="missing='allow'"):
        load_oasis(folder, missing="allow")
    with pytest.raises(ValueError, match=r"no column\(s\) \['Weight'\]"):
        load_oasis(folder, columns=["Age", "Weight"])
    with pytest.raises(FileNotFoundError, match="fetch_oasis_vbm fills"):
        load_oasis(tmp_path_factory.mktemp("empty"))
