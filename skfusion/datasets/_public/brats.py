"""BraTS as the user downloaded it: four MRI sequences per case, the tumour segmentation, and
the survival table of the editions that have one (2018-2020).

Nothing is fetched: BraTS data come from the challenge's own pages (Synapse, CBICA) under
their terms, and stay on the user's disk.
"""

import pathlib
import re
import warnings

import numpy as np
import pandas as pd

__all__ = ["load_brats"]

#: The sequence suffixes of each naming scheme, in the order they become channels.
SCHEMES = {
    "2018-2021": ("t1", "t1ce", "t2", "flair"),  # BraTS20_Training_001_t1.nii.gz
    "2023": ("t1n", "t1c", "t2w", "t2f"),  # BraTS-GLI-00000-000-t1n.nii.gz
}
SURVIVAL_FILES = ("survival_info.csv", "survival_data.csv")
_ALIVE = re.compile(r"ALIVE\s*\((\d+)\s*days? later\)", re.IGNORECASE)


def _case_file(case, suffix):
    for separator in ("_", "-"):
        for extension in (".nii.gz", ".nii"):
            path = case / f"{case.name}{separator}{suffix}{extension}"
            if path.is_file():
                return path
    return None


def _scheme(cases):
    for name, suffixes in SCHEMES.items():
        if any(_case_file(case, suffixes[0]) for case in cases[:5]):
            return suffixes
    raise ValueError(
        f"no case of {cases[0].parent} holds BraTS's sequence files: expected e.g. "
        f"{cases[0].name}/{cases[0].name}_t1.nii.gz (2018-2021) or "
        f"{cases[0].name}/{cases[0].name}-t1n.nii.gz (2023); pass sequences= with the "
        "suffixes of your files."
    )


def _survival(folder, table):
    """The survival table as (id, time, event, clinical) or None."""
    if table is None:
        return None
    if isinstance(table, str) and table == "auto":
        found = [folder / name for name in SURVIVAL_FILES if (folder / name).is_file()]
        if not found:
            return None
        table = found[0]
    frame = pd.read_csv(table) if not isinstance(table, pd.DataFrame) else table.copy()
    ids = [c for c in frame.columns if re.fullmatch(r"brats\d*_?id", c, re.IGNORECASE)]
    times = [c for c in ("Survival_days", "Survival") if c in frame.columns]
    if not ids or not times:
        raise ValueError(
            f"the survival table {'given' if isinstance(table, pd.DataFrame) else str(table)} "
            "needs an id column (Brats20ID, BraTS19ID) "
            f"and Survival_days (or Survival); its columns are {list(frame.columns)}."
        )
    text = frame[times[0]].astype(str).str.strip()
    alive = text.str.extract(_ALIVE, expand=False)
    time = pd.to_numeric(text.where(alive.isna(), alive), errors="coerce")
    unreadable = frame.loc[time.isna(), ids[0]].tolist()
    if unreadable:
        warnings.warn(
            f"the survival table has no readable survival time for "
            f"{len(unreadable)} case(s) (e.g. {unreadable[:3]}); they are left out.",
            UserWarning,
            stacklevel=3,
        )
    clinical = pd.DataFrame(index=frame.index)
    if "Age" in frame.columns:
        clinical["Age"] = pd.to_numeric(frame["Age"], errors="coerce")
    for column in ("Extent_of_Resection", "ResectionStatus"):
        if column in frame.columns:
            clinical["Extent_of_Resection"] = frame[column].where(frame[column].notna(), None)
            break
    if clinical.shape[1] == 0:
        clinical = None
    keep = time.notna().to_numpy()
    return (
        frame[ids[0]].astype(str).to_numpy()[keep],
        time.to_numpy()[keep],
        alive.isna().to_numpy()[keep],
        None if clinical is None else clinical[keep].reset_index(drop=True),
    )


