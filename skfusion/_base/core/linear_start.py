"""Where a new network starts: its linear paths (the clinical shortcut, the image shortcut)
set to one penalised linear model fitted on the training samples, before the deep part
trains. The principal components of the image shortcut are fitted here first."""

import numpy as np
from sklearn.decomposition import PCA

__all__ = ["PCA_MAX_SAMPLES", "start_linear_paths"]

#: The components are fitted on at most this many training images (a random subset beyond).
PCA_MAX_SAMPLES = 2048


def start_linear_paths(
    net, dataset, clinical, target, train, seed, *, start, image_components, threads=None
):
    """Set the net's linear paths from the training samples ``train`` (positions in
    ``dataset``; ``clinical`` the encoded values of every sample): fit the image
    shortcut's ``image_components`` components, then call ``start`` (the task's
    ``_start_shortcut(net, inputs, target, train)``) with the paths' inputs side by side."""
    names = net.linear_start
    if not names:
        return
    parts = []
    if "shortcut" in names:
        parts.append(np.asarray(clinical[train], dtype=np.float64))
    if "image_shortcut" in names:
        training = dataset.take(train)
        fit_components(net, training, image_components, seed, threads)
        parts.append(net.image_path_values(training, "scores", threads=threads))
    start(net, np.hstack(parts), target, train)


def fit_components(net, dataset, n_components, seed, threads=None):
    """Fit the image shortcut's principal components on the images of ``dataset`` (at most
    :data:`PCA_MAX_SAMPLES`; scikit-learn's PCA, whose solver is exact for small sets and
    randomized for large ones) and set them, with each component's SD."""
    rng = np.random.default_rng(seed)
    n = len(dataset)
    if n > PCA_MAX_SAMPLES:
        dataset = dataset.take(np.sort(rng.choice(n, PCA_MAX_SAMPLES, replace=False)))
    values, _ = net.image_path_values(dataset, "pooled", threads=threads)
    k = min(n_components, len(values) - 1, values.shape[1])
    mean = values.mean(axis=0) if len(values) else np.zeros(values.shape[1])
    if k < 1:  # fewer than two images: the path reads nothing
        net.set_image_components_(mean, np.zeros((0, values.shape[1])), np.ones(0))
        return
    pca = PCA(k, random_state=int(rng.integers(2**31 - 1)))  # exact SVD for small sets
    pca.fit(values)
    scale = np.sqrt(pca.explained_variance_)
    scale[~(scale > 1e-12)] = 1.0
    net.set_image_components_(pca.mean_, pca.components_, scale)
