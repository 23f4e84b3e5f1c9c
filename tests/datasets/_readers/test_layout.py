import os
import pickle

import nibabel.testing
import numpy as np
import pandas as pd
import pytest

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion.datasets import NiftiSlices, load_cohort, load_nifti_slices, make_brain_cohort

from ...conftest import TINY


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    cohort = make_brain_cohort(
        6,
        n_slices=3,
        image_size=24,
        missing_rate=0.2,
        output_dir=folder,
        random_state=0,
        unit="slice",
    )
    return cohort, folder


def test_layout_on_disk(written):
    cohort, folder = written
    assert cohort.path == folder
    table = pd.read_csv(folder / "participants.tsv", sep="\t")
    assert list(table.columns[:2]) == ["participant_id", "diagnosis"]
    assert len(table) == 6
    assert (folder / "sub-001" / "anat" / "sub-001_T1w.nii.gz").exists()
    assert "n/a" in (folder / "participants.tsv").read_text()


def test_round_trip_is_exact(written):
    cohort, folder = written
    X, y, groups = load_cohort(folder)
    np.testing.assert_array_equal(X.images, cohort.X.images)
    np.testing.assert_array_equal(y, cohort.y)
    np.testing.assert_array_equal(groups, cohort.groups)
    pd.testing.assert_frame_equal(X.clinical, cohort.X.clinical, check_dtype=False)


def test_lazy_form_reads_the_same_pixels(written):
    cohort, folder = written
    X, _, _ = load_cohort(folder, lazy=True)
    assert isinstance(X.images, NiftiSlices)
    assert X.images.shape == (18, 1, 24, 24)
    np.testing.assert_array_equal(np.asarray(X.images)[:, 0], cohort.X.images)
    part = X[[4, 0]]
    assert isinstance(part.images, NiftiSlices)
    np.testing.assert_array_equal(np.asarray(part.images)[:, 0], cohort.X.images[[4, 0]])
    restored = pickle.loads(pickle.dumps(X.images))
    np.testing.assert_array_equal(restored.read(5), X.images.read(5))


@pytest.mark.parametrize(
    "extra",
    [{}, {"iterator_train__num_workers": 2, "early_stopping": True, "validation_fraction": 0.3}],
)
def test_lazy_and_eager_training_give_the_same_model(written, extra):
    _, folder = written
    eager, y, _ = load_cohort(folder)
    lazy, _, _ = load_cohort(folder, lazy=True)

    def numeric(X):
        return FusionInput(X.images, X.clinical.drop(columns="sex").fillna(0))

    params = {**TINY, "batch_size": 4, "max_epochs": 3, **extra}
    a = ClinicalAttentionClassifier(**params).fit(numeric(eager), y)
    b = ClinicalAttentionClassifier(**params).fit(numeric(lazy), y)
    np.testing.assert_array_equal(a.predict_proba(numeric(eager)), b.predict_proba(numeric(lazy)))
    np.testing.assert_array_equal(b.predict_proba(numeric(eager)), b.predict_proba(numeric(lazy)))


def test_lazy_nifti_slices_of_real_files():
    path = os.path.join(nibabel.testing.data_path, "anatomical.nii")
    eager, meta_eager = load_nifti_slices(path, slices=4, size=16, normalize="zscore")
    lazy, meta_lazy = load_nifti_slices(path, slices=4, size=16, normalize="zscore", lazy=True)
    np.testing.assert_array_equal(np.asarray(lazy)[:, 0], eager)
    pd.testing.assert_frame_equal(meta_eager, meta_lazy)


def test_load_cohort_errors_name_the_problem(tmp_path, written):
    _, folder = written
    with pytest.raises(FileNotFoundError, match="participants.tsv"):
        load_cohort(tmp_path)
    with pytest.raises(ValueError, match=r"no column\(s\) \['outcome'\]"):
        load_cohort(folder, target="outcome")
    (tmp_path / "participants.tsv").write_text("participant_id\tdiagnosis\nsub-9\tAD\n")
    with pytest.raises(FileNotFoundError, match="no image for participant 'sub-9'"):
        load_cohort(tmp_path)


