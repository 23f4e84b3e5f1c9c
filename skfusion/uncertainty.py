"""Uncertainty per patient from a deep ensemble: the same network trained from several seeds
(Lakshminarayanan et al., NeurIPS 2017), its members' disagreement reported beside the
averaged probabilities.

For a classifier, :meth:`SeedEnsemble.predict_uncertainty` splits the entropy of the mean
prediction (total uncertainty) into the members' mean entropy (aleatoric: what every member
finds ambiguous) and the difference, the mutual information between the prediction and the
member (epistemic: where the members disagree, as they do on inputs unlike their training
data). For a regressor it reports the members' mean and standard deviation.
"""

import time
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import check_is_fitted

from ._base.core.fitting import fit_with_groups
from ._net.progress import progress
from ._tasks.classification import classes_from_proba

__all__ = ["SeedEnsemble"]


def _entropy(p):
    return -np.sum(np.where(p > 0, p * np.log(np.clip(p, 1e-300, None)), 0.0), axis=-1)


class SeedEnsemble(BaseEstimator):
    """A deep ensemble: ``n_members`` clones of ``estimator``, each trained on all the data
    from its own seed, averaged.

    Parameters
    ----------
    estimator : estimator
        A skfusion classifier or regressor (or a pipeline ending in one) with a
        ``random_state`` parameter; each member is a clone with its own seed.
    n_members : int, default=5
        Members trained (the usual deep-ensemble size; each costs one fit).
    random_state : int, RandomState instance or None, default=None
        Draws the members' seeds.
    verbose : int, default=1
        1 prints a line per fitted member; 2 also draws a bar over the members on a
        terminal; 0 prints nothing (the members print as their own ``verbose`` says).

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members.
    seeds_ : list of int
        Their seeds.
    classes_ : ndarray
        The classes (classifiers).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import SGDClassifier
    >>> from skfusion.uncertainty import SeedEnsemble
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 2)); y = (X[:, 0] > 0).astype(int)
    >>> ensemble = SeedEnsemble(SGDClassifier(loss="log_loss"), n_members=3,
    ...                         random_state=0, verbose=0).fit(X, y)
    >>> sorted(ensemble.predict_uncertainty(X[:2]))
    ['aleatoric', 'epistemic', 'total']
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "n_members": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(self, estimator, *, n_members=5, random_state=None, verbose=1):
        self.estimator = estimator
        self.n_members = n_members
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, groups=None):
        """Train every member on ``X, y`` from its own seed.

        Parameters
        ----------
        X : FusionInput, tuple or array-like
            Training samples.
        y : array-like
            Targets.
        groups : array-like of shape (n_samples,), default=None
            Subject of each sample, passed to each member's ``fit`` (its early-stopping or
            calibration split).

        Returns
        -------
        self : object
        """
        self._validate_params()
        params = self.estimator.get_params()
        names = [k for k in params if k == "random_state" or k.endswith("__random_state")]
        if not names:
            raise ValueError(
                f"estimator {type(self.estimator).__name__} has no random_state "
                "parameter, so its members could not differ by seed."
            )
        rng = check_random_state(self.random_state)
        seeds = [int(s) for s in rng.randint(np.iinfo(np.int32).max, size=self.n_members)]
        members = []
        for index, seed in enumerate(progress(seeds, desc="members", verbose=self.verbose)):
            started = time.perf_counter()
            member = clone(self.estimator).set_params(**{name: seed for name in names})
            members.append(fit_with_groups(member, X, y, groups))
            if self.verbose:
                print(
                    f"[SeedEnsemble] member {index + 1}/{self.n_members} (seed {seed}) "
                    f"fitted in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
        self.estimators_ = members
        self.seeds_ = seeds
        if is_classifier(self.estimator):
            self.classes_ = members[0].classes_
        return self

    def _member_outputs(self, X):
        check_is_fitted(self)
        if is_classifier(self.estimator):
            return np.stack([m.predict_proba(X) for m in self.estimators_])
        return np.stack([np.asarray(m.predict(X), dtype=np.float64) for m in self.estimators_])

    def predict_proba(self, X):
        """The members' mean class probabilities (classifiers)."""
        if not is_classifier(self.estimator):
            raise AttributeError("predict_proba is for classifier ensembles.")
        return self._member_outputs(X).mean(axis=0)

    def predict(self, X):
        """The most probable class of the mean probabilities, or the members' mean value."""
        outputs = self._member_outputs(X)
        if is_classifier(self.estimator):
            return classes_from_proba(self.classes_, outputs.mean(axis=0))
        return outputs.mean(axis=0)

    def predict_uncertainty(self, X):
        """Uncertainty of each sample's prediction.

        Parameters
        ----------
        X : FusionInput, tuple or array-like
            Samples.

        Returns
        -------
        uncertainty : dict of ndarray of shape (n_samples,)
            Classifiers: ``total`` (entropy of the mean probabilities, nats), ``aleatoric``
            (the members' mean entropy) and ``epistemic`` (their difference, the mutual
            information; 0 when the members agree). Regressors: ``mean`` and ``std`` of the
            members' predictions (``std`` is the epistemic part; the ensemble has no noise
            model).
        """
        outputs = self._member_outputs(X)
        if not is_classifier(self.estimator):
            return {"mean": outputs.mean(axis=0), "std": outputs.std(axis=0)}
        total = _entropy(outputs.mean(axis=0))
        aleatoric = _entropy(outputs).mean(axis=0)
        return {
            "total": total,
            "aleatoric": aleatoric,
            "epistemic": np.clip(total - aleatoric, 0, None),
        }

    def score(self, X, y, sample_weight=None):
        """Accuracy (classifiers) or R^2 (regressors) of the ensemble's predictions."""
        mixin = ClassifierMixin if is_classifier(self.estimator) else RegressorMixin
        return mixin.score(self, X, y, sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = self.estimator.__sklearn_tags__()
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        return tags
