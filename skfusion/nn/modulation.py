"""Feature-wise modulation of image feature maps by clinical values: FiLM and DAFT.

FiLM (Perez et al., AAAI 2018): the clinical vector alone predicts a per-channel scale and
shift of a feature map. DAFT (Pölsterl, Wolf and Wachinger, "Combining 3D image and tabular
data via the dynamic affine feature map transform", MICCAI 2021): scale and shift come from
the *concatenation* of the globally pooled feature map and the clinical vector, through a
bottleneck MLP, so the transform depends on the image as well. Written from the papers'
equations, with the DAFT authors' ADNI configuration (their code is GPL; it was read for the
settings only): the transform rewrites the normalised output of the first convolution of the
network's last residual block, before its ReLU, and that normalisation has no affine
parameters of its own; the MLP is ``Linear -> ReLU -> Linear`` without biases, its hidden
width the input width divided by a bottleneck factor of 7; the scale has no activation
("linear").

Where we differ from the authors' code: we write the transform as ``(1 + scale) * x + shift``
and start its last layer at zero, so a new network begins as the plain ResNet (the authors
start the scale at a random value). Every other choice is theirs.
"""

import torch
from torch import nn

from ._checks import check_option, check_positive_int
from ._dims import global_average, per_channel

METHODS = ("film", "daft")


class FeatureModulation(nn.Module):
    """Per-channel affine transform of a feature map, predicted from clinical values.

    Parameters
    ----------
    method : {"film", "daft"}
        What predicts the transform: the clinical vector (FiLM) or the pooled feature map
        concatenated with it (DAFT).
    channels : int
        Channels of the feature map.
    n_clinical : int
        Clinical values per sample.
    bottleneck_ratio : int, default=7
        The MLP's hidden width is its input width divided by this factor (at least 4); 7 is
        the DAFT authors' ADNI setting. FiLM uses the same rule on its own input.

    Notes
    -----
    The predicted ``scale`` and ``shift`` pass through ``self.scale_out`` and
    ``self.shift_out`` (identity modules), so forward hooks can read them.
    """

    def __init__(self, method, channels, n_clinical, bottleneck_ratio=7):
        super().__init__()
        check_option("method", method, METHODS)
        check_positive_int("channels", channels)
        check_positive_int("n_clinical", n_clinical)
        check_positive_int("bottleneck_ratio", bottleneck_ratio)
        self.method = method
        self.channels = channels
        in_features = n_clinical + (channels if method == "daft" else 0)
        hidden = max(4, in_features // bottleneck_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(in_features, hidden, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, 2 * channels, bias=False),
        )
        self.scale_out = nn.Identity()
        self.shift_out = nn.Identity()
        self.post_init_()

    def post_init_(self, generator=None):
        """Zero the last layer: the transform starts as the identity."""
        nn.init.zeros_(self.mlp[-1].weight)

    def forward(self, images, clinical):
        """Return ``(1 + scale) * images + shift``, scale and shift per sample and channel."""
        if clinical is None:
            raise ValueError("FeatureModulation needs clinical values; got clinical=None.")
        if self.method == "daft":
            pooled = global_average(images)
            condition = torch.cat([pooled, clinical], dim=1)
        else:
            condition = clinical
        scale, shift = self.mlp(condition).chunk(2, dim=1)
        scale = per_channel(self.scale_out(scale), images)
        shift = per_channel(self.shift_out(shift), images)
        return (1 + scale) * images + shift
