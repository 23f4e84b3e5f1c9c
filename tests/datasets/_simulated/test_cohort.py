import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold

from skfusion import FusionInput
from skfusion.datasets import make_brain_cohort
from skfusion.datasets._simulated.cohort import GROUP_STATISTICS


@pytest.fixture(scope="module")
def cohort():
    return make_brain_cohort(
        40, n_slices=3, image_size=32, return_masks=True, random_state=0, unit="slice"
    )


def test_shapes_and_types(cohort):
    assert isinstance(cohort.X, FusionInput)
    assert cohort.X.images.shape == (120, 32, 32) and cohort.X.images.dtype == np.float32
    assert cohort.X.clinical.shape == (120, len(cohort.feature_names))
    assert list(cohort.X.clinical.columns) == cohort.feature_names
    assert cohort.masks.shape == (120, 32, 32) and cohort.masks.dtype == bool
    assert cohort.frame.shape[0] == 40
    assert {"subject_id", "diagnosis", "mmse", "cdr_sb"} <= set(cohort.frame.columns)
    assert "simulated" in cohort.DESCR.lower() and "MNI152" in cohort.DESCR
    assert set(cohort.slice_index) == {-23, -22, -21}


def test_slices_of_a_subject_share_label_clinical_row_and_group(cohort):
    for subject in np.unique(cohort.groups):
        rows = np.flatnonzero(cohort.groups == subject)
        assert len(rows) == 3 and np.all(np.diff(rows) == 1)
        assert len(set(cohort.y[rows])) == 1
        assert len(cohort.X.clinical.iloc[rows].drop_duplicates()) == 1
    for train, test in GroupKFold(4).split(cohort.X, cohort.y, cohort.groups):
        assert not set(cohort.groups[train]) & set(cohort.groups[test])


def test_reproducible_and_seed_dependent():
    a = make_brain_cohort(4, n_slices=2, image_size=24, random_state=1, unit="slice")
    b = make_brain_cohort(4, n_slices=2, image_size=24, random_state=1, unit="slice")
    c = make_brain_cohort(4, n_slices=2, image_size=24, random_state=2, unit="slice")
    np.testing.assert_array_equal(a.X.images, b.X.images)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert not np.array_equal(a.X.images, c.X.images)


@pytest.mark.parametrize(
    "task, labels",
    [
        ("ad_vs_nc", {"AD", "NC"}),
        ("mci_conversion", {"sMCI", "pMCI"}),
        ("nc_mci_ad", {"NC", "MCI", "AD"}),
    ],
)
def test_tasks_balance_their_groups(task, labels):
    data = make_brain_cohort(9, task=task, n_slices=1, image_size=16, random_state=0, unit="slice")
    counts = pd.Series(data.frame["diagnosis"]).value_counts()
    assert set(counts.index) == labels
    assert counts.max() - counts.min() <= 1


def test_group_distributions_follow_the_calibration():
    frame = make_brain_cohort(400, n_slices=1, image_size=16, random_state=0, unit="slice").frame
    for group in ("NC", "AD"):
        part = frame[frame["diagnosis"] == group]
        stats = GROUP_STATISTICS[group]
        for column, key in [
            ("mmse", "mmse"),
            ("csf_abeta42", "abeta42"),
            ("csf_total_tau", "total_tau"),
            ("plasma_nfl", "nfl"),
        ]:
            mean, sd = stats[key]
            assert abs(part[column].mean() - mean) < 0.35 * sd, (group, column)
        carriers = (part["apoe4_count"] > 0).mean()
        assert abs(carriers - stats["apoe4_carrier"]) < 0.12
    nc, ad = (frame[frame["diagnosis"] == g] for g in ("NC", "AD"))
    assert ad["csf_abeta42"].mean() < nc["csf_abeta42"].mean()
    assert ad["plasma_nfl"].mean() > nc["plasma_nfl"].mean()
    men, women = frame[frame["sex"] == "M"], frame[frame["sex"] == "F"]
    assert men["etiv"].mean() - women["etiv"].mean() > 150


