"""The convergence warning of ``fit``: sklearn's ``ConvergenceWarning`` when training ran all
``max_epochs`` while its monitored loss was still improving (sklearn's MLP rule), pointed at
the user's own line."""

from ..._net.callbacks import still_improving

__all__ = ["warn_if_still_improving"]


def warn_if_still_improving(settings, net, start=0):
    """Warn with sklearn's ``ConvergenceWarning`` when a fit ran all ``max_epochs`` while the
    monitored loss (the validation loss with early stopping, the training loss otherwise)
    was still improving by sklearn's MLP rule (``tol``, ``n_iter_no_change``); ``settings``:
    the estimator's :class:`~.settings.Settings`."""
    history = net.history[start:]
    if (
        len(history) < settings.max_epochs
        or dict(net.callbacks_)["interrupt_recovery"].interrupted_
    ):
        return
    key = "valid_loss" if settings.early_stopping else "train_loss"
    losses = [float(row[key]) for row in history if key in row]
    if losses and still_improving(losses, settings.tol, settings.n_iter_no_change):
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        warnings.warn(
            f"{settings.description}: training ended at max_epochs="
            f"{settings.max_epochs} while the {key.replace('_', ' ')} was still improving "
            f"(by more than tol={settings.tol:g} within the last "
            f"{settings.n_iter_no_change} epochs); the model may be under-trained. Raise "
            + (
                "max_epochs (early stopping did not trigger)."
                if settings.early_stopping
                else "max_epochs, or turn on early_stopping."
            ),
            ConvergenceWarning,
            stacklevel=_caller_level(),
        )


def _caller_level():
    """The ``stacklevel`` that points a warning at the first caller outside skfusion and
    scikit-learn (the user's ``fit``, however many wrappers lie between)."""
    import os
    import sys

    import sklearn

    package = os.path.abspath(__file__)
    for _ in __name__.split(".")[1:]:  # up from this module to skfusion/, however deep
        package = os.path.dirname(package)
    inside = (package + os.sep, os.path.dirname(os.path.abspath(sklearn.__file__)) + os.sep)
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(inside):
        frame, level = frame.f_back, level + 1
    return level
