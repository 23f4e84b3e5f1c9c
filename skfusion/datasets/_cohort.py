"""A built-in brain MRI cohort simulated from the MNI152 template, with ADNI-like clinical data.

The images are real anatomy (the ICBM 2009a MNI152 T1 template and its grey/white-matter
probability maps, which ship inside nilearn's wheel) deformed per simulated subject; the
clinical values follow published per-group summaries of ADNI. Nothing is downloaded.
"""

import functools
import importlib.util
import os
import re
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from .._input import FusionInput
from ._layout import _FIELD, write_cohort
from ._site import check_site, lower_resolution, site_diagnosis

__all__ = ["COHORT_SOURCES", "GROUP_STATISTICS", "make_brain_cohort"]

# --- calibration ------------------------------------------------------------------------------
#: Per-group (mean, sd) of each clinical variable, and proportions, with their sources.
#: NC: cognitively normal; MCI: mild cognitive impairment; AD: Alzheimer's disease dementia;
#: sMCI/pMCI: MCI that stayed stable / progressed to AD within about three years.
GROUP_STATISTICS = {
    "NC": dict(age=(75.8, 5.0), education=(16.0, 2.9), female=0.48, mmse=(29.1, 1.0),
               cdr_sb=(0.03, 0.12), apoe4_carrier=0.27, abeta42=(205.6, 55.1),
               total_tau=(69.7, 27.9), ptau181=(24.9, 14.6), nfl=(34.7, 17.0),
               neurodegeneration=0.0),
    "MCI": dict(age=(74.7, 7.4), education=(15.7, 3.0), female=0.36, mmse=(27.0, 1.8),
                cdr_sb=(1.6, 0.9), apoe4_carrier=0.53, abeta42=(163.3, 54.9),
                total_tau=(103.2, 61.3), ptau181=(35.7, 18.0), nfl=(42.8, 21.0),
                neurodegeneration=0.8),
    "AD": dict(age=(75.3, 7.5), education=(14.7, 3.1), female=0.47, mmse=(23.3, 2.0),
               cdr_sb=(4.3, 1.6), apoe4_carrier=0.66, abeta42=(143.0, 40.8),
               total_tau=(121.6, 57.3), ptau181=(41.6, 19.8), nfl=(51.0, 24.0),
               neurodegeneration=1.6),
    "sMCI": dict(age=(74.9, 7.6), education=(15.6, 3.0), female=0.36, mmse=(27.3, 1.8),
                 cdr_sb=(1.4, 0.8), apoe4_carrier=0.45, abeta42=(178.0, 57.0),
                 total_tau=(89.0, 50.0), ptau181=(31.0, 17.0), nfl=(40.0, 20.0),
                 neurodegeneration=0.6),
    "pMCI": dict(age=(74.4, 7.1), education=(15.8, 2.9), female=0.37, mmse=(26.6, 1.7),
                 cdr_sb=(1.9, 1.0), apoe4_carrier=0.66, abeta42=(144.0, 41.0),
                 total_tau=(118.0, 60.0), ptau181=(40.0, 18.0), nfl=(46.0, 22.0),
                 neurodegeneration=1.1),
}

COHORT_SOURCES = """\
Per-group means and SDs (GROUP_STATISTICS):
- Age, years of education, sex, MMSE, CDR-SB and APOE e4 carrier rates of NC, MCI and AD:
  ADNI-1 baseline, Petersen et al., "Alzheimer's Disease Neuroimaging Initiative (ADNI):
  clinical characterization", Neurology 74:201-209 (2010), table 1.
- CSF amyloid-beta 1-42, total tau and phosphorylated tau 181 (pg/mL, xMAP Luminex
  INNO-BIA AlzBio3): ADNI baseline, Shaw et al., "Cerebrospinal fluid biomarker signature in
  Alzheimer's disease neuroimaging initiative subjects", Annals of Neurology 65:403-413 (2009).
- Plasma neurofilament light (pg/mL, Simoa): group means from ADNI, Mattsson et al., "Association
  of plasma neurofilament light with neurodegeneration in patients with Alzheimer disease", JAMA
  Neurology 74:557-566 (2017); the SDs here are approximations.
- Stable vs progressive MCI (sMCI, pMCI): approximations placed between the MCI and NC / AD
  rows above, in the directions reported for ADNI-1 converters; treat them as illustrative.
- eTIV (estimated total intracranial volume): about 1,600 cm3 in men and 1,400 cm3 in women,
  SD about 120 cm3 (Buckner et al., NeuroImage 23:724-738, 2004).
These are the summaries we used to shape the simulation, not patient data; check them against
the sources before relying on any number."""

