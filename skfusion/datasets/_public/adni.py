"""ADNI as the user downloaded it: the ADNIMERGE table joined to the images, per visit.

Nothing is fetched: ADNI's data are shared under its data use agreement, from
https://ida.loni.usc.edu, and stay on the user's disk.
"""

import os
import pathlib
import re
import warnings

import numpy as np
import pandas as pd

__all__ = ["adni_table", "load_adni"]

#: Clinical columns of ADNIMERGE taken by default: demographics, APOE and CSF biomarkers.
#: Cognitive scores (MMSE, CDRSB, ADAS13...) are left out on purpose: ADNI's diagnosis is
#: defined partly by them (MMSE and CDR ranges), so they would leak the label.
DEFAULT_COLUMNS = ("AGE", "PTGENDER", "PTEDUCAT", "APOE4", "ABETA", "TAU", "PTAU")
TASKS = ("ad_vs_cn", "diagnosis", "mci_conversion")
#: ADNIMERGE's CSF values outside the assay's range are written as bounds (">1700", "<80").
_BOUND = re.compile(r"^\s*[<>]\s*([0-9.]+)\s*$")
#: ADNI's download tree: <PTID>/<description>/<YYYY-MM-DD_HH_MM_SS.S>/<I + image id>/<files>.
_DATE_FOLDER = re.compile(r"^(\d{4}-\d{2}-\d{2})_")
_NIFTI = (".nii", ".nii.gz")


def _read_merge(adnimerge):
    if isinstance(adnimerge, pd.DataFrame):
        table = adnimerge.copy()
    else:
        path = pathlib.Path(adnimerge)
        if not path.is_file():
            raise FileNotFoundError(
                f"adnimerge={str(adnimerge)!r} does not exist; pass the "
                "path of ADNIMERGE.csv from your ADNI download."
            )
        table = pd.read_csv(path, dtype={"PTID": str, "VISCODE": str}, low_memory=False)
    needed = ["PTID", "VISCODE", "EXAMDATE", "DX"]
    absent = [c for c in needed if c not in table.columns]
    if absent:
        raise ValueError(
            f"adnimerge has no column(s) {absent}; ADNIMERGE.csv has {needed} "
            f"(its columns here: {list(table.columns)[:20]})."
        )
    table["EXAMDATE"] = pd.to_datetime(table["EXAMDATE"], errors="coerce")
    table["VISCODE"] = table["VISCODE"].astype(str).str.strip().str.lower()
    return table


def _numeric(column):
    """A column as numbers: bounds such as ">1700" become 1700, other text NaN."""
    if pd.api.types.is_numeric_dtype(column):
        return column
    text = column.astype("string")
    bounds = text.str.extract(_BOUND, expand=False)
    return pd.to_numeric(text.where(bounds.isna(), bounds), errors="coerce")


def _without_duplicates(table):
    """One row per (PTID, VISCODE): the one with the fewest missing values, with a warning."""
    key = ["PTID", "VISCODE"]
    repeated = table.duplicated(key, keep=False)
    if not repeated.any():
        return table
    pairs = table.loc[repeated, key].drop_duplicates()
    warnings.warn(
        f"adnimerge repeats {len(pairs)} visit(s) (e.g. "
        f"{pairs.iloc[0].to_dict()}); kept the row with the fewest missing values "
        "of each.",
        UserWarning,
        stacklevel=4,
    )
    order = table.isna().sum(axis=1).rename("_missing")
    ranked = table.assign(_missing=order).sort_values(key + ["_missing"], kind="stable")
    return ranked.drop_duplicates(key).drop(columns="_missing").sort_index()


def _visits(table, visits):
    if visits == "baseline":
        # ADNIMERGE codes the baseline visit "bl"; a participant with only a screening row
        # ("sc", "scmri") is taken at screening.
        baseline = table[table["VISCODE"] == "bl"]
        screened = table[
            table["VISCODE"].isin(["sc", "scmri"]) & ~table["PTID"].isin(baseline["PTID"])
        ]
        return pd.concat([baseline, screened.drop_duplicates("PTID")])
    if visits == "all":
        return table
    codes = [str(v).lower() for v in visits]
    return table[table["VISCODE"].isin(codes)]


