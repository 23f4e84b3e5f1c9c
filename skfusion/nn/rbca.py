"""The clinical attention module at the front of a Residual Block with Clinical Attention (RBCA).

Yang et al., "Fusing Medical Image Features and Clinical Features with Deep Learning for
Computer-Aided Diagnosis", section 2.2 and Fig. 2: the block's input image features are split
by two 1x1 convolutions into two halves of the channels. The clinical features, projected to the
half width, multiply the first half element-wise per channel; the global average of that product
passed through a sigmoid is a channel attention that reweights the first half. Both halves are
concatenated back to the input width and continue through the block's usual convolutions.
"""

import torch
from torch import nn

from ._checks import check_positive_int


class ClinicalChannelAttention(nn.Module):
    """Clinically guided channel attention over half of the input channels.

    Parameters
    ----------
    in_channels : int
        Channels of the incoming image features (even); the output has the same number.
    clinical_dim : int
        Size of the clinical feature vector.
    norm_layer : callable, default=torch.nn.BatchNorm2d
        Normalisation after each 1x1 convolution.

    Notes
    -----
    The attention weights pass through ``self.gate`` (a ``Sigmoid`` module), so a forward hook
    on it reads them with shape ``(n_samples, in_channels // 2)``.
    """

    def __init__(self, in_channels, clinical_dim, norm_layer=nn.BatchNorm2d):
        super().__init__()
        check_positive_int("in_channels", in_channels, minimum=2)
        check_positive_int("clinical_dim", clinical_dim)
        if in_channels % 2:
            raise ValueError(
                f"in_channels must be even so that it can be halved; got {in_channels}."
            )
        half = in_channels // 2
        self.in_channels = in_channels
        self.attended_channels = half
        self.attend_branch = _conv1x1_norm_relu(in_channels, half, norm_layer)
        self.keep_branch = _conv1x1_norm_relu(in_channels, half, norm_layer)
        # A 1x1 convolution on a vector is a linear layer.
        self.clinical_projection = nn.Sequential(
            nn.Linear(clinical_dim, half),
            nn.BatchNorm1d(half),
            nn.ReLU(inplace=True),
        )
        self.gate = nn.Sigmoid()

    def forward(self, images, clinical):
        """Return ``cat([attended * a, kept], dim=1)`` with ``a = sigmoid(GAP(attended * t))``."""
        if clinical is None:
            raise ValueError(
                "ClinicalChannelAttention needs clinical features; got clinical=None."
            )
        attended = self.attend_branch(images)
        kept = self.keep_branch(images)
        projected = self.clinical_projection(clinical)[:, :, None, None]
        weights = self.gate(torch.mean(attended * projected, dim=(2, 3)))
        return torch.cat([attended * weights[:, :, None, None], kept], dim=1)


def _conv1x1_norm_relu(in_channels, out_channels, norm_layer):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False),
        norm_layer(out_channels),
        nn.ReLU(inplace=True),
    )
