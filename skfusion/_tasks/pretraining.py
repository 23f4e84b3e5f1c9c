"""ImageClinicalPretrainer: self-supervised image-clinical pretraining of the image encoder
on patients without labels, for ``image_weights=`` of every estimator."""

from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from .._base.core.encoders import Target, TargetEncoder
from .._base.core.estimator import BaseFusionEstimator
from .._base.parameters.params import Param
from .._net.device import torch_threads
from ..nn.contrastive import ContrastiveLoss, ImageClinicalContrastiveNet
from ..nn.slice_stack import POOLINGS

__all__ = ["ImageClinicalPretrainer"]


class _NoLabels(TargetEncoder):
    """No target: the pretrainer learns from ``X`` alone, so ``y`` must be None."""

    attributes = ()

    def transform(self, y, *, n_samples, classes=None):
        if y is not None:
            raise ValueError(
                "y must be None: ImageClinicalPretrainer learns from X alone "
                "(its images and clinical rows)."
            )
        return Target(np.zeros(n_samples, dtype=np.float32), 1)


class ImageClinicalPretrainer(TransformerMixin, BaseFusionEstimator):
    """Pretrain an image encoder by contrasting each patient's image with their own clinical
    row (no labels).

    Real cohorts hold far more scans with their tables than labelled patients. This
    estimator learns the image encoder (any ``backbone``, 2-D images, slice stacks or 3-D
    volumes) from those pairs with the multimodal contrastive objective of MMCL (Hager et
    al., "Best of Both Worlds: Multimodal Contrastive Learning with Tabular and Imaging Data",
    CVPR 2023): the image and clinical embeddings of one patient are pulled together and
    pushed away from the other patients' of the batch (symmetric InfoNCE, temperature
    ``temperature``), with the images augmented (``augment``, no left-right flips by
    default) and the table corrupted as in SCARF (``corruption_rate`` of each row's values
    replaced by other rows' values). Written from the papers' equations. Choices the papers
    leave open, ours: the clinical encoder is a 2-layer MLP with batch normalisation, both
    projection heads 2-layer MLPs; slice stacks are pooled by the mean of the slices'
    features. The estimator's ``transform`` gives the image features; pass the fitted
    pretrainer, wrapped in sklearn's ``FrozenEstimator``, as ``image_weights`` of any
    estimator with the same ``backbone``, ``base_width`` and ``spatial_dims``.

    Parameters
    ----------
    {parameters}

    Attributes
    ----------
    {shared_attributes}

    See Also
    --------
    ClinicalAttentionClassifier : Takes the pretrained encoder as ``image_weights``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.frozen import FrozenEstimator
    >>> from skfusion import ClinicalAttentionClassifier, ImageClinicalPretrainer
    >>> from skfusion.datasets import make_brain_cohort
    >>> unlabelled = make_brain_cohort(24, n_slices=2, image_size=32, random_state=1).X
    >>> small = dict(backbone="resnet18", base_width=4, verbose=0, random_state=0)
    >>> pretrainer = ImageClinicalPretrainer(max_epochs=2, batch_size=8, **small)
    >>> pretrainer = pretrainer.fit(unlabelled)
    >>> pretrainer.transform(unlabelled).shape
    (24, 32)
    >>> cohort = make_brain_cohort(20, n_slices=2, image_size=32, random_state=0)
    >>> model = ClinicalAttentionClassifier(
    ...     image_weights=FrozenEstimator(pretrainer), max_epochs=2, **small)
    >>> model = model.fit(cohort.X, cohort.y)
    >>> model.image_weights_sha256_ == model.pretrained_weights_.sha256
    True
    """

    _module_class = ImageClinicalContrastiveNet
    _missing_images = (
        "it learns by matching each image with its own clinical row, and gives features of images."
    )
    _doc_task = "generator"
    _params = {
        "projection_dim": Param(
            128,
            [Interval(Integral, 1, None, closed="left")],
            "Width of the normalised embeddings compared.",
            module=True,
        ),
        "hidden_dim": Param(
            256,
            [Interval(Integral, 1, None, closed="left")],
            "Width of the clinical encoder and the projection heads' hidden layers.",
            module=True,
        ),
        "temperature": Param(
            0.1,
            [Interval(Real, 0, None, closed="neither")],
            "Divides the cosine similarities (MMCL's value).",
            module=True,
            search=("log_float", 0.03, 0.5),
        ),
        "corruption_rate": Param(
            0.3,
            [Interval(Real, 0, 1, closed="left")],
            """\
Share of each training row's clinical values replaced (SCARF's default).""",
            search=("float", 0.0, 0.6),
        ),
        "lambda_": Param(
            0.5,
            [Interval(Real, 0, 1, closed="both")],
            """\
Weight of the image-to-table term of the loss (table-to-image: ``1 - lambda_``).
``modality_dropout``, ``clinical_shortcut`` and ``image_shortcut`` below have no
effect here: both modalities are the task, and there is no output for a shortcut to
join.""",
        ),
    }
    _param_defaults = {"batch_size": 64, "modality_dropout": 0.0, "clinical_shortcut": False}
    _target_encoder = _NoLabels

    _fuses = False  # no shortcut and no modality dropout: both modalities are the task

    # -- fit ----------------------------------------------------------------------------------

    def fit(self, X, y=None, groups=None):
        """Pretrain on ``X`` (images and clinical values of patients; no labels).

        Parameters
        ----------
        X : FusionInput or tuple (images, clinical)
            One row per patient, as for the other estimators; the clinical table is needed.
        y : None
            Ignored (there for pipelines).
        groups : array-like, default=None
            Subject of each sample, for the early-stopping split.

        Returns
        -------
        self : object
        """
        return super().fit(X, y, groups=groups)

    def partial_fit(self, X, y=None, groups=None):
        """Pretrain for one more epoch."""
        return self._partial_fit(X, y, groups=groups)

    def _build_net(self, *, slices="channels", **kwargs):
        # A stack's slices go through the encoder one by one, pooled by their mean, inside
        # the contrastive network (never a SliceStackNet: no task head to pool into).
        net = super()._build_net(slices="channels", **kwargs)
        net.set_params(module__per_slice=slices in POOLINGS, table_corruption=self.corruption_rate)
        return net

    def _training_masks(self, X, images, slices):
        if X.masks is not None:
            raise ValueError(
                "X has masks, but ImageClinicalPretrainer learns without labels "
                "or masks; drop them (FusionInput(images, clinical))."
            )
        return None

    # -- the task contract (self-supervised: no target) -----------------------------------

    def _criterion_params(self, target):
        return {"criterion": ContrastiveLoss, "criterion__lambda_": self.lambda_}

    def _start_shortcut(self, net, clinical, target, train):  # pragma: no cover
        raise AssertionError("a pretraining network has no clinical shortcut")

    def _export_head(self):
        raise ValueError(
            "an ImageClinicalPretrainer has no prediction to export; export "
            "the estimator that starts from its weights."
        )

    # -- transform ----------------------------------------------------------------------------

    def _batches(self, X):
        """The network's inputs for ``X``, batch by batch, on the net's device."""
        check_is_fitted(self)
        dataset = self._check_X(X, fitting=False).dataset(presence=False)
        for batch in self.net_.get_iterator(dataset, training=False):
            inputs = batch[0] if isinstance(batch, (tuple, list)) else batch
            yield {
                k: v.to(self.net_.device) for k, v in inputs.items() if k in ("images", "clinical")
            }

    def transform(self, X):
        """The pretrained encoder's pooled image features, ``(n_samples, n_features)``
        (per patient for slice stacks): inputs for any tabular model."""
        parts = []
        with torch.inference_mode(), torch_threads(self.n_threads):
            for inputs in self._batches(X):
                module = self.net_.module_.eval()
                with self.net_.kernels():
                    parts.append(module.image_features(inputs["images"]).float().cpu().numpy())
        return np.concatenate(parts).astype(np.float32)

    def score(self, X, y=None):
        """Minus the mean contrastive loss on ``X``, batch by batch as in training (higher is
        better), for model selection."""
        loss = ContrastiveLoss(self.lambda_)
        total, count = 0.0, 0
        with torch.inference_mode(), torch_threads(self.n_threads):
            for inputs in self._batches(X):
                module = self.net_.module_.eval()
                with self.net_.kernels():
                    n = inputs["images"].shape[0]
                    total += float(loss(module(**inputs))) * n
                    count += n
        return -total / count

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False
        return tags
