"""The default cross-validation of skfusion's helpers: stratified, and subject-grouped when
``groups`` is given."""

from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, check_cv


def default_cv(cv, y, groups, random_state):
    """An int ``cv`` becomes shuffled StratifiedGroupKFold (with groups) or StratifiedKFold;
    anything else goes through sklearn's ``check_cv``."""
    if isinstance(cv, int):
        splitter = StratifiedGroupKFold if groups is not None else StratifiedKFold
        cv = splitter(cv, shuffle=True, random_state=random_state)
    return check_cv(cv, y, classifier=True)
