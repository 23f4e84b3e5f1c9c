"""A table naming one image file per row (MIMIC-CXR-JPG, CheXpert, ISIC style, or NIfTI
volumes) read as ``(X, y, groups)`` in one call."""

import os
import pathlib
import re

import numpy as np
import pandas as pd

from ..._input import FusionInput
from .images import _check_files, _check_options, load_images

__all__ = ["load_table_cohort"]

#: Name tokens of an identifier column ("PTID", "subject_id", "PatientID", "MRN", "RID").
_ID_TOKENS = {"id", "ids", "ptid", "rid", "mrn", "uid", "uuid", "guid"}
#: Whole names of an identifier column.
_ID_NAMES = {"subject", "patient", "participant", "accession", "subjectkey", "eid"}
#: Below this many rows, values unique per row say nothing about a column.
_MIN_ROWS = 10


def _named_like_an_id(name):
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", str(name))  # PatientID -> Patient ID
    tokens = {t.lower() for t in re.split(r"[\s_\-.]+", spaced) if t}
    return bool(tokens & _ID_TOKENS) or str(name).strip().lower() in _ID_NAMES


def id_like_columns(table):
    """The columns of ``table`` that look like patient identifiers: unique in every row
    (of at least 10 rows) and either text (most values not numbers) or named like an id
    ("PTID", "subject_id", "PatientID", "MRN", ...)."""
    found = []
    if len(table) < _MIN_ROWS:
        return found
    for column in table.columns:
        values = table[column]
        if values.isna().any() or not values.is_unique:
            continue
        text = pd.to_numeric(values, errors="coerce").isna().mean() > 0.5
        if text or _named_like_an_id(column):
            found.append(column)
    return found


