"""Self-supervised image-clinical pretraining: each patient's image is contrasted with their
own clinical row against the other patients' rows of the batch (the multimodal CLIP-style
objective of MMCL, Hager et al., CVPR 2023), with the table corrupted as in SCARF (Bahri et
al., ICLR 2022). Written from the papers' equations.

* :class:`ImageClinicalContrastiveNet` — a ResNet image encoder with a projection head and a
  clinical MLP encoder with its own; both embeddings are L2-normalised, and ``forward``
  returns the ``(n, n)`` similarity logits ``z_image @ z_clinical.T / temperature``, so the
  matching pairs lie on the diagonal.
* :class:`ContrastiveLoss` — ``lambda_ * CE(logits, diag) + (1 - lambda_) * CE(logits.T,
  diag)``: image-to-table and table-to-image InfoNCE (MMCL weighs them equally).
* :func:`corrupt_table` — SCARF's corruption: a share of each row's features replaced by the
  same feature of another row of the batch (a draw from its empirical marginal).

Pure torch; every random draw comes from the generator passed in.
"""

import torch
from torch import nn

from ._checks import check_positive_int
from ._dims import global_average
from .resnet import ResNet

__all__ = ["ContrastiveLoss", "ImageClinicalContrastiveNet", "corrupt_table"]


def _projection(in_features, hidden, out_features):
    return nn.Sequential(
        nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, out_features)
    )


class ImageClinicalContrastiveNet(nn.Module):
    """Image and clinical encoders whose embeddings of one patient are pulled together.

    Parameters
    ----------
    n_outputs : int
        Unused (the estimator core passes every network its output width); the embedding
        width is ``projection_dim``.
    n_clinical : int
        Clinical values per patient (encoded).
    in_channels : int, default=1
        Image channels (1 per slice when ``per_slice``).
    backbone, base_width, spatial_dims
        The image encoder (:class:`~skfusion.nn.resnet.ResNet`), as in the fusion networks,
        so its weights load into theirs.
    projection_dim : int, default=128
        Width of the two normalised embeddings.
    hidden_dim : int, default=256
        Width of the clinical encoder and of both projection heads' hidden layer.
    temperature : float, default=0.1
        Divides the cosine similarities (MMCL's value).
    per_slice : bool, default=False
        Images are slice stacks ``(n, S, H, W)``: the encoder reads each slice as a
        one-channel image and the patient's feature is the mean over slices (how the fusion
        estimators' ``slices="mean"`` reads a stack; "attention" pooling is learned with the
        task, so pretraining pools by the mean).
    clinical_shortcut : bool, default=False
        Accepted for the core's sake; a pretraining network has no shortcut.
    """

    def __init__(
        self,
        n_outputs,
        n_clinical,
        in_channels=1,
        *,
        backbone="resnet18",
        base_width=16,
        spatial_dims=2,
        projection_dim=128,
        hidden_dim=256,
        temperature=0.1,
        per_slice=False,
        clinical_shortcut=False,
    ):
        super().__init__()
        check_positive_int("n_clinical", n_clinical)
        check_positive_int("projection_dim", projection_dim)
        check_positive_int("hidden_dim", hidden_dim)
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0; got {temperature!r}.")
        self.per_slice = bool(per_slice)
        self.temperature = float(temperature)
        self.image_encoder = ResNet(
            backbone,
            in_channels=1 if per_slice else in_channels,
            base_width=base_width,
            spatial_dims=spatial_dims,
        )
        self.image_projection = _projection(
            self.image_encoder.out_features, hidden_dim, projection_dim
        )
        self.clinical_encoder = nn.Sequential(
            nn.Linear(n_clinical, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
            nn.Linear(hidden_dim, hidden_dim),
            nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True),
        )
        self.clinical_projection = _projection(hidden_dim, hidden_dim, projection_dim)

    def image_features(self, images):
        """Pooled image-encoder features ``(n, out_features)`` (per patient for stacks)."""
        if not self.per_slice:
            return self.image_encoder(images)
        n, slices = images.shape[:2]
        flat = images.reshape(n * slices, 1, *images.shape[2:])
        return (
            global_average(self.image_encoder.forward_features(flat))
            .reshape(n, slices, -1)
            .mean(dim=1)
        )

    def embed(self, images, clinical):
        """The two L2-normalised embeddings ``(n, projection_dim)`` each."""
        image = self.image_projection(self.image_features(images))
        table = self.clinical_projection(self.clinical_encoder(clinical))
        return (nn.functional.normalize(image, dim=1), nn.functional.normalize(table, dim=1))

    def forward(self, images, clinical, **unused):
        """Similarity logits ``(n, n)``: row i compares patient i's image with every row."""
        image, table = self.embed(images, clinical)
        return image @ table.T / self.temperature


class ContrastiveLoss(nn.Module):
    """Symmetric InfoNCE over a batch's ``(n, n)`` logits; the pairs are the diagonal and the
    target the criterion is given is ignored.

    Parameters
    ----------
    lambda_ : float, default=0.5
        Weight of the image-to-table term; ``1 - lambda_`` weighs table-to-image.
    """

    def __init__(self, lambda_=0.5):
        super().__init__()
        if not 0 <= lambda_ <= 1:
            raise ValueError(f"lambda_ must lie in [0, 1]; got {lambda_!r}.")
        self.lambda_ = float(lambda_)

    def forward(self, logits, target=None):
        pairs = torch.arange(logits.shape[0], device=logits.device)
        logits = logits.float()
        return self.lambda_ * nn.functional.cross_entropy(logits, pairs) + (
            1 - self.lambda_
        ) * nn.functional.cross_entropy(logits.T, pairs)


def corrupt_table(clinical, rate, generator):
    """SCARF: each value is, with probability ``rate``, replaced by the same column's value in
    another row of the batch drawn uniformly (its empirical marginal). ``clinical``
    ``(n, d)``; the draws come from ``generator`` (on the CPU) and move to its device."""
    if rate <= 0 or clinical.shape[0] < 2:
        return clinical
    n, d = clinical.shape
    chosen = (torch.rand((n, d), generator=generator) < rate).to(clinical.device)
    donors = torch.randint(0, n, (n, d), generator=generator).to(clinical.device)
    replaced = torch.gather(clinical, 0, donors)
    return torch.where(chosen, replaced, clinical)
