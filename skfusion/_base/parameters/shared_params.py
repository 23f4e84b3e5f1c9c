"""The parameters every estimator shares, one :class:`~skfusion._base.parameters.params.Param`
record each: the paper's network and optimiser settings, the training remedies (augmentation,
modality dropout, clinical shortcut) and the torch settings (device, precision, threads)."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Hidden, Interval, StrOptions

from ...nn.resnet import RESNET_SPECS
from ...nn.slice_stack import POOLINGS
from ..pretrained.image_weights import IMAGE_WEIGHTS_CONSTRAINTS
from .params import Param

__all__ = ["CLINICAL_DIM", "SHARED_PARAMS", "ROUTED_SEARCH_SPACE", "KWARGS_DOC"]

#: The routed parameters in every estimator's default search space (the records hold the
#: rest; see :func:`skfusion.tuning.search_space`).
ROUTED_SEARCH_SPACE = {"optimizer__weight_decay": ("log_float", 1e-6, 1e-2)}

#: The docstring entry of the routed parameters.
KWARGS_DOC = """\
    **kwargs
        Parameters routed to the skorch net by prefix, as in skorch: ``module__*``,
        ``optimizer__*`` (e.g. ``optimizer__weight_decay=1e-4``), ``criterion__*``,
        ``iterator_train__*``, ``iterator_valid__*``, ``callbacks__*``. They can be tuned in
        a grid search like any other parameter."""

SHARED_PARAMS = {
    "backbone": Param(
        "resnet50",
        [StrOptions(set(RESNET_SPECS))],
        """\
ResNet depth of the image path (basic blocks for 18/34, bottleneck blocks for 50/101).""",
        type='{"resnet18", "resnet34", "resnet50", "resnet101"}',
        module=True,
    ),
    "base_width": Param(
        64,
        [Interval(Integral, 1, None, closed="left")],
        """\
Width of the first ResNet stage; every stage scales with it (64 is the standard
ResNet, 8-16 trains quickly on a CPU).""",
        module=True,
        search=("categorical", (8, 16, 32, 64)),
        cap=1024,
    ),
    "max_epochs": Param(
        100,
        [Interval(Integral, 1, None, closed="left")],
        """\
Passes over the training data (fewer with ``early_stopping``).""",
        cap=10**7,
    ),
    "batch_size": Param(
        16,
        [Interval(Integral, 2, None, closed="left")],
        """\
Samples per training and prediction batch (at least 2, for batch normalisation;
a last training batch of one sample joins the previous batch).""",
        search=("categorical", (8, 16, 32, 64)),
        cap=2**20,
    ),
    "lr": Param(
        1e-4,
        [Interval(Real, 0, None, closed="neither")],
        """\
Learning rate of ``optimizer``.""",
        search=("log_float", 1e-5, 1e-2),
    ),
    "optimizer": Param(
        torch.optim.Adam,
        [callable],
        """\
Built by the net with ``lr`` and any ``optimizer__*`` parameters.""",
        type="torch optimizer class",
        default_doc="torch.optim.Adam",
    ),
    "early_stopping": Param(
        False,
        ["boolean"],
        """\
Hold out ``validation_fraction`` of the training samples (stratified by class for
classifiers, by event for survival models; whole subjects with ``groups``), stop
when the validation loss has not improved for ``n_iter_no_change`` epochs, and keep
the weights of the best epoch.""",
    ),
    "validation_fraction": Param(
        0.1,
        [Interval(Real, 0, 1, closed="neither")],
        """\
Share of the training samples held out when ``early_stopping`` is on.""",
    ),
    "n_iter_no_change": Param(
        10,
        [Interval(Integral, 1, None, closed="left")],
        """\
Epochs without improvement of the validation loss before training stops.""",
        cap=10**7,
    ),
    "tol": Param(
        1e-4,
        [Interval(Real, 0, None, closed="left")],
        """\
The convergence check's tolerance (scikit-learn's MLP rule): when a fit runs all
``max_epochs``, it warns with sklearn's ``ConvergenceWarning`` unless its monitored
loss (the validation loss with ``early_stopping``, the training loss otherwise)
went ``n_iter_no_change`` epochs in a row without falling more than ``tol`` below
its best.""",
    ),
    "augment": Param(
        "auto",
        ["boolean", StrOptions({"auto"}), Hidden(StrOptions({"custom"})), dict, callable],
        """\
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
unsafe for which target: ``docs/user_guide.md``, "Augmentation".""",
        type='{"auto", True, False}, dict or callable',
    ),
    "modality_dropout": Param(
        0.2,
        [Interval(Real, 0, 1, closed="left")],
        """\
