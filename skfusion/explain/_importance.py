"""Permutation importance of clinical columns and of whole modalities (images, clinical table,
report text) for any fitted skfusion estimator or pipeline ending in one."""

import numbers

import numpy as np
import pandas as pd
from sklearn.metrics import check_scoring
from sklearn.utils import Bunch, check_random_state

from .._input import FusionInput, _take, as_fusion_input

__all__ = ["permutation_importance"]


def _source_rows(n, subjects, rng):
    """Row ``i`` takes its permuted value from row ``source[i]``: a permutation of rows, or,
    with subjects, of whole subjects (each subject's rows take another subject's rows, in
    order, cycling where the two have different numbers of rows)."""
    if subjects is None:
        return rng.permutation(n)
    ids, codes = np.unique(subjects, return_inverse=True)
    rows_of = [np.flatnonzero(codes == k) for k in range(len(ids))]
    mapping = rng.permutation(len(ids))
    source = np.empty(n, dtype=np.intp)
    for k, rows in enumerate(rows_of):
        donor = rows_of[mapping[k]]
        source[rows] = donor[np.arange(len(rows)) % len(donor)]
    return source


def _with_permuted(X, feature, source):
    """X with ``feature`` (a clinical column position, or a modality name) taken from the
    rows ``source``."""
    images, clinical, text = X.images, X.clinical, X.text
    if feature == "images":
        images = _take(images, source)
    elif isinstance(feature, tuple):  # ("channel", c): one named channel of the images
        images = np.array(images, dtype=np.float32, copy=True)
        images[:, feature[1]] = np.asarray(_take(X.images, source), dtype=np.float32)[:, feature[1]]
    elif feature == "text":
        text = _take(text, source)
    elif feature == "clinical":
        clinical = _take(clinical, source)
        if isinstance(clinical, pd.DataFrame):
            clinical.index = X.clinical.index
    else:
        if isinstance(clinical, pd.DataFrame):
            clinical = clinical.copy()
            column = clinical.columns[feature]
            clinical[column] = clinical[column].to_numpy()[source]
        else:
            clinical = np.array(clinical, copy=True)
            clinical[:, feature] = np.asarray(X.clinical)[source, feature]
    return FusionInput(
        images,
        clinical,
        text,
        subjects=X.subjects,
        layout=X.layout,
        present=X.present,
        channel_names=X.channel_names,
    )


def _modality_source(X, feature, subjects, rng):
    """The donor rows of a modality: with some patients lacking it (``X.present``), a
    permutation among the patients that have it (the others keep their own, missing)."""
    modality = "images" if isinstance(feature, tuple) else feature
    mask = (X.present or {}).get(modality) if isinstance(modality, str) else None
    if mask is None:
        return _source_rows(len(X), subjects, rng)
    rows = np.flatnonzero(mask)
    source = np.arange(len(X))
    if rows.size > 1:
        source[rows] = rows[
            _source_rows(rows.size, None if subjects is None else np.asarray(subjects)[rows], rng)
        ]
    return source


def _column_names(clinical):
    if clinical is None:
        return []
    if isinstance(clinical, pd.DataFrame):
        return [str(c) for c in clinical.columns]
    width = np.asarray(clinical).reshape(len(clinical), -1).shape[1]
    return [f"x{j}" for j in range(width)]


