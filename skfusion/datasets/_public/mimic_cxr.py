"""MIMIC-CXR-JPG (with its reports and MIMIC-IV's patients table) as the user downloaded it
from PhysioNet: images per study, CheXpert labels, report text and demographics, joined by
subject and study.

Nothing is fetched: MIMIC is credentialed access under PhysioNet's data use agreement.
"""

import pathlib
import warnings

import numpy as np
import pandas as pd

__all__ = ["load_mimic_cxr"]

#: The 14 CheXpert labels of ``mimic-cxr-2.0.0-chexpert.csv.gz``.
CHEXPERT_LABELS = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Enlarged Cardiomediastinum",
    "Fracture",
    "Lung Lesion",
    "Lung Opacity",
    "No Finding",
    "Pleural Effusion",
    "Pleural Other",
    "Pneumonia",
    "Pneumothorax",
    "Support Devices",
)
UNCERTAIN = ("exclude", "positive", "negative")


def _read(folder, stem, argument):
    for name in (f"{stem}.csv.gz", f"{stem}.csv"):
        if (folder / name).is_file():
            return pd.read_csv(folder / name)
    raise FileNotFoundError(
        f"{folder / (stem + '.csv.gz')} not found; {argument} must be the "
        "folder of your MIMIC-CXR-JPG download (holding "
        f"{stem}.csv.gz and files/)."
    )


def _image_path(root, subject, study, dicom):
    subject = str(int(subject))
    return root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{int(study)}" / f"{dicom}.jpg"


def _report_path(root, subject, study):
    subject = str(int(subject))
    return root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{int(study)}.txt"


def _labels(chexpert, label, uncertain):
    values = chexpert[label]
    if uncertain == "positive":
        values = values.replace(-1.0, 1.0)
    elif uncertain == "negative":
        values = values.replace(-1.0, 0.0)
    # Not mentioned (NaN) counts as negative, as the CheXpert labeller's authors and most
    # papers treat it; an uncertain mention (-1) under "exclude" leaves the study out.
    return values.fillna(0.0).where(values != -1.0)