def _labels(table, chosen, task, years):
    if task == "ad_vs_cn":
        return chosen["DX"].where(chosen["DX"].isin(["CN", "Dementia"]))
    if task == "diagnosis":
        return chosen["DX"].where(chosen["DX"].isin(["CN", "MCI", "Dementia"]))
    # MCI conversion: MCI at the visit; "pMCI" when a later visit within `years` is
    # Dementia, "sMCI" when followed at least `years` without it; otherwise unknown. Time
    # is counted in visit months (VISCODE "m12" is month 12, "bl"/"sc" month 0), as ADNI
    # schedules visits, not in days between exam dates.
    horizon = 12 * years
    month = _months(table["VISCODE"])
    labels = pd.Series(np.nan, index=chosen.index, dtype=object)
    followed = table.assign(_month=month).dropna(subset=["_month"]).groupby("PTID")
    for index, row in chosen[chosen["DX"] == "MCI"].iterrows():
        start = month[index]
        if np.isnan(start) or row["PTID"] not in followed.groups:
            continue
        visits = followed.get_group(row["PTID"])
        after = visits[(visits["_month"] > start) & visits["DX"].notna()]
        within = after[after["_month"] - start <= horizon]
        if (within["DX"] == "Dementia").any():
            labels[index] = "pMCI"
        elif len(after) and after["_month"].max() - start >= horizon:
            labels[index] = "sMCI"
    return labels


def _months(viscodes):
    """Months since baseline from VISCODE: "bl", "sc", "scmri" 0, "m06" 6; others NaN."""
    codes = viscodes.astype(str).str.lower()
    months = pd.to_numeric(codes.str.extract(r"^m(\d+)$", expand=False), errors="coerce")
    return months.where(~codes.isin(["bl", "sc", "scmri"]), 0.0).astype(float)


def _tree_images(images, ptid):
    """(date, description, image id, file) of every NIfTI file of ``ptid`` in ADNI's tree."""
    found = []
    for description in sorted((images / ptid).iterdir()) if (images / ptid).is_dir() else []:
        if not description.is_dir():
            continue
        for dated in sorted(description.iterdir()):
            match = _DATE_FOLDER.match(dated.name)
            if not (match and dated.is_dir()):
                continue
            for image_id in sorted(dated.iterdir()):
                files = sorted(p for p in image_id.glob("*") if p.name.lower().endswith(_NIFTI))
                if files:
                    found.append(
                        (
                            pd.Timestamp(match.group(1)),
                            description.name,
                            image_id.name,
                            str(files[0]),
                        )
                    )
    return found


def _flat_image(images, ptid, viscode, baseline):
    for name in [f"{ptid}_{viscode}"] + ([ptid] if baseline else []):
        for suffix in _NIFTI:
            path = images / (name + suffix)
            if path.is_file():
                return str(path)
    return None


def _join_images(chosen, images, description, max_days):
    images = pathlib.Path(images).resolve()
    if not images.is_dir():
        raise FileNotFoundError(
            f"images={str(images)!r} is not a folder; pass the folder "
            "of your ADNI download (holding one folder per PTID) or of "
            "NIfTI files named <PTID>_<VISCODE>.nii.gz."
        )
    tree = any((images / p).is_dir() for p in chosen["PTID"].unique())
    paths, described = [], []
    for _, row in chosen.iterrows():
        path, name = None, None
        if tree:
            candidates = [
                c
                for c in _tree_images(images, row["PTID"])
                if description is None or description in c[1]
            ]
            if candidates and pd.notna(row["EXAMDATE"]):
                gaps = [abs((c[0] - row["EXAMDATE"]).days) for c in candidates]
                best = int(np.argmin(gaps))  # the first in sorted order on ties
                if gaps[best] <= max_days:
                    path, name = candidates[best][3], candidates[best][1]
        else:
            path = _flat_image(
                images, row["PTID"], row["VISCODE"], row["VISCODE"] in ("bl", "sc", "scmri")
            )
        paths.append(path)
        described.append(name)
    return paths, described


