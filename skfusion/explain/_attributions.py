"""Integrated Gradients of the clinical inputs (through Captum), and a plot of importances."""

import numpy as np
import torch
from sklearn.utils import Bunch

from .._base.core.explaining import _batches, _final_estimator, _target_indices

__all__ = ["integrated_gradients", "plot_importances"]


def _captum_integrated_gradients():
    try:
        from captum.attr import IntegratedGradients
    except ImportError:
        raise ImportError(
            "integrated_gradients needs Captum, which is not installed; install it with "
            'pip install "skfusion[explain]" (or pip install captum).'
        ) from None
    return IntegratedGradients


def _encoded_names(estimator):
    encoder = getattr(estimator, "clinical_encoder_", None)
    if encoder is not None:
        return list(encoder.output_names_), list(encoder.output_columns_)
    names = getattr(estimator, "feature_names_in_", None)
    if names is None:
        names = [f"x{j}" for j in range(estimator.n_features_in_)]
    return [str(n) for n in names], [str(n) for n in names]


def integrated_gradients(estimator, X, *, target=None, baseline="zeros", n_steps=50):
    """Integrated Gradients (Sundararajan et al., ICML 2017) of each clinical input, for
    every sample: how much each value moved the model's output away from a reference
    patient, with the image (and report) held fixed.

    Computed with Captum's ``IntegratedGradients`` (``pip install "skfusion[explain]"``)
    on the network's clinical inputs, i.e. after the estimator's own clinical preprocessing
    (standardised numbers, missing-value indicators, one-hot categories); the attributions of
    a column's encoded inputs are also summed per input column.

    Parameters
    ----------
    estimator : fitted skfusion estimator (reading clinical values), or a Pipeline ending in one
    X : FusionInput or tuple
    target : label, array-like of labels, int, or None, default=None
        As in :func:`grad_cam`: classifiers explain the logit of this class (``None``: each
        sample's predicted class); regressors an output index; survival models the risk.
    baseline : {"zeros", "mean"} or array-like of shape (n_encoded,), default="zeros"
        The reference patient, in the network's input space. ``"zeros"``: with the built-in
        preprocessing, the training mean of every numeric column and no category for
        categorical ones; ``"mean"``: the mean encoded row of ``X``.
    n_steps : int, default=50
        Steps of the path integral.

    Returns
    -------
    result : Bunch
        ``attributions`` (n_samples, n_encoded) and ``names`` (encoded input names);
        ``column_attributions`` (n_samples, n_columns) and ``columns`` (input columns);
        ``convergence_delta`` (n_samples,): the sum of a sample's attributions minus the
        output difference it explains (near 0 when ``n_steps`` suffices).
    """
    estimator, X = _final_estimator(estimator, X)
    if not estimator._uses_clinical():
        raise ValueError(
            f"{estimator._describe_config()} does not read clinical values, so they have no "
            "attribution; explain its images with grad_cam."
        )
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 2:
        raise ValueError(f"n_steps must be an int of at least 2; got {n_steps!r}.")
    IntegratedGradients = _captum_integrated_gradients()
    names, columns = _encoded_names(estimator)
    target_index = _target_indices(estimator, target, len(X))
    batches = list(_batches(estimator, X))
    if isinstance(baseline, str) and baseline in ("zeros", "mean"):
        reference = (
            np.zeros(len(names))
            if baseline == "zeros"
            else np.concatenate([x["clinical"].cpu().numpy() for _, x in batches]).mean(axis=0)
        )
    elif isinstance(baseline, str):
        raise ValueError(f"baseline must be 'zeros', 'mean' or an array; got {baseline!r}.")
    else:
        reference = np.asarray(baseline, dtype=np.float64)
        if reference.shape != (len(names),):
            raise ValueError(
                f"baseline must have one value per encoded clinical input ({len(names)}: "
                f"{names[:5]}...); got shape {reference.shape}."
            )
    module = estimator.net_.module_
    module.eval()
    keys = None

    def forward(clinical, *others):
        output = module(clinical=clinical, **dict(zip(keys, others)))
        return output[0] if isinstance(output, tuple) else output

    explainer = IntegratedGradients(forward)
    attributions, deltas = [], []
    for positions, x in batches:
        keys = [k for k in x if k != "clinical"]
        others = tuple(x[k] for k in keys)
        clinical = x["clinical"]
        with estimator.net_.kernels():
            if target_index is None:
                with torch.no_grad():
                    chosen = forward(clinical, *others).argmax(dim=1)
            else:
                chosen = torch.as_tensor(target_index[positions], device=clinical.device)
            base = torch.as_tensor(
                reference, dtype=clinical.dtype, device=clinical.device
            ).expand_as(clinical)
            values, delta = explainer.attribute(
                clinical,
                baselines=base,
                target=chosen,
                additional_forward_args=others,
                n_steps=n_steps,
                internal_batch_size=max(estimator.batch_size, 2),
                return_convergence_delta=True,
            )
        attributions.append(values.detach().cpu().double().numpy())
        deltas.append(delta.detach().cpu().double().numpy())
    attributions = np.concatenate(attributions)
    unique = list(dict.fromkeys(columns))
    per_column = np.stack(
        [attributions[:, [c == col for c in columns]].sum(axis=1) for col in unique], axis=1
    )
    return Bunch(
        attributions=attributions,
        names=names,
        column_attributions=per_column,
        columns=unique,
        convergence_delta=np.concatenate(deltas),
    )


def plot_importances(result, *, top=20, ax=None, path=None):
    """Horizontal bars of importances, largest on top, with their spread.

    Parameters
    ----------
    result : Bunch
        From :func:`permutation_importance` (bars: mean drop in score; whiskers: SD over
        repeats) or :func:`integrated_gradients` (bars: mean absolute attribution per input
        column; whiskers: SD of the absolute attributions over samples).
    top : int, default=20
        Show the ``top`` largest.
    ax : matplotlib Axes or None, default=None
    path : str, path-like or None, default=None
        Save the figure there.

    Returns
    -------
    ax : matplotlib Axes
    """
    import matplotlib

    if ax is None and path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    if "importances_mean" in result:
        means, spreads = np.asarray(result.importances_mean), np.asarray(result.importances_std)
        names, label = list(result.names), "drop in score when permuted"
    elif "column_attributions" in result:
        magnitude = np.abs(result.column_attributions)
        means, spreads = magnitude.mean(axis=0), magnitude.std(axis=0)
        names, label = list(result.columns), "mean |Integrated Gradients|"
    else:
        raise ValueError(
            "result must come from permutation_importance or "
            "integrated_gradients (a Bunch with importances_mean or "
            "column_attributions)."
        )
    order = np.argsort(means)[::-1][:top][::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(order) + 1.2))
    ax.barh([names[i] for i in order], means[order], xerr=spreads[order], color="#4c72b0")
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(label)
    ax.figure.tight_layout()
    if path is not None:
        ax.figure.savefig(path, dpi=120)
    return ax
