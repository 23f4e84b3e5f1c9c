"""A second acquisition site for the built-in cohort: scanner intensity, noise, resolution
and prevalence shifted, so that external validation has data to run on."""

from numbers import Real

import numpy as np

#: The judged external site, fixed before any measurement (issue 25): intensity x1.3,
#: noise x2, resolution x0.75, prevalence of the positive group 0.3.
EXTERNAL_SITE = {"intensity": 1.3, "noise": 2.0, "resolution": 0.75, "prevalence": 0.3}
_BOUNDS = {
    "intensity": (0.2, 5.0),
    "noise": (0.0, 20.0),
    "resolution": (0.1, 1.0),
    "prevalence": (0.01, 0.99),
}
_SAME = {"intensity": 1.0, "noise": 1.0, "resolution": 1.0, "prevalence": None}


def check_site(site, labels):
    """The shifts ``site`` stands for (a dict with every key), or None for the reference site.

    ``labels`` are the task's groups; a prevalence needs two (it is the second's share).
    """
    if site is None:
        return None
    if isinstance(site, str):
        if site != "external":
            raise ValueError(
                f"site={site!r}; expected None, 'external' or a dict of shifts "
                f"with keys among {sorted(_BOUNDS)}."
            )
        site = EXTERNAL_SITE
    unknown = sorted(set(map(str, site)) - set(_BOUNDS))
    if unknown:
        raise ValueError(
            f"site has unknown shift(s) {unknown}; expected keys among "
            f"{sorted(_BOUNDS)}, e.g. {EXTERNAL_SITE}."
        )
    shifts = dict(_SAME)
    for name, value in site.items():
        low, high = _BOUNDS[name]
        if isinstance(value, bool) or not isinstance(value, Real) or not low <= value <= high:
            raise ValueError(
                f"site[{name!r}]={value!r}; expected a number from {low:g} to {high:g}."
            )
        shifts[name] = float(value)
    if shifts["prevalence"] is not None and len(labels) != 2:
        raise ValueError(
            f"site['prevalence'] sets the share of the second group of a two-group task; this "
            f"task has the groups {list(labels)}. Leave 'prevalence' out of site."
        )
    return shifts


def site_diagnosis(labels, n_subjects, prevalence, rng):
    """Diagnoses with ``prevalence`` (rounded to whole subjects) of the second group."""
    positives = int(round(prevalence * n_subjects))
    positives = min(max(positives, 1), n_subjects - 1) if n_subjects > 1 else positives
    groups = np.r_[np.zeros(n_subjects - positives, int), np.ones(positives, int)]
    return np.asarray(labels)[rng.permutation(groups)]


def lower_resolution(images, factor):
    """Each slice sampled at ``factor`` of its resolution and back (what a coarser scanner
    protocol gives on the same grid): linear interpolation down, then up."""
    if factor >= 1.0:
        return images
    from scipy.ndimage import zoom

    size = images.shape[-1]
    coarse = max(2, int(round(size * factor)))
    out = np.empty_like(images)
    for index, image in enumerate(images):
        small = zoom(image, coarse / size, order=1, grid_mode=True, mode="nearest")
        out[index] = zoom(small, size / small.shape[-1], order=1, grid_mode=True, mode="nearest")[
            :size, :size
        ]
    return out
