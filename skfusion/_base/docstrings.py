"""Parameter descriptions shared by several estimators, written once."""

import re

SHARED_PARAMETERS = """\
backbone : {"resnet18", "resnet34", "resnet50", "resnet101"}, default="resnet50"
        ResNet depth of the image path (basic blocks for 18/34, bottleneck blocks for 50/101).
    base_width : int, default=64
        Width of the first ResNet stage; every stage scales with it (64 is the standard
        ResNet, 8-16 trains quickly on a CPU).
    max_epochs : int, default=100
        Passes over the training data (fewer with ``early_stopping``).
    batch_size : int, default=16
        Samples per training and prediction batch (at least 2, for batch normalisation;
        a last training batch of one sample joins the previous batch).
    lr : float, default=1e-4
        Learning rate of ``optimizer``.
    optimizer : torch optimizer class, default=torch.optim.Adam
        Built by the net with ``lr`` and any ``optimizer__*`` parameters.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training samples (stratified by class for
        classifiers, by event for survival models; whole subjects with ``groups``), stop
        when the validation loss has not improved for ``n_iter_no_change`` epochs, and keep
        the weights of the best epoch.
    validation_fraction : float, default=0.1
        Share of the training samples held out when ``early_stopping`` is on.
    n_iter_no_change : int, default=10
        Epochs without improvement of the validation loss before training stops.
    tol : float, default=1e-4
        The convergence check's tolerance (scikit-learn's MLP rule): when a fit runs all
        ``max_epochs``, it warns with sklearn's ``ConvergenceWarning`` unless its monitored
        loss (the validation loss with ``early_stopping``, the training loss otherwise)
        went ``n_iter_no_change`` epochs in a row without falling more than ``tol`` below
        its best.
    augment : {"auto", True, False}, dict or callable, default="auto"
        Randomly transform each training image batch (prediction never transforms).
        ``"auto"``: rotations up to 8 degrees, scaling by up to 8%, shifts by up to 6% of
        the size and intensity gains of up to 10%, and never a left-right flip, which would
        destroy any lateral target (a lesion's side). ``True`` (skfusion 0.3's default) adds
        a left-right flip of half the samples: only for targets that are the same on both
        sides. A dict gives the ranges by name (``degrees``, ``scale``, ``shift``, ``gain``,
        ``flip`` — the probability of a flip; omitted names are 0) and is saved in model
        files. A callable ``augment(images, generator, masks=None)`` transforms a batch
        tensor (and its masks) drawing only from ``generator``; model files record that a
        custom policy was used, not the callable. ``False`` turns it off. Which transform is
        unsafe for which target: ``docs/user_guide.md``, "Augmentation".
    modality_dropout : float, default=0.2
        Share of training samples whose image, or whose non-image inputs (clinical values,
        report text), are replaced by zeros, one of the two at random; the network then has
        to learn to decide from each modality alone rather than lean on whichever fits the
        training set fastest. Only for networks that read several modalities.
    localization_weight : float, default=1.0
        When ``X`` carries masks in ``fit`` (``FusionInput(images, clinical, masks=masks)``),
        a light segmentation decoder over the image encoder's feature maps learns them
        jointly with the task, and its loss (binary cross-entropy plus soft Dice) joins the
        task's loss with this weight; ``localize(X)`` then returns its maps. Without masks
        it has no effect.
    image_weights : str, path-like, estimator or PretrainedWeights, default=None
        Pretrained weights for the image encoder (the ResNet), loaded when ``fit`` builds the
        network: a local ``.pt``/``.pth`` (read with ``torch.load(weights_only=True)``) or
        ``.safetensors`` file holding a torchvision, MONAI (MedicalNet in 3-D) or skfusion
        ResNet state dict; or a fitted :class:`ImageClinicalPretrainer` or any fitted
        skfusion estimator trained on a source task, best wrapped in sklearn's
        ``FrozenEstimator`` so that ``clone`` keeps it fitted. Tensors with no place in this
        network (an RBCA front, FiLM/DAFT's affine-free normalisation, the source's head)
        are left out and listed in ``image_weights_unused_``; a stem, stage, depth or width
        that does not map is refused with the reason. The model file keeps the weights
        themselves, never the path. Nothing is downloaded.
    freeze : {"stem", "encoder"}, int or None, default=None
        Hold pretrained parts of the image encoder fixed while training: the stem, the stem
        and stages 1..k (an int from 1 to 4), or every pretrained part; their normalisation
        statistics stay the pretrained ones. Parts with no pretrained source (RBCA fronts,
        FiLM/DAFT) always train. Needs ``image_weights``.
    clinical_shortcut : bool, default=True
        Add outputs computed by one linear layer straight from the clinical values to the
        network's outputs (a "wide" path beside the "deep" network). It starts as an
        L2-penalised linear model fitted on the training samples (a logistic regression with
        C=1 for classifiers, a ridge regression with alpha=1 of the standardised targets for
        regressors, a ridge-penalised Cox model for survival models) and the network's head
        starts at zero, so a new network predicts as that linear model and training adds
        what the image (and the deep clinical path) contribute. Only for networks that read
        several modalities; not part of the published networks (turn it off to train them as
        published).
    clinical_preprocessing : "auto" or None, default="auto"
        "auto": the clinical table is prepared inside ``fit`` and saved with the model, so a
        hospital table works as it comes: text or categorical columns are one-hot encoded
        (a category unseen in training encodes as all zeros; missing as its own category),
        numeric columns get their missing values imputed with the training median plus a
        0/1 "was missing" column, and every numeric column is standardised with the
        training mean and SD (a table you standardised yourself passes through unchanged up
        to rounding). ``None``: the values are used as given and must be numeric and
        complete (bring your own steps, e.g. a ``ClinicalTransformer`` in a pipeline).
    slices : {"auto", "channels", "mean", "attention"}, default="auto"
        How images ``(n, k, H, W)`` are read. "channels": k channels of one image (2.5-D
        when they are neighbouring slices). "mean" / "attention": k slices of one patient;
        every slice goes through the same 2-D network with the patient's clinical values
        guiding it, and the slices' features are pooled by their mean or by gated attention
        (Ilse et al., ICML 2018; the weights say which slices mattered, see
        :func:`skfusion.explain.attention_maps`), so a row of ``X`` is a patient. "auto":
        a stack (mean pooling) when ``X`` declares it (``FusionInput(..., layout="slices")``,
        as the built-in cohort's one-row-per-patient ``X`` does), else channels when k <= 4
        (grey, RGB, RGBA), and an error asking for the choice when k > 4: the shape alone
        cannot say. The reading chosen in ``fit`` is ``slices_``.
    spatial_dims : {2, 3}, default=2
        2: images are 2-D slices ``(n, H, W)`` or ``(n, C, H, W)``. 3: images are volumes
        ``(n, D, H, W)`` or ``(n, C, D, H, W)`` (MONAI's name), read by the 3-D form of the
        same network (3-D convolutions, the same depth table; the clinical attention,
        spatial attention, FiLM/DAFT and Grad-CAM in 3-D). Channels-last applies to 2-D only.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (learning-rate schedulers, checkpoints, gradient clipping...).
    device : str, default="auto"
        "auto" trains on CUDA when available and on the CPU otherwise; or any torch device
        string ("cpu", "cuda", "cuda:1").
    mixed_precision : {"auto", "bf16", "fp16"} or bool, default="auto"
        Automatic mixed precision: "auto" uses it on CUDA (bfloat16 where the GPU supports
        it, else float16 with loss scaling) and never on the CPU, where it is much slower
        on most processors. ``True`` picks the dtype the same way on any device; ``False``
        trains in float32.
    channels_last : "auto" or bool, default="auto"
        Keep images and convolution weights in the channels-last memory layout. "auto" uses
        it on CUDA (faster with tensor cores) but not on the CPU: there it trained a small
        ResNet about 20% faster on our 2-core machine, but its multi-threaded kernels are not
        bit-reproducible, so the same ``random_state`` could give slightly different models.
        Set ``True`` for the speed when exact reproducibility does not matter.
    warm_start : bool, default=False
        When True, ``fit`` on a fitted estimator continues training its network for
        ``max_epochs`` more epochs (same classes or outputs, columns and image shape) instead
        of starting
        over; with :func:`skfusion.load` this resumes from a checkpoint.
    n_threads : int or None, default=None
        Torch threads for ``fit`` and prediction (restored afterwards); ``None`` uses torch's
        current setting. CPU kernels sum in an order that depends on the thread count, so
        set it (e.g. 1) for predictions that are bit-identical whatever ``n_jobs`` a
        cross-validation uses; with W parallel jobs on C cores, ``C // W`` avoids
        oversubscription.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, shuffling and the validation split. An int makes ``fit``
        reproducible (identical predictions on the CPU); torch's global random state is left
        as it was.
    verbose : int, default=1
        1 prints a line per epoch (losses, duration); 2 also draws a progress bar over each
        epoch's batches when standard error is a terminal (tqdm); 0 prints nothing.
    **kwargs
        Parameters routed to the skorch net by prefix, as in skorch: ``module__*``,
        ``optimizer__*`` (e.g. ``optimizer__weight_decay=1e-4``), ``criterion__*``,
        ``iterator_train__*``, ``iterator_valid__*``, ``callbacks__*``. They can be tuned in
        a grid search like any other parameter."""

