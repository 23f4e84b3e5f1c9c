"""Hyper-parameter tuning with Optuna: search spaces, pruning, shared studies.

* :func:`search_space` gives Optuna distributions for an estimator's (or a pipeline's)
  parameters, ready for ``optuna_integration.OptunaSearchCV(param_distributions=...)``.
  Our classifiers have ``partial_fit``, so ``OptunaSearchCV(..., enable_pruning=True)``
  prunes after any epoch.
* :func:`tune` runs a study over subject-grouped cross-validation of any skfusion estimator
  or pipeline, pruning unpromising trials from per-epoch validation losses, and can share its
  trials with other processes or machines through an Optuna RDB storage (a SQLite file on one
  machine, a PostgreSQL URL across many).
"""

import os
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from skorch.callbacks import Callback

from ._base.core.cv import default_folds, task_of
from ._base.core.fitting import fit_with_groups
from ._base.parameters.shared_params import ROUTED_SEARCH_SPACE
from ._input import subjects_of, warn_if_subjects_repeat
from ._net.progress import wants_bars

__all__ = ["search_space", "tune"]


def _final_step(estimator):
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        return last, f"{name}__"
    return estimator, ""


def _spec_to_distribution(spec):
    import optuna

    kind, *args = spec
    if kind == "categorical":
        return optuna.distributions.CategoricalDistribution(list(args[0]))
    if kind == "log_float":
        return optuna.distributions.FloatDistribution(args[0], args[1], log=True)
    if kind == "float":
        return optuna.distributions.FloatDistribution(args[0], args[1])
    if kind == "int":
        return optuna.distributions.IntDistribution(args[0], args[1])
    raise ValueError(f"unknown search space kind {kind!r}")


def search_space(estimator):
    """Optuna distributions for the tunable parameters of a skfusion estimator.

    Parameters
    ----------
    estimator : skfusion classifier or Pipeline ending in one
        For a pipeline, parameter names get the final step's prefix
        (``clinicalattentionclassifier__lr``).

    Returns
    -------
    space : dict of str to optuna.distributions.BaseDistribution
        Learning rate (log-uniform), weight decay (log-uniform), batch size, backbone width
        and the estimator's own parameters (for ClinicalAttentionClassifier: ``clinical_dim``
        and ``mode``). Extend or trim it like any dict.

    Examples
    --------
    >>> from skfusion import ClinicalAttentionClassifier
    >>> from skfusion.tuning import search_space
    >>> sorted(search_space(ClinicalAttentionClassifier()))
    ['base_width', 'batch_size', 'clinical_dim', 'lr', 'mode', 'optimizer__weight_decay']
    """
    final, prefix = _final_step(estimator)
    specs = getattr(type(final), "_search_space", None)
    if specs is None:
        raise TypeError(
            f"search_space knows skfusion's estimators (or pipelines ending in one); got "
            f"{type(final).__name__}. Build the distributions by hand for other estimators."
        )
    specs = {**specs, **ROUTED_SEARCH_SPACE}
    return {f"{prefix}{name}": _spec_to_distribution(spec) for name, spec in specs.items()}


def _fit_and_score(model, X, y, groups, train, test, scorer):
    """Fit on the training part (groups reach the estimator, with metadata routing on or
    off) and score on the test part."""
    fit_with_groups(
        model, X[train], y[train], None if groups is None else np.asarray(groups)[train]
    )
    return scorer(model, X[test], y[test])


