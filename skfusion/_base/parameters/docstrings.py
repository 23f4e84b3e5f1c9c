"""Docstring parts shared by several estimators, written once: the fitted attributes, the
regressor's and survival model's summaries; the Parameters section is made from the
parameter records (:mod:`skfusion._base.parameters.params`)."""

CLASSIFIER_ATTRIBUTES = """\
classes_ : ndarray of shape (n_classes,)
        Class labels, in the column order of ``predict_proba``.
    temperature_ : float
        The temperature dividing the logits (only with ``calibration``), fitted on the
        held-out subjects at ``validation_indices_``.
    calibration_bias_ : ndarray of shape (n_classes,)
        The per-class biases added to the scaled logits (only with
        ``calibration="temperature_bias"``; the first class's is 0)."""

REGRESSOR_ATTRIBUTES = """\
target_mean_, target_scale_ : ndarray of shape (n_outputs,)
        Mean and SD of each training target (the network predicts standardised targets).
    n_outputs_ : int
        Targets predicted per sample."""

SURVIVAL_ATTRIBUTES = """\
unique_times_ : ndarray
        The distinct training times, where the survival functions step.
    baseline_cumulative_hazard_ : ndarray
        Breslow estimate of the baseline cumulative hazard at ``unique_times_``.
    risk_offset_ : float
        The largest training risk, subtracted before exponentiating (numerical range)."""

SHARED_ATTRIBUTES = """\
n_features_in_ : int
        Number of clinical features seen in ``fit``.
    clinical_encoder_ : object or None
        The clinical preprocessing learned in ``fit`` (``clinical_preprocessing="auto"``);
        ``clinical_encoder_.output_names_`` names the network's clinical inputs.
    feature_names_in_ : ndarray of str
        Clinical column names seen in ``fit`` (only when the clinical part was a DataFrame
        with string column names).
    channel_names_in_ : tuple of str
        Image channel names seen in ``fit`` (only when ``X`` carried ``channel_names``, e.g.
        MRI sequences); ``predict`` refuses images whose names differ.
    slices_ : {"channels", "mean", "attention"}
        How ``fit`` read the second axis of the images (see ``slices``).
    image_shape_ : tuple of (C, H, W)
        Image shape seen in ``fit``; ``predict`` checks that its images match.
    localizes_ : bool
        Whether ``fit`` saw masks and trained a localisation head (see ``localize``).
    validation_indices_ : ndarray
        Positions in ``X`` of the samples ``fit`` held out (with ``early_stopping``, or a
        classifier's ``calibration``); absent otherwise.
    device_ : str
        The torch device the model was trained on.
    image_weights_sha256_ : str
        SHA-256 of the pretrained weights ``fit`` loaded (only with ``image_weights``);
        ``image_weights_loaded_``, ``image_weights_not_loaded_`` and
        ``image_weights_unused_`` list the encoder keys that received a tensor, the encoder
        keys that kept their initialisation and the source keys that had no place.
    n_epochs_ : int
        Epochs actually run (fewer than ``max_epochs`` when early stopping triggered).
    interrupted_ : bool
        Whether the last training was stopped by Ctrl-C; the model then keeps the weights of
        the last finished epoch.
    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module and ``net_.history``
        the per-epoch losses."""


_TASK_ATTRIBUTES = {
    "classifier": CLASSIFIER_ATTRIBUTES,
    "regressor": REGRESSOR_ATTRIBUTES,
    "survival": SURVIVAL_ATTRIBUTES,
    "generator": "",
}


def fill_doc(doc, task, parameters):
    """``doc`` with ``{parameters}`` (the Parameters entries, made from the estimator's
    parameter records by :mod:`skfusion._base.parameters.params`), ``{task_attributes}`` and
    ``{shared_attributes}`` substituted."""
    for key, text in (
        ("    {parameters}", parameters),
        ("{task_attributes}", _TASK_ATTRIBUTES[task]),
        ("{shared_attributes}", SHARED_ATTRIBUTES),
    ):
        doc = doc.replace(key, text)
    return doc


def task_estimator_doc(task, prefix, network, constructor, data_lines):
    """The docstring of a family's regressor (``task="regressor"``) or survival model
    (``task="survival"``): what differs between families is the network's description, the
    estimator's name and the example's constructor arguments and data; the placeholders are
    filled from the parameter records when the class is defined."""
    example_data = "\n    ".join(
        f">>> {line}" if i == 0 else f"... {line}" for i, line in enumerate(data_lines)
    )
    if task == "regressor":
        summary = (
            f"Predict continuous targets (scores, ages, volumes) with {network}.\n\n"
            f"    The network of :class:`{prefix}Classifier` with one linear output per "
            "target, trained\n    on standardised targets with squared error (or "
            "Huber's loss); ``predict`` returns values\n    on the original scale and "
            "``score`` is R^2."
        )
        see_also = (
            f"{prefix}Classifier : The same network for class labels.\n"
            f"    {prefix}Survival : The same network for times to an event."
        )
        example = (
            f">>> y = 25 + 3 * rng.rand(20)\n"
            f"    >>> model = {prefix}Regressor({constructor}).fit(X, y)\n"
            f"    >>> model.predict(X[:3]).shape\n    (3,)"
        )
        imports = f"FusionInput, {prefix}Regressor"
    else:
        summary = (
            f"Predict the time to an event (e.g. conversion to dementia) with "
            f"{network} and a\n    Cox model (DeepSurv).\n\n"
            f"    The network of :class:`{prefix}Classifier` with one log-risk output, "
            "trained on the\n    negative Cox partial log-likelihood; ``predict`` "
            "returns risk scores, ``score``\n    Harrell's concordance index, and "
            "``predict_survival_function`` survival curves from a\n    Breslow "
            "baseline hazard."
        )
        see_also = (
            f"{prefix}Classifier : The same network for class labels.\n"
            "    survival_target : Build ``y`` from event indicators and times."
        )
        example = (
            ">>> y = survival_target(rng.rand(20) < 0.7, rng.exponential(3, 20))\n"
            f"    >>> model = {prefix}Survival({constructor}).fit(X, y)\n"
            "    >>> model.predict(X[:2]).shape\n    (2,)"
        )
        imports = f"FusionInput, {prefix}Survival, survival_target"
    return f"""{summary}

    Parameters
    ----------
    {{parameters}}

    Attributes
    ----------
    {{task_attributes}}
    {{shared_attributes}}

    See Also
    --------
    {see_also}

    Examples
    --------
    >>> import numpy as np
    >>> from skfusion import {imports}
    >>> rng = np.random.RandomState(0)
    {example_data}
    {example}
    """
