"""Fitting a model with subject groups whether scikit-learn's metadata routing is on or off.

skfusion's helpers (``tune``, ``cross_val_diagnostics``) pass ``groups`` to the estimator's
``fit`` (its early-stopping split). Under metadata routing a pipeline refuses a parameter that
no step has requested, and without it a pipeline needs ``<step>__groups``; this calls the
final step directly, which works in both settings and needs no ``set_fit_request``.
"""

import inspect

import numpy as np
from sklearn.pipeline import Pipeline

__all__ = ["fit_with_groups"]


def fit_with_groups(model, X, y, groups):
    """Fit ``model`` (an estimator or a Pipeline) on ``X, y``, giving ``groups`` to the final
    estimator's ``fit`` when it takes them. Returns the fitted model."""
    final = model.steps[-1][1] if isinstance(model, Pipeline) else model
    takes_groups = (
        groups is not None
        and final not in (None, "passthrough")
        and ("groups" in inspect.signature(final.fit).parameters)
    )
    if not takes_groups:
        return model.fit(X, y)
    groups = np.asarray(groups)
    if isinstance(model, Pipeline):
        # The slice shares its steps with ``model``, so they are fitted in place.
        transformed = model[:-1].fit_transform(X, y) if len(model) > 1 else X
        final.fit(transformed, y, groups=groups)
        return model
    return model.fit(X, y, groups=groups)