def test_participants_without_an_image_are_refused_or_kept_marked_missing(tmp_path, written):
    import shutil

    cohort, folder = written
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    shutil.rmtree(copy / "sub-002")
    with pytest.raises(FileNotFoundError, match=r"'sub-002'.*missing='allow'"):
        load_cohort(copy)
    for lazy in (False, True):
        X, y, groups = load_cohort(copy, missing="allow", lazy=lazy)
        # sub-002 is one row (the patient is the unit), its image marked missing.
        assert list(groups).count("sub-002") == 1
        assert len(X) == 5 * 3 + 1
        gone = ~X.present["images"]
        assert list(groups[gone]) == ["sub-002"]
        assert y[gone][0] == cohort.y[list(cohort.groups).index("sub-002")]
        kept = np.flatnonzero(~gone)
        np.testing.assert_array_equal(
            np.asarray(X.images)[kept].reshape(len(kept), 24, 24),
            cohort.X.images[cohort.groups != "sub-002"],
        )
    model = ClinicalAttentionClassifier(mode="concat", **{**TINY, "max_epochs": 1}).fit(X, y)
    assert model.modalities_used(X)["images"].sum() == 15


def _one_subject_cohort(tmp_path, written, rows, name="sub-001"):
    """A cohort folder holding only ``name``'s image, with the participants table ``rows``."""
    import shutil

    _, folder = written
    shutil.copytree(folder / "sub-001", tmp_path / name)
    if name != "sub-001":
        for path in (tmp_path / name / "anat").iterdir():
            path.rename(path.with_name(path.name.replace("sub-001", name)))
    (tmp_path / "participants.tsv").write_text(
        "participant_id\tdiagnosis\tage\n" + "".join(f"{r}\n" for r in rows)
    )
    return tmp_path


@pytest.mark.parametrize(
    "rows, match",
    [
        # A glob pattern as an id once matched sub-001's files and its row replaced sub-001's.
        (["sub-001\tAD\t80", "*\tNC\t60"], r"participant_id '\*'|no image for participant '\*'"),
        (["sub-001\tAD\t80", "sub-00[12]\tNC\t60"], "no image for participant 'sub-00\\[12\\]'"),
        (["sub-001\tAD\t80", "sub-001\tNC\t60"], r"must be unique.*'sub-001': 2"),
        (["sub-001\tAD\t80", "../outside\tNC\t60"], r"'../outside' \(row 3\) is not a folder"),
        (["sub-001\tAD\t80", "/etc\tNC\t60"], r"'/etc' \(row 3\) is not a folder"),
        (["sub-001\tAD\t80", "n/a\tNC\t60"], r"'' \(row 3\) is not a folder"),
    ],
)
def test_participant_ids_are_literal_unique_folder_names(tmp_path, written, rows, match):
    folder = _one_subject_cohort(tmp_path, written, rows)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        load_cohort(folder)
    # One literal row per subject loads that subject's own row.
    (folder / "participants.tsv").write_text("participant_id\tdiagnosis\tage\nsub-001\tAD\t80\n")
    X, y, groups = load_cohort(folder)
    assert set(y) == {"AD"} and set(X.clinical["age"]) == {80} and set(groups) == {"sub-001"}


def test_participant_ids_are_read_as_strings(tmp_path, written):
    folder = _one_subject_cohort(tmp_path, written, ["001\tAD\t80"], name="001")
    X, y, groups = load_cohort(folder)
    assert set(groups) == {"001"} and X.subjects[0] == "001"


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "is empty"),
        (b"\xff\xfe\x00\x01binary\x00\xff" * 20, "is not a readable tab-separated text table"),
    ],
)
def test_an_empty_or_binary_participants_table_is_named(tmp_path, content, match):
    (tmp_path / "participants.tsv").write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        load_cohort(tmp_path)
    assert "participants.tsv" in str(info.value)


def test_lazy_images_with_nan_are_reported(tmp_path):
    import nibabel as nib

    data = np.ones((4, 4, 4), np.float32)
    nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / "ok.nii")
    images = NiftiSlices([tmp_path / "ok.nii"] * 4, [0, 1, 2, 3])
    assert images.shape == (4, 1, 4, 4)
    with pytest.raises(ValueError, match="one file and one index per slice"):
        NiftiSlices([tmp_path / "ok.nii"], [0, 1])
