"""The built-in cohort's clinical table: per-group statistics from published ADNI summaries,
the latent neurodegeneration, biomarkers, missing values, and the simulated regression and
time-to-event targets."""

import numpy as np
import pandas as pd

__all__ = ["COHORT_SOURCES", "GROUP_STATISTICS"]

# --- calibration ------------------------------------------------------------------------------
#: Per-group (mean, sd) of each clinical variable, and proportions, with their sources.
#: NC: cognitively normal; MCI: mild cognitive impairment; AD: Alzheimer's disease dementia;
#: sMCI/pMCI: MCI that stayed stable / progressed to AD within about three years.
GROUP_STATISTICS = {
    "NC": dict(
        age=(75.8, 5.0),
        education=(16.0, 2.9),
        female=0.48,
        mmse=(29.1, 1.0),
        cdr_sb=(0.03, 0.12),
        apoe4_carrier=0.27,
        abeta42=(205.6, 55.1),
        total_tau=(69.7, 27.9),
        ptau181=(24.9, 14.6),
        nfl=(34.7, 17.0),
        neurodegeneration=0.0,
    ),
    "MCI": dict(
        age=(74.7, 7.4),
        education=(15.7, 3.0),
        female=0.36,
        mmse=(27.0, 1.8),
        cdr_sb=(1.6, 0.9),
        apoe4_carrier=0.53,
        abeta42=(163.3, 54.9),
        total_tau=(103.2, 61.3),
        ptau181=(35.7, 18.0),
        nfl=(42.8, 21.0),
        neurodegeneration=0.8,
    ),
    "AD": dict(
        age=(75.3, 7.5),
        education=(14.7, 3.1),
        female=0.47,
        mmse=(23.3, 2.0),
        cdr_sb=(4.3, 1.6),
        apoe4_carrier=0.66,
        abeta42=(143.0, 40.8),
        total_tau=(121.6, 57.3),
        ptau181=(41.6, 19.8),
        nfl=(51.0, 24.0),
        neurodegeneration=1.6,
    ),
    "sMCI": dict(
        age=(74.9, 7.6),
        education=(15.6, 3.0),
        female=0.36,
        mmse=(27.3, 1.8),
        cdr_sb=(1.4, 0.8),
        apoe4_carrier=0.45,
        abeta42=(178.0, 57.0),
        total_tau=(89.0, 50.0),
        ptau181=(31.0, 17.0),
        nfl=(40.0, 20.0),
        neurodegeneration=0.6,
    ),
    "pMCI": dict(
        age=(74.4, 7.1),
        education=(15.8, 2.9),
        female=0.37,
        mmse=(26.6, 1.7),
        cdr_sb=(1.9, 1.0),
        apoe4_carrier=0.66,
        abeta42=(144.0, 41.0),
        total_tau=(118.0, 60.0),
        ptau181=(40.0, 18.0),
        nfl=(46.0, 22.0),
        neurodegeneration=1.1,
    ),
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
    nfl_z = 0.75 * (neurodegeneration - group_nd - 0.04 * (age - 75)) / 0.6 + np.sqrt(
        1 - 0.75**2
    ) * rng.normal(size=n)
    nfl = np.clip(nfl_mean + nfl_sd * nfl_z, 5, None)
    # Amyloid and tau: drawn per group, correlated with each other, independent of the images.
    pathology = rng.normal(size=n)
    abeta = np.clip(
        [
            rng.normal(s["abeta42"][0] - 0.5 * s["abeta42"][1] * p, s["abeta42"][1] * np.sqrt(0.75))
            for s, p in zip(stats, pathology)
        ],
        60,
        350,
    )
    tau = np.clip(
        [
            rng.normal(s["total_tau"][0] + 0.6 * s["total_tau"][1] * p, s["total_tau"][1] * 0.8)
            for s, p in zip(stats, pathology)
        ],
        20,
        400,
    )
    ptau = np.clip(
        [
            rng.normal(s["ptau181"][0] + 0.6 * s["ptau181"][1] * p, s["ptau181"][1] * 0.8)
            for s, p in zip(stats, pathology)
        ],
        5,
        150,
    )
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


def _add_missing(frame, rng, missing_rate, n_noise_features):
    if missing_rate <= 0:
        return frame
    frame = frame.copy()
    columns = ["csf_abeta42", "csf_total_tau", "csf_ptau181", "plasma_nfl"] + [
        f"lab_{i}" for i in range(n_noise_features)
    ]
    for column in columns:
        frame.loc[rng.random_sample(len(frame)) < missing_rate, column] = np.nan
    return frame


def _simulate_target(task, frame, rng):
    """The target of the regression / time-to-event tasks, from the latent neurodegeneration;
    returns the updated frame and the per-subject target."""
    frame = frame.copy()
    stats = [GROUP_STATISTICS[d] for d in frame["diagnosis"]]
    excess = frame["neurodegeneration"].to_numpy() - np.array(
        [s["neurodegeneration"] for s in stats]
    )
    if task == "mmse":
        mean = np.array([s["mmse"][0] for s in stats])
        score = (
            mean
            - MMSE_PER_NEURODEGENERATION * excess
            + rng.normal(scale=MMSE_NOISE, size=len(frame))
        )
        frame["mmse"] = np.clip(np.round(score), 10, 30)
        return frame, frame["mmse"].to_numpy(dtype=np.float64)
    hazard = CONVERSION_HAZARD * np.exp(
        CONVERSION_LOG_HR * (frame["neurodegeneration"].to_numpy() - 0.85)
    )
    conversion = rng.exponential(1 / hazard)
    dropout = np.minimum(rng.exponential(1 / DROPOUT_HAZARD, size=len(frame)), FOLLOW_UP_YEARS)
    event = conversion <= dropout
    years = np.round(np.where(event, conversion, dropout), 2)
    frame["diagnosis"] = "MCI"
    frame["conversion_event"] = event
    frame["conversion_years"] = years
    y = np.empty(len(frame), dtype=[("event", "?"), ("time", "<f8")])
    y["event"], y["time"] = event, years
    return frame, y
