"""ADNI's own layout: ADNIMERGE.csv joined per visit to a download tree or a NIfTI folder.

The replicas are written here (``write_adni_replica`` for the download tree, hand-written
tables for the labelling rules), with ADNI's column names, PTID and VISCODE formats and
folder structure, and the awkward parts: a screening row instead of a baseline one, a
repeated visit, a missing scan, a CSF value written as a bound, two series on one day.
"""

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold, cross_validate

from skfusion import ClinicalAttentionClassifier
from skfusion.datasets import adni_table, load_adni, load_nifti_slices, write_adni_replica
from skfusion.datasets._public.adni import DEFAULT_COLUMNS
from skfusion.datasets._public.adni_replica import DESCRIPTION

from ...conftest import TINY


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    return write_adni_replica(tmp_path_factory.mktemp("adni"), n_subjects=12, image_size=16)


def _table(replica, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the replica's repeated visit
        return adni_table(replica / "ADNIMERGE.csv", replica / "ADNI", **kwargs)


def test_baseline_join_of_the_download_tree(replica):
    merge = pd.read_csv(replica / "ADNIMERGE.csv", dtype={"PTID": str})
    with pytest.warns(UserWarning, match="repeats 1 visit"):
        table = adni_table(replica / "ADNIMERGE.csv", replica / "ADNI")
    cn_or_ad = merge.loc[merge["DX_bl"].isin(["CN", "AD"]), "PTID"].unique()
    assert sorted(table["PTID"]) == sorted(cn_or_ad)  # one row per participant
    assert set(table["label"]) == {"CN", "Dementia"}
    first = table.set_index("PTID").loc["002_S_0001"]
    assert first["VISCODE"] == "sc"  # no "bl" row: taken at screening
    assert list(table.columns[6:]) == list(DEFAULT_COLUMNS)
    everyone = _table(replica, task="diagnosis").set_index("PTID")
    assert not np.isnan(everyone.loc["011_S_0002", "ABETA"])  # the fuller repeated row
    assert everyone.loc["011_S_0006", "ABETA"] == 1700.0  # ">1700" read as its bound
    for _, row in table.iterrows():  # each visit's own scan, dated within max_days
        assert f"/{row['PTID']}/" in row["image"] and row["image"].endswith(".nii.gz")
        scanned = pd.Timestamp(row["image"].split("/")[-3][:10])
        assert 0 <= (row["EXAMDATE"] - scanned).days <= 90


def test_two_series_on_one_day_and_the_description_filter(replica):
    mci = _table(replica, task="diagnosis").set_index("PTID").loc["941_S_0004"]
    assert mci["image_description"] == "MPR-R__GradWarp__B1_Correction__N3__Scaled"
    chosen = _table(replica, task="diagnosis", description="MPR__GradWarp")
    assert set(chosen["image_description"].dropna()) == {DESCRIPTION}


def test_a_missing_scan_is_refused_listed_dropped_or_marked(replica):
    with pytest.raises(FileNotFoundError, match=r"1 of 12 visits have no scan .*023_S_0003 bl"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            load_adni(replica / "ADNIMERGE.csv", replica / "ADNI", task="diagnosis")
    with pytest.warns(UserWarning, match="left out 1 visits without a scan"):
        X, y, groups = load_adni(
            replica / "ADNIMERGE.csv", replica / "ADNI", task="diagnosis", missing="drop"
        )
    assert len(y) == 11 and "023_S_0003" not in groups
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        X, y, groups = load_adni(
            replica / "ADNIMERGE.csv", replica / "ADNI", task="diagnosis", missing="allow", slices=2
        )
    assert X.images.shape == (12, 2, 16, 16) and X.layout == "slices"
    assert X.present["images"].sum() == 11 and groups[~X.present["images"]] == ["023_S_0003"]
    assert list(X.clinical.columns) == list(DEFAULT_COLUMNS)
    assert np.array_equal(X.subjects, groups) and set(y) == {"CN", "MCI", "Dementia"}


def test_images_match_the_files_and_max_days(replica):
    table = _table(replica)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        X, y, groups = load_adni(replica / "ADNIMERGE.csv", replica / "ADNI", normalize=None)
    direct, _ = load_nifti_slices([table["image"][3]], slices=1, normalize=None)
    assert X.images.shape[0] == len(table) and list(groups) == list(table["PTID"])
    assert np.array_equal(X.images[3], direct[0])
    strict = _table(replica, max_days=0)
    assert strict["image"].isna().sum() > 0  # scans a few days before the visit


def _flat(tmp_path, rows, scans):
    merge = pd.DataFrame(
        rows, columns=["PTID", "VISCODE", "EXAMDATE", "DX", "AGE", "Years_bl", "PTGENDER"]
    )
    for name in scans:
        nib.save(
            nib.Nifti1Image(np.zeros((4, 3, 4), np.float32), np.eye(4)), tmp_path / f"{name}.nii.gz"
        )
    return merge


def test_mci_conversion_counts_visit_months(tmp_path):
    rows = [
        ("1", "bl", "2010-01-01", "MCI", 70, 0, "Male"),
        ("1", "m24", "2012-01-01", "Dementia", 70, 2, "Male"),  # converts within 3y
        ("2", "bl", "2010-01-01", "MCI", 71, 0, "Female"),
        ("2", "m36", "2012-12-20", "MCI", 71, 2.97, "Female"),  # stable for 36 months
        ("3", "bl", "2010-01-01", "MCI", 72, 0, "Male"),
        ("3", "m12", "2011-01-01", "MCI", 72, 1, "Male"),  # followed too briefly
        ("4", "bl", "2010-01-01", "MCI", 73, 0, "Male"),
        ("4", "m48", "2014-01-01", "Dementia", 73, 4, "Male"),  # after the horizon
        ("5", "bl", "2010-01-01", "CN", 74, 0, "Female"),
    ]
    merge = _flat(tmp_path, rows, ["1_bl", "2", "3_bl", "4_bl", "5_bl", "1_m24"])
    table = adni_table(merge, tmp_path, task="mci_conversion", columns=["AGE"])
    assert dict(zip(table["PTID"], table["label"])) == {"1": "pMCI", "2": "sMCI", "4": "sMCI"}
    assert table.set_index("PTID").loc["2", "image"].endswith("/2.nii.gz")  # <PTID>.nii.gz
    shorter = adni_table(merge, tmp_path, task="mci_conversion", years=1, columns=["AGE"])
    assert dict(zip(shorter["PTID"], shorter["label"])) == {
        "1": "sMCI",
        "2": "sMCI",
        "3": "sMCI",
        "4": "sMCI",
    }
    every = adni_table(merge, tmp_path, task="diagnosis", visits="all", columns=["AGE"])
    assert every.set_index(["PTID", "VISCODE"]).loc[("4", "m48"), "AGE"] == 77  # at the visit
    assert every["image"].notna().sum() == 6  # m24 of "1" has its <PTID>_<VISCODE> file
    picked = adni_table(merge, tmp_path, task="diagnosis", visits=["m24"], columns=["AGE"])
    assert list(picked["PTID"]) == ["1"] and picked["label"][0] == "Dementia"


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"task": "ad_vs_nc"}, ValueError, r"task='ad_vs_nc': expected one of"),
        ({"visits": "first"}, ValueError, r"visits='first': expected 'baseline', 'all'"),
        ({"visits": []}, ValueError, r"visits=\[\]"),
        ({"years": 0}, ValueError, r"years=0: expected a positive number"),
        ({"columns": ["AGE", "WEIGHT"]}, ValueError, r"columns \['WEIGHT'\] are not in adnimerge"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, error, match):
    merge = _flat(tmp_path, [("1", "bl", "2010-01-01", "CN", 70, 0, "Male")], ["1_bl"])
    with pytest.raises(error, match=match):
        adni_table(merge, tmp_path, **kwargs)


