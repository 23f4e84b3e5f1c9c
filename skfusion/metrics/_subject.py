"""Subjects and labels in metrics: per-subject aggregation of per-sample scores, and the
positive class inferred only where it is unambiguous. Re-exported by :mod:`skfusion.metrics`."""

import numpy as np

__all__ = ["aggregate_by_subject", "infer_pos_label"]


def aggregate_by_subject(y_true, y_score, groups):
    """Per-subject targets and scores from per-slice ones: the mean score (probabilities,
    risks, predictions) of each subject's samples, and the subject's label, which must be the
    same on all its samples.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        E.g. ``predict_proba`` of every slice.
    groups : array-like of shape (n_samples,)
        Subject of each sample.

    Returns
    -------
    subjects : ndarray of shape (n_subjects,), in order of first appearance
    y_subject : ndarray of shape (n_subjects,)
    score_subject : ndarray of shape (n_subjects,) or (n_subjects, n_classes)

    Examples
    --------
    >>> from skfusion.metrics import aggregate_by_subject
    >>> subjects, y, score = aggregate_by_subject(["AD", "AD", "NC"], [0.9, 0.5, 0.2],
    ...                                           ["s1", "s1", "s2"])
    >>> subjects.tolist(), y.tolist(), score.tolist()
    (['s1', 's2'], ['AD', 'NC'], [0.7, 0.2])
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    groups = np.asarray(groups)
    if not len(y_true) == len(y_score) == len(groups):
        raise ValueError(
            f"y_true, y_score and groups must have one entry per sample; got "
            f"{len(y_true)}, {len(y_score)} and {len(groups)}."
        )
    subjects, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    order = np.argsort(first)
    counts = np.bincount(inverse)
    flat = y_score.reshape(len(y_score), -1)
    sums = np.zeros((len(subjects), flat.shape[1]))
    np.add.at(sums, inverse, flat)
    means = (sums / counts[:, None])[order]
    labels = y_true[first][order]
    mixed = [
        str(subjects[i]) for i in range(len(subjects)) if len(np.unique(y_true[inverse == i])) > 1
    ]
    if mixed:
        raise ValueError(
            f"subjects {mixed[:5]} have samples with different labels; a "
            "subject-level score needs one label per subject."
        )
    return subjects[order], labels, means if y_score.ndim > 1 else means[:, 0]


def infer_pos_label(labels, argument="pos_label"):
    """The positive class of a binary task where it is unambiguous, as scikit-learn infers it:
    1 for labels {0, 1} or {-1, 1}, True for booleans. Any other pair (e.g. "AD"/"NC") raises a
    ValueError asking for ``pos_label``: taking the larger label would silently make
    "NC" (healthy) the condition.

    Parameters
    ----------
    labels : array-like
        The labels of the task (any order, repeats allowed).
    argument : str, default="pos_label"
        The parameter named in the error, for callers whose argument has another name.

    Examples
    --------
    >>> from skfusion.metrics import infer_pos_label
    >>> infer_pos_label([0, 1]), infer_pos_label([False, True])
    (1, True)
    """
    values = list(np.unique(np.asarray(labels)))
    as_set = set(v.item() if hasattr(v, "item") else v for v in values)
    if as_set and all(isinstance(v, (bool, np.bool_)) for v in values) and len(values) <= 2:
        return True
    if as_set <= {0, 1} or as_set <= {-1, 1}:
        return 1
    raise ValueError(
        f"the labels {sorted(map(str, as_set))} do not say which class is the condition; pass "
        f"{argument}= the positive class (e.g. {argument}={str(values[0])!r}). Only labels "
        "{0, 1}, {-1, 1} or booleans are read as 1 / True without it."
    )