def adni_table(
    adnimerge,
    images,
    *,
    task="ad_vs_cn",
    visits="baseline",
    years=3,
    columns=DEFAULT_COLUMNS,
    description=None,
    max_days=90,
):
    """ADNIMERGE joined to the images, one row per participant and visit, as a DataFrame.

    Assumes ADNIMERGE.csv (ADNI's merged table, from the study data downloads) with its
    columns ``PTID`` (e.g. "011_S_0002"), ``VISCODE`` ("bl", "sc", "m06", "m12"...),
    ``EXAMDATE`` (YYYY-MM-DD), ``DX`` ("CN", "MCI", "Dementia"; empty at visits without a
    diagnosis), ``Years_bl`` where ages per visit are wanted, and the ``columns`` asked.
    Images are found in either of two layouts under ``images``:

    * ADNI's download tree (NIfTI downloads from the IDA):
      ``<PTID>/<description>/<YYYY-MM-DD_HH_MM_SS.S>/<image id>/*.nii[.gz]``, e.g.
      ``002_S_0295/MPR__GradWarp__B1_Correction__N3__Scaled/2006-04-18_08_20_30.0/I45108/
      ADNI_002_S_0295_MR_..._I45108.nii``. A visit takes the scan whose acquisition date
      (the date folder) is nearest its ``EXAMDATE``, within ``max_days``; on a tie the
      first description in alphabetical order. ``description`` keeps only descriptions
      containing it (e.g. "N3__Scaled"). DICOM downloads: convert them first (dcm2niix).
    * A folder of NIfTI files named ``<PTID>_<VISCODE>.nii[.gz]`` (for a baseline or
      screening row also ``<PTID>.nii[.gz]``).

    Parameters
    ----------
    adnimerge : str, path-like or DataFrame
        ADNIMERGE.csv or the table read from it.
    images : str or path-like
        The folder holding the images in one of the layouts above.
    task : {"ad_vs_cn", "diagnosis", "mci_conversion"}, default="ad_vs_cn"
        Labels, with ADNI's own names: "ad_vs_cn" keeps the visits whose ``DX`` is "CN" or
        "Dementia"; "diagnosis" CN / MCI / Dementia; "mci_conversion" the visits with
        ``DX == "MCI"``, labelled "pMCI" when a later visit within ``years`` has
        ``DX == "Dementia"`` and "sMCI" when a later diagnosed visit is at least ``years``
        away with no Dementia before; other MCI visits (followed too briefly) are dropped.
        Time is counted in visit months from VISCODE ("m36" is 36 months after "bl"), as
        ADNI schedules its visits; visits with other codes do not count as follow-up.
        (The built-in cohort calls the groups NC / MCI / AD.)
    visits : "baseline", "all" or list of str, default="baseline"
        "baseline": each participant's ``bl`` row (its screening row ``sc``/``scmri``
        where it has no ``bl``); "all": every visit (longitudinal: keep ``PTID`` as the
        groups of every split); or a list of VISCODEs.
    years : float, default=3
        Horizon of "mci_conversion".
    columns : sequence of str, default=("AGE", "PTGENDER", "PTEDUCAT", "APOE4", "ABETA", \
"TAU", "PTAU")
        ADNIMERGE columns kept as clinical values: demographics, APOE and CSF biomarkers.
        The default leaves out the cognitive scores (MMSE, CDRSB, ADAS13...) because
        ADNI's diagnosis is defined partly by them. Numeric text columns are read as numbers, CSF
        values written as bounds (">1700", "<80") as the bound.
    description : str or None, default=None
        Only scans whose series description contains it (download tree only).
    max_days : int, default=90
        Largest gap between a visit's EXAMDATE and its scan (download tree only).

    Returns
    -------
    table : DataFrame
        ``PTID``, ``VISCODE``, ``EXAMDATE``, ``label``, ``image`` (the file, or None where
        the visit has no scan), ``image_description`` (download tree) and the ``columns``.
        ``AGE`` is the age at the visit (ADNIMERGE's baseline ``AGE`` + ``Years_bl``).
        Duplicate (PTID, VISCODE) rows keep the one with the fewest missing values (warned).
    """
    if task not in TASKS:
        raise ValueError(f"task={task!r}: expected one of {list(TASKS)}.")
    if not (isinstance(visits, str) and visits in ("baseline", "all")) and (
        isinstance(visits, str) or not len(visits)
    ):
        raise ValueError(
            f"visits={visits!r}: expected 'baseline', 'all' or a non-empty "
            "list of VISCODEs such as ['bl', 'm12']."
        )
    if not (isinstance(years, (int, float)) and years > 0):
        raise ValueError(f"years={years!r}: expected a positive number of years.")
    table = _without_duplicates(_read_merge(adnimerge))
    columns = list(columns)
    absent = [c for c in columns if c not in table.columns]
    if absent:
        raise ValueError(
            f"columns {absent} are not in adnimerge; its columns include "
            f"{[c for c in table.columns if c.isupper()][:25]}."
        )
    chosen = _visits(table, visits).copy()
    chosen["label"] = _labels(table, chosen, task, years)
    chosen = chosen.dropna(subset=["label"])
    if chosen.empty:
        raise ValueError(
            f"no visit of adnimerge has a label for task={task!r} with "
            f"visits={visits!r}; check its DX column."
        )
    paths, described = _join_images(chosen, images, description, max_days)
    out = chosen[["PTID", "VISCODE", "EXAMDATE", "label"]].copy()
    out["image"] = paths
    if any(d is not None for d in described):
        out["image_description"] = described
    for column in columns:
        out[column] = _numeric(chosen[column]) if column != "PTGENDER" else chosen[column]
    if "AGE" in columns and "Years_bl" in chosen.columns:
        out["AGE"] = out["AGE"] + _numeric(chosen["Years_bl"]).fillna(0)
    return out.sort_values(["PTID", "EXAMDATE"], kind="stable").reset_index(drop=True)


