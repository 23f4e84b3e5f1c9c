"""Readers of image and table formats: NIfTI, DICOM and 2-D image files, eager and lazy,
co-registered sequences, a table naming one image per row, a cohort folder on disk, and the
readers' limits."""
