"""Callbacks for skfusion estimators (pass them in ``callbacks=[...]``)."""

from ._base.files.checkpoint import EpochCheckpoint

EpochCheckpoint.__module__ = __name__

__all__ = ["EpochCheckpoint"]
