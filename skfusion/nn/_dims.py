"""Layers by number of spatial dimensions (2: slices, 3: volumes), as MONAI builds them."""

from torch import nn

from ._checks import check_option

CONV = {2: nn.Conv2d, 3: nn.Conv3d}
NORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
MAX_POOL = {2: nn.MaxPool2d, 3: nn.MaxPool3d}


def check_spatial_dims(spatial_dims):
    """2 or 3, or a ValueError naming the options."""
    return check_option("spatial_dims", spatial_dims, (2, 3))


def default_norm(norm_layer, spatial_dims):
    """``norm_layer``, or batch normalisation of the right dimension when it is None."""
    return NORM[spatial_dims] if norm_layer is None else norm_layer


def global_average(features):
    """Mean over every spatial position: ``(n, c, *spatial)`` -> ``(n, c)``."""
    return features.flatten(2).mean(dim=2)


def per_channel(values, like):
    """``values`` of shape ``(n, c)`` shaped to broadcast over ``like``'s spatial positions."""
    return values.reshape(*values.shape, *([1] * (like.dim() - 2)))
