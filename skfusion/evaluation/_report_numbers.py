"""The numbers of a model report, from out-of-fold predictions: a decision curve, the
coverage of conformal prediction sets, the data summary, the settings and the versions."""

import platform

import numpy as np
import pandas as pd


def decision_curve(y, score, pos_label, thresholds=None):
    """Net benefit of treating the patients whose predicted risk reaches each threshold,
    against treating all and treating none (Vickers and Elkin, 2006):
    ``TP/n - FP/n * t / (1 - t)``."""
    thresholds = np.linspace(0.01, 0.99, 99) if thresholds is None else np.asarray(thresholds)
    events = np.asarray(y) == pos_label
    score = np.asarray(score, dtype=float)
    n, prevalence = len(events), events.mean()
    rows = []
    for t in thresholds:
        treated = score >= t
        odds = t / (1 - t)
        rows.append(
            {
                "threshold": t,
                "model": (np.sum(treated & events) - np.sum(treated & ~events) * odds) / n,
                "treat all": prevalence - (1 - prevalence) * odds,
                "treat none": 0.0,
            }
        )
    return pd.DataFrame(rows)


def conformal_coverage(y, score, subjects, classes, pos_label, alpha, n_splits, seed):
    """Split conformal prediction sets (least ambiguous set-valued classifier, LAC) built on
    the out-of-fold probabilities: half of the subjects calibrate, the other half are
    covered; repeated over ``n_splits`` random halvings. Subjects stay whole (a subject's
    score is the largest of its rows', so the set holds all its rows at once)."""
    y, score, subjects = np.asarray(y), np.asarray(score, float), np.asarray(subjects)
    negative = [c for c in classes if c != pos_label][0]
    # Probability of each sample's true class, and of each class.
    proba = np.c_[1 - score, score]
    order = [negative, pos_label]
    true_index = np.where(y == pos_label, 1, 0)
    nonconformity = 1 - proba[np.arange(len(y)), true_index]
    unique = np.unique(subjects)
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n_splits):
        calibrate = np.isin(subjects, rng.permutation(unique)[: len(unique) // 2])
        per_subject = (
            pd.Series(nonconformity[calibrate]).groupby(subjects[calibrate]).max().to_numpy()
        )
        n = len(per_subject)
        level = min(1.0, np.ceil((n + 1) * (1 - alpha)) / n)
        quantile = np.quantile(per_subject, level, method="higher")
        held = ~calibrate
        sets = (1 - proba[held]) <= quantile
        covered = sets[np.arange(held.sum()), true_index[held]]
        rows.append(
            {
                "coverage": covered.mean(),
                "mean set size": sets.sum(axis=1).mean(),
                "empty sets": (sets.sum(axis=1) == 0).mean(),
                "both classes": (sets.sum(axis=1) == 2).mean(),
            }
        )
    table = pd.DataFrame(rows)
    summary = pd.DataFrame({"mean": table.mean(), "min": table.min(), "max": table.max()})
    summary.attrs.update(alpha=alpha, n_splits=n_splits, classes=order)
    return summary


def data_summary(X, y, subjects):
    """What went in: samples, subjects, classes, images, clinical columns, missing values."""
    rows = {"samples": len(y), "subjects": len(np.unique(subjects))}
    values, counts = np.unique(np.asarray(y), return_counts=True)
    for value, count in zip(values, counts):
        rows[f"class {value}"] = f"{count} ({count / len(y):.0%})"
    images = getattr(X, "images", None)
    if images is not None:
        shape = getattr(images, "shape", None)
        rows["images"] = (
            f"{tuple(shape)}" if shape is not None else f"{len(images)} ({type(images).__name__})"
        )
    present = getattr(X, "present", None) or {}
    for modality, mask in present.items():
        rows[f"patients without {modality}"] = int(np.sum(~np.asarray(mask, bool)))
    if getattr(X, "text", None) is not None:
        rows["reports"] = "yes"
    summary = pd.DataFrame({"value": pd.Series(rows, dtype=object)})
    clinical = getattr(X, "clinical", None)
    columns = None
    if clinical is not None:
        frame = pd.DataFrame(clinical)
        columns = pd.DataFrame(
            {
                "type": [str(t) for t in frame.dtypes],
                "missing": [f"{share:.0%}" for share in frame.isna().mean()],
                "distinct": frame.nunique().to_numpy(),
            },
            index=frame.columns.astype(str),
        )
    return summary, columns


def settings(estimator):
    """The estimator's parameters as text (steps of a pipeline each with their own)."""
    params = estimator.get_params(deep=True)
    shown = {
        name: value
        for name, value in params.items()
        if not hasattr(value, "get_params") or isinstance(value, type)
    }
    return pd.DataFrame(
        {"value": [_short(v) for v in shown.values()]},
        index=pd.Index(list(shown), name="parameter"),
    )


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def versions():
    """The versions a report was made with."""
    import sklearn
    import skorch
    import torch

    from .._version import __version__

    return pd.DataFrame(
        {
            "version": pd.Series(
                {
                    "skfusion": __version__,
                    "torch": torch.__version__,
                    "skorch": skorch.__version__,
                    "scikit-learn": sklearn.__version__,
                    "numpy": np.__version__,
                    "pandas": pd.__version__,
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "CUDA": torch.version.cuda or "none",
                }
            )
        }
    )
