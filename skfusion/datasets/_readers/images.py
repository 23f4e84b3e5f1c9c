"""2-D image files (PNG, JPEG, TIFF, single-frame DICOM): chest X-rays, photographs, fundus
images and pathology tiles, read eagerly or on demand, and a table naming them turned into a
cohort in one call."""

import contextlib
import os
import threading
import warnings

import numpy as np

from ..._input import LazyImages
from .limits import max_voxels
from .volumes import _check_size, _normalize, _resize

__all__ = ["ImageFiles", "load_images", "read_image"]

COLORS = ("gray", "rgb")
#: Luminance weights of ITU-R BT.601 (what Pillow's own "L" conversion uses), in float.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)
#: Pillow modes read as full-depth grey values (16- and 32-bit integers, floats).
_DEEP_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


#: Extensions read by Pillow without a look for the DICOM preamble (one open fewer per read).
_PILLOW_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp")


def _is_dicom(path):
    if path.lower().endswith(_PILLOW_SUFFIXES):
        return False
    with open(path, "rb") as stream:
        stream.seek(128)
        return stream.read(4) == b"DICM"


def _read_dicom(path):
    """Pixels of a single-frame DICOM file as float (H, W) or (H, W, 3), in its stored units
    (rescale slope and intercept applied; MONOCHROME1 inverted so that higher is brighter)."""
    try:
        import pydicom
    except ImportError:
        raise ImportError(
            f'{path} is a DICOM file; reading it needs pydicom: pip install "skfusion[dicom]"'
        ) from None
    dataset = pydicom.dcmread(path)
    frames = int(getattr(dataset, "NumberOfFrames", 1) or 1)
    if frames > 1:
        raise ValueError(
            f"{path} holds {frames} frames; load_images reads single images. "
            "Read a series or a multi-frame volume with load_dicom_volumes."
        )
    declared = (
        int(dataset.Rows) * int(dataset.Columns) * int(getattr(dataset, "SamplesPerPixel", 1))
    )
    if declared > max_voxels():
        raise ValueError(
            f"{path} declares {declared} pixels, over the limit of "
            f"{max_voxels()} (SKFUSION_MAX_VOXELS)."
        )
    photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2"))
    if photometric not in ("MONOCHROME1", "MONOCHROME2", "RGB"):
        raise ValueError(
            f"{path} has PhotometricInterpretation {photometric!r}; load_images "
            "reads MONOCHROME1, MONOCHROME2 and RGB. Convert the file first "
            "(e.g. pydicom.pixels.convert_color_space)."
        )
    pixels = dataset.pixel_array.astype(np.float64)
    pixels = pixels * float(getattr(dataset, "RescaleSlope", 1) or 1) + float(
        getattr(dataset, "RescaleIntercept", 0) or 0
    )
    if photometric == "MONOCHROME1":  # stored with 0 as white: turn it round
        pixels = pixels.max() + pixels.min() - pixels
    return pixels


_PILLOW_LIMIT = threading.Lock()


def _open_pillow(path):
    """``Image.open(path)`` with our pixel limit, ``SKFUSION_MAX_VOXELS``, checked against the
    declared size before anything is decoded, in place of Pillow's own (its decompression-bomb
    check, which would otherwise fire first, with its own number); a file Pillow cannot
    identify is refused with its path."""
    from PIL import Image, UnidentifiedImageError

    with _PILLOW_LIMIT, warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # ours is checked below
        try:
            image = Image.open(path)
        except UnidentifiedImageError:
            raise ValueError(
                f"{path} is not an image Pillow can read (PNG, JPEG, TIFF...); "
                "check the file, or convert it."
            ) from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous
    width, height = image.size
    bands = len(image.getbands())
    if width * height * bands > max_voxels():
        image.close()
        raise ValueError(
            f"{path} declares {width}x{height}x{bands} values, over the "
            f"limit of {max_voxels()} (SKFUSION_MAX_VOXELS)."
        )
    return image


