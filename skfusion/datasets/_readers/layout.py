"""A cohort on disk: a BIDS-like folder of NIfTI files with a participants table."""

import glob
import os
import pathlib

import numpy as np
import pandas as pd

from ..._input import FusionInput
from .lazy import NiftiSlices
from .nifti import load_nifti_slices

#: Square field of view in the coronal plane (MNI x and z, mm) of the built-in cohort's
#: slices and of the volumes written for it.
_FIELD = (-82.0, 82.0, -70.0, 94.0)

__all__ = ["load_cohort", "write_cohort"]


def write_cohort(cohort, folder):
    """Write a cohort from :func:`make_brain_cohort` as NIfTI files and ``participants.tsv``.

    Layout (BIDS-like)::

        folder/participants.tsv                  participant_id, diagnosis, clinical columns
        folder/sub-001/anat/sub-001_T1w.nii.gz   the subject's coronal slab, RAS+, in mm

    Each volume holds the subject's slices along its second (anterior-posterior) axis, with an
    affine in MNI millimetres, so ``load_cohort(folder)`` returns the same images.
    Returns the folder as a ``pathlib.Path``.

    Parameters
    ----------
    cohort : Bunch
        What :func:`make_brain_cohort` returned (its ``X``, ``y`` and ``frame``).
    folder : str or path
        Where to write; created if absent.
    """
    import nibabel as nib

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    images = cohort.X.images
    clinical = cohort.X.clinical
    groups = np.asarray(cohort.groups)
    size = images.shape[-1]
    pixel = (_FIELD[1] - _FIELD[0]) / size
    rows = []
    for subject in dict.fromkeys(groups):
        where = np.flatnonzero(groups == subject)
        slab = images[where]  # (n_slices, rows top->bottom, columns left->right)
        volume = np.ascontiguousarray(slab[:, ::-1, :].transpose(2, 0, 1))  # (x, y, z)
        affine = np.diag([pixel, 1.0, pixel, 1.0])
        affine[:3, 3] = [
            _FIELD[0] + pixel / 2,
            float(cohort.slice_index[where[0]]),
            _FIELD[3] - pixel / 2 - pixel * (size - 1),
        ]
        anat = folder / subject / "anat"
        anat.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(volume.astype(np.float32), affine), anat / f"{subject}_T1w.nii.gz")
        row = {"participant_id": subject, "diagnosis": cohort.y[where[0]]}
        row.update(clinical.iloc[where[0]].to_dict())
        rows.append(row)
    pd.DataFrame(rows).to_csv(folder / "participants.tsv", sep="\t", index=False, na_rep="n/a")
    return folder


