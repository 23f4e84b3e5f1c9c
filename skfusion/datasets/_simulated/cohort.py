"""A built-in brain MRI cohort simulated from the MNI152 template, with ADNI-like clinical data.

The images are real anatomy (the ICBM 2009a MNI152 T1 template and its grey/white-matter
probability maps, which ship inside nilearn's wheel) deformed per simulated subject; the
clinical values follow published per-group summaries of ADNI. Nothing is downloaded.
"""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ..._input import FusionInput
from .._readers.layout import write_cohort
from .cohort_clinical import (
    COHORT_SOURCES,
    GROUP_STATISTICS,
    _add_missing,
    _clinical_frame,
    _simulate_target,
)
from .cohort_images import _ORIGIN, _smoothed_slab, _subject_slices
from .cohort_reports import FINDING_GRADES, _write_report, report_finding
from .site import check_site, lower_resolution, site_diagnosis

__all__ = [
    "COHORT_SOURCES",
    "FINDING_GRADES",
    "GROUP_STATISTICS",
    "make_brain_cohort",
    "report_finding",
]

TASKS = {
    "ad_vs_nc": ("NC", "AD"),
    "mci_conversion": ("sMCI", "pMCI"),
    "nc_mci_ad": ("NC", "MCI", "AD"),
    "mmse": ("NC", "MCI", "AD"),
    "conversion_time": ("sMCI", "pMCI"),
}