#: Template voxel (i, j, k) of MNI (0, 0, 0) in the 1 mm ICBM 2009a template shipped by nilearn.
_ORIGIN = np.array([98.0, 134.0, 72.0])
#: Coronal slab centre: MNI y = -22 mm, through the body of the hippocampus.
_SLAB_CENTRE_Y = -22
#: Hippocampus centres (MNI x, z) in the coronal plane, and their spread in mm.
_HIPPOCAMPI = ((-28.0, -14.0), (28.0, -14.0))
_HIPPOCAMPUS_SD = 5.5
#: Lateral ventricles' centre (MNI x, z) at the slab, and the spread of their enlargement.
_VENTRICLES = (0.0, 16.0)
_VENTRICLE_SD = 14.0

TASKS = {
    "ad_vs_nc": ("NC", "AD"),
    "mci_conversion": ("sMCI", "pMCI"),
    "nc_mci_ad": ("NC", "MCI", "AD"),
    "mmse": ("NC", "MCI", "AD"),
    "conversion_time": ("sMCI", "pMCI"),
}

#: Targets of the regression and time-to-event tasks (simulated; see make_brain_cohort).
#: MMSE: the group mean, minus MMSE_PER_NEURODEGENERATION points per unit of the subject's
#: neurodegeneration above the group's, plus noise of SD MMSE_NOISE, rounded, in [10, 30].
MMSE_PER_NEURODEGENERATION = 2.2
MMSE_NOISE = 1.0
#: Time to dementia of MCI subjects: exponential with hazard CONVERSION_HAZARD per year at
#: neurodegeneration 0.85 (between sMCI and pMCI), times exp(CONVERSION_LOG_HR per unit of
#: neurodegeneration); censored by drop-out (exponential, DROPOUT_HAZARD per year) and by the
#: end of follow-up at FOLLOW_UP_YEARS.
CONVERSION_HAZARD = 0.2
CONVERSION_LOG_HR = 1.5
DROPOUT_HAZARD = 0.08
FOLLOW_UP_YEARS = 6.0


def _nilearn_data_dir():
    spec = importlib.util.find_spec("nilearn")
    if spec is None:
        raise ImportError(
            "make_brain_cohort reads the MNI152 template that ships inside nilearn's wheel; "
            "install it with `pip install nilearn` (it is a dependency of skfusion)."
        )
    return os.path.join(spec.submodule_search_locations[0], "datasets", "data")