class _EpochPruning(Callback):
    """Report each epoch's validation loss (negated: the study maximises) to an Optuna trial
    and stop the trial when the pruner says so."""

    def __init__(self, trial, step_offset):
        self.trial = trial
        self.step_offset = step_offset

    def on_epoch_end(self, net, **kwargs):
        import optuna

        loss = net.history[-1].get("valid_loss")
        if loss is None:
            return
        step = self.step_offset + len(net.history) - 1
        self.trial.report(-float(loss), step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {len(net.history)} (step {step})")


def _suggest(trial, name, distribution):
    import optuna

    if isinstance(distribution, optuna.distributions.CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, optuna.distributions.IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, log=distribution.log)
    return trial.suggest_float(name, distribution.low, distribution.high, log=distribution.log)


def _shared_storage(storage, heartbeat):
    """An Optuna RDB storage from a URL, with heartbeats that let surviving workers fail and
    retry the trial of a worker that died."""
    import optuna

    if not isinstance(storage, str) or heartbeat is None:
        return storage
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, (int, float)) or heartbeat <= 0:
        raise ValueError(
            f"heartbeat must be a positive number of seconds or None; got {heartbeat!r}."
        )
    import warnings

    with warnings.catch_warnings():  # heartbeats are "experimental" in every Optuna so far
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # Optuna >= 4.9
            retry = {
                "heartbeat_stale_trial_callback": optuna.storages.RetryHeartbeatStaleTrialCallback(
                    max_retry=1
                )
            }
        else:
            retry = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}
        return optuna.storages.RDBStorage(
            storage,
            heartbeat_interval=max(int(heartbeat), 1),
            grace_period=max(int(2 * heartbeat), 2),
            **retry,
        )


DEFAULT_SCORING = {"classifier": "roc_auc", "regressor": "r2", "survival": None}


