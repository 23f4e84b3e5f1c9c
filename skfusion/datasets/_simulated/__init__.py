"""Simulated cohorts: the built-in brain MRI cohort (its images, clinical table and reports),
a second acquisition site, and a small image + clinical classification problem."""