@functools.lru_cache(maxsize=2)
def _template_slab(n_slices):
    """T1 intensities and grey-matter probabilities of the slab, shape (n_slices, 197, 189)."""
    import nibabel as nib

    folder = _nilearn_data_dir()
    t1 = nib.load(os.path.join(folder, "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"))
    gm = nib.load(os.path.join(folder, "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"))
    j0 = int(_ORIGIN[1] + _SLAB_CENTRE_Y - n_slices // 2)
    t1_slab = np.asarray(t1.dataobj[:, j0:j0 + n_slices, :], dtype=np.float32) / 255.0
    gm_slab = np.asarray(gm.dataobj[:, j0:j0 + n_slices, :], dtype=np.float32) / 255.0
    return (np.ascontiguousarray(t1_slab.transpose(1, 0, 2)),
            np.ascontiguousarray(gm_slab.transpose(1, 0, 2)), j0)


@functools.lru_cache(maxsize=4)
def _smoothed_slab(n_slices, image_size):
    """The slab blurred to the output resolution (anti-aliasing), cached per size."""
    from scipy.ndimage import gaussian_filter

    t1, gm, j0 = _template_slab(n_slices)
    pixel_mm = (_FIELD[1] - _FIELD[0]) / image_size
    sigma = max(0.0, 0.4 * (pixel_mm - 1.0))
    if sigma > 0:
        t1 = gaussian_filter(t1, (0, sigma, sigma))
        gm = gaussian_filter(gm, (0, sigma, sigma))
    return t1, gm, j0


def _smooth_field(rng, image_size, amplitude, grid=4):
    from scipy.ndimage import zoom

    coarse = rng.normal(size=(grid, grid)).astype(np.float32)
    return zoom(coarse, image_size / grid, order=3, mode="nearest")[:image_size, :image_size] \
        * amplitude


# --- the generator ----------------------------------------------------------------------------

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
            "X.clinical; use include_cognitive=False (CDR-SB is left out with it).")
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
        images[block], region = _subject_slices(t1, gm, subject, image_size,
                                                noise_level * noise, rng, gain)
        if return_masks:
            masks[block] = region
    if shifts is not None:
        images = lower_resolution(images, shifts["resolution"])

    frame = _add_missing(frame, rng, missing_rate, n_noise_features)
    if reports:  # drawn last, so images and tables are the same with or without reports
        written = [_write_report(rng, row.neurodegeneration, row.age)
                   for row in frame.itertuples(index=False)]
        frame["report"] = [text for text, _, _ in written]
        frame["reader_grade"] = [grade for _, grade, _ in written]
        frame["report_mentions_hippocampi"] = [mentioned for _, _, mentioned in written]
    y_subject = frame["diagnosis"].to_numpy()
    if task in ("mmse", "conversion_time"):  # drawn last, so images and tables stay the same
        frame, y_subject = _simulate_target(task, frame, rng)
    cognitive = ["mmse", "cdr_sb"]
    feature_names = [c for c in frame.columns
                     if c not in ("subject_id", "diagnosis", "neurodegeneration", "report",
                                  "reader_grade", "report_mentions_hippocampi",
                                  "conversion_event", "conversion_years")
                     and (include_cognitive or c not in cognitive)]
    clinical = frame[feature_names].loc[frame.index.repeat(n_slices)].reset_index(drop=True)
    groups = np.repeat(frame["subject_id"].to_numpy(), n_slices)
    y = np.repeat(y_subject, n_slices)
    slice_mm = np.tile(np.arange(j0, j0 + n_slices) - int(_ORIGIN[1]), n_subjects)
    text = (np.repeat(frame["report"].to_numpy(), n_slices).tolist() if reports else None)
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
    result["X"] = FusionInput(images, frame[feature_names].reset_index(drop=True), text=text,
                              subjects=subjects, layout="slices")
    result["y"] = y_subject
    result["groups"] = subjects
    result["slice_index"] = result["slice_index"][:n_slices]
    if "masks" in result:
        result["masks"] = result["masks"].reshape(n, n_slices, image_size, image_size)
    return result