def test_images_show_atrophy_and_head_size(cohort):
    """Hippocampal regions are darker in AD (tissue lost to CSF); bigger heads fill more."""
    data = make_brain_cohort(
        60, n_slices=2, image_size=32, return_masks=True, random_state=3, unit="slice"
    )
    region = [data.X.images[i][data.masks[i]].mean() for i in range(len(data.y))]
    region = pd.Series(region).groupby(data.y).mean()
    assert region["AD"] < region["NC"]
    brain_area = (data.X.images > 0.25).mean(axis=(1, 2))
    etiv = data.X.clinical["etiv"].to_numpy()
    assert np.corrcoef(brain_area, etiv)[0, 1] > 0.3


def test_nfl_tracks_the_images_and_csf_does_not():
    """Within diagnostic groups, NfL follows hippocampal atrophy; CSF values do not."""
    data = make_brain_cohort(
        600, n_slices=1, image_size=32, return_masks=True, random_state=1, unit="slice"
    )
    frame = data.frame.copy()
    frame["region"] = [data.X.images[i][data.masks[i]].mean() for i in range(len(frame))]
    columns = ["region", "plasma_nfl", "csf_total_tau", "csf_abeta42"]
    within = frame.groupby("diagnosis")[columns].transform(lambda s: (s - s.mean()) / s.std())
    correlation = within.corr().loc["region"]
    assert correlation["plasma_nfl"] < -0.2  # more atrophy: darker region, higher NfL
    assert abs(correlation["csf_total_tau"]) < 0.1
    assert abs(correlation["csf_abeta42"]) < 0.1


def test_cognitive_scores_stay_out_of_X_by_default():
    default = make_brain_cohort(4, n_slices=1, image_size=16, random_state=0, unit="slice")
    included = make_brain_cohort(
        4, n_slices=1, image_size=16, include_cognitive=True, random_state=0, unit="slice"
    )
    assert "mmse" not in default.feature_names
    assert {"mmse", "cdr_sb"} <= set(included.feature_names)


def test_missing_values_and_noise_features():
    data = make_brain_cohort(
        50,
        n_slices=1,
        image_size=16,
        missing_rate=0.3,
        n_noise_features=2,
        random_state=0,
        unit="slice",
    )
    clinical = data.X.clinical
    assert [c for c in clinical if c.startswith("lab_")] == ["lab_0", "lab_1"]
    assert 0.15 < clinical["csf_abeta42"].isna().mean() < 0.45
    assert clinical["age"].notna().all()


def test_invalid_arguments():
    with pytest.raises(ValueError, match="'task' parameter"):
        make_brain_cohort(4, task="ad_vs_mci", unit="slice")
    with pytest.raises(ValueError, match="'n_subjects' parameter"):
        make_brain_cohort(1, unit="slice")


def test_generator_output_is_pinned():
    """Any change to how subjects are simulated shows up here (and in the documented
    tables, which then need re-running). Regenerate the numbers only on purpose."""
    cohort = make_brain_cohort(2, n_slices=1, image_size=32, random_state=0, unit="slice")
    assert float(cohort.X.images.astype(np.float64).sum()) == pytest.approx(
        949.369572855474, rel=1e-5
    )
    np.testing.assert_allclose(
        cohort.X.images[0, 16, :4], [0.0375518, 0.38239, 0.7674702, 0.85175496], rtol=1e-4
    )


def test_the_latent_score_is_in_the_frame_and_never_in_X():
    """frame["neurodegeneration"]: the simulation's ground truth, for measuring how much of
    the image signal a model recovers; the images show it, X does not hold it."""
    cohort = make_brain_cohort(60, n_slices=2, image_size=32, random_state=0, return_masks=True)
    latent = cohort.frame["neurodegeneration"].to_numpy()
    assert "neurodegeneration" not in cohort.X.clinical.columns
    assert np.isfinite(latent).all() and latent.std() > 0
    ad = cohort.frame["diagnosis"].to_numpy() == "AD"
    assert latent[ad].mean() > latent[~ad].mean() + 0.5
    # more atrophy, less grey matter: darker hippocampal regions (measured: r = -0.67)
    region = [cohort.X.images[i][cohort.masks[i]].mean() for i in range(60)]
    assert np.corrcoef(latent, region)[0, 1] < -0.4
