"""A small simulated replica of an ADNI download, to try :func:`load_adni` without ADNI data."""

import pathlib

import numpy as np
import pandas as pd

__all__ = ["write_adni_replica"]

#: The series description of ADNI's processed MPRAGE downloads.
DESCRIPTION = "MPR__GradWarp__B1_Correction__N3__Scaled"
_MONTHS = {"bl": 0, "m06": 6, "m12": 12, "m24": 24, "m36": 36}
_DX = {"NC": "CN", "MCI": "MCI", "AD": "Dementia"}
_DX_BL = {"NC": "CN", "MCI": "LMCI", "AD": "AD"}


def write_adni_replica(folder, *, n_subjects=24, image_size=32, random_state=0):
    """Write a simulated cohort in ADNI's layout: ``ADNIMERGE.csv`` and an ``ADNI/``
    download tree of NIfTI scans. Simulated (from :func:`make_brain_cohort`), not ADNI data.

    ``ADNIMERGE.csv`` has ADNI's column names (RID, PTID such as "002_S_0001", VISCODE,
    EXAMDATE, DX_bl, DX, AGE, PTGENDER, PTEDUCAT, APOE4, MMSE, ABETA, TAU, PTAU, Years_bl,
    Month_bl) and visits bl, m06, m12, m24, m36 (some participants leave early; half of the
    MCI participants convert to Dementia at m12 or m24). The scans sit at
    ``ADNI/<PTID>/MPR__GradWarp__B1_Correction__N3__Scaled/<date>_10_15_00.0/I<id>/`` at
    baseline and m12, dated a few days before the visit. The awkward parts of a real
    download are there: the first participant has a screening row ("sc") and no "bl" row;
    the second's baseline row is repeated with fewer values; the third has no baseline
    scan; one ABETA value is written as a bound (">1700"); the fourth has a second series
    description on the same day.

    Parameters
    ----------
    folder : str or path-like
        Where to write (created if absent).
    n_subjects : int, default=24
        Participants (at least 6), a third each CN, MCI and Dementia at baseline.
    image_size : int, default=32
        Height and width of the scans' slices.
    random_state : int, default=0
        Seeds the cohort, the visit dates and the dropouts.

    Returns
    -------
    folder : pathlib.Path
        Holding ``ADNIMERGE.csv`` and ``ADNI/``.
    """
    import nibabel as nib

    from .._simulated.cohort import make_brain_cohort

    if not (isinstance(n_subjects, (int, np.integer)) and n_subjects >= 6):
        raise ValueError(f"n_subjects={n_subjects!r}: expected a whole number >= 6.")
    cohort = make_brain_cohort(
        n_subjects,
        task="nc_mci_ad",
        n_slices=4,
        image_size=image_size,
        include_cognitive=True,
        random_state=random_state,
    )
    rng = np.random.default_rng(random_state)
    folder = pathlib.Path(folder)
    (folder / "ADNI").mkdir(parents=True, exist_ok=True)
    clinical = cohort.X.clinical
    rows, image_id = [], 40000
    for i, group in enumerate(cohort.y):
        rid = i + 1
        ptid = f"{(2, 11, 23, 941)[i % 4]:03d}_S_{rid:04d}"
        start = pd.Timestamp("2006-01-01") + pd.Timedelta(days=int(rng.integers(0, 1500)))
        converts = group == "MCI" and i % 2 == 0
        last = ["m12", "m24", "m36"][int(rng.integers(0, 3))] if i >= 6 else "m36"
        values = clinical.iloc[i]
        first = len(rows)
        for code, month in _MONTHS.items():
            if month > _MONTHS[last]:
                break
            date = start + pd.Timedelta(days=int(month * 30.44))
            dx = _DX[group]
            if converts and month >= (12 if i % 4 == 0 else 24):
                dx = "Dementia"
            rows.append(
                {
                    "RID": rid,
                    "PTID": ptid,
                    "VISCODE": "sc" if (i == 0 and code == "bl") else code,
                    "EXAMDATE": date.strftime("%Y-%m-%d"),
                    "DX_bl": _DX_BL[group],
                    "DX": dx if month != 6 or i % 3 else np.nan,
                    "AGE": float(values["age"]),
                    "PTGENDER": {"M": "Male", "F": "Female"}[values["sex"]],
                    "PTEDUCAT": int(values["education_years"]),
                    "APOE4": float(values["apoe4_count"]),
                    "MMSE": float(values["mmse"]),
                    "ABETA": ">1700" if i == 5 else f"{values['csf_abeta42'] * 8:.1f}",
                    "TAU": f"{values['csf_total_tau'] * 2:.1f}",
                    "PTAU": f"{values['csf_ptau181']:.2f}",
                    "Years_bl": round(month / 12, 4),
                    "Month_bl": float(month),
                }
            )
            if code in ("bl", "m12") and not (i == 2 and code == "bl"):
                image_id += 1
                scanned = date - pd.Timedelta(days=int(rng.integers(0, 20)))
                descriptions = [DESCRIPTION] + (
                    ["MPR-R__GradWarp__B1_Correction__N3__Scaled"]
                    if i == 3 and code == "bl"
                    else []
                )
                for description in descriptions:
                    _write_scan(
                        nib,
                        folder / "ADNI",
                        ptid,
                        description,
                        scanned,
                        image_id,
                        cohort.X.images[i],
                    )
                    image_id += 1
        if i == 1:  # a repeated baseline row, with fewer values
            rows.append({**rows[first], "ABETA": np.nan, "TAU": np.nan})
    pd.DataFrame(rows).to_csv(folder / "ADNIMERGE.csv", index=False)
    return folder


def _write_scan(nib, root, ptid, description, date, image_id, slab):
    """One scan in ADNI's tree: the participant's slices as a small volume (x, y, z)."""
    where = root / ptid / description / f"{date:%Y-%m-%d}_10_15_00.0" / f"I{image_id}"
    where.mkdir(parents=True, exist_ok=True)
    volume = np.ascontiguousarray(np.asarray(slab)[:, ::-1, :].transpose(2, 0, 1))
    name = f"ADNI_{ptid}_MR_{description}_Br_{date:%Y%m%d}101500000_S{image_id - 30000}_I{image_id}"
    nib.save(nib.Nifti1Image(volume.astype(np.float32), np.eye(4)), where / f"{name}.nii.gz")