def permutation_importance(
    estimator, X, y, *, scoring=None, n_repeats=5, random_state=None, groups=None
):
    """How much the score drops when one clinical column, or a whole modality, is shuffled.

    The model is not refitted: each feature is replaced by its values from other samples
    (``n_repeats`` permutations) and the fitted model is scored again, as
    :func:`sklearn.inspection.permutation_importance` does for a table, here for the parts of
    a :class:`~skfusion.FusionInput`. A modality ("images", "clinical": all columns together,
    "text") is shuffled as a whole, which breaks its link to the patient but keeps its own
    joint distribution: its importance is what that modality adds beyond the others, for this
    model.

    Parameters
    ----------
    estimator : fitted skfusion estimator, or a fitted Pipeline ending in one
        Columns are permuted in ``X`` as given, before any pipeline step.
    X : FusionInput or tuple
        Held-out samples (importance on training data measures memorisation).
    y : array-like
        Their targets, as ``estimator.score`` takes them.
    scoring : str, callable, list, tuple, dict or None, default=None
        scikit-learn's scoring names or scorers; ``None`` uses ``estimator.score``. Several
        metrics give a dict of results, one per metric (the same permutations for each).
    n_repeats : int, default=5
        Permutations per feature.
    random_state : int, RandomState or None, default=None
        Seeds the permutations.
    groups : array-like of shape (n_samples,) or None, default=None
        Subject of each sample. Given (or carried by ``X.subjects``), whole subjects are
        permuted: a subject's slices all take another subject's values, so slices of one
        patient never explain each other. Patients without an image (or report) keep
        theirs missing: that modality is permuted among the patients that have it.

    Returns
    -------
    result : Bunch (or dict of Bunch for several metrics)
        ``importances`` (n_features, n_repeats): baseline score minus the permuted score;
        ``importances_mean`` and ``importances_std`` over repeats; ``names``: the clinical
        column names, then the modalities ``"images"``, ``"clinical"`` and (with report
        text) ``"text"``, then, when ``X`` names its image channels (``channel_names``,
        e.g. MRI sequences), one ``"images:<name>"`` per channel: that channel alone
        shuffled across patients, the others kept (per-sequence importance; Grad-CAM
        cannot separate channels that the network's first layer mixes);
        ``baseline_score``.

    Examples
    --------
    >>> from skfusion import ClinicalAttentionClassifier
    >>> from skfusion.datasets import make_brain_cohort
    >>> from skfusion.explain import permutation_importance
    >>> cohort = make_brain_cohort(40, n_slices=2, image_size=16, random_state=0)
    >>> model = ClinicalAttentionClassifier(mode="image", backbone="resnet18", base_width=4,
    ...                                     max_epochs=1, verbose=0, random_state=0)
    >>> model = model.fit(cohort.X, cohort.y)
    >>> result = permutation_importance(model, cohort.X, cohort.y, n_repeats=2,
    ...                                 random_state=0)
    >>> result.names[-2:]
    ['images', 'clinical']
    >>> float(result.importances_mean[result.names.index("clinical")])  # mode="image"
    0.0
    """
    if isinstance(n_repeats, bool) or not isinstance(n_repeats, numbers.Integral) or n_repeats < 1:
        raise ValueError(f"n_repeats must be a positive int; got {n_repeats!r}.")
    X = as_fusion_input(X)
    if groups is not None:
        groups = np.asarray(groups)
        if groups.shape != (len(X),):
            raise ValueError(
                f"groups must have one subject id per sample ({len(X)}); got shape {groups.shape}."
            )
    subjects = groups if groups is not None else X.subjects
    if len(X) < 2:
        raise ValueError(f"X has {len(X)} sample(s); permutation needs at least 2.")
    scorer = check_scoring(estimator, scoring=scoring)
    rng = check_random_state(random_state)
    names = _column_names(X.clinical)
    features = list(range(len(names))) + ["images"]
    if X.clinical is not None:
        features.append("clinical")
    if X.text is not None:
        features.append("text")
    names = names + [f for f in features if isinstance(f, str)]
    for position, channel in enumerate(X.channel_names or ()):
        features.append(("channel", position))
        names.append(f"images:{channel}")

    def score(data):
        value = scorer(estimator, data, y)
        return value if isinstance(value, dict) else {"score": value}

    baseline = score(X)
    drops = {metric: np.empty((len(features), n_repeats)) for metric in baseline}
    for repeat in range(n_repeats):
        for position, feature in enumerate(features):
            permuted = score(
                _with_permuted(X, feature, _modality_source(X, feature, subjects, rng))
            )
            for metric, value in permuted.items():
                drops[metric][position, repeat] = baseline[metric] - value
    results = {
        metric: Bunch(
            importances=values,
            importances_mean=values.mean(axis=1),
            importances_std=values.std(axis=1),
            names=names,
            baseline_score=baseline[metric],
        )
        for metric, values in drops.items()
    }
    if isinstance(scoring, (list, tuple, set, dict)):
        return results
    return results["score"]