def _read_pillow(path):
    """Pixels of a PNG, JPEG or TIFF as float (H, W) or (H, W, 3), upright as its EXIF
    orientation says, palette expanded, alpha composited onto black, full bit depth (16-bit
    colour, which Pillow decodes at 8 bits, is refused); a truncated or corrupt file is
    refused with its path."""
    with _decoding(path):
        return _decode_pillow(path)


@contextlib.contextmanager
def _decoding(path):
    """Pillow's errors for truncated or broken data, refused with the file's path."""
    try:
        yield
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (OSError, SyntaxError) as exc:
        raise ValueError(
            f"{path} cannot be decoded ({exc}): the file is truncated or "
            "corrupt. Re-export or re-copy it, or leave that patient out (or "
            "mark the image missing)."
        ) from None


def _decode_pillow(path):
    from PIL import ImageOps

    image = _open_pillow(path)
    with image:
        frames = getattr(image, "n_frames", 1)
        if frames > 1:
            raise ValueError(
                f"{path} holds {frames} frames (pages); load_images reads single "
                "images. Save the frame you want as its own file."
            )
        rawmodes = [t[3] if isinstance(t[3], str) else t[3][0] for t in image.tile if t[3]]
        if image.mode in ("RGB", "RGBA") and any(";16" in r for r in rawmodes):
            raise ValueError(
                f"{path} is 16-bit colour, which Pillow decodes at 8 bits only: its values "
                "would lose their low byte. Save it as 16-bit greyscale (one channel keeps "
                "the full depth), as 8-bit colour, or as a NumPy/NIfTI array."
            )
        if image.getexif().get(0x0112, 1) != 1:  # only then: transposing copies the image
            image = ImageOps.exif_transpose(image)
        mode = image.mode
        if mode in _DEEP_MODES:
            return np.asarray(image, dtype=np.float64)
        if mode == "L":  # the common case: no conversion, float32 straight away
            return np.asarray(image, dtype=np.float32)
        if mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        elif mode == "PA":
            image = image.convert("RGBA")
        elif mode == "1":
            image = image.convert("L")
        elif mode not in ("L", "LA", "RGB", "RGBA"):  # CMYK, YCbCr, LAB, HSV
            image = image.convert("RGB")
        pixels = np.asarray(image, dtype=np.float64)
    if image.mode in ("LA", "RGBA"):  # alpha: composite onto black, then drop it
        pixels = pixels[..., :-1] * (pixels[..., -1:] / 255.0)
        if image.mode == "LA":
            pixels = pixels[..., 0]
    return pixels


def read_image(path, *, color="gray", size=None, normalize=None):
    """One 2-D image file as float32 ``(C, H, W)``, read as :func:`load_images` reads it.

    Parameters
    ----------
    path : str or path-like
        A PNG, JPEG or TIFF file, or a single-frame DICOM file.
    color : {"gray", "rgb"}, default="gray"
        One channel (luminance) or three.
    size : int, (int, int) or None, default=None
        Resize to ``(size, size)`` or ``(H, W)``.
    normalize : {"zscore", "minmax"} or None, default=None
        Intensity normalisation of the image, as in :func:`load_images`.

    Returns
    -------
    image : ndarray of float32, shape (C, H, W)
    """
    path = os.fspath(path)
    _check_options(color, normalize)
    try:
        pixels = _read_dicom(path) if _is_dicom(path) else _read_pillow(path)
    except (FileNotFoundError, IsADirectoryError):
        raise FileNotFoundError(f"{path} does not exist (or is not a file).") from None
    if color == "gray" and pixels.ndim == 3:
        pixels = pixels @ _LUMA
    elif color == "rgb" and pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    channels = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, 2, 0)
    if normalize is not None:
        channels = _normalize(channels, normalize)
    out_size = _check_size(size)
    if out_size is not None and channels.shape[1:] != out_size:
        channels = np.stack([_resize(channel, out_size) for channel in channels])
    return np.ascontiguousarray(channels, dtype=np.float32)


