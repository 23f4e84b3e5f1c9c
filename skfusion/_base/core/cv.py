"""The default cross-validation of skfusion's helpers: subject-grouped when ``groups`` is
given, stratified by class for classifiers and by event for survival models."""

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    check_cv,
)

__all__ = ["default_cv", "default_folds", "task_of"]


def task_of(estimator):
    """ "classifier", "regressor" or "survival" for a skfusion estimator or a pipeline ending in
    one (by sklearn's estimator type; survival models declare none)."""
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(estimator):
        return "classifier"
    if is_regressor(estimator):
        return "regressor"
    return "survival"


def default_cv(cv, y, groups, random_state):
    """An int ``cv`` becomes shuffled StratifiedGroupKFold (with groups) or StratifiedKFold;
    anything else goes through sklearn's ``check_cv``."""
    if isinstance(cv, int):
        splitter = StratifiedGroupKFold if groups is not None else StratifiedKFold
        cv = splitter(cv, shuffle=True, random_state=random_state)
    return check_cv(cv, y, classifier=True)


def default_folds(cv, y, groups, random_state, task):
    """The (train, test) folds for ``task``: an int ``cv`` becomes shuffled folds, grouped by
    subject when ``groups`` is given, stratified by class (classifiers) or by event (survival
    models, ``y`` a structured (event, time) array)."""
    n = len(y)
    labels = y
    if task == "survival":
        from ..inputs.validation import check_survival_target

        labels = check_survival_target(y, n_samples=n)[0].astype(int)
    if isinstance(cv, int):
        if task == "regressor":
            cv = (
                GroupKFold(cv, shuffle=True, random_state=random_state)
                if groups is not None
                else KFold(cv, shuffle=True, random_state=random_state)
            )
        else:
            cv = default_cv(cv, labels, groups, random_state)
    else:
        cv = check_cv(cv, labels if task != "regressor" else None, classifier=task != "regressor")
    return list(cv.split(np.zeros(n), labels, groups))