CLASSIFIER_PARAMETERS = """\
criterion : torch loss class, default=torch.nn.CrossEntropyLoss
        Loss on the network's logits; ``criterion__*`` parameters are passed to it.
    class_weight : dict, "balanced" or None, default=None
        Per-class loss weights, keyed by the labels in ``y``; "balanced" weights classes
        inversely to their frequency. Passed as the criterion's ``weight``."""

REGRESSOR_PARAMETERS = """\
loss : {"squared_error", "huber"}, default="squared_error"
        Loss on the standardised targets: mean squared error, or Huber's loss (squared
        below ``huber_delta``, linear above: robust to outlying targets).
    huber_delta : float, default=1.0
        Where Huber's loss turns linear, in standard deviations of the target."""

SURVIVAL_PARAMETERS = """\
ties : {"efron", "breslow"}, default="efron"
        How tied event times enter the Cox partial likelihood (Efron's approximation is
        closer to the exact likelihood; Breslow's is the simpler one)."""

CLASSIFIER_ATTRIBUTES = """\
classes_ : ndarray of shape (n_classes,)
        Class labels, in the column order of ``predict_proba``."""

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
    slices_ : {"channels", "mean", "attention"}
        How ``fit`` read the second axis of the images (see ``slices``).
    image_shape_ : tuple of (C, H, W)
        Image shape seen in ``fit``; ``predict`` checks that its images match.
    localizes_ : bool
        Whether ``fit`` saw masks and trained a localisation head (see ``localize``).
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