def _header_shape(path):
    """``(H, W)`` as the file's header says (upright), without decoding the pixels."""
    if _is_dicom(path):
        import pydicom

        dataset = pydicom.dcmread(path, stop_before_pixels=True)
        return int(dataset.Rows), int(dataset.Columns)
    with _decoding(path), _open_pillow(path) as image:
        width, height = image.size
        orientation = image.getexif().get(0x0112, 1)
    return (width, height) if orientation in (5, 6, 7, 8) else (height, width)


def _check_options(color, normalize):
    if color not in COLORS:
        raise ValueError(f"color={color!r} is not supported; expected 'gray' or 'rgb'.")
    if normalize not in (None, "zscore", "minmax"):
        raise ValueError(
            f"normalize={normalize!r} is not supported; expected 'zscore', 'minmax' or None."
        )


def _check_files(paths, missing="raise", argument="paths"):
    """Which files exist (a boolean array, or None where all do): refuse absent ones,
    listing them, unless ``missing="allow"`` (then at least one must exist)."""
    if missing not in ("raise", "allow"):
        raise ValueError(
            f"missing={missing!r}: expected 'raise' (refuse absent files) or "
            "'allow' (keep those samples, their image marked missing)."
        )
    found = np.array([os.path.isfile(p) for p in paths], dtype=bool)
    if found.all():
        return None
    absent = [(row, p) for row, p in enumerate(paths) if not found[row]]
    shown = ", ".join(f"row {row}: {p}" if argument != "paths" else p for row, p in absent[:10])
    more = f" and {len(absent) - 10} more" if len(absent) > 10 else ""
    if missing == "raise":
        raise FileNotFoundError(
            f"{len(absent)} of {len(paths)} image files do not exist ({shown}{more}). Fix "
            f"the paths, or pass missing='allow' to keep those patients with their image "
            "marked missing (the estimators then predict them from their other data; "
            "command line: --missing allow)."
        )
    if not found.any():
        raise FileNotFoundError(
            f"none of the {len(paths)} image files exists ({shown}{more}); check the paths."
        )
    return found


class ImageFiles(LazyImages):
    """2-D image files read on demand, as :func:`load_images` reads them (samples
    ``(C, H, W)``).

    Parameters
    ----------
    sources : sequence of str
        One file per sample.
    color : {"gray", "rgb"}, default="gray"
    size : int, (int, int) or None, default=None
    normalize : {"zscore", "minmax"} or None, default=None
        As in :func:`load_images`.
    missing : {"raise", "allow"}, default="raise"
        Files that do not exist: "raise" refuses, listing them; "allow" marks those samples
        missing (``present``, which :class:`~skfusion.FusionInput` reads) and reads a
        placeholder the estimators never look at.
    """

    def __init__(self, sources, *, color="gray", size=None, normalize=None, missing="raise"):
        _check_options(color, normalize)
        self.sources = [os.fspath(s) for s in sources]
        self.color = color
        self.size = size
        self.normalize = normalize
        self.missing = missing
        self.present = _check_files(self.sources, missing) if self.sources else None
        self._sample_shape = None

    def __len__(self):
        return len(self.sources)

    @property
    def sample_shape(self):
        if self._sample_shape is None:
            channels = 1 if self.color == "gray" else 3
            size = _check_size(self.size)
            if size is None:
                first = 0 if self.present is None else int(np.flatnonzero(self.present)[0])
                size = _header_shape(self.sources[first]) if len(self) else (0, 0)
            self._sample_shape = (channels, *size)
        return self._sample_shape

    def take(self, positions):
        positions = np.asarray(positions, dtype=int)
        subset = ImageFiles.__new__(ImageFiles)
        subset.__dict__.update(self.__dict__)
        subset.sources = [self.sources[i] for i in positions]
        subset.present = None if self.present is None else self.present[positions]
        return subset

    def read(self, position):
        if self.present is not None and not self.present[position]:
            return np.zeros(self.sample_shape, dtype=np.float32)  # never read by a model
        image = read_image(
            self.sources[position], color=self.color, size=self.size, normalize=self.normalize
        )
        if image.shape != self.sample_shape:
            raise ValueError(
                f"{self.sources[position]} is {image.shape[1]}x{image.shape[2]}, while the "
                f"images read before it are {self.sample_shape[1]}x{self.sample_shape[2]}; "
                "pass size=(H, W) (or an int) to resize every image to one size."
            )
        return image

    def __repr__(self):
        return f"ImageFiles({len(self)} {self.color} images)"