def load_mimic_cxr(
    folder,
    *,
    label="Pneumonia",
    uncertain="exclude",
    views=("PA", "AP"),
    one_per_study=True,
    split=None,
    reports=None,
    mimic_iv=None,
    size=224,
    normalize=None,
    lazy=True,
    missing="raise",
):
    """MIMIC-CXR-JPG as ``(X, y, groups)``: chest X-rays with CheXpert labels, and optionally
    the report text and MIMIC-IV demographics, one row per study (or per image).

    Assumes PhysioNet's MIMIC-CXR-JPG 2.x layout under ``folder``:
    ``mimic-cxr-2.0.0-metadata.csv.gz`` (``dicom_id``, ``subject_id``, ``study_id``,
    ``ViewPosition``, ``StudyDate`` as YYYYMMDD), ``mimic-cxr-2.0.0-chexpert.csv.gz``
    (``subject_id``, ``study_id`` and the 14 labels: 1.0 positive, 0.0 negative, -1.0
    uncertain, empty not mentioned), ``mimic-cxr-2.0.0-split.csv.gz`` (``dicom_id``,
    ``split``: train / validate / test) and the images at
    ``files/p10/p10000032/s50414267/<dicom_id>.jpg`` (``p`` + the subject id's first two
    digits, ``p<subject_id>``, ``s<study_id>``). MIMIC-CXR's reports, where given, sit at
    ``files/p10/p10000032/s50414267.txt`` under ``reports``. MIMIC-IV's
    ``hosp/patients.csv.gz`` (``subject_id``, ``gender``, ``anchor_age``, ``anchor_year``)
    under ``mimic_iv`` gives sex and the age at the study (``anchor_age`` plus the study's
    year minus ``anchor_year``: both are on the patient's shifted calendar).

    Parameters
    ----------
    folder : str or path-like
        The MIMIC-CXR-JPG folder (e.g. ``physionet.org/files/mimic-cxr-jpg/2.1.0``).
    label : str, default="Pneumonia"
        One of the 14 CheXpert labels; ``y`` is 1 (positive) or 0 (negative or not
        mentioned).
    uncertain : {"exclude", "positive", "negative"}, default="exclude"
        Uncertain mentions (-1): leave those studies out, or count them as positive
        ("U-Ones") or negative ("U-Zeros"), as in the CheXpert paper.
    views : sequence of str or None, default=("PA", "AP")
        The ``ViewPosition`` values kept (frontal views); None keeps every view.
    one_per_study : bool, default=True
        One image per study (the first kept view in ``views`` order, then by ``dicom_id``)
        or every kept image (``X.subjects`` then keeps a patient's images together).
    split : {"train", "validate", "test"} or None, default=None
        Only the images of MIMIC-CXR-JPG's official split; None: every image.
    reports : str, path-like or None, default=None
        MIMIC-CXR's (not -JPG's) folder holding the reports' ``files/`` tree: each study's
        report becomes ``X.text`` (marked missing where absent).
    mimic_iv : str, path-like or None, default=None
        MIMIC-IV's folder (holding ``hosp/patients.csv.gz``): ``X.clinical`` gains
        ``gender`` and ``age``.
    size : int, (int, int) or None, default=224
        Resize every image (as :func:`load_images`); MIMIC's JPEGs differ in size.
    normalize : {"zscore", "minmax"} or None, default=None
        Per-image normalisation.
    lazy : bool, default=True
        Read the images when a batch needs them (MIMIC-CXR-JPG holds 377,110 images).
    missing : {"raise", "drop"}, default="raise"
        Rows whose image file is absent (a partial download): "raise" refuses, listing
        them; "drop" leaves them out with a warning.

    Returns
    -------
    X : FusionInput
        The images (grey, one channel), ``X.clinical`` with ``ViewPosition`` (and ``gender``
        and ``age`` with ``mimic_iv``), ``X.text`` with ``reports``, ``X.subjects`` the
        ``subject_id``.
    y : ndarray of int
        1 where ``label`` is positive.
    groups : ndarray
        The ``subject_id`` of each row: pass it to every split (a patient has many
        studies).
    """
    from ..._input import FusionInput
    from .._readers.images import load_images

    if label not in CHEXPERT_LABELS:
        raise ValueError(
            f"label={label!r}: expected one of the CheXpert labels {list(CHEXPERT_LABELS)}."
        )
    if uncertain not in UNCERTAIN:
        raise ValueError(f"uncertain={uncertain!r}: expected one of {list(UNCERTAIN)}.")
    if split not in (None, "train", "validate", "test"):
        raise ValueError(f"split={split!r}: expected 'train', 'validate', 'test' or None.")
    if missing not in ("raise", "drop"):
        raise ValueError(f"missing={missing!r}: expected 'raise' or 'drop'.")
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"folder={str(folder)!r} is not a folder; pass your MIMIC-CXR-JPG download's folder."
        )
    metadata = _read(folder, "mimic-cxr-2.0.0-metadata", "folder")
    chexpert = _read(folder, "mimic-cxr-2.0.0-chexpert", "folder")
    rows = metadata.merge(
        chexpert[["subject_id", "study_id", label]], on=["subject_id", "study_id"], how="inner"
    )
    if split is not None:
        splits = _read(folder, "mimic-cxr-2.0.0-split", "folder")
        rows = rows.merge(splits[["dicom_id", "split"]], on="dicom_id")
        rows = rows[rows["split"] == split].drop(columns="split")
    if views is not None:
        order = {view: k for k, view in enumerate(views)}
        rows = rows[rows["ViewPosition"].isin(list(views))]
        rows = rows.assign(_view=rows["ViewPosition"].map(order))
    else:
        rows = rows.assign(_view=0)
    rows = rows.assign(_y=_labels(rows, label, uncertain)).dropna(subset=["_y"])
    rows = rows.sort_values(["subject_id", "study_id", "_view", "dicom_id"], kind="stable")
    if one_per_study:
        rows = rows.drop_duplicates(["subject_id", "study_id"])
    rows = rows.reset_index(drop=True)
    if rows.empty:
        raise ValueError(
            f"no image of {folder} is left for label={label!r} with "
            f"views={views!r}, split={split!r}, uncertain={uncertain!r}."
        )
    paths = [
        _image_path(folder, s, t, d)
        for s, t, d in rows[["subject_id", "study_id", "dicom_id"]].itertuples(index=False)
    ]
    absent = np.array([not p.is_file() for p in paths])
    if absent.any():
        listed = ", ".join(str(p.relative_to(folder)) for p, a in zip(paths, absent) if a)
        if missing == "raise" or absent.all():
            raise FileNotFoundError(
                f"{int(absent.sum())} of {len(paths)} images are not on disk "
                f"({listed[:400]}); pass missing='drop' to keep the images you have."
            )
        warnings.warn(
            f"left out {int(absent.sum())} images not on disk.", UserWarning, stacklevel=2
        )
        rows = rows[~absent].reset_index(drop=True)
        paths = [p for p, a in zip(paths, absent) if not a]
    clinical = rows[["ViewPosition"]].copy()
    if mimic_iv is not None:
        patients = _read(pathlib.Path(mimic_iv) / "hosp", "patients", "mimic_iv")
        joined = rows[["subject_id", "StudyDate"]].merge(
            patients[["subject_id", "gender", "anchor_age", "anchor_year"]],
            on="subject_id",
            how="left",
        )
        year = pd.to_numeric(joined["StudyDate"].astype(str).str[:4], errors="coerce")
        clinical["gender"] = joined["gender"].to_numpy()
        clinical["age"] = (joined["anchor_age"] + year - joined["anchor_year"]).to_numpy()
    text = None
    if reports is not None:
        text = []
        for subject, study in rows[["subject_id", "study_id"]].itertuples(index=False):
            path = _report_path(pathlib.Path(reports), subject, study)
            text.append(
                path.read_text(encoding="utf-8", errors="replace") if path.is_file() else None
            )
    images = load_images(paths, size=size, color="gray", normalize=normalize, lazy=lazy)
    groups = rows["subject_id"].to_numpy()
    X = FusionInput(images, clinical, text, subjects=groups)
    return X, rows["_y"].to_numpy().astype(int), groups