def _simulate_target(task, frame, rng):
    """The target of the regression / time-to-event tasks, from the latent neurodegeneration;
    returns the updated frame and the per-subject target."""
    frame = frame.copy()
    stats = [GROUP_STATISTICS[d] for d in frame["diagnosis"]]
    excess = frame["neurodegeneration"].to_numpy() - np.array(
        [s["neurodegeneration"] for s in stats])
    if task == "mmse":
        mean = np.array([s["mmse"][0] for s in stats])
        score = mean - MMSE_PER_NEURODEGENERATION * excess + rng.normal(
            scale=MMSE_NOISE, size=len(frame))
        frame["mmse"] = np.clip(np.round(score), 10, 30)
        return frame, frame["mmse"].to_numpy(dtype=np.float64)
    hazard = CONVERSION_HAZARD * np.exp(
        CONVERSION_LOG_HR * (frame["neurodegeneration"].to_numpy() - 0.85))
    conversion = rng.exponential(1 / hazard)
    dropout = np.minimum(rng.exponential(1 / DROPOUT_HAZARD, size=len(frame)),
                         FOLLOW_UP_YEARS)
    event = conversion <= dropout
    years = np.round(np.where(event, conversion, dropout), 2)
    frame["diagnosis"] = "MCI"
    frame["conversion_event"] = event
    frame["conversion_years"] = years
    y = np.empty(len(frame), dtype=[("event", "?"), ("time", "<f8")])
    y["event"], y["time"] = event, years
    return frame, y


def _clinical_frame(diagnosis, rng, n_noise_features):
    n = len(diagnosis)
    stats = [GROUP_STATISTICS[d] for d in diagnosis]

    def normal(key, low=None, high=None):
        values = np.array([rng.normal(*s[key]) for s in stats])
        return np.clip(values, low, high)

    age = normal("age", 55, 92)
    female = np.array([rng.random_sample() < s["female"] for s in stats])
    education = np.round(normal("education", 6, 20))
    # Latent neurodegeneration: what the images show (atrophy), from diagnosis and age.
    neurodegeneration = (
        np.array([s["neurodegeneration"] for s in stats])
        + 0.04 * (age - 75)
        + rng.normal(scale=0.6, size=n)
    )
    # Plasma NfL tracks neurodegeneration (Mattsson et al. 2017): its group mean and SD, with
    # the within-group deviation taken from the subject's own atrophy.
    nfl_mean = np.array([s["nfl"][0] for s in stats])
    nfl_sd = np.array([s["nfl"][1] for s in stats])
    group_nd = np.array([s["neurodegeneration"] for s in stats])
    nfl_z = 0.75 * (neurodegeneration - group_nd - 0.04 * (age - 75)) / 0.6 \
        + np.sqrt(1 - 0.75**2) * rng.normal(size=n)
    nfl = np.clip(nfl_mean + nfl_sd * nfl_z, 5, None)
    # Amyloid and tau: drawn per group, correlated with each other, independent of the images.
    pathology = rng.normal(size=n)
    abeta = np.clip([rng.normal(s["abeta42"][0] - 0.5 * s["abeta42"][1] * p,
                                s["abeta42"][1] * np.sqrt(0.75)) for s, p in zip(stats, pathology)],
                    60, 350)
    tau = np.clip([rng.normal(s["total_tau"][0] + 0.6 * s["total_tau"][1] * p,
                              s["total_tau"][1] * 0.8) for s, p in zip(stats, pathology)], 20, 400)
    ptau = np.clip([rng.normal(s["ptau181"][0] + 0.6 * s["ptau181"][1] * p,
                               s["ptau181"][1] * 0.8) for s, p in zip(stats, pathology)], 5, 150)
    carrier = np.array([rng.random_sample() < s["apoe4_carrier"] for s in stats])
    apoe4 = np.where(carrier, 1 + (rng.random_sample(n) < 0.2), 0)
    etiv = np.where(female, rng.normal(1400, 120, n), rng.normal(1600, 120, n))
    frame = pd.DataFrame(
        {
            "subject_id": [f"sub-{i + 1:03d}" for i in range(n)],
            "diagnosis": diagnosis,
            "age": np.round(age, 1),
            "sex": np.where(female, "F", "M"),
            "education_years": education,
            "mmse": np.clip(np.round(normal("mmse")), 10, 30),
            "cdr_sb": np.clip(np.round(normal("cdr_sb") * 2) / 2, 0, 18),
            "apoe4_count": apoe4,
            "csf_abeta42": np.round(abeta, 1),
            "csf_total_tau": np.round(tau, 1),
            "csf_ptau181": np.round(ptau, 1),
            "plasma_nfl": np.round(nfl, 1),
            "etiv": np.round(etiv, 0),
            "neurodegeneration": neurodegeneration,
        }
    )
    for index in range(n_noise_features):
        frame[f"lab_{index}"] = np.round(rng.normal(size=n), 3)
    return frame


