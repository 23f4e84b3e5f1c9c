"""Preprocessing of the clinical part of X."""

from ._clinical import ClinicalTransformer

__all__ = ["ClinicalTransformer"]