def load_cohort(
    folder,
    *,
    target="diagnosis",
    plane="coronal",
    slices=None,
    size=None,
    normalize=None,
    lazy=False,
    missing="raise",
):
    """Load a BIDS-like cohort folder into ``(X, y, groups)`` with one call.

    Parameters
    ----------
    folder : str or path-like
        Holds ``participants.tsv`` (tab-separated, a ``participant_id`` column, the
        ``target`` column and any clinical columns; "n/a" marks missing values) and each
        participant's image at ``<participant_id>/anat/<participant_id>_*T1w.nii[.gz]``.
    target : str, default="diagnosis"
        Column of ``participants.tsv`` with the labels; the other columns except
        ``participant_id`` become ``X.clinical``.
    plane, slices, size, normalize
        Passed to :func:`load_nifti_slices` (``slices=None`` takes every slice).
    lazy : bool, default=False
        Keep images on disk and read them during training (see :class:`NiftiSlices`).
    missing : {"raise", "allow"}, default="raise"
        Participants of the table without an image file: "raise" refuses, listing them;
        "allow" keeps each as one row whose image is marked missing
        (``X.present["images"]``), so the estimators train on and predict for them from
        their clinical values.

    Returns
    -------
    X : FusionInput
        One row per slice: the slice and its participant's clinical values (one row, image
        marked missing, for a participant without an image under ``missing="allow"``).
    y : ndarray
        The participant's ``target`` value per slice.
    groups : ndarray
        The participant id per slice, for GroupKFold / StratifiedGroupKFold.
    """
    folder = pathlib.Path(folder)
    table_path = folder / "participants.tsv"
    if not table_path.exists():
        raise FileNotFoundError(
            f"{table_path} not found; a cohort folder needs a tab-separated participants.tsv "
            "with a participant_id column."
        )
    table = _read_participants(table_path)
    absent_columns = [c for c in ("participant_id", target) if c not in table.columns]
    if absent_columns:
        raise ValueError(
            f"{table_path} has no column(s) {absent_columns}; its columns are "
            f"{list(table.columns)}. "
            "Pass target= the label column."
        )
    if missing not in ("raise", "allow"):
        raise ValueError(f"missing must be 'raise' or 'allow'; got {missing!r}.")
    ids = _check_participant_ids(table["participant_id"], table_path)
    paths, absent = {}, []
    for row, subject in enumerate(ids):
        # The id is a literal folder name: glob characters in it match only themselves.
        pattern = os.path.join(glob.escape(str(folder)), glob.escape(subject), "anat", "*T1w.nii*")
        found = sorted(glob.glob(pattern))
        if found:
            paths[found[0]] = row
        else:
            absent.append(row)
    if absent and (missing == "raise" or not paths):
        names = [ids[row] for row in absent]
        raise FileNotFoundError(
            f"no image for {'participant' if len(names) == 1 else f'{len(names)} participants'} "
            f"{', '.join(map(repr, names[:5]))}"
            f"{' ...' if len(names) > 5 else ''}: expected e.g. "
            f"{folder / names[0] / 'anat' / (names[0] + '_T1w.nii.gz')}."
            + (
                " Pass missing='allow' to keep them, with their image marked missing."
                if paths
                else ""
            )
        )
    images, metadata = load_nifti_slices(
        list(paths), plane=plane, slices=slices, size=size, normalize=normalize, lazy=lazy
    )
    rows = metadata["source"].map(paths).to_numpy()
    present = None
    if absent:  # one row each, its image marked missing (a placeholder never read)
        images = _with_placeholders(images, len(absent))
        rows = np.concatenate([rows, absent]).astype(int)
        present = {"images": np.arange(len(rows)) < len(rows) - len(absent)}
    clinical = table.drop(columns=["participant_id", target]).iloc[rows].reset_index(drop=True)
    y = table[target].to_numpy()[rows]
    groups = np.asarray(ids, dtype=object)[rows]
    return FusionInput(images, clinical, subjects=groups, present=present), y, groups


def _with_placeholders(images, count):
    """``images`` (an array or lazy slices) followed by ``count`` placeholder images."""
    if isinstance(images, NiftiSlices):
        return NiftiSlices(
            images.sources + images.sources[:1] * count,
            images.slice_indices + images.slice_indices[:1] * count,
            plane=images.plane,
            size=images.size,
            normalize=images.normalize,
            volume=images.volume,
        )
    return np.concatenate([images, np.zeros((count, *images.shape[1:]), images.dtype)])


def _read_participants(table_path):
    """``participants.tsv`` as a table whose ids are strings ("001" stays "001")."""
    try:
        return pd.read_csv(
            table_path,
            sep="\t",
            na_values=["n/a"],
            keep_default_na=True,
            dtype={"participant_id": str},
        )
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"{table_path} is empty; expected a tab-separated table with a "
            "participant_id column and one row per participant."
        ) from None
    except (UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise ValueError(
            f"{table_path} is not a readable tab-separated text table "
            f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]}); write "
            "it as UTF-8 text with a participant_id column."
        ) from None


def _check_participant_ids(column, table_path):
    """The participant ids as literal, unique folder names, or a ValueError naming them."""
    ids = []
    for row, value in enumerate(column):
        subject = "" if pd.isna(value) else str(value)
        if (
            not subject.strip()
            or subject in (".", "..")
            or any(ch in subject for ch in ("/", "\\", "\0"))
            or os.path.isabs(subject)
        ):
            raise ValueError(
                f"{table_path}: participant_id {subject!r} (row {row + 2}) is not a folder "
                "name: ids must be non-empty names of a folder inside the cohort folder, "
                "without path separators or '..'."
            )
        ids.append(subject)
    counts = pd.Series(ids).value_counts()
    repeated = counts[counts > 1]
    if len(repeated):
        raise ValueError(
            f"{table_path}: participant_id must be unique, one row per participant; "
            f"{ {k: int(v) for k, v in repeated.head(5).items()} } appear more than once. "
            "Keep one row for each."
        )
    return ids
