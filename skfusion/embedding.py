"""Embed, then sklearn: :class:`ImageEmbedder` turns each patient's images into the features of
a frozen pretrained encoder, beside the clinical columns, for any scikit-learn model."""

import os
from numbers import Integral

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.frozen import FrozenEstimator
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._base.pretrained.weights import PretrainedWeights, load_into, resolve_image_weights
from ._input import FusionInput, LazyImages, as_fusion_input
from ._net.device import resolve_device, torch_threads
from .nn.resnet import RESNET_SPECS, ResNet

__all__ = ["ImageEmbedder"]


class ImageEmbedder(TransformerMixin, BaseEstimator):
    """Image features from a frozen pretrained encoder, beside the clinical columns.

    The "embed, then sklearn" pipeline: ``fit`` builds a ResNet and loads ``image_weights``
    into it (nothing is trained); ``transform`` returns one row per patient, a DataFrame of
    the encoder's pooled image features (``image_0`` ...) followed by the clinical columns as
    given, ready for a column transformer and any sklearn model, e.g.
    ``make_pipeline(ImageEmbedder(image_weights=pretrainer), encode_table,
    HistGradientBoostingClassifier())`` with ``encode_table`` a ``ColumnTransformer`` that
    one-hot encodes the table's text columns and passes the rest through.

    A slice stack (``X.layout == "slices"``) is embedded slice by slice and averaged per
    patient; volumes need ``spatial_dims=3``. A patient without an image (``present=``, or
    ``None`` in the image list) gets NaN features, which ``HistGradientBoosting*`` models
    take as they are (impute them for others). A plain 2-D array is a table without images:
    it passes through unchanged, as :class:`~skfusion.ClinicalTransformer` treats one.

    Parameters
    ----------
    image_weights : str, path-like, fitted estimator, FrozenEstimator or PretrainedWeights
        The encoder: a weights file (skfusion's, torchvision's or MONAI's ResNet layout), a
        fitted :class:`~skfusion.ImageClinicalPretrainer` or any fitted skfusion estimator
        with a plain image encoder, as for the estimators' ``image_weights``. Required for
        images (None only for tables without images).
    backbone : {"resnet18", "resnet34", "resnet50", "resnet101"}, default="resnet18"
        The ResNet depth of the weights (refused, naming both, when they differ); the width
        is read from the weights.
    spatial_dims : {2, 3}, default=2
        2 for slices ``(n, C, H, W)`` or stacks, 3 for volumes ``(n, C, D, H, W)``.
    batch_size : int, default=64
        Images encoded at once.
    device : str, default="cpu"
        Torch device ("auto": CUDA when present).
    n_threads : int or None, default=None
        Torch threads while encoding (None: torch's setting).

    Attributes
    ----------
    encoder_ : skfusion.nn.resnet.ResNet
        The frozen encoder, in evaluation mode.
    n_image_features_ : int
        Image features per patient (0 for a table without images).
    n_features_in_ : int
        Clinical columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Their names, where they had string names.
    image_weights_sha256_ : str
        Hash of the loaded weights.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from skfusion import FusionInput, ImageEmbedder, PretrainedWeights
    >>> from skfusion.nn.resnet import ResNet
    >>> weights = PretrainedWeights(ResNet("resnet18", base_width=4).state_dict())
    >>> X = FusionInput(np.random.RandomState(0).rand(6, 16, 16).astype("float32"),
    ...                 pd.DataFrame({"age": [60.0, 71, 65, 80, 77, 69]}))
    >>> out = ImageEmbedder(image_weights=weights).fit_transform(X)
    >>> out.shape, list(out.columns[-2:])
    ((6, 33), ['image_31', 'age'])
    """

    _parameter_constraints = {
        "image_weights": [
            None,
            str,
            os.PathLike,
            PretrainedWeights,
            FrozenEstimator,
            HasMethods(["image_encoder_state_dict"]),
        ],
        "backbone": [StrOptions(set(RESNET_SPECS))],
        "spatial_dims": [Interval(Integral, 2, 3, closed="both")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        image_weights=None,
        backbone="resnet18",
        spatial_dims=2,
        batch_size=64,
        device="cpu",
        n_threads=None,
    ):
        self.image_weights = image_weights
        self.backbone = backbone
        self.spatial_dims = spatial_dims
        self.batch_size = batch_size
        self.device = device
        self.n_threads = n_threads

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build the encoder from ``image_weights`` (for ``X`` with images) and record the
        clinical columns."""
        if not _has_images(X):
            validate_data(self, X, reset=True, ensure_all_finite="allow-nan")
            self.n_image_features_ = 0
            return self
        X = as_fusion_input(X)
        if self.image_weights is None:
            raise ValueError(
                "ImageEmbedder(image_weights=None) cannot embed images: pass the encoder's "
                "weights (a weights file, a fitted ImageClinicalPretrainer or skfusion "
                "estimator, or PretrainedWeights)."
            )
        device = resolve_device(self.device)
        weights = resolve_image_weights(self.image_weights)
        width = _stem_width(weights)
        encoder = ResNet(
            self.backbone,
            in_channels=self._channels(X),
            base_width=width,
            spatial_dims=self.spatial_dims,
        )
        report = load_into(encoder, weights)
        random = [k for k in report.not_loaded if ".shortcut." not in k]
        # A clinically guided network (mode "full"'s attention inside the plain block) loads
        # every plain tensor, but its image features depended on the table: its attention's
        # tensors are left over.
        guided = [k for k in report.unused if ".attention." in k or ".modulation." in k]
        if guided:
            raise ValueError(
                f"image_weights hold {len(guided)} tensor(s) of clinical guidance inside the "
                f"image network (e.g. {guided[:2]}): its image features depend on the clinical "
                "values, which a plain encoder does not read. Embed with weights of a plain "
                "encoder: an ImageClinicalPretrainer, a model fitted in mode 'concat' or "
                "'image', or a torchvision/MONAI ResNet file."
            )
        if random:
            raise ValueError(
                f"image_weights leave {len(random)} tensor(s) of a plain {self.backbone} "
                f"at random (e.g. {random[:3]}): they are not a plain encoder's (an RBCA or "
                "FiLM network's blocks differ). Embed with weights of a plain encoder: an "
                "ImageClinicalPretrainer, a model fitted in mode 'concat' or 'image', or a "
                "torchvision/MONAI ResNet file."
            )
        self.encoder_ = encoder.to(device).eval().requires_grad_(False)
        self.device_ = device
        self.image_weights_sha256_ = weights.sha256
        self.n_image_features_ = encoder.out_features
        self._record_clinical(X.clinical)
        return self

    def transform(self, X):
        """A DataFrame: the image features (``image_0`` ...), then the clinical columns;
        a plain 2-D array passes through."""
        check_is_fitted(self, "n_image_features_")
        if not _has_images(X):
            if self.n_image_features_:
                raise ValueError(
                    "this ImageEmbedder was fitted on images; pass X with images "
                    "(a FusionInput or (images, clinical)), not a table alone."
                )
            return validate_data(self, X, reset=False, ensure_all_finite="allow-nan")
        if not self.n_image_features_:
            raise ValueError(
                "this ImageEmbedder was fitted on a table without images; "
                "fit it on X with images first."
            )
        X = as_fusion_input(X)
        features = self._embed(X)
        frame = pd.DataFrame(features, columns=self._image_names())
        clinical = _clinical_frame(X.clinical, len(features))
        if clinical.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {clinical.shape[1]} clinical columns; this "
                f"ImageEmbedder was fitted with {self.n_features_in_}."
            )
        return pd.concat([frame, clinical], axis=1)

    def get_feature_names_out(self, input_features=None):
        """The image feature names, then the clinical columns'."""
        check_is_fitted(self, "n_image_features_")
        names = getattr(self, "feature_names_in_", None)
        clinical = (
            list(names) if names is not None else [f"x{i}" for i in range(self.n_features_in_)]
        )
        return np.asarray(self._image_names() + clinical, dtype=object)

    def _image_names(self):
        return [f"image_{i}" for i in range(self.n_image_features_)]

    def _record_clinical(self, clinical):
        frame = _clinical_frame(clinical, None)
        self.n_features_in_ = frame.shape[1]
        if isinstance(clinical, pd.DataFrame) and all(isinstance(c, str) for c in clinical.columns):
            self.feature_names_in_ = np.asarray(clinical.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _channels(self, X):
        images = X.images
        if X.layout == "slices":
            return 1
        extra = len(images.shape) - 1 - self.spatial_dims
        return int(images.shape[1]) if extra == 1 else 1

    def _embed(self, X):
        images = X.images
        n = len(images)
        present = (
            np.ones(n, dtype=bool)
            if not X.present or "images" not in X.present
            else np.asarray(X.present["images"], dtype=bool)
        )
        features = np.full((n, self.n_image_features_), np.nan)
        positions = np.flatnonzero(present)
        with torch.inference_mode(), torch_threads(self.n_threads):
            for start in range(0, len(positions), self.batch_size):
                chunk = positions[start : start + self.batch_size]
                batch = (
                    images[chunk] if not isinstance(images, list) else [images[i] for i in chunk]
                )
                features[chunk] = self._encode(np.asarray(batch, dtype=np.float32), X.layout)
        return features

    def _encode(self, batch, layout):
        dims = self.spatial_dims
        if layout == "slices":  # (k, S, *spatial): each slice alone, averaged per patient
            k, slices = batch.shape[:2]
            flat = batch.reshape(k * slices, 1, *batch.shape[2:])
            out = self.encoder_(torch.as_tensor(flat, device=self.device_))
            return out.reshape(k, slices, -1).mean(dim=1).double().cpu().numpy()
        if batch.ndim == dims + 1:  # no channel axis
            batch = batch[:, None]
        out = self.encoder_(torch.as_tensor(batch, device=self.device_))
        return out.double().cpu().numpy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _has_images(X):
    return isinstance(X, FusionInput) or (
        isinstance(X, tuple)
        and len(X) in (2, 3)
        and (isinstance(X[0], (LazyImages, list)) or np.ndim(X[0]) >= 3)
    )


def _stem_width(weights):
    """The width of the weights' first convolution (our layout's or torchvision's)."""
    for key in ("stem.0.weight", "conv1.weight"):
        if key in weights.state:
            return int(weights.state[key].shape[0])
    raise ValueError(
        f"image_weights ({weights!r}) hold no first convolution "
        "('stem.0.weight' or 'conv1.weight'): not a ResNet's weights."
    )


def _clinical_frame(clinical, n):
    if clinical is None:
        return pd.DataFrame(index=range(n or 0))
    if isinstance(clinical, pd.DataFrame):
        return clinical.reset_index(drop=True)
    values = np.asarray(clinical)
    values = values.reshape(len(values), -1)
    return pd.DataFrame(values, columns=[f"x{i}" for i in range(values.shape[1])])
