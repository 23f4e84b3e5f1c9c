"""The parts of a :class:`~skfusion.FusionInput` checked when it is built: presence masks
(``None`` images and texts, ``present=``) and image channel names."""

import numpy as np

__all__ = ["check_channel_names", "check_present", "fill_missing_images", "fill_missing_text"]


def combine(*masks):
    """The element-wise AND of the masks given (None entries skipped), or None."""
    given = [np.asarray(mask, dtype=bool) for mask in masks if mask is not None]
    if not given:
        return None
    out = given[0]
    for mask in given[1:]:
        out = out & mask
    return out


def fill_missing_images(images):
    """``images`` with ``None`` entries of a list replaced by zeros shaped like the others,
    and the presence mask they imply (None when the images are not such a list)."""
    if not isinstance(images, (list, tuple)) or not any(image is None for image in images):
        return images, None
    shapes = {np.shape(image) for image in images if image is not None}
    if not shapes:
        raise ValueError(
            "FusionInput(images=...) holds only None: no patient has an image, so there is "
            "nothing to learn the image shape from. Pass at least one image, or an array of "
            "placeholders with present={'images': mask}."
        )
    if len(shapes) > 1:
        raise ValueError(
            f"FusionInput(images=...) holds images of different shapes {sorted(shapes)}; "
            "resample them to one shape."
        )
    shape = shapes.pop()
    present = np.array([image is not None for image in images])
    filled = np.stack(
        [
            np.zeros(shape, np.float32) if image is None else np.asarray(image, dtype=np.float32)
            for image in images
        ]
    )
    return filled, present


def check_channel_names(names, images, layout):
    """``names`` as a tuple of str checked against the images' channel axis (or None)."""
    if names is None:
        return None
    if isinstance(names, (str, bytes)) or not all(isinstance(n, str) and n.strip() for n in names):
        raise ValueError(
            f"FusionInput(channel_names=...) must be one non-empty name per channel, e.g. "
            f"['t1', 'flair']; got {names!r}."
        )
    names = tuple(names)
    if len(set(names)) != len(names):
        raise ValueError(
            f"FusionInput(channel_names={list(names)}) repeats a name; give each channel its own."
        )
    if layout == "slices":
        raise ValueError(
            "FusionInput(channel_names=...) with layout='slices' is not supported yet: the "
            "second axis of a slice stack holds its slices, so it cannot also hold "
            "sequences. Use one slice per sequence (n, C, H, W) or whole volumes (n, C, D, "
            "H, W) with spatial_dims=3."
        )
    shape = getattr(images, "shape", None)
    if shape is not None and (len(shape) not in (4, 5) or shape[1] != len(names)):
        raise ValueError(
            f"FusionInput(channel_names={list(names)}) names {len(names)} channel(s), but "
            f"images have shape {tuple(shape)}: expected (n_samples, {len(names)}, H, W) or "
            f"(n_samples, {len(names)}, D, H, W). Add the channel axis (images[:, None] for "
            "one sequence) or name every channel."
        )
    return names


def fill_missing_text(text):
    """``text`` with missing reports (None, NaN) replaced by "" and the presence mask they
    imply (None when every report is there)."""
    if text is None or isinstance(text, (str, bytes)):
        return text, None
    try:
        entries = list(text)
    except TypeError:
        return text, None
    present = np.array(
        [not (entry is None or (isinstance(entry, float) and entry != entry)) for entry in entries],
        dtype=bool,
    )
    if present.all():
        return text, None
    return [entry if keep else "" for entry, keep in zip(entries, present)], present


def check_present(present, n_samples, implied):
    """The presence masks: the user's ``present`` dict combined with those ``None`` entries
    (and lazy loaders) imply; None when every patient has every modality."""
    if present is not None and not isinstance(present, dict):
        raise TypeError(
            f"FusionInput(present=...) must be a dict such as {{'images': mask, 'text': "
            f"mask}}; got {type(present).__name__}."
        )
    unknown = sorted(set(present or {}) - {"images", "text"})
    if unknown:
        raise ValueError(
            f"FusionInput(present=...) has the key(s) {unknown}; expected 'images' and/or "
            "'text'. Missing clinical values need no mask: leave them NaN (they are imputed)."
        )
    masks = {}
    for name in ("images", "text"):
        given = None
        if present is not None and present.get(name) is not None:
            given = np.asarray(present[name])
            if given.dtype != bool and not (
                given.dtype.kind in "iu" and np.isin(given, (0, 1)).all()
            ):
                raise ValueError(
                    f"FusionInput(present={{'{name}': ...}}) must be boolean (True where the "
                    f"patient has it); got dtype {given.dtype}."
                )
            if given.shape != (n_samples,):
                raise ValueError(
                    f"FusionInput(present={{'{name}': ...}}) must have one entry per sample "
                    f"({n_samples}); got shape {given.shape}."
                )
        mask = combine(given, implied.get(name))
        if mask is not None and not mask.all():
            masks[name] = mask
    return masks or None