def load_adni(
    adnimerge,
    images,
    *,
    task="ad_vs_cn",
    visits="baseline",
    years=3,
    columns=DEFAULT_COLUMNS,
    description=None,
    max_days=90,
    missing="raise",
    slices=1,
    plane="coronal",
    size=None,
    normalize=None,
    lazy=False,
):
    """ADNI as ``(X, y, groups)``: :func:`adni_table`, then the images read as slices.

    Parameters
    ----------
    adnimerge, images, task, visits, years, columns, description, max_days
        As in :func:`adni_table`.
    missing : {"raise", "drop", "allow"}, default="raise"
        Visits without a scan: "raise" refuses, listing them; "drop" leaves them out (with
        a warning giving their number); "allow" keeps them with their image marked missing
        (``X.present["images"]``), so the estimators train on and predict for them from
        their clinical values.
    slices, plane, size, normalize, lazy
        As in :func:`load_table_cohort` (``slices`` central slices of ``plane`` per visit).

    Returns
    -------
    X : FusionInput
        One row per visit (``X.subjects``: the PTID), the ``columns`` as clinical values.
    y : ndarray
        The labels of ``task``.
    groups : ndarray
        The PTID of each row: pass it to every split (longitudinal visits of one
        participant must stay on one side).
    """
    from ..._input import FusionInput
    from .._readers.layout import _with_placeholders
    from .._readers.table import load_table_cohort

    if missing not in ("raise", "drop", "allow"):
        raise ValueError(f"missing={missing!r}: expected 'raise', 'drop' or 'allow'.")
    table = adni_table(
        adnimerge,
        images,
        task=task,
        visits=visits,
        years=years,
        columns=columns,
        description=description,
        max_days=max_days,
    )
    absent = table["image"].isna().to_numpy()
    if absent.any():
        listed = ", ".join(
            f"{p} {v}"
            for p, v in table.loc[absent, ["PTID", "VISCODE"]].head(10).itertuples(index=False)
        )
        if missing == "raise" or absent.all():
            raise FileNotFoundError(
                f"{int(absent.sum())} of {len(table)} visits have no scan in {str(images)!r} "
                f"({listed}{' ...' if absent.sum() > 10 else ''}); check images, "
                "description and max_days, or pass missing='drop' or missing='allow'."
            )
        if missing == "drop":
            warnings.warn(
                f"left out {int(absent.sum())} visits without a scan ({listed}).",
                UserWarning,
                stacklevel=2,
            )
            table = table[~absent].reset_index(drop=True)
            absent = np.zeros(len(table), dtype=bool)
    order = np.concatenate([np.flatnonzero(~absent), np.flatnonzero(absent)])
    table = table.iloc[order].reset_index(drop=True)
    extra = [c for c in ("VISCODE", "EXAMDATE", "image_description") if c in table.columns]
    present = table.iloc[: int((~absent).sum())].drop(columns=extra)
    X, y, groups = load_table_cohort(
        present,
        image_column="image",
        target="label",
        id_column="PTID",
        root=os.getcwd(),
        size=size,
        normalize=normalize,
        lazy=lazy,
        slices=slices,
        plane=plane,
    )
    if not absent.any():
        return X, y, groups
    rest = table.iloc[len(present) :]
    clinical = pd.concat(
        [X.clinical, rest.drop(columns=["PTID", "label", "image", *extra])], ignore_index=True
    )
    images_all = _with_placeholders(X.images, len(rest))
    groups = np.concatenate([groups, rest["PTID"].to_numpy()])
    mask = np.arange(len(groups)) < len(present)
    return (
        FusionInput(
            images_all, clinical, subjects=groups, layout=X.layout, present={"images": mask}
        ),
        np.concatenate([y, rest["label"].to_numpy()]),
        groups,
    )
