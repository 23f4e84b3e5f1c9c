"""OASIS-1 (cross-sectional) as nilearn's ``fetch_oasis_vbm`` leaves it on disk: grey- and
white-matter maps per subject and the extended clinical CSV.

Nothing is fetched here: the user runs nilearn's fetcher (or copies the files) under
OASIS's data use agreement.
"""

import pathlib
import warnings

import numpy as np
import pandas as pd

__all__ = ["load_oasis"]

#: Clinical columns kept by default. CDR defines the label and MMSE is part of the same
#: clinical assessment; nWBV and ASF are measured on the same MRI: all four are left out.
DEFAULT_COLUMNS = ("M/F", "Age", "Educ", "SES", "eTIV")
#: Tissue map file prefixes: DARTEL-normalised (nilearn's default) and the older SPM maps.
_PREFIXES = {"gm": ("mwrc1", "mwc1"), "wm": ("mwrc2", "mwc2")}
TASKS = ("demented", "cdr")


def _map_file(folder, subject, tissue):
    for prefix in _PREFIXES[tissue]:
        path = folder / subject / f"{prefix}{subject}_mpr_anon_fslswapdim_bet.nii.gz"
        if path.is_file():
            return path
    return None


def load_oasis(
    folder,
    *,
    task="demented",
    tissue="gm",
    columns=DEFAULT_COLUMNS,
    size=None,
    normalize=None,
    missing="raise",
):
    """OASIS-1 as ``(X, y, groups)``: each subject's tissue map(s) as a volume and the
    clinical CSV's values.

    Assumes the layout nilearn's ``fetch_oasis_vbm`` leaves (``folder`` is its
    ``oasis1`` folder, e.g. ``~/nilearn_data/oasis1``):
    ``oasis_cross-sectional.csv`` with OASIS's columns ``ID`` ("OAS1_0001_MR1"), ``M/F``,
    ``Hand``, ``Age``, ``Educ``, ``SES``, ``MMSE``, ``CDR``, ``eTIV``, ``nWBV``, ``ASF``,
    ``Delay``; and per subject ``OAS1_0001_MR1/mwrc1OAS1_0001_MR1_mpr_anon_fslswapdim_bet.nii.gz``
    (grey matter; ``mwrc2`` white matter; ``mwc1``/``mwc2`` for the non-DARTEL maps).
    The CSV lists every OASIS-1 session, also those whose maps were not fetched.

    Parameters
    ----------
    folder : str or path-like
        The ``oasis1`` folder.
    task : {"demented", "cdr"}, default="demented"
        "demented": "nondemented" (CDR 0) vs "demented" (CDR 0.5 or more), OASIS's own
        grouping; "cdr": the CDR value itself (0, 0.5, 1, 2). Subjects without a CDR (the
        young adults, who were not rated) are left out.
    tissue : {"gm", "wm", "both"}, default="gm"
        The grey-matter map, the white-matter map, or both as named channels
        ``["gm", "wm"]`` (``X.channel_names``).
    columns : sequence of str, default=("M/F", "Age", "Educ", "SES", "eTIV")
        CSV columns kept as clinical values. The default leaves out CDR and MMSE (the
        label's assessment) and nWBV and ASF (measured on the same MRI).
    size : int, (int, int) or None, default=None
        Resize every coronal section (as :func:`load_nifti_volumes`).
    normalize : {"zscore", "minmax"} or None, default=None
        Per-volume normalisation (the maps are tissue probabilities, already on one scale).
    missing : {"raise", "drop"}, default="raise"
        Rated subjects of the CSV without a map on disk: "raise" refuses, listing them;
        "drop" leaves them out with a warning (nilearn fetches the first ``n_subjects``
        only, so a partial fetch is the usual case).

    Returns
    -------
    X : FusionInput
        Volumes (n_subjects, D, H, W), or (n_subjects, 2, D, H, W) with ``tissue="both"``,
        and the ``columns`` as clinical values.
    y : ndarray
        The labels of ``task``.
    groups : ndarray
        The subject ids (``ID``).
    """
    from ..._input import FusionInput
    from .._readers.nifti import load_nifti_volumes

    if task not in TASKS:
        raise ValueError(f"task={task!r}: expected one of {list(TASKS)}.")
    if tissue not in ("gm", "wm", "both"):
        raise ValueError(f"tissue={tissue!r}: expected 'gm', 'wm' or 'both'.")
    if missing not in ("raise", "drop"):
        raise ValueError(f"missing={missing!r}: expected 'raise' or 'drop'.")
    folder = pathlib.Path(folder)
    table_path = folder / "oasis_cross-sectional.csv"
    if not table_path.is_file():
        raise FileNotFoundError(
            f"{table_path} not found; folder must be the oasis1 folder that nilearn's "
            "fetch_oasis_vbm fills (it holds oasis_cross-sectional.csv and one "
            "OAS1_xxxx_MR1 folder per subject)."
        )
    table = pd.read_csv(table_path)
    absent = [c for c in ["ID", "CDR", *columns] if c not in table.columns]
    if absent:
        raise ValueError(
            f"{table_path} has no column(s) {absent}; its columns are {list(table.columns)}."
        )
    table = table[table["CDR"].notna()].reset_index(drop=True)
    tissues = ["gm", "wm"] if tissue == "both" else [tissue]
    files = {t: [_map_file(folder, s, t) for s in table["ID"]] for t in tissues}
    lacking = np.array([any(files[t][k] is None for t in tissues) for k in range(len(table))])
    if lacking.any():
        listed = ", ".join(table.loc[lacking, "ID"].head(5))
        if missing == "raise" or lacking.all():
            raise FileNotFoundError(
                f"{int(lacking.sum())} of {len(table)} rated subjects have no "
                f"{'/'.join(tissues)} map in {folder} ({listed}"
                f"{' ...' if lacking.sum() > 5 else ''}); pass missing='drop' to keep the "
                "subjects whose maps were fetched."
            )
        warnings.warn(
            f"left out {int(lacking.sum())} rated subjects without maps "
            f"({listed}{' ...' if lacking.sum() > 5 else ''}).",
            UserWarning,
            stacklevel=2,
        )
        table = table[~lacking].reset_index(drop=True)
        files = {
            t: [f for f, gone in zip(paths, lacking) if not gone] for t, paths in files.items()
        }
    if tissue == "both":
        images = load_nifti_volumes(files, size=size, normalize=normalize)
    else:
        images = load_nifti_volumes(files[tissue], size=size, normalize=normalize)
    cdr = table["CDR"].to_numpy(dtype=float)
    y = cdr if task == "cdr" else np.where(cdr > 0, "demented", "nondemented").astype(object)
    groups = table["ID"].astype(str).to_numpy()
    X = FusionInput(
        images,
        table[list(columns)].reset_index(drop=True),
        subjects=groups,
        channel_names=tissues if tissue == "both" else None,
    )
    return X, y, groups
