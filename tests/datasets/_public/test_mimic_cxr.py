"""MIMIC-CXR-JPG's own layout: metadata, CheXpert labels and split tables joined by subject
and study to files/p10/p<subject>/s<study>/<dicom>.jpg, with MIMIC-CXR's reports and
MIMIC-IV's patients table. The replica is written here: lateral views, two frontal images in
one study, uncertain and unmentioned labels, a missing JPEG, a study without a report."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from skfusion.datasets import load_images, load_mimic_cxr

# (subject, study, dicom, view, date, Pneumonia)
IMAGES = [
    (10000032, 50414267, "02aa804e-bde0afdd", "PA", 21800506, 1.0),
    (10000032, 50414267, "174413ec-4ec4c1f7", "LATERAL", 21800506, 1.0),
    (10000032, 53189527, "2a2277a9-b0ded155", "AP", 21800626, 0.0),
    (10000032, 53189527, "0c0a45b5-ecf3fa0e", "PA", 21800626, 0.0),  # PA chosen over AP
    (10000764, 57375967, "096052b7-d256dc40", "AP", 21321015, -1.0),  # uncertain
    (10000898, 50771383, "5d1c13b1-9cea4fd3", "PA", 21240217, np.nan),  # not mentioned
    (11000011, 50000001, "abcdef01-23456789", "AP", 21790101, 1.0),
]


def _gz(frame, path):
    frame.to_csv(path, index=False, compression="gzip")


@pytest.fixture
def mimic(tmp_path):
    jpg, cxr, iv = tmp_path / "mimic-cxr-jpg", tmp_path / "mimic-cxr", tmp_path / "mimiciv"
    jpg.mkdir(), (iv / "hosp").mkdir(parents=True)
    rows = pd.DataFrame(
        IMAGES,
        columns=["subject_id", "study_id", "dicom_id", "ViewPosition", "StudyDate", "Pneumonia"],
    )
    _gz(rows.drop(columns="Pneumonia"), jpg / "mimic-cxr-2.0.0-metadata.csv.gz")
    labels = rows.drop_duplicates("study_id")[["subject_id", "study_id", "Pneumonia"]]
    _gz(labels.assign(Edema=0.0), jpg / "mimic-cxr-2.0.0-chexpert.csv.gz")
    _gz(
        rows[["dicom_id", "study_id", "subject_id"]].assign(
            split=["train", "train", "train", "train", "validate", "test", "train"]
        ),
        jpg / "mimic-cxr-2.0.0-split.csv.gz",
    )
    for k, (subject, study, dicom, *_rest) in enumerate(IMAGES[:-1]):  # the last JPEG absent
        where = jpg / "files" / f"p{str(subject)[:2]}" / f"p{subject}" / f"s{study}"
        where.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((20, 16), 10 * k, np.uint8)).save(where / f"{dicom}.jpg")
        if study != 53189527:  # one study without its report
            report = cxr / "files" / f"p{str(subject)[:2]}" / f"p{subject}" / f"s{study}.txt"
            report.parent.mkdir(parents=True, exist_ok=True)
            report.write_text(f"FINDINGS: study {study}.")
    _gz(
        pd.DataFrame(
            {
                "subject_id": [10000032, 10000764, 10000898, 11000011],
                "gender": ["F", "M", "F", "M"],
                "anchor_age": [52, 76, 80, 40],
                "anchor_year": [2180, 2132, 2124, 2179],
            }
        ),
        iv / "hosp" / "patients.csv.gz",
    )
    return jpg, cxr, iv


def test_one_frontal_image_per_study_with_labels_reports_and_age(mimic):
    jpg, cxr, iv = mimic
    with pytest.raises(
        FileNotFoundError,
        match=r"1 of 4 images are not on disk \(files/p11/"
        r"p11000011/s50000001/abcdef01-23456789.jpg",
    ):
        load_mimic_cxr(jpg)
    with pytest.warns(UserWarning, match="left out 1 images not on disk"):
        X, y, groups = load_mimic_cxr(
            jpg, reports=cxr, mimic_iv=iv, size=8, missing="drop", lazy=False
        )
    # the uncertain study left out; PA chosen in the two-frontal study; NaN is negative
    assert list(groups) == [10000032, 10000032, 10000898] and y.tolist() == [1, 0, 0]
    assert X.clinical["ViewPosition"].tolist() == ["PA", "PA", "PA"]
    assert X.clinical["age"].tolist() == [52, 52, 80]  # anchor_age + study year - anchor_year
    assert X.clinical["gender"].tolist() == ["F", "F", "F"]
    assert X.text[0] == "FINDINGS: study 50414267." and X.present["text"].tolist() == [
        True,
        False,
        True,
    ]
    chosen = jpg / "files/p10/p10000032/s53189527/0c0a45b5-ecf3fa0e.jpg"
    assert np.array_equal(X.images[1], load_images(chosen, size=8)[0])


def test_uncertain_mentions_views_split_and_every_image(mimic):
    jpg, _, _ = mimic
    kwargs = dict(size=8, missing="drop")
    with pytest.warns(UserWarning):
        ones = load_mimic_cxr(jpg, uncertain="positive", **kwargs)[1]
        zeros = load_mimic_cxr(jpg, uncertain="negative", **kwargs)[1]
    assert ones.tolist() == [1, 0, 1, 0] and zeros.tolist() == [1, 0, 0, 0]
    with pytest.warns(UserWarning):
        X, y, groups = load_mimic_cxr(
            jpg, views=None, one_per_study=False, split="train", size=8, missing="drop"
        )
    assert len(y) == 4 and list(X.clinical["ViewPosition"]).count("LATERAL") == 1
    X, y, _ = load_mimic_cxr(jpg, split="validate", uncertain="positive", size=8)
    assert y.tolist() == [1] and len(X) == 1


def test_bad_arguments_and_layouts_are_refused(mimic, tmp_path):
    jpg, _, _ = mimic
    for kwargs, match in [
        ({"label": "Flu"}, "label='Flu': expected one of the CheXpert"),
        ({"uncertain": "maybe"}, "uncertain='maybe'"),
        ({"split": "dev"}, "split='dev'"),
        ({"missing": "allow"}, "missing='allow'"),
    ]:
        with pytest.raises(ValueError, match=match):
            load_mimic_cxr(jpg, **kwargs)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_mimic_cxr(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="mimic-cxr-2.0.0-metadata.csv.gz not found"):
        load_mimic_cxr(tmp_path)
    with pytest.raises(ValueError, match="no image of .* is left"):
        load_mimic_cxr(jpg, views=["LL"])
