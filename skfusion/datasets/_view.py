"""Look before training: a contact sheet of a cohort's images (one thumbnail per row, titled
with its id and label, grouped by label) and the images whose intensities look wrong."""

import numpy as np
import pandas as pd

__all__ = ["contact_sheet", "suspicious_images"]


def _thumbnail(image, layout):
    """A 2-D view of one sample: the central slice of a stack or a volume, the first channel
    (or the colour image where there are three)."""
    image = np.asarray(image, dtype=np.float64)
    if layout == "slices" or image.ndim == 4:  # (S, C, H, W) stack or (C, D, H, W) volume
        image = image[image.shape[0] // 2] if layout == "slices" else image[:, image.shape[1] // 2]
    if image.ndim == 2:
        return image
    if image.shape[0] == 3:
        return np.moveaxis(image, 0, -1)
    return image[0]


def _ids(X, ids):
    if ids is not None:
        return [str(i) for i in ids]
    subjects = getattr(X, "subjects", None)
    if subjects is not None:
        return [str(s) for s in subjects]
    return [str(i) for i in range(len(X))]


def suspicious_images(X, ids=None, *, extreme=1e6):
    """The rows whose image intensities look wrong: empty (one value everywhere), not finite
    (NaN or infinite), or beyond ``extreme`` in absolute value.

    Parameters
    ----------
    X : FusionInput
    ids : sequence, default=None
        A name per row (default ``X.subjects``, else the row number).
    extreme : float, default=1e6
        Values beyond this magnitude are flagged.

    Returns
    -------
    flagged : pandas.DataFrame
        Columns ``row``, ``id``, ``reason``, ``min``, ``max``; rows without an image are
        left out (``X.present`` says which).
    """
    present = None if X.present is None else X.present.get("images")
    names, rows = _ids(X, ids), []
    for row in range(len(X)):
        if present is not None and not present[row]:
            continue
        image = np.asarray(X.images[row], dtype=np.float64)
        finite = np.isfinite(image)
        low = float(image[finite].min()) if finite.any() else np.nan
        high = float(image[finite].max()) if finite.any() else np.nan
        reason = (
            "not finite"
            if not finite.all()
            else "empty (one value everywhere)"
            if low == high
            else f"extreme (beyond {extreme:g})"
            if max(abs(low), abs(high)) > extreme
            else None
        )
        if reason:
            rows.append({"row": row, "id": names[row], "reason": reason, "min": low, "max": high})
    return pd.DataFrame(rows, columns=["row", "id", "reason", "min", "max"])


def contact_sheet(X, y=None, *, path, ids=None, max_images=120, columns=10):
    """Write a contact sheet: one thumbnail per row (the central slice of stacks and
    volumes), titled with its id and label, grouped by label (each from a new line), each
    scaled to its own intensity range; rows without an image show "no image".

    Parameters
    ----------
    X : FusionInput
    y : array-like, default=None
        Labels: the sheet is grouped by them and each title carries one.
    path : str or path-like
        The image file to write (PNG, PDF, SVG: as matplotlib reads the suffix).
    ids : sequence, default=None
        A name per row (default ``X.subjects``, else the row number).
    max_images : int, default=120
        At most this many thumbnails, taken evenly from each label (the title says so).
    columns : int, default=10
        Thumbnails per line.

    Returns
    -------
    shown : ndarray of int
        The rows shown, in sheet order.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = _ids(X, ids)
    labels = None if y is None else np.asarray(y)
    order = (
        np.arange(len(X))
        if labels is None
        else np.lexsort((np.array(names, dtype=object).astype(str), labels.astype(str)))
    )
    if len(order) > max_images:  # evenly within each label, so every label shows
        keep = np.linspace(0, len(order) - 1, max_images).round().astype(int)
        order = order[np.unique(keep)]
    present = None if X.present is None else X.present.get("images")
    cells = []  # each label starts a new line
    for row in order:
        if (
            labels is not None
            and cells
            and cells[-1] is not None
            and labels[row] != labels[cells[-1]]
        ):
            cells += [None] * (-len(cells) % columns)
        cells.append(row)
    lines = -(-len(cells) // columns)
    figure, axes = plt.subplots(lines, columns, figsize=(1.6 * columns, 1.8 * lines), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, row in zip(axes.ravel(), cells):
        if row is None:
            continue
        title = names[row] if labels is None else f"{names[row]}\n{labels[row]}"
        ax.set_title(title, fontsize=7)
        if present is not None and not present[row]:
            ax.text(
                0.5, 0.5, "no image", ha="center", va="center", fontsize=7, transform=ax.transAxes
            )
            continue
        image = _thumbnail(X.images[row], getattr(X, "layout", None))
        finite = image[np.isfinite(image)]
        low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        scaled = np.clip((image - low) / (high - low if high > low else 1.0), 0, 1)
        ax.imshow(np.nan_to_num(scaled), cmap=None if scaled.ndim == 3 else "gray")
    counts = (
        ""
        if labels is None
        else ", ".join(
            f"{label}: {count}"
            for label, count in zip(*np.unique(labels.astype(str), return_counts=True))
        )
    )
    shown = f"{len(order)} of {len(X)} rows shown" if len(order) < len(X) else (f"{len(X)} rows")
    figure.suptitle(f"{shown}" + (f" (labels {counts})" if counts else ""), fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return order