Share of training samples that lose their image, or their non-image inputs (clinical
values, report text), one of the two at random: a dropped image or report is marked
absent, exactly as a patient without one is at prediction (the network puts its
learned stand-in in its place), and dropped clinical values are set to the training
mean. The network then has to learn to decide from each modality alone rather than
lean on whichever fits the training set fastest, and learns what to do for a patient
without an image. Only for networks that read several modalities.""",
    ),
    "localization_weight": Param(
        1.0,
        [Interval(Real, 0, None, closed="left")],
        """\
When ``X`` carries masks in ``fit`` (``FusionInput(images, clinical, masks=masks)``),
a light segmentation decoder over the image encoder's feature maps learns them
jointly with the task, and its loss (binary cross-entropy plus soft Dice) joins the
task's loss with this weight; ``localize(X)`` then returns its maps. Without masks
it has no effect.""",
    ),
    "image_weights": Param(
        None,
        IMAGE_WEIGHTS_CONSTRAINTS["image_weights"],
        """\
Pretrained weights for the image encoder (the ResNet), loaded when ``fit`` builds the
network: a local ``.pt``/``.pth`` (read with ``torch.load(weights_only=True)``) or
``.safetensors`` file holding a torchvision, MONAI (MedicalNet in 3-D) or skfusion
ResNet state dict; or a fitted :class:`ImageClinicalPretrainer` or any fitted
skfusion estimator trained on a source task, best wrapped in sklearn's
``FrozenEstimator`` so that ``clone`` keeps it fitted. Tensors with no place in this
network (an RBCA front, FiLM/DAFT's affine-free normalisation, the source's head)
are left out and listed in ``image_weights_unused_``; a stem, stage, depth or width
that does not map is refused with the reason. The model file keeps the weights
themselves, never the path. Nothing is downloaded.""",
        type="str, path-like, estimator or PretrainedWeights",
    ),
    "freeze": Param(
        None,
        IMAGE_WEIGHTS_CONSTRAINTS["freeze"],
        """\
Hold pretrained parts of the image encoder fixed while training: the stem, the stem
and stages 1..k (an int from 1 to 4), or every pretrained part; their normalisation
statistics stay the pretrained ones. Parts with no pretrained source (RBCA fronts,
FiLM/DAFT) always train. Needs ``image_weights``.""",
        type='{"stem", "encoder"}, int or None',
    ),
    "clinical_shortcut": Param(
        True,
        ["boolean"],
        """\
Add outputs computed by one linear layer straight from the clinical values to the
network's outputs (a "wide" path beside the "deep" network). It starts as an
L2-penalised linear model fitted on the training samples (a logistic regression with
C=1 for classifiers, a ridge regression with alpha=1 of the standardised targets for
regressors, a ridge-penalised Cox model for survival models) and the network's head
starts at zero, so a new network predicts as that linear model and training adds
what the image (and the deep clinical path) contribute. Only for networks that read
several modalities; not part of the published networks (turn it off to train them as
published).""",
    ),
    "image_shortcut": Param(
        None,
        [StrOptions({"pca"}), None],
        """\
"pca": add outputs computed by one linear layer from the image's principal
components (``image_components`` of them, fitted inside ``fit`` on the training
images, each image average-pooled to at most 4,096 values; a slice stack keeps its
slices; a sample without an image scores 0, the training mean), the image's
counterpart of ``clinical_shortcut``. Together they start as one penalised linear
model fitted on the components and the table of the training samples (the same
models as ``clinical_shortcut``), and the deep network's head starts at zero: a new
network predicts as the model a data scientist would build from pixel PCA plus the
table, and training adds what the deep network finds beyond it. Early stopping and
calibration act on the whole model. ``None`` (the default): no image path of that
kind. Measured (benchmarks/README.md, "The linear image path"; simulated): it lifts
the networks where the image signal is diffuse (atrophy) and the table says little,
and costs them 0.004-0.030 AUC where the signal is a local lesion, so it is an option
to try on atrophy-like cohorts, not the default. Only for networks with an image
path.""",
        type='"pca" or None',
    ),
    "image_components": Param(
        20,
        [Interval(Integral, 1, None, closed="left")],
        """\
Principal components of the images that ``image_shortcut="pca"`` reads (at most
one fewer than the training images with an image; the rest read zero).""",
    ),
    "clinical_preprocessing": Param(
        "auto",
        [StrOptions({"auto"}), None],
        """\
"auto": the clinical table is prepared inside ``fit`` and saved with the model, so a
hospital table works as it comes: text or categorical columns are one-hot encoded
(a category unseen in training encodes as all zeros; missing as its own category),
numeric columns get their missing values imputed with the training median plus a
0/1 "was missing" column, and every numeric column is standardised with the
training mean and SD (a table you standardised yourself passes through unchanged up
to rounding). ``None``: the values are used as given and must be numeric and
complete (bring your own steps, e.g. a ``ClinicalTransformer`` in a pipeline).""",
        type='"auto" or None',
    ),
    "slices": Param(
        "auto",
        [StrOptions({"auto", "channels", *POOLINGS})],
        """\