@validate_params(
    {
        "n_subjects": [Interval(Integral, 2, None, closed="left")],
        "task": [StrOptions(set(TASKS))],
        "n_slices": [Interval(Integral, 1, 40, closed="both")],
        "image_size": [Interval(Integral, 16, None, closed="left")],
        "n_noise_features": [Interval(Integral, 0, None, closed="left")],
        "missing_rate": [Interval(Real, 0, 1, closed="left")],
        "include_cognitive": ["boolean"],
        "noise_level": [Interval(Real, 0, None, closed="left")],
        "return_masks": ["boolean"],
        "reports": ["boolean"],
        "output_dir": [str, os.PathLike, None],
        "unit": [StrOptions({"slice", "patient"})],
        "site": [None, StrOptions({"external"}), dict],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_brain_cohort(
    n_subjects=100,
    *,
    task="ad_vs_nc",
    n_slices=10,
    image_size=64,
    n_noise_features=5,
    missing_rate=0.0,
    include_cognitive=False,
    noise_level=0.03,
    return_masks=False,
    reports=False,
    output_dir=None,
    unit="patient",
    site=None,
    random_state=None,
):
    """Simulate a brain MRI + clinical cohort from the MNI152 template, with no download.

    Each subject gets a diagnosis, demographics and biomarkers drawn from published ADNI
    summaries (see ``COHORT_SOURCES``), and a brain: the real MNI152 T1 template warped by a
    smooth random deformation, scaled to the subject's head size (eTIV), with global atrophy
    (grey matter turned to CSF, enlarged ventricles) and hippocampal atrophy that grow with a
    latent neurodegeneration score (diagnosis and age), then scanner effects (intensity scale,
    bias field, Rician noise). ``n_slices`` consecutive 1 mm coronal slices through the
    hippocampus (MNI y around -22 mm) are taken per subject, as in Yang et al.'s protocol.

    Images and clinical values carry different information on purpose: plasma NfL tracks the
    atrophy visible in the images and eTIV the head size, while CSF amyloid, tau and APOE are
    drawn independently of the images given the diagnosis, so neither modality alone holds
    all the signal.

    Parameters
    ----------
    n_subjects : int, default=100
        Subjects; the groups of ``task`` are balanced (sizes differ by at most one).
    task : {"ad_vs_nc", "mci_conversion", "nc_mci_ad", "mmse", "conversion_time"}, \
            default="ad_vs_nc"
        Labels: AD vs NC; progressive (pMCI) vs stable (sMCI) MCI, a harder task with smaller
        group differences; or NC / MCI / AD. Two tasks have other targets (both simulated):

        * "mmse" (regression): ``y`` is the MMSE score of NC, MCI and AD subjects, which
          within each group falls with the subject's neurodegeneration (the atrophy the
          images show; plasma NfL tracks part of it), so both modalities carry signal. MMSE
          is then never in ``X`` (``include_cognitive=True`` is refused).
        * "conversion_time" (time to event): MCI subjects; ``y`` is a structured array of
          (``event``, ``time``): conversion to dementia observed, and years to conversion or
          to censoring (drop-out, end of follow-up at 6 years). The hazard grows with the
          same neurodegeneration (hazard ratio e^1.5 per unit), so the images, NfL and the
          sMCI/pMCI-like biomarker profiles all carry part of it. ``frame`` holds
          ``conversion_event`` and ``conversion_years``; its ``diagnosis`` is "MCI".
    n_slices : int, default=10
        Consecutive coronal slices per subject (the paper took 10).
    image_size : int, default=64
        Slices are ``image_size`` x ``image_size`` over a 164 mm field of view (64 suits a CPU;
        256 matches the paper's input).
    n_noise_features : int, default=5
        Uninformative measurements ``lab_0``, ``lab_1``... added to the clinical table.
    missing_rate : float, default=0.0
        Share of biomarker values (CSF, NfL, labs) set to NaN at random, per subject.
    include_cognitive : bool, default=False
        Put MMSE and CDR-SB into ``X.clinical``. They are always in ``frame``, but ADNI
        assigns its diagnoses partly from these scores, so predicting the diagnosis from them
        is circular (it gives near-perfect accuracy): they stay out of X by default.
    noise_level : float, default=0.03
        Rician noise SD relative to white-matter intensity.
    return_masks : bool, default=False
        Also return ``masks``: the hippocampal region of each slice (where the regional
        atrophy was applied), for localisation scores of attention maps.
    reports : bool, default=False
        Also write a short radiology-style report per subject (``X.text``, one per slice,
        and ``frame["report"]``) whose wording follows the subject's atrophy as a reader
        would grade it (with reader disagreement), with realistic noise: synonyms, negations,
        incidental sentences, and some reports that do not mention the hippocampi.
        ``frame`` then also holds each reader's atrophy grade (``"reader_grade"``: "none",
        "mild", "moderate" or "marked") and whether the report states it
        (``"report_mentions_hippocampi"``); :func:`report_finding` reads the stated grade
        back from any report text (generated ones included).
    unit : {"patient", "slice"}, default="patient"
        "patient": one row per subject, as a hospital table has it: ``X.images`` is the
        subject's slice stack ``(n_subjects, n_slices, image_size, image_size)`` (declared
        with ``layout="slices"``, so estimators read it as a stack; ``slices="attention"``
        pools by attention, ``spatial_dims=3`` reads it as one volume), with one clinical
        row, one report and one target per subject, so any cross-validation splits
        patients. "slice": one row per slice (Yang et al.'s protocol), ``groups`` and
        ``X.subjects`` saying which slices belong to one subject; splits must keep them
        together.
    site : None, "external" or dict, default=None
        The acquisition site. None: the reference site (balanced groups, the scanner above).
        A dict shifts it: ``intensity`` (factor on the scanner gain), ``noise`` (factor on
        ``noise_level``), ``resolution`` (each slice sampled at that share of its resolution
        and back onto the same grid: a coarser protocol) and ``prevalence`` (share of the
        task's second group, e.g. AD; two-group tasks only). ``"external"`` is the judged
        external site, fixed before measuring: ``{"intensity": 1.3, "noise": 2.0,
        "resolution": 0.75, "prevalence": 0.3}``. Draw an external site with another
        ``random_state`` than the reference one: its subjects are other people.
    output_dir : str, path-like or None, default=None
        Also write the cohort there as NIfTI files with a ``participants.tsv`` (see
        :func:`write_cohort`), loadable with :func:`load_cohort`.
    random_state : int, RandomState instance or None, default=None
        Makes the cohort exactly reproducible.

    Returns
    -------
    data : Bunch
        ``X`` (FusionInput: float32 images ``(n_subjects, n_slices, image_size,
        image_size)`` and the clinical DataFrame, one row per subject; with ``unit="slice"``
        images ``(n_subjects * n_slices, image_size, image_size)`` and one row per slice),
        ``y`` (the target per row), ``groups`` (subject id per row, for GroupKFold),
        ``frame`` (one row per subject: id, diagnosis, every clinical variable, and
        ``"neurodegeneration"``: the simulation's latent score that drives the atrophy the
        images show — ground truth for measuring how much of the image signal a model
        recovers, never a feature: it is not in ``X``),
        ``feature_names`` (columns of ``X.clinical``), ``slice_index`` (MNI y in mm of the
        slices), ``DESCR``, and ``masks`` if asked (the shape of the images).

    Examples
    --------
    >>> from skfusion.datasets import make_brain_cohort
    >>> cohort = make_brain_cohort(n_subjects=4, n_slices=2, image_size=32, random_state=0)
    >>> cohort.X.images.shape, cohort.X.clinical.shape, sorted(set(cohort.y))
    ((4, 2, 32, 32), (4, 14), ['AD', 'NC'])
    >>> slices = make_brain_cohort(4, n_slices=2, image_size=32, unit="slice", random_state=0)
    >>> slices.X.images.shape, slices.groups[:4].tolist()
    ((8, 32, 32), ['sub-001', 'sub-001', 'sub-002', 'sub-002'])
    """
    if task == "mmse" and include_cognitive:
        raise ValueError(
            "task='mmse' predicts MMSE, so include_cognitive=True would put the target into "
            "X.clinical; use include_cognitive=False (CDR-SB is left out with it)."
        )
    rng = check_random_state(random_state)
    labels = TASKS[task]
    shifts = check_site(site, labels)
    if shifts is not None and shifts["prevalence"] is not None:
        diagnosis = site_diagnosis(labels, n_subjects, shifts["prevalence"], rng)
    else:
        diagnosis = np.asarray(labels)[rng.permutation(np.arange(n_subjects) % len(labels))]
    gain, noise = (1.0, 1.0) if shifts is None else (shifts["intensity"], shifts["noise"])
    frame = _clinical_frame(diagnosis, rng, n_noise_features)

    t1, gm, j0 = _smoothed_slab(n_slices, image_size)
    images = np.empty((n_subjects * n_slices, image_size, image_size), dtype=np.float32)
    masks = np.empty(images.shape, dtype=bool) if return_masks else None
    for index, subject in enumerate(frame.itertuples(index=False)):
        block = slice(index * n_slices, (index + 1) * n_slices)
        images[block], region = _subject_slices(
            t1, gm, subject, image_size, noise_level * noise, rng, gain
        )
        if return_masks:
            masks[block] = region
    if shifts is not None:
        images = lower_resolution(images, shifts["resolution"])

    frame = _add_missing(frame, rng, missing_rate, n_noise_features)
    if reports:  # drawn last, so images and tables are the same with or without reports
        written = [
            _write_report(rng, row.neurodegeneration, row.age)
            for row in frame.itertuples(index=False)
        ]
        frame["report"] = [text for text, _, _ in written]
        frame["reader_grade"] = [grade for _, grade, _ in written]
        frame["report_mentions_hippocampi"] = [mentioned for _, _, mentioned in written]
    y_subject = frame["diagnosis"].to_numpy()
    if task in ("mmse", "conversion_time"):  # drawn last, so images and tables stay the same
        frame, y_subject = _simulate_target(task, frame, rng)
    cognitive = ["mmse", "cdr_sb"]
    feature_names = [
        c
        for c in frame.columns
        if c
        not in (
            "subject_id",
            "diagnosis",
            "neurodegeneration",
            "report",
            "reader_grade",
            "report_mentions_hippocampi",
            "conversion_event",
            "conversion_years",
        )
        and (include_cognitive or c not in cognitive)
    ]
    clinical = frame[feature_names].loc[frame.index.repeat(n_slices)].reset_index(drop=True)
    groups = np.repeat(frame["subject_id"].to_numpy(), n_slices)
    y = np.repeat(y_subject, n_slices)
    slice_mm = np.tile(np.arange(j0, j0 + n_slices) - int(_ORIGIN[1]), n_subjects)
    text = np.repeat(frame["report"].to_numpy(), n_slices).tolist() if reports else None
    result = Bunch(
        X=FusionInput(images, clinical, text=text, subjects=groups),
        y=y,
        groups=groups,
        frame=frame,
        feature_names=feature_names,
        slice_index=slice_mm,
        DESCR=_describe(task, n_subjects, n_slices, image_size, feature_names),
    )
    if return_masks:
        result["masks"] = masks
    if output_dir is not None:
        result["path"] = write_cohort(result, output_dir)
    if unit == "patient":
        result = _per_patient(result, frame, feature_names, y_subject, n_slices, image_size)
    return result


def _per_patient(result, frame, feature_names, y_subject, n_slices, image_size):
    """The same cohort with one row per subject: slice stacks, one clinical row each."""
    n = len(frame)
    images = result.X.images.reshape(n, n_slices, image_size, image_size)
    text = None if result.X.text is None else list(result.X.text[::n_slices])
    subjects = frame["subject_id"].to_numpy()
    result = Bunch(**result)
    result["X"] = FusionInput(
        images,
        frame[feature_names].reset_index(drop=True),
        text=text,
        subjects=subjects,
        layout="slices",
    )
    result["y"] = y_subject
    result["groups"] = subjects
    result["slice_index"] = result["slice_index"][:n_slices]
    if "masks" in result:
        result["masks"] = result["masks"].reshape(n, n_slices, image_size, image_size)
    return result


def _describe(task, n_subjects, n_slices, image_size, feature_names):
    return f"""Simulated brain MRI cohort (skfusion.datasets.make_brain_cohort)
=====================================================================

The images are SIMULATED from a real template, not scans of patients: the ICBM 2009a MNI152
T1 template and grey-matter map (shipped in nilearn's wheel), warped per subject (smooth random
deformation, head size from eTIV), with atrophy driven by a latent neurodegeneration score
(diagnosis and age): grey matter turned to CSF across the cortex, enlarged ventricles, and
stronger hippocampal atrophy; then scanner effects (gain, bias field, Rician noise).
{n_slices} consecutive 1 mm coronal slices per subject through the hippocampus (around MNI
y = -22 mm), {image_size}x{image_size} pixels over a 164 mm field of view.

Task: {task}; {n_subjects} subjects, {n_subjects * n_slices} slices; groups balanced.
With unit="slice", keep a subject's slices in one fold (GroupKFold / StratifiedGroupKFold
with `groups`); with the default unit="patient" each row is one subject.

Clinical variables (X.clinical: {", ".join(feature_names)}):
- age (years), sex ("F"/"M": encode it, e.g. OneHotEncoder), education_years
- mmse (Mini-Mental State Examination, 0-30), cdr_sb (Clinical Dementia Rating sum of boxes,
  0-18): in `frame` always; in X only with include_cognitive=True, since ADNI's diagnoses are
  partly defined by them
- apoe4_count (APOE e4 alleles, 0-2): genetic risk, not visible in images
- csf_abeta42, csf_total_tau, csf_ptau181 (pg/mL): CSF biomarkers, not visible in images
- plasma_nfl (pg/mL): neurofilament light, tracks the atrophy that the images show
- etiv (cm3): estimated total intracranial volume, sets the head size in the images
- lab_*: uninformative measurements

{COHORT_SOURCES}
"""
