"""Evaluation the way clinical prediction models are reported: cross-validation with the
paper's metrics (:func:`cross_val_diagnostics`), subgroups (:func:`subgroup_report`), a second
cohort (:func:`external_validation`) and one HTML report of it all (:func:`model_report`)."""

from ._diagnostics import cross_val_diagnostics, external_validation, subgroup_report
from ._report import model_report

__all__ = ["cross_val_diagnostics", "external_validation", "model_report", "subgroup_report"]
