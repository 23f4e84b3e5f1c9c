"""Data sets that need no download."""

from ._synthetic import make_fusion_classification

__all__ = ["make_fusion_classification"]