def load_table_cohort(
    table,
    *,
    image_column,
    target=None,
    id_column=None,
    root=None,
    size=None,
    color="gray",
    normalize=None,
    lazy=False,
    slices=1,
    plane="coronal",
    missing="raise",
    keep_id_like=(),
):
    """A table with one image file per row (MIMIC-CXR-JPG, CheXpert, ISIC style) as ``(X, y,
    groups)`` in one call.

    Parameters
    ----------
    table : pandas.DataFrame, str or path-like
        The table, or a CSV (``.csv``) or tab-separated (``.tsv``) file holding it.
    image_column : str
        The column of image paths, absolute or relative to ``root``.
    target : str or None, default=None
        The column of labels (left out of ``X.clinical``); None returns ``y=None``.
    id_column : str or None, default=None
        The patient id column: ``X.subjects`` and ``groups``, so that every split keeps a
        patient's images together. None: each row is its own patient. Another column that
        looks like an identifier (unique in every row, and text or named like an id:
        "PTID", "subject_id", "MRN", ...) is refused as a clinical feature, since an id
        sorted by diagnosis or by site leaks the label: name it here, or in
        ``keep_id_like``.
    root : str, path-like or None, default=None
        Folder that relative paths start from (default: the table file's folder, or the
        current folder for a DataFrame).
    size, color, normalize, lazy
        As in :func:`load_images`.
    slices : int, default=1
        Where the files are NIfTI volumes (``.nii``, ``.nii.gz``): the number of central
        slices of ``plane`` read per row (:func:`load_nifti_slices`); more than one makes
        each row a patient's stack of slices (``X.layout == "slices"``; eager only).
    plane : {"coronal", "axial", "sagittal"}, default="coronal"
        The NIfTI slicing plane.
    missing : {"raise", "allow"}, default="raise"
        Rows whose image file does not exist: "raise" refuses, listing them; "allow" keeps
        them, their image marked missing in ``X.present["images"]`` (the estimators predict
        those patients from their clinical values; at least one file must exist).
    keep_id_like : sequence of str, default=()
        Columns that look like identifiers but are clinical values, kept as features (for
        example a unique free-text note you encode yourself later).

    Returns
    -------
    X : FusionInput
        One row per table row: its image and the table's other columns as clinical values
        (all columns but ``image_column``, ``target`` and ``id_column``).
    y : ndarray or None
        The ``target`` column.
    groups : ndarray
        The patient of each row (``id_column``, or the row number).

    Raises
    ------
    FileNotFoundError
        Listing the rows whose image files do not exist (unless ``missing="allow"``).
    """
    if isinstance(table, (str, os.PathLike)):
        table_path = pathlib.Path(table)
        if not table_path.is_file():
            raise FileNotFoundError(f"table={str(table)!r} does not exist.")
        separator = "\t" if table_path.suffix.lower() == ".tsv" else ","
        table = pd.read_csv(table_path, sep=separator)
        root = table_path.parent if root is None else root
    elif not isinstance(table, pd.DataFrame):
        raise TypeError(
            f"table must be a pandas DataFrame or a CSV/TSV file path; got {type(table).__name__}."
        )
    _check_options(color, normalize)
    if len(table) == 0:
        raise ValueError(
            f"the table has no rows (columns {list(table.columns)}); pass a "
            "table with one row per image file."
        )
    named = {"image_column": image_column, "target": target, "id_column": id_column}
    for argument, column in named.items():
        if column is not None and column not in table.columns:
            raise ValueError(
                f"{argument}={column!r} is not a column of the table; its "
                f"columns are {list(table.columns)}."
            )
    if target is not None and table[target].isna().any():
        rows = np.flatnonzero(table[target].isna().to_numpy())
        raise ValueError(
            f"target={target!r} is empty in {len(rows)} row(s) "
            f"{rows[:10].tolist()}{' ...' if len(rows) > 10 else ''}; every row "
            "needs a label. Drop those rows (table.dropna(subset=[target])) or "
            "fill them."
        )
    unknown = [c for c in keep_id_like if c not in table.columns]
    if isinstance(keep_id_like, str) or unknown:
        raise ValueError(
            f"keep_id_like={keep_id_like!r}: expected a list of the table's "
            f"columns {list(table.columns)}."
        )
    named_columns = {image_column, target, id_column, *keep_id_like}
    ids = [c for c in id_like_columns(table) if c not in named_columns]
    if ids:
        raise ValueError(
            f"column(s) {ids} look like patient identifiers (a different value in every "
            "row, text or named like an id), and would become clinical features: an id "
            "sorted by diagnosis or site leaks the label. Pass id_column="
            f"{ids[0]!r} if it identifies the patient (command line: --id-column "
            f"{ids[0]}), drop the column, or pass keep_id_like={ids!r} to use it as a "
            f"clinical value (command line: --keep-column {ids[0]})."
        )
    root = pathlib.Path(os.getcwd() if root is None else root)
    relative = table[image_column]
    if relative.isna().any():
        rows = np.flatnonzero(relative.isna().to_numpy())[:10].tolist()
        raise ValueError(
            f"{image_column!r} is empty in rows {rows}; every row needs an image "
            "file (drop those rows, or fill them)."
        )
    paths = [str(p) if os.path.isabs(str(p)) else str(root / str(p)) for p in relative]
    try:
        found = _check_files(paths, missing, argument="image_column")
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"{exc} Check image_column={image_column!r} and root={str(root)!r}."
        ) from None
    nifti = [p.lower().endswith((".nii", ".nii.gz")) for p in paths]
    layout = None
    if all(nifti):
        here = paths if found is None else [p for p, f in zip(paths, found) if f]
        images, layout = _nifti_rows(here, slices, plane, size, normalize, lazy and found is None)
        if found is not None:  # placeholders (never read) in the rows without a file
            full = np.zeros((len(paths), *images.shape[1:]), dtype=np.float32)
            full[found] = np.asarray(images)
            images = full
    elif any(nifti):
        raise ValueError(
            f"{image_column!r} mixes NIfTI volumes and 2-D image files; one "
            "table holds one kind (split it in two)."
        )
    else:
        images = load_images(
            paths, size=size, color=color, normalize=normalize, lazy=lazy, missing=missing
        )
    groups = np.arange(len(table)) if id_column is None else table[id_column].to_numpy()
    dropped = [c for c in (image_column, target, id_column) if c is not None]
    clinical = table.drop(columns=dropped).reset_index(drop=True)
    y = None if target is None else table[target].to_numpy()
    present = None if found is None or not all(nifti) else {"images": found}
    return (
        FusionInput(images, clinical, subjects=groups, layout=layout, present=present),
        y,
        groups,
    )


def _nifti_rows(paths, slices, plane, size, normalize, lazy):
    """NIfTI rows: ``slices`` central slices each, as (n, H, W) or a stack (n, k, H, W)."""
    from .nifti import load_nifti_slices

    if not (isinstance(slices, (int, np.integer)) and slices >= 1):
        raise ValueError(f"slices={slices!r}: expected a whole number >= 1.")
    if lazy and slices > 1:
        raise ValueError(
            "lazy=True reads NIfTI rows one slice each (slices=1); for stacks of "
            "slices per row read eagerly, or use load_nifti_volumes(lazy=True)."
        )
    images, _ = load_nifti_slices(
        paths, plane=plane, slices=int(slices), size=size, normalize=normalize, lazy=lazy
    )
    if slices == 1:
        return images, None
    return images.reshape(len(paths), slices, *images.shape[1:]), "slices"
