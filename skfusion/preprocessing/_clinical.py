"""ClinicalTransformer: any scikit-learn transformer applied to the clinical part of X."""

from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import check_is_fitted

from .._input import FusionInput

__all__ = ["ClinicalTransformer"]


class ClinicalTransformer(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Apply a scikit-learn transformer to the clinical part of X, passing images through.

    Put it in a pipeline before a skfusion classifier to scale, encode or impute clinical
    values with the transformer fitted on each training fold only.

    Parameters
    ----------
    transformer : transformer, "passthrough" or None, default=None
        Any object with ``fit`` and ``transform`` (``StandardScaler()``, ``SimpleImputer()``,
        a ``ColumnTransformer`` with a ``OneHotEncoder``...). It is cloned in ``fit``.
        ``None`` and "passthrough" leave the clinical values unchanged (after checking that
        they are a finite numeric table).

    Attributes
    ----------
    transformer_ : transformer
        The fitted clone of ``transformer``.
    n_features_in_ : int
        Number of clinical columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Clinical column names seen in ``fit`` (DataFrames with string column names only).

    Notes
    -----
    ``X`` may be a :class:`~skfusion.FusionInput`, a tuple ``(images, clinical[, text])`` (the
    same type is returned, images and texts untouched), or a plain clinical table (then this
    behaves exactly like ``transformer``). ``set_output(transform="pandas")`` is forwarded to
    the inner transformer, so the clinical part comes out as a DataFrame.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skfusion import ClinicalTransformer, FusionInput
    >>> X = FusionInput(np.zeros((3, 4, 4)), pd.DataFrame({"age": [60.0, 70.0, 80.0]}))
    >>> ClinicalTransformer(StandardScaler()).fit_transform(X).clinical.ravel().round(3)
    array([-1.225,  0.   ,  1.225])
    """

    _parameter_constraints = {
        "transformer": [HasMethods(["fit", "transform"]), StrOptions({"passthrough"}), None],
    }

    def __init__(self, transformer=None):
        self.transformer = transformer

    def _make_transformer(self):
        if self.transformer is None or self.transformer == "passthrough":
            transformer = _passthrough()
        else:
            transformer = clone(self.transformer)
        config = getattr(self, "_sklearn_output_config", {}).get("transform")
        if config is not None:
            transformer.set_output(transform=config)
        return transformer

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, **fit_params):
        """Fit the transformer on the clinical part of ``X``.

        Parameters
        ----------
        X : FusionInput, tuple (images, clinical[, text]) or array-like of shape
            (n_samples, n_features)
            Input data; only its clinical part is used.
        y : array-like of shape (n_samples,), default=None
            Passed to the transformer's ``fit``.
        **fit_params : dict
            Passed to the transformer's ``fit``.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._fit(X, y, **fit_params)
        return self

    def _fit(self, X, y, **fit_params):
        clinical = _clinical_part(X)
        transformer = self._make_transformer()
        out = transformer.fit_transform(clinical, y, **fit_params)
        self.transformer_ = transformer
        self.n_features_in_ = transformer.n_features_in_
        if hasattr(transformer, "feature_names_in_"):
            self.feature_names_in_ = transformer.feature_names_in_
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return out

    def fit_transform(self, X, y=None, **fit_params):
        """Fit on the clinical part of ``X`` and return ``X`` with it transformed."""
        self._validate_params()
        return _replace_clinical(X, self._fit(X, y, **fit_params))

    def transform(self, X):
        """Return ``X`` (same container type) with its clinical part transformed."""
        check_is_fitted(self)
        return _replace_clinical(X, self.transformer_.transform(_clinical_part(X)))

    def inverse_transform(self, X):
        """Undo the transformation of the clinical part, where the transformer can."""
        check_is_fitted(self)
        return _replace_clinical(X, self.transformer_.inverse_transform(_clinical_part(X)))

    def get_feature_names_out(self, input_features=None):
        """Names of the transformed clinical columns."""
        check_is_fitted(self)
        return self.transformer_.get_feature_names_out(input_features)

    def set_output(self, *, transform=None):
        """Set the output container of the clinical part ("default", "pandas", "polars")."""
        if transform is None:
            return self
        self._sklearn_output_config = {"transform": transform}
        if hasattr(self, "transformer_"):
            self.transformer_.set_output(transform=transform)
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        passthrough = self.transformer is None or self.transformer == "passthrough"
        inner = (_passthrough() if passthrough else self.transformer).__sklearn_tags__()
        tags.input_tags = inner.input_tags
        return tags


def _passthrough():
    return FunctionTransformer(validate=True, feature_names_out="one-to-one")


def _clinical_part(X):
    if isinstance(X, FusionInput):
        clinical = X.clinical
    elif isinstance(X, tuple):
        if len(X) not in (2, 3):
            raise ValueError(
                f"X as a tuple must be (images, clinical) or (images, clinical, text); got a "
                f"tuple of length {len(X)}."
            )
        clinical = X[1]
    else:
        return X
    if clinical is None:
        raise ValueError(
            "X has no clinical part for ClinicalTransformer to transform; pass "
            "FusionInput(images, clinical)."
        )
    return clinical


def _replace_clinical(X, clinical):
    if isinstance(X, FusionInput):
        return FusionInput(
            X.images,
            clinical,
            X.text,
            subjects=X.subjects,
            layout=X.layout,
            masks=X.masks,
            present=X.present,
            channel_names=X.channel_names,
        )
    if isinstance(X, tuple):
        return (X[0], clinical, *X[2:])
    return clinical
