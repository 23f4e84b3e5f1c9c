"""A small generated image + clinical classification problem in which each modality carries
information the other lacks."""

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval, validate_params

from ..._input import FusionInput

__all__ = ["make_fusion_classification"]


@validate_params(
    {
        "n_samples": [Interval(Integral, 2, None, closed="left")],
        "image_size": [Interval(Integral, 8, None, closed="left")],
        "n_noise_features": [Interval(Integral, 0, None, closed="left")],
        "image_signal": [Interval(Real, 0, None, closed="left")],
        "clinical_signal": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_fusion_classification(
    n_samples=200,
    *,
    image_size=32,
    n_noise_features=3,
    image_signal=1.5,
    clinical_signal=1.5,
    random_state=None,
):
    """Generate a binary image + clinical problem with complementary modalities.

    Each sample has two independent latent findings given its class: a *visible* one (a
    blurred dark blob whose contrast grows with it, placed at a random position near the
    image centre, over textured noise) and an *invisible* one that only a clinical
    measurement reports. One clinical column, ``marker_visible``, is a noisy reading of the
    visible finding (as plasma NfL tracks atrophy), so clinical values can also point the
    network at what to look for. Neither modality alone reaches the accuracy of both.

    Parameters
    ----------
    n_samples : int, default=200
        Number of samples.
    image_size : int, default=32
        Images are ``(n_samples, image_size, image_size)``, float32.
    n_noise_features : int, default=3
        Uninformative clinical columns ``noise_0``...
    image_signal : float, default=1.5
        Separation of the classes in the visible finding (in noise standard deviations).
    clinical_signal : float, default=1.5
        Separation of the classes in the invisible finding.
    random_state : int, RandomState instance or None, default=None
        Makes the output reproducible.

    Returns
    -------
    data : Bunch
        ``X`` (FusionInput of images and a clinical DataFrame), ``y`` (labels "case" and
        "control"), ``feature_names`` and ``DESCR``.

    Examples
    --------
    >>> from skfusion.datasets import make_fusion_classification
    >>> data = make_fusion_classification(n_samples=10, image_size=16, random_state=0)
    >>> data.X.images.shape, data.X.clinical.shape, data.y[:3].tolist()
    ((10, 16, 16), (10, 6), ['case', 'case', 'case'])
    """
    rng = check_random_state(random_state)
    y_case = rng.permutation(np.arange(n_samples) % 2 == 0)
    visible = rng.normal(size=n_samples) + image_signal * y_case
    invisible = rng.normal(size=n_samples) + clinical_signal * y_case

    grid = np.linspace(-1, 1, image_size, dtype=np.float32)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    centres = rng.uniform(-0.3, 0.3, size=(n_samples, 2)).astype(np.float32)
    blob = np.exp(
        -((yy[None] - centres[:, :1, None]) ** 2 + (xx[None] - centres[:, 1:, None]) ** 2)
        / (2 * 0.18**2)
    )
    background = rng.normal(size=(n_samples, image_size, image_size)).astype(np.float32)
    images = background - (0.6 * (visible[:, None, None] + 1.5)).astype(np.float32) * blob
    images = images.astype(np.float32)

    clinical = pd.DataFrame(
        {
            "age": np.round(rng.normal(72, 6, n_samples), 1),
            "marker_visible": visible + rng.normal(scale=1.0, size=n_samples),
            "marker_invisible": invisible + rng.normal(scale=0.5, size=n_samples),
        }
    )
    for index in range(n_noise_features):
        clinical[f"noise_{index}"] = rng.normal(size=n_samples)
    y = np.where(y_case, "case", "control")
    return Bunch(
        X=FusionInput(images, clinical),
        y=y,
        feature_names=list(clinical.columns),
        DESCR=make_fusion_classification.__doc__.split("Parameters")[0].strip(),
    )