def test_bad_files_are_refused(tmp_path):
    merge = _flat(tmp_path, [("1", "bl", "2010-01-01", "MCI", 70, 0, "Male")], ["1_bl"])
    with pytest.raises(FileNotFoundError, match="ADNIMERGE.csv from your ADNI download"):
        adni_table(tmp_path / "nothing.csv", tmp_path)
    with pytest.raises(ValueError, match=r"no column\(s\) \['DX'\]"):
        adni_table(merge.drop(columns="DX"), tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        adni_table(merge, tmp_path / "absent", task="diagnosis", columns=["AGE"])
    with pytest.raises(ValueError, match="no visit of adnimerge has a label"):
        adni_table(merge, tmp_path, columns=["AGE"])  # MCI only, task ad_vs_cn
    with pytest.raises(ValueError, match="missing='sometimes': expected"):
        load_adni(merge, tmp_path, missing="sometimes", columns=["AGE"])


def test_from_the_replica_to_cross_validate(replica):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        X, y, groups = load_adni(
            replica / "ADNIMERGE.csv", replica / "ADNI", task="diagnosis", missing="allow", size=16
        )
        scores = cross_validate(
            ClinicalAttentionClassifier(mode="concat", **TINY),
            X,
            y,
            groups=groups,
            cv=GroupKFold(2),
            scoring="accuracy",
        )
    assert np.all(np.isfinite(scores["test_score"]))