def load_brats(
    folder,
    *,
    sequences="auto",
    survival_table="auto",
    segmentation=True,
    size=None,
    normalize="zscore",
    missing="raise",
):
    """BraTS cases as ``(X, y, groups)``: the four sequences as named channels of one volume
    per case, the whole-tumour mask, and the survival table where there is one.

    Assumes the layout of BraTS's training downloads: one folder per case, named by the case
    id, holding ``<id>_<sequence>.nii.gz`` (2018-2021: ``t1``, ``t1ce``, ``t2``, ``flair``,
    ``seg``; e.g. ``BraTS20_Training_001/BraTS20_Training_001_flair.nii.gz``) or
    ``<id>-<sequence>.nii.gz`` (2023: ``t1n``, ``t1c``, ``t2w``, ``t2f``, ``seg``), all
    co-registered on one grid (BraTS's own preprocessing: 1 mm, 240x240x155). The survival
    table is ``survival_info.csv`` (2020: ``Brats20ID``, ``Age``, ``Survival_days``,
    ``Extent_of_Resection``) or ``survival_data.csv`` (2019: ``BraTS19ID``, ``Age``,
    ``Survival``, ``ResectionStatus``) in ``folder``. A survival time written as
    "ALIVE (361 days later)" is a patient censored at 361 days; every other time is a death.

    Parameters
    ----------
    folder : str or path-like
        The folder of case folders (e.g. ``MICCAI_BraTS2020_TrainingData``).
    sequences : "auto" or sequence of str, default="auto"
        The sequence suffixes to read, in channel order; "auto" detects the naming scheme
        (2018-2021 or 2023) from the first cases. They become ``X.channel_names``.
    survival_table : "auto", str, path-like, DataFrame or None, default="auto"
        "auto" reads ``survival_info.csv`` or ``survival_data.csv`` in ``folder`` when
        present: only the cases it lists are returned, with ``y`` their (event, time) and
        ``X.clinical`` their Age and extent of resection. None ignores any table.
    segmentation : bool, default=True
        Read ``<id>_seg`` as ``X.masks``: the whole tumour (every label > 0), resized with
        the images (linear interpolation, then thresholded at 0.5). Cases without one are
        refused unless False.
    size : int, (int, int) or None, default=None
        Resize every section (as :func:`load_nifti_volumes`); a full BraTS volume of four
        sequences holds 36 million voxels, so pass e.g. ``size=96`` for a cohort in memory.
    normalize : {"zscore", "minmax"} or None, default="zscore"
        Per-volume, per-sequence normalisation (MRI intensities have no common scale).
    missing : {"raise", "drop"}, default="raise"
        Cases lacking a sequence file: "raise" refuses, listing them; "drop" leaves them out
        with a warning.

    Returns
    -------
    X : FusionInput
        Volumes of shape (n_cases, n_sequences, D, H, W) (depth along the coronal axis, as
        :func:`load_nifti_volumes` reads them) with ``channel_names`` the sequences,
        ``masks`` (n_cases, D, H, W) with ``segmentation``, and the survival table's
        clinical columns (None without a table).
    y : structured ndarray of (event, time), or None
        With a survival table: the form the survival estimators take (event True for a
        death, time in days). None without one.
    groups : ndarray
        The case ids.
    """
    from ..._input import FusionInput
    from .._readers.nifti import load_nifti_volumes

    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"folder={str(folder)!r} is not a folder; pass the folder "
            "holding one folder per BraTS case."
        )
    if missing not in ("raise", "drop"):
        raise ValueError(f"missing={missing!r}: expected 'raise' or 'drop'.")
    cases = sorted(p for p in folder.iterdir() if p.is_dir())
    if not cases:
        raise FileNotFoundError(f"{folder} holds no case folders.")
    if isinstance(sequences, str) and sequences != "auto":
        raise ValueError(
            f"sequences={sequences!r}: expected 'auto' or a list of suffixes "
            "such as ['t1', 't1ce', 't2', 'flair']."
        )
    suffixes = _scheme(cases) if sequences == "auto" else tuple(sequences)
    survival = _survival(folder, survival_table)
    if survival is not None:
        listed = set(survival[0])
        cases = [case for case in cases if case.name in listed]
        if not cases:
            raise ValueError(
                f"no case folder of {folder} is in the survival table; pass "
                "survival_table=None to read every case without it."
            )
    wanted = suffixes + (("seg",) if segmentation else ())
    files = {case: [_case_file(case, s) for s in wanted] for case in cases}
    incomplete = {
        case.name: [s for s, f in zip(wanted, found) if f is None]
        for case, found in files.items()
        if None in found
    }
    if incomplete:
        listed = "; ".join(
            f"{name}: {', '.join(absent)}" for name, absent in list(incomplete.items())[:5]
        )
        if missing == "raise" or len(incomplete) == len(files):
            raise FileNotFoundError(
                f"{len(incomplete)} of {len(files)} cases lack files ({listed}"
                f"{' ...' if len(incomplete) > 5 else ''}); pass missing='drop' to leave "
                "them out" + (", or segmentation=False" if segmentation else "") + "."
            )
        warnings.warn(
            f"left out {len(incomplete)} cases lacking files ({listed}).", UserWarning, stacklevel=2
        )
        files = {case: found for case, found in files.items() if None not in found}
    ids = np.array([case.name for case in files], dtype=object)
    volumes = load_nifti_volumes(
        {s: [found[k] for found in files.values()] for k, s in enumerate(suffixes)},
        size=size,
        normalize=normalize,
    )
    masks = None
    if segmentation:
        masks = load_nifti_volumes([found[-1] for found in files.values()], size=size) > 0.5
    clinical = y = None
    if survival is not None:
        row = {case_id: k for k, case_id in enumerate(survival[0])}
        order = [row[case_id] for case_id in ids]
        clinical = None if survival[3] is None else survival[3].iloc[order].reset_index(drop=True)
        y = np.empty(len(ids), dtype=[("event", bool), ("time", float)])
        y["event"], y["time"] = survival[2][order], survival[1][order]
    X = FusionInput(volumes, clinical, subjects=ids, masks=masks, channel_names=suffixes)
    return X, y, ids