_FINDINGS = {
    "marked": ["marked bilateral hippocampal atrophy", "severe medial temporal lobe atrophy",
               "pronounced hippocampal volume loss"],
    "moderate": ["moderate hippocampal atrophy", "moderate medial temporal volume loss",
                 "hippocampal volumes are moderately reduced"],
    "mild": ["mild hippocampal atrophy", "slight medial temporal volume loss",
             "hippocampi are mildly reduced in volume"],
    "none": ["no hippocampal atrophy", "hippocampi are normal in volume",
             "no evidence of medial temporal atrophy"],
}
_VENTRICLE_PHRASES = {
    True: ["ex vacuo enlargement of the lateral ventricles", "the lateral ventricles are "
           "prominent", "ventricular enlargement"],
    False: ["ventricles are normal in size", "no ventricular enlargement"],
}
_INCIDENTAL = ["paranasal sinuses are clear", "no acute infarct", "no intracranial hemorrhage",
               "orbits are unremarkable", "scattered white matter hyperintensities consistent "
               "with small vessel disease", "no mass effect or midline shift",
               "mastoid air cells are clear", "motion artefact limits assessment"]


def _write_report(rng, neurodegeneration, age):
    """A short report: the reader grades the atrophy with disagreement, wording varies.
    Returns (text, the reader's grade, whether the text states it)."""
    seen = neurodegeneration + rng.normal(scale=0.45)
    grade = ("marked" if seen > 1.5 else "moderate" if seen > 0.9 else
             "mild" if seen > 0.4 else "none")
    sentences = []
    mentioned = bool(rng.random_sample() > 0.15)  # some reports never mention them
    if mentioned:
        sentences.append(rng.choice(_FINDINGS[grade]))
    sentences.append(rng.choice(_VENTRICLE_PHRASES[bool(seen > 0.9)]))
    if age > 78 and rng.random_sample() < 0.6:
        sentences.append("generalised volume loss appropriate for age")
    sentences.extend(rng.choice(_INCIDENTAL, size=rng.randint(1, 3), replace=False))
    order = rng.permutation(len(sentences))
    text = ". ".join(sentences[i][0].upper() + sentences[i][1:] for i in order) + "."
    return ("Findings: " if rng.random_sample() < 0.5 else "") + text, grade, mentioned


#: The grades a report can state, and "not stated".
FINDING_GRADES = ("none", "mild", "moderate", "marked", "not stated")


def report_finding(report):
    """The hippocampal atrophy grade a cohort-style report states: "none", "mild",
    "moderate", "marked", or "not stated".

    Reads the finding phrases :func:`make_brain_cohort` writes (after lower-casing and
    dropping punctuation, as :class:`skfusion.ReportGenerator` writes its reports); a report
    stating several grades gives the most severe. Use it to score generated reports on the
    clinical finding rather than on wording.

    Parameters
    ----------
    report : str
        One report."""
    words = " ".join(re.findall(r"[a-z]+(?:'[a-z]+)?|\d+(?:\.\d+)?", str(report).lower()))
    for grade in ("marked", "moderate", "mild", "none"):
        for phrase in _FINDINGS[grade]:
            if " ".join(re.findall(r"[a-z]+", phrase)) in words:
                return grade
    return "not stated"


