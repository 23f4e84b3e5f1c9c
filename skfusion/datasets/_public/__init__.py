"""Loaders of public cohorts as their users download them: ADNI (and a simulated replica of
its layout), BraTS, OASIS-1, MIMIC-CXR-JPG."""