def tune(
    estimator,
    X,
    y,
    *,
    groups=None,
    space=None,
    cv=5,
    scoring="auto",
    n_trials=20,
    timeout=None,
    pruning=True,
    storage=None,
    study_name=None,
    n_jobs=1,
    heartbeat=60,
    random_state=0,
    verbose=1,
):
    """Tune an estimator or pipeline with Optuna over (subject-grouped) cross-validation.

    Parameters
    ----------
    estimator : skfusion classifier or Pipeline ending in one
        The model to tune; it is cloned for every fold of every trial.
    X, y : FusionInput (or tuple) and labels
        Data, as for ``fit``.
    groups : array-like, default=None
        Subject per sample: the folds (``StratifiedGroupKFold``; ``GroupKFold`` for
        regressors) and the held-out part used for pruning then keep subjects whole.
    space : dict of name to optuna distribution, default=None
        Parameters to tune; default :func:`search_space` of ``estimator``.
    cv : int or cross-validation splitter, default=5
        Folds per trial.
    scoring : str, callable, None or "auto", default="auto"
        sklearn scorer maximised over the folds' test parts. "auto": ``"roc_auc"`` for
        classifiers, ``"r2"`` for regressors, and the estimator's own ``score`` (Harrell's
        concordance index) for survival models; None: the estimator's ``score``.
    n_trials : int, default=20
        Trials this call runs (other processes on the same storage add theirs).
    timeout : float, default=None
        Stop starting new trials after this many seconds.
    pruning : bool, default=True
        Hold out ``validation_fraction`` of each training fold (``early_stopping`` on the
        estimator), report its loss after every epoch, and let Optuna's median pruner stop
        trials that do worse than earlier ones at the same point. Folds then run one after
        the other.
    storage : str or None, default=None
        Optuna RDB storage URL shared by workers: ``"sqlite:///study.db"`` on one machine,
        ``"postgresql://user:pass@host/db"`` across machines (``pip install
        psycopg2-binary``). ``None`` keeps the study in memory.
    study_name : str, default=None
        Name of the study in ``storage``; an existing study is resumed.
    n_jobs : int, default=1
        Folds trained in parallel (joblib) when ``pruning=False``. joblib gives each worker
        an equal share of the cores (torch follows ``OMP_NUM_THREADS``, which joblib sets).
    heartbeat : float or None, default=60
        With a URL ``storage``: seconds between a running trial's heartbeats. A worker that
        dies mid-trial stops beating; after two missed intervals the next worker to start a
        trial marks it FAIL and queues it once more with the same parameters (Optuna's
        ``RetryHeartbeatStaleTrialCallback``), so no trial is lost silently. ``None``: no heartbeat
        (a killed worker's trial stays RUNNING).
    random_state : int, default=0
        Seeds the sampler and the folds. With a shared ``storage`` each worker's sampler
        seed also mixes in its process id, so workers do not all try the same first points.
    verbose : int, default=1
        1 prints a line per trial; 2 also shows Optuna's progress bar over the trials on a
        terminal; 0 prints nothing.

    Returns
    -------
    study : optuna.Study
        ``study.best_params`` and ``study.best_value`` hold the result; ``study.trials`` every
        trial (with ``user_attrs["fold_scores"]``).
    """
    import optuna
    from sklearn.metrics import check_scoring

    space = search_space(estimator) if space is None else space
    final, prefix = _final_step(estimator)
    rng = check_random_state(random_state)
    task = task_of(estimator)
    groups = subjects_of(X, groups)
    if groups is None and isinstance(cv, int):
        warn_if_subjects_repeat(X, getattr(X, "clinical", None), "tune's folds")
    folds = default_folds(
        cv, y, groups, rng.randint(2**31 - 1) if isinstance(cv, int) else None, task
    )
    if isinstance(scoring, str) and scoring == "auto":
        scoring = DEFAULT_SCORING[task]
    scorer = check_scoring(estimator, scoring=scoring)
    score_name = scoring if isinstance(scoring, str) else "score"
    max_epochs = final.get_params()["max_epochs"]
    say = print if verbose else (lambda *a, **k: None)

    def objective(trial):
        params = {name: _suggest(trial, name, dist) for name, dist in space.items()}
        model = clone(estimator).set_params(**params)
        if not pruning:
            scores = Parallel(n_jobs=n_jobs)(
                delayed(_fit_and_score)(clone(model), X, y, groups, train, test, scorer)
                for train, test in folds
            )
        else:
            scores = []
            for index, (train, test) in enumerate(folds):
                fold_model = clone(model).set_params(
                    **{
                        f"{prefix}early_stopping": True,
                        f"{prefix}callbacks": list(model.get_params()[f"{prefix}callbacks"] or [])
                        + [("optuna_pruning", _EpochPruning(trial, index * max_epochs))],
                    }
                )
                scores.append(_fit_and_score(fold_model, X, y, groups, train, test, scorer))
        trial.set_user_attr("fold_scores", [float(s) for s in scores])
        return float(np.mean(scores))

    def timed(trial):
        started = time.perf_counter()
        try:
            return objective(trial)
        finally:
            trial.set_user_attr("seconds", time.perf_counter() - started)

    def report(study, trial):
        seconds = trial.user_attrs.get("seconds")
        what = (
            f"{score_name} {trial.value:.4f}"
            if trial.state.name == "COMPLETE"
            else trial.state.name.lower()
        )
        best = (
            f"; best {study.best_value:.4f} (trial {study.best_trial.number})"
            if any(t.state.name == "COMPLETE" for t in study.trials)
            else ""
        )
        timing = f" in {seconds:.1f}s" if seconds is not None else ""
        shown = {
            name[len(prefix) :] if prefix and name.startswith(prefix) else name: (
                f"{value:.3g}" if isinstance(value, float) else value
            )
            for name, value in trial.params.items()
        }
        say(f"  trial {trial.number}: {what}{timing} {shown}{best}", flush=True)

    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # our own line per trial instead
    sampler_seed = int(rng.randint(2**31 - 1))
    if storage is not None:
        # Workers sharing a study must not all draw the same first points.
        sampler_seed = (sampler_seed + os.getpid()) % (2**31 - 1)
        storage = _shared_storage(storage, heartbeat)
    try:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=sampler_seed),
            storage=storage,
            study_name=study_name,
            load_if_exists=study_name is not None,
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
        )
        study.optimize(
            timed,
            n_trials=n_trials,
            timeout=timeout,
            callbacks=[report],
            catch=(),
            show_progress_bar=wants_bars(verbose),
        )
    finally:
        optuna.logging.set_verbosity(previous)
    return study