def _add_missing(frame, rng, missing_rate, n_noise_features):
    if missing_rate <= 0:
        return frame
    frame = frame.copy()
    columns = ["csf_abeta42", "csf_total_tau", "csf_ptau181", "plasma_nfl"] + [
        f"lab_{i}" for i in range(n_noise_features)]
    for column in columns:
        frame.loc[rng.random_sample(len(frame)) < missing_rate, column] = np.nan
    return frame


def _subject_slices(t1, gm, subject, image_size, noise_level, rng, site_gain=1.0):
    """Warp, atrophy and scan one subject's slab; returns images and the hippocampal mask."""
    from scipy.ndimage import map_coordinates

    n_slices = t1.shape[0]
    nd = max(subject.neurodegeneration, -0.5)
    # Output pixel centres in MNI mm (x left->right across columns, z top->bottom down rows).
    x0, x1, z0, z1 = _FIELD
    xs = x0 + (np.arange(image_size) + 0.5) * (x1 - x0) / image_size
    zs = z1 - (np.arange(image_size) + 0.5) * (z1 - z0) / image_size
    zz, xx = np.meshgrid(zs, xs, indexing="ij")
    # Head size: a bigger head fills more of the field of view.
    scale = (subject.etiv / 1500.0) ** (1 / 3)
    angle = np.deg2rad(rng.normal(scale=2.0))
    cos, sin = np.cos(angle), np.sin(angle)
    x = (cos * xx - sin * zz) / scale + rng.normal(scale=1.5)
    z = (sin * xx + cos * zz) / scale + rng.normal(scale=1.5)
    # Smooth random deformation (about 2 mm).
    x = x + _smooth_field(rng, image_size, 2.0)
    z = z + _smooth_field(rng, image_size, 2.0)
    # Enlarged ventricles: sample closer to their centre, which widens them.
    vx, vz = _VENTRICLES
    dist2 = (x - vx) ** 2 + (z - vz) ** 2
    pull = np.clip(0.10 + 0.12 * nd, 0, 0.45) * np.exp(-dist2 / (2 * _VENTRICLE_SD**2))
    x = vx + (x - vx) * (1 - pull)
    z = vz + (z - vz) * (1 - pull)
    # Template voxel coordinates of each output pixel.
    i = x + _ORIGIN[0]
    k = z + _ORIGIN[2]
    hippocampus = sum(
        np.exp(-((x - hx) ** 2 + (z - hz) ** 2) / (2 * _HIPPOCAMPUS_SD**2))
        for hx, hz in _HIPPOCAMPI
    )
    global_loss = np.clip(0.04 + 0.05 * nd + 0.004 * (subject.age - 75), 0, 0.35)
    hippocampal_loss = np.clip(0.10 + 0.22 * nd, 0, 0.75)
    loss_map = global_loss + hippocampal_loss * hippocampus
    bias = np.exp(_smooth_field(rng, image_size, 0.08, grid=3))
    gain = rng.uniform(0.85, 1.15) * site_gain
    images = np.empty((n_slices, image_size, image_size), dtype=np.float32)
    masks = np.empty(images.shape, dtype=bool)
    for s in range(n_slices):
        t1_s = map_coordinates(t1[s], [i, k], order=1, mode="constant", cval=0.0)
        gm_s = map_coordinates(gm[s], [i, k], order=1, mode="constant", cval=0.0)
        # Atrophy turns grey matter into CSF: intensity falls from GM (~0.65) toward CSF (~0.3).
        atrophied = t1_s - 0.35 * np.clip(gm_s * loss_map, 0, 1)
        signal = np.clip(atrophied, 0, None) * bias * gain
        sigma = noise_level * 0.86
        noisy = np.sqrt((signal + rng.normal(scale=sigma, size=signal.shape)) ** 2
                        + rng.normal(scale=sigma, size=signal.shape) ** 2)
        images[s] = noisy
        masks[s] = (hippocampus > 0.5) & (gm_s > 0.3)
    return images, masks


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

Clinical variables (X.clinical: {', '.join(feature_names)}):
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
