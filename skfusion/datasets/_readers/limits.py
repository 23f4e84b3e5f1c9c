"""Limits of the image readers, checked before anything is read or allocated."""

import os

__all__ = ["DEFAULT_MAX_VOXELS", "max_voxels"]

#: The most voxels one image file may declare before anything is read (2**28: a
#: 512 x 512 x 1024 CT volume; 1 GiB as float32). The environment variable
#: ``SKFUSION_MAX_VOXELS`` raises or lowers it.
DEFAULT_MAX_VOXELS = 2**28


def max_voxels():
    """The voxel limit in force: ``SKFUSION_MAX_VOXELS`` or :data:`DEFAULT_MAX_VOXELS`."""
    value = os.environ.get("SKFUSION_MAX_VOXELS")
    if value is None:
        return DEFAULT_MAX_VOXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(
            f"SKFUSION_MAX_VOXELS={value!r}; expected a positive whole number "
            "of voxels, or unset it for the default "
            f"({DEFAULT_MAX_VOXELS})."
        )
    return limit