How images ``(n, k, H, W)`` are read. "channels": k channels of one image (2.5-D
when they are neighbouring slices). "mean" / "attention": k slices of one patient;
every slice goes through the same 2-D network with the patient's clinical values
guiding it, and the slices' features are pooled by their mean or by gated attention
(Ilse et al., ICML 2018; the weights say which slices mattered, see
:func:`skfusion.explain.attention_maps`), so a row of ``X`` is a patient. "auto":
a stack (mean pooling) when ``X`` declares it (``FusionInput(..., layout="slices")``,
as the built-in cohort's one-row-per-patient ``X`` does), else channels when k <= 4
(grey, RGB, RGBA), and an error asking for the choice when k > 4: the shape alone
cannot say. The reading chosen in ``fit`` is ``slices_``.""",
        type='{"auto", "channels", "mean", "attention"}',
    ),
    "spatial_dims": Param(
        2,
        [Interval(Integral, 2, 3, closed="both")],
        """\
2: images are 2-D slices ``(n, H, W)`` or ``(n, C, H, W)``. 3: images are volumes
``(n, D, H, W)`` or ``(n, C, D, H, W)`` (MONAI's name), read by the 3-D form of the
same network (3-D convolutions, the same depth table; the clinical attention,
spatial attention, FiLM/DAFT and Grad-CAM in 3-D). Channels-last applies to 2-D only.""",
        type="{2, 3}",
    ),
    "callbacks": Param(
        None,
        [list, None],
        """\
Extra skorch callbacks (learning-rate schedulers, checkpoints, gradient clipping...).""",
        type="list of skorch callbacks or (name, callback) tuples",
    ),
    "device": Param(
        "auto",
        [str],
        """\
"auto" trains on CUDA when available and on the CPU otherwise; or any torch device
string ("cpu", "cuda", "cuda:1").""",
        type="str",
    ),
    "mixed_precision": Param(
        "auto",
        [StrOptions({"auto", "bf16", "fp16"}), "boolean"],
        """\
Automatic mixed precision: "auto" uses it on CUDA (bfloat16 where the GPU supports
it, else float16 with loss scaling) and never on the CPU, where it is much slower
on most processors. ``True`` picks the dtype the same way on any device; ``False``
trains in float32.""",
        type='{"auto", "bf16", "fp16"} or bool',
    ),
    "channels_last": Param(
        "auto",
        [StrOptions({"auto"}), "boolean"],
        """\
Keep images and convolution weights in the channels-last memory layout. "auto" uses
it on CUDA (faster with tensor cores) but not on the CPU: there it trained a small
ResNet about 20% faster on our 2-core machine, but its multi-threaded kernels are not
bit-reproducible, so the same ``random_state`` could give slightly different models.
Set ``True`` for the speed when exact reproducibility does not matter.""",
        type='"auto" or bool',
    ),
    "warm_start": Param(
        False,
        ["boolean"],
        """\
When True, ``fit`` on a fitted estimator continues training its network for
``max_epochs`` more epochs (same classes or outputs, columns and image shape) instead
of starting
over; with :func:`skfusion.load` this resumes from a checkpoint.""",
    ),
    "n_threads": Param(
        None,
        [Interval(Integral, 1, None, closed="left"), None],
        """\
Torch threads for ``fit`` and prediction (restored afterwards); ``None`` uses torch's
current setting. CPU kernels sum in an order that depends on the thread count, so
set it (e.g. 1) for predictions that are bit-identical whatever ``n_jobs`` a
cross-validation uses; with W parallel jobs on C cores, ``C // W`` avoids
oversubscription.""",
        type="int or None",
    ),
    "random_state": Param(
        None,
        ["random_state"],
        """\
Seeds weight initialisation, shuffling and the validation split. An int makes ``fit``
reproducible (identical predictions on the CPU); torch's global random state is left
as it was.""",
        type="int, RandomState instance or None",
    ),
    "verbose": Param(
        1,
        ["verbose"],
        """\
1 prints a line per epoch (losses, duration); 2 also draws a progress bar over each
epoch's batches when standard error is a terminal (tqdm); 0 prints nothing.""",
    ),
}

#: ``clinical_dim`` of the families whose clinical features meet pooled ResNet features
#: (clinical attention, gated fusion): one record for both.
CLINICAL_DIM = Param(
    "auto",
    [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    """\
Size of the clinical feature vector. "auto" follows the width of the pooled image
features of the network as built (``base_width * 8`` for ResNet18/34, ``base_width
* 32`` for ResNet50/101: 2048 for the paper's ResNet50), as the clinical-attention paper
keeps the clinical features close to the image features so that they are not drowned.""",
    type='int or "auto"',
    module=True,
    search=("categorical", ("auto", 64, 256, 1024)),
    cap=65536,
)