_TASK = {
    "classifier": (CLASSIFIER_PARAMETERS, CLASSIFIER_ATTRIBUTES),
    "regressor": (REGRESSOR_PARAMETERS, REGRESSOR_ATTRIBUTES),
    "survival": (SURVIVAL_PARAMETERS, SURVIVAL_ATTRIBUTES),
    "generator": ("", ""),
}


def fill_doc(obj, task="classifier", family_parameters="", defaults=None):
    """Substitute ``{family_parameters}``, ``{task_parameters}``, ``{shared_parameters}``,
    ``{task_attributes}`` and ``{shared_attributes}`` in ``obj.__doc__``; ``defaults`` maps
    shared parameters whose default differs for ``obj`` to the text of that default."""
    task_parameters, task_attributes = _TASK[task]
    shared = SHARED_PARAMETERS
    for name, text in (defaults or {}).items():
        shared, found = re.subn(rf"^(    {name} : .*default=).*$", rf"\g<1>{text}", shared,
                                flags=re.MULTILINE)
        if not found:
            raise ValueError(f"no shared parameter {name!r} to give the default {text!r}")
    for key, text in (("{family_parameters}", family_parameters),
                      ("{task_parameters}", task_parameters),
                      ("{shared_parameters}", shared),
                      ("{task_attributes}", task_attributes),
                      ("{shared_attributes}", SHARED_ATTRIBUTES)):
        obj.__doc__ = obj.__doc__.replace(key, text)
    return obj


def family_doc(task, family_parameters):
    """Decorator form of :func:`fill_doc` for an estimator of ``task`` in a family whose own
    parameters are described by ``family_parameters``."""
    def decorate(obj):
        return fill_doc(obj, task=task, family_parameters=family_parameters)
    return decorate


def task_estimator_doc(task, prefix, network, constructor, data_lines):
    """The docstring of a family's regressor (``task="regressor"``) or survival model
    (``task="survival"``): what differs between families is the network's description, the
    estimator's name and the example's constructor arguments and data; the placeholders are
    filled by :func:`family_doc`."""
    example_data = "\n    ".join(f">>> {line}" if i == 0 else f"... {line}"
                                  for i, line in enumerate(data_lines))
    if task == "regressor":
        summary = (f"Predict continuous targets (scores, ages, volumes) with {network}.\n\n"
                   f"    The network of :class:`{prefix}Classifier` with one linear output per "
                   "target, trained\n    on standardised targets with squared error (or "
                   "Huber's loss); ``predict`` returns values\n    on the original scale and "
                   "``score`` is R^2.")
        see_also = (f"{prefix}Classifier : The same network for class labels.\n"
                    f"    {prefix}Survival : The same network for times to an event.")
        example = (f">>> y = 25 + 3 * rng.rand(20)\n"
                   f"    >>> model = {prefix}Regressor({constructor}).fit(X, y)\n"
                   f"    >>> model.predict(X[:3]).shape\n    (3,)")
        imports = f"FusionInput, {prefix}Regressor"
    else:
        summary = (f"Predict the time to an event (e.g. conversion to dementia) with "
                   f"{network} and a\n    Cox model (DeepSurv).\n\n"
                   f"    The network of :class:`{prefix}Classifier` with one log-risk output, "
                   "trained on the\n    negative Cox partial log-likelihood; ``predict`` "
                   "returns risk scores, ``score``\n    Harrell's concordance index, and "
                   "``predict_survival_function`` survival curves from a\n    Breslow "
                   "baseline hazard.")
        see_also = (f"{prefix}Classifier : The same network for class labels.\n"
                    "    survival_target : Build ``y`` from event indicators and times.")
        example = (">>> y = survival_target(rng.rand(20) < 0.7, rng.exponential(3, 20))\n"
                   f"    >>> model = {prefix}Survival({constructor}).fit(X, y)\n"
                   "    >>> model.predict(X[:2]).shape\n    (2,)")
        imports = f"FusionInput, {prefix}Survival, survival_target"
    return f"""{summary}

    Parameters
    ----------
    {{family_parameters}}
    {{task_parameters}}
    {{shared_parameters}}

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
