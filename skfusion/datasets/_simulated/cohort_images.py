"""The built-in cohort's images: a coronal slab of the MNI152 template (shipped in nilearn's
wheel), warped, atrophied and scanned per simulated subject."""

import functools
import importlib.util
import os

import numpy as np

from .._readers.layout import _FIELD

#: Template voxel (i, j, k) of MNI (0, 0, 0) in the 1 mm ICBM 2009a template shipped by nilearn.
_ORIGIN = np.array([98.0, 134.0, 72.0])
#: Coronal slab centre: MNI y = -22 mm, through the body of the hippocampus.
_SLAB_CENTRE_Y = -22
#: Hippocampus centres (MNI x, z) in the coronal plane, and their spread in mm.
_HIPPOCAMPI = ((-28.0, -14.0), (28.0, -14.0))
_HIPPOCAMPUS_SD = 5.5
#: Lateral ventricles' centre (MNI x, z) at the slab, and the spread of their enlargement.
_VENTRICLES = (0.0, 16.0)
_VENTRICLE_SD = 14.0


def _nilearn_data_dir():
    spec = importlib.util.find_spec("nilearn")
    if spec is None:
        raise ImportError(
            "make_brain_cohort reads the MNI152 template that ships inside nilearn's wheel; "
            "install it with `pip install nilearn` (it is a dependency of skfusion)."
        )
    return os.path.join(spec.submodule_search_locations[0], "datasets", "data")


@functools.lru_cache(maxsize=2)
def _template_slab(n_slices):
    """T1 intensities and grey-matter probabilities of the slab, shape (n_slices, 197, 189)."""
    import nibabel as nib

    folder = _nilearn_data_dir()
    t1 = nib.load(os.path.join(folder, "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz"))
    gm = nib.load(os.path.join(folder, "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz"))
    j0 = int(_ORIGIN[1] + _SLAB_CENTRE_Y - n_slices // 2)
    t1_slab = np.asarray(t1.dataobj[:, j0 : j0 + n_slices, :], dtype=np.float32) / 255.0
    gm_slab = np.asarray(gm.dataobj[:, j0 : j0 + n_slices, :], dtype=np.float32) / 255.0
    return (
        np.ascontiguousarray(t1_slab.transpose(1, 0, 2)),
        np.ascontiguousarray(gm_slab.transpose(1, 0, 2)),
        j0,
    )


@functools.lru_cache(maxsize=4)
def _smoothed_slab(n_slices, image_size):
    """The slab blurred to the output resolution (anti-aliasing), cached per size."""
    from scipy.ndimage import gaussian_filter

    t1, gm, j0 = _template_slab(n_slices)
    pixel_mm = (_FIELD[1] - _FIELD[0]) / image_size
    sigma = max(0.0, 0.4 * (pixel_mm - 1.0))
    if sigma > 0:
        t1 = gaussian_filter(t1, (0, sigma, sigma))
        gm = gaussian_filter(gm, (0, sigma, sigma))
    return t1, gm, j0


def _smooth_field(rng, image_size, amplitude, grid=4):
    from scipy.ndimage import zoom

    coarse = rng.normal(size=(grid, grid)).astype(np.float32)
    return (
        zoom(coarse, image_size / grid, order=3, mode="nearest")[:image_size, :image_size]
        * amplitude
    )


def _subject_slices(t1, gm, subject, image_size, noise_level, rng, site_gain=1.0):
    """Warp, atrophy and scan one subject's slab; returns images and the hippocampal mask."""
    from scipy.ndimage import map_coordinates

    n_slices = t1.shape[0]
    nd = max(subject.neurodegeneration, -0.5)
    # Output pixel centres in MNI mm (x left->right across columns, z top->bottom down rows).
    x0, x1, z0, z1 = _FIELD
    xs = x0 + (np.arange(image_size) + 0.5) * (x1 - x0) / image_size
    zs = z1 - (np.arange(image_size) + 0.5) * (z1 - z0) / image_size
    zz, xx = np.meshgrid(zs, xs, indexing="ij")
    # Head size: a bigger head fills more of the field of view.
    scale = (subject.etiv / 1500.0) ** (1 / 3)
    angle = np.deg2rad(rng.normal(scale=2.0))
    cos, sin = np.cos(angle), np.sin(angle)
    x = (cos * xx - sin * zz) / scale + rng.normal(scale=1.5)
    z = (sin * xx + cos * zz) / scale + rng.normal(scale=1.5)
    # Smooth random deformation (about 2 mm).
    x = x + _smooth_field(rng, image_size, 2.0)
    z = z + _smooth_field(rng, image_size, 2.0)
    # Enlarged ventricles: sample closer to their centre, which widens them.
    vx, vz = _VENTRICLES
    dist2 = (x - vx) ** 2 + (z - vz) ** 2
    pull = np.clip(0.10 + 0.12 * nd, 0, 0.45) * np.exp(-dist2 / (2 * _VENTRICLE_SD**2))
    x = vx + (x - vx) * (1 - pull)
    z = vz + (z - vz) * (1 - pull)
    # Template voxel coordinates of each output pixel.
    i = x + _ORIGIN[0]
    k = z + _ORIGIN[2]
    hippocampus = sum(
        np.exp(-((x - hx) ** 2 + (z - hz) ** 2) / (2 * _HIPPOCAMPUS_SD**2))
        for hx, hz in _HIPPOCAMPI
    )
    global_loss = np.clip(0.04 + 0.05 * nd + 0.004 * (subject.age - 75), 0, 0.35)
    hippocampal_loss = np.clip(0.10 + 0.22 * nd, 0, 0.75)
    loss_map = global_loss + hippocampal_loss * hippocampus
    bias = np.exp(_smooth_field(rng, image_size, 0.08, grid=3))
    gain = rng.uniform(0.85, 1.15) * site_gain
    images = np.empty((n_slices, image_size, image_size), dtype=np.float32)
    masks = np.empty(images.shape, dtype=bool)
    for s in range(n_slices):
        t1_s = map_coordinates(t1[s], [i, k], order=1, mode="constant", cval=0.0)
        gm_s = map_coordinates(gm[s], [i, k], order=1, mode="constant", cval=0.0)
        # Atrophy turns grey matter into CSF: intensity falls from GM (~0.65) toward CSF (~0.3).
        atrophied = t1_s - 0.35 * np.clip(gm_s * loss_map, 0, 1)
        signal = np.clip(atrophied, 0, None) * bias * gain
        sigma = noise_level * 0.86
        noisy = np.sqrt(
            (signal + rng.normal(scale=sigma, size=signal.shape)) ** 2
            + rng.normal(scale=sigma, size=signal.shape) ** 2
        )
        images[s] = noisy
        masks[s] = (hippocampus > 0.5) & (gm_s > 0.3)
    return images, masks