def load_images(paths, *, size=None, color="gray", normalize=None, lazy=False, missing="raise"):
    """Read 2-D image files: PNG, JPEG, TIFF (8- or 16-bit) and single-frame DICOM.

    Parameters
    ----------
    paths : str, path-like or sequence of them
        One file per image. DICOM files are recognised by their content (the "DICM"
        preamble), the others are read by Pillow.
    size : int, (int, int) or None, default=None
        Resize every image to ``(size, size)`` or ``(H, W)`` with linear interpolation.
        Required when the images' sizes differ.
    color : {"gray", "rgb"}, default="gray"
        "gray": one channel (colour images become their luminance, ITU-R BT.601 weights);
        "rgb": three channels (grey images are repeated).
    normalize : {"zscore", "minmax"} or None, default=None
        Intensity normalisation per image, as for the NIfTI loaders: "zscore" subtracts the
        mean and divides by the standard deviation of the non-zero pixels; "minmax" scales
        the image to [0, 1]. ``None`` keeps the stored values: 0-255 for 8-bit files,
        0-65535 for 16-bit, DICOM values with their rescale slope and intercept applied.
    lazy : bool, default=False
        Return an :class:`ImageFiles` that reads images when a batch needs them, instead of
        an array; only the headers are read now.
    missing : {"raise", "allow"}, default="raise"
        Files that do not exist: "raise" refuses, listing them. "allow" keeps their place:
        the eager result is then a list with ``None`` for each absent file, and the lazy one
        an :class:`ImageFiles` whose ``present`` marks them; :class:`~skfusion.FusionInput`
        reads both as patients without an image (see its ``present``).

    Returns
    -------
    images : ndarray of float32, shape (n_images, C, H, W), list, or ImageFiles
        ``C`` is 1 for "gray", 3 for "rgb". Images are upright as their EXIF orientation
        says; palette images are expanded, alpha channels composited onto black and dropped,
        16-bit depth kept, DICOM MONOCHROME1 inverted so that higher values are brighter.

    Raises
    ------
    FileNotFoundError
        Listing the files that do not exist (unless ``missing="allow"``; then only where
        none exists).
    ValueError
        For a file that is not an image, holds several frames, declares more pixels than
        ``SKFUSION_MAX_VOXELS``, has a DICOM photometric interpretation other than
        MONOCHROME1/2 or RGB, or for sizes that differ without ``size``.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from PIL import Image
    >>> from skfusion.datasets import load_images
    >>> folder = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     Image.fromarray(np.full((20, 30), 50 * i, np.uint8)).save(f"{folder}/{i}.png")
    >>> images = load_images([f"{folder}/{i}.png" for i in range(3)], size=16)
    >>> images.shape, float(images[2].max())
    ((3, 1, 16, 16), 100.0)
    """
    _check_options(color, normalize)
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError("paths is empty; pass at least one image file.")
    found = _check_files(paths, missing)
    here = paths if found is None else [p for p, f in zip(paths, found) if f]
    out_size = _check_size(size)
    if out_size is None:
        shapes = {}
        for path in here:
            shapes.setdefault(_header_shape(path), path)
        if len(shapes) > 1:
            listed = ", ".join(f"{h}x{w} ({p})" for (h, w), p in list(shapes.items())[:4])
            raise ValueError(
                f"the images have different sizes ({listed}); pass size=(H, W) "
                "(or an int) to resize them to one size."
            )
    if lazy:
        return ImageFiles(paths, color=color, size=size, normalize=normalize, missing=missing)
    if found is not None:
        return [
            read_image(p, color=color, size=size, normalize=normalize) if f else None
            for p, f in zip(paths, found)
        ]
    return np.stack([read_image(p, color=color, size=size, normalize=normalize) for p in paths])
