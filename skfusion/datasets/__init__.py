"""Data sets that need no download, and loading of the user's own NIfTI files."""

from ._cohort import make_brain_cohort
from ._layout import load_cohort, write_cohort
from ._lazy import NiftiSlices, NiftiVolumes
from ._nifti import load_nifti_slices, load_nifti_volumes
from ._synthetic import make_fusion_classification

__all__ = [
    "NiftiSlices",
    "NiftiVolumes",
    "load_cohort",
    "load_nifti_slices",
    "load_nifti_volumes",
    "make_brain_cohort",
    "make_fusion_classification",
    "write_cohort",
]
