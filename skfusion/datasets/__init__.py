"""Data sets that need no download, and loading of the user's own NIfTI, DICOM and 2-D image
files, and readers of public cohorts' own layouts (ADNI, BraTS, OASIS-1, MIMIC-CXR-JPG).

Grouped by kind: ``_readers/`` (formats: NIfTI, DICOM, 2-D image files, eager and lazy, a
table naming one image per row, a cohort folder), ``_public/`` (public cohorts as their
users download them), ``_simulated/`` (the built-in cohort and other generated data), and
``_view`` (a contact sheet and the suspicious images, to look before training)."""

from ._public.adni import adni_table, load_adni
from ._public.adni_replica import write_adni_replica
from ._public.brats import load_brats
from ._public.mimic_cxr import load_mimic_cxr
from ._public.oasis import load_oasis
from ._readers.dicom import read_dicom_series
from ._readers.dicom_volumes import load_dicom_volumes
from ._readers.images import ImageFiles, load_images, read_image
from ._readers.layout import load_cohort, write_cohort
from ._readers.lazy import DicomVolumes, NiftiSlices, NiftiVolumes
from ._readers.nifti import load_nifti_slices, load_nifti_volumes
from ._readers.table import load_table_cohort
from ._simulated.cohort import FINDING_GRADES, make_brain_cohort, report_finding
from ._simulated.synthetic import make_fusion_classification
from ._view import contact_sheet, suspicious_images

__all__ = [
    "FINDING_GRADES",
    "DicomVolumes",
    "ImageFiles",
    "NiftiSlices",
    "NiftiVolumes",
    "adni_table",
    "contact_sheet",
    "load_adni",
    "load_brats",
    "load_cohort",
    "load_dicom_volumes",
    "load_images",
    "load_mimic_cxr",
    "load_nifti_slices",
    "load_nifti_volumes",
    "load_oasis",
    "load_table_cohort",
    "make_brain_cohort",
    "make_fusion_classification",
    "read_dicom_series",
    "read_image",
    "report_finding",
    "suspicious_images",
    "write_adni_replica",
    "write_cohort",
]
