"""Explanations for every skfusion estimator (classifiers, regressors, survival models):
Grad-CAM, the models' own attention maps, localisation scores against region masks and
overlay figures for the image; permutation importance of clinical columns and whole
modalities, and Integrated Gradients of the clinical inputs."""

import numpy as np
import torch

from .._base.core.explaining import _batches, _final_estimator, image_maps
from .._net.device import thread_forward_hook
from .._net.maps import grad_cam_maps, image_encoder_of, saliency_maps
from ._attributions import integrated_gradients, plot_importances
from ._importance import permutation_importance

__all__ = [
    "attention_maps",
    "grad_cam",
    "integrated_gradients",
    "localization_scores",
    "logit_parts",
    "permutation_importance",
    "plot_importances",
    "plot_overlays",
    "saliency",
]


def grad_cam(estimator, X, *, target=None, stage=None):
    """Grad-CAM maps of an image stage (by default the last), at input resolution.

    Parameters
    ----------
    estimator : fitted skfusion estimator, or a Pipeline ending in one
    X : FusionInput or tuple
        Samples to explain.
    target : label, array-like of labels, int, or None, default=None
        Classifiers: the class explained per sample; ``None`` explains each sample's
        predicted class. Regressors: the index of the output explained (``None``: the first),
        so the map shows what raises the prediction. Survival models: ``None`` (the risk
        score; the map shows what raises the risk).
    stage : int (1-4), "combined" or None, default=None
        ResNet stage whose output is explained. ``None`` takes the last stage whose feature
        map still has at least 2x2 positions (small images shrink to 1x1 in the last stage,
        where a map cannot localise anything). "combined": the mean of the maps of stages
        2-4 (those with at least 2x2 positions), each scaled to a maximum of 1, then scaled
        again: the finer stages sharpen where the last stage points (the weakly supervised
        maps of ``localize``).

    Returns
    -------
    maps : ndarray of shape (n_samples, H, W), float32
        Non-negative maps, each scaled to a maximum of 1 (all zeros where the gradient
        gives no evidence). Deterministic: the network runs in evaluation mode. For slice
        stacks (``slices="mean"`` or ``"attention"``) one map per slice: (n_samples, S, H, W);
        for volumes (``spatial_dims=3``) one map per volume: (n_samples, D, H, W).
    """
    estimator, X = _final_estimator(estimator, X)
    return image_maps(estimator, X, grad_cam_maps, "Grad-CAM", target=target, stage=stage)


def saliency(estimator, X, *, target=None, smooth=5):
    """Input-gradient saliency maps (Simonyan et al., 2014) at input resolution.

    The absolute gradient of the explained output (as in :func:`grad_cam`) with respect to
    every input pixel (voxel), summed over channels, averaged over a ``smooth``-pixel box
    per axis and scaled to a maximum of 1. Finer than Grad-CAM, so better at small focal
    findings; noisier where the evidence is spread out.

    Parameters
    ----------
    estimator : fitted skfusion estimator, or a Pipeline ending in one
    X : FusionInput or tuple
    target : as in :func:`grad_cam`
    smooth : odd int, default=5
        Box-filter width in pixels (1: raw gradients).

    Returns
    -------
    maps : ndarray of shape (n_samples, H, W), float32
        (n_samples, S, H, W) for slice stacks, (n_samples, D, H, W) for volumes.
    """
    estimator, X = _final_estimator(estimator, X)
    return image_maps(estimator, X, saliency_maps, "saliency", target=target, smooth=smooth)


def logit_parts(estimator, X):
    """Split each raw output into what the linear paths give (the clinical shortcut, the
    image shortcut) and what the deep network adds.

    With ``clinical_shortcut=True`` a fused network's output is the sum of a linear model of
    the clinical values (started at a logistic, ridge or Cox model) and the deep path; with
    ``image_shortcut="pca"`` also a linear model of the image's principal components (the
    two started together as one model on the table and the components). How far the deep
    part varies across patients, beside the linear parts, says how much the fitted network
    departs from the linear model it started from: a deep part near zero for every patient
    means the network predicts as that model, whatever its score.

    Parameters
    ----------
    estimator : fitted skfusion estimator, or a Pipeline ending in one
    X : FusionInput or tuple
        Samples to split.

    Returns
    -------
    parts : dict of ndarray of shape (n_samples, n_outputs), float64
        ``"total"``: the network's raw outputs (classifiers: logits per class; regressors:
        standardised targets; survival models: the log risk), ``"shortcut"``: the clinical
        shortcut's part (zeros when the network has none), ``"image_shortcut"``: the image
        shortcut's part (zeros when it has none), ``"deep"``: the rest (``total -
        shortcut - image_shortcut``). For a two-class classifier, ``decision_function`` is
        column 1 minus column 0 of ``"total"``, and likewise for the parts.
    """
    estimator, X = _final_estimator(estimator, X)
    X = estimator._check_X(X, fitting=False)  # once, for every part below
    total = estimator._outputs(X)
    shortcut = np.zeros_like(total)
    image_part = np.zeros_like(total)
    layer = getattr(estimator.net_.module_, "shortcut", None)
    if layer is not None:
        clinical = X.clinical
        weight = layer.weight.detach().double().cpu().numpy()
        bias = layer.bias.detach().double().cpu().numpy()
        shortcut = np.asarray(clinical, dtype=np.float64) @ weight.T + bias
    if "image_shortcut" in estimator.net_.linear_start:
        image_part = estimator._image_shortcut_outputs(X)
    return {
        "total": total,
        "shortcut": shortcut,
        "image_shortcut": image_part,
        "deep": total - shortcut - image_part,
    }


def attention_maps(estimator, X):
    """The model's own attention, where it has some.

    Parameters
    ----------
    estimator : fitted skfusion estimator, or a Pipeline ending in one
    X : FusionInput or tuple
        Samples whose attention is read.

    Returns
    -------
    maps : dict
        By model:

    * ClinicalAttentionClassifier (mode "full"): ``"channel_attention"``, per RBCA block
      (``"stage2.block0"``...) an array (n_samples, channels) of clinical channel weights,
      in (0, 1) for ``attention_form="paper"`` and in (0, 2), 1 meaning unchanged, for
      ``"inner"``;
    * GatedFusionClassifier: ``"spatial_attention"``, per stage an array (n_samples, H, W) of
      the EHR-guided spatial map upsampled to input resolution, and ``"gates"`` (n_samples,
      n_heads, head_dim) from the GMU (1 favours the image, 0 the clinical features);
    * ReportFusionClassifier: ``"word_attention"``, per report a list of (word, weight);
    * FeatureModulationClassifier: ``"scale"`` and ``"shift"`` (n_samples, channels);
    * any estimator reading slice stacks (``slices="mean"`` or ``"attention"``):
      ``"slice_attention"``, (n_samples, S) pooling weights per slice, each row summing to 1
      (uniform for "mean"). The per-block maps above are then per slice, in patient order.
    """
    from ..nn.gated_fusion import ClinicalSpatialAttention, MultiHeadGMU
    from ..nn.modulation import FeatureModulation
    from ..nn.rbca import ClinicalChannelAttention

    estimator, X = _final_estimator(estimator, X)
    module = estimator.net_.module_.eval()
    collected = {}
    hooks = []

    def hook_on(name, submodule, group):
        def keep(module_, inputs, output):
            collected.setdefault(group, {}).setdefault(name, []).append(
                output.detach().float().cpu()
            )

        hooks.append(thread_forward_hook(submodule, keep))

    encoder, stacked = image_encoder_of(module)
    if stacked:
        hook_on("slices", getattr(module, "inner", module).slice_weights_out, "slice_attention")
    if encoder is not None:
        for s, stage in enumerate(encoder.stages, start=1):
            for b, block in enumerate(stage):
                seam = block.front if block.front is not None else block.attention
                attention = getattr(seam, "attention", None)
                if isinstance(attention, ClinicalChannelAttention):
                    hook_on(f"stage{s}.block{b}", attention.gate, "channel_attention")
                if isinstance(block.modulation, FeatureModulation):
                    hook_on(f"stage{s}.block{b}", block.modulation.scale_out, "scale")
                    hook_on(f"stage{s}.block{b}", block.modulation.shift_out, "shift")
    for name, child in module.named_modules():
        if isinstance(child, ClinicalSpatialAttention):
            hook_on(f"stage{name.split('.')[-1]}", child.map_out, "spatial_attention")
        if isinstance(child, MultiHeadGMU):
            hook_on("gmu", child.gate_out, "gates")
    try:
        with torch.inference_mode(), estimator.net_.kernels():
            sizes = None
            for _, x in _batches(estimator, X):
                module(**x)
                sizes = x["images"].shape[2:] if x["images"].dim() == 5 else x["images"].shape[-2:]
    finally:
        for handle in hooks:
            handle.remove()
    result = {}
    for group, named in collected.items():
        arrays = {name: torch.cat(parts) for name, parts in named.items()}
        if group == "spatial_attention":
            arrays = {
                name: torch.nn.functional.interpolate(
                    value,
                    size=sizes,
                    mode="trilinear" if value.dim() == 5 else "bilinear",
                    align_corners=False,
                )[:, 0]
                for name, value in arrays.items()
            }
        if group == "gates":
            result[group] = arrays["gmu"].numpy()
            continue
        if group == "slice_attention":
            result[group] = arrays["slices"].numpy()
            continue
        result[group] = {name: value.numpy() for name, value in arrays.items()}
    if hasattr(estimator, "word_attention"):
        result["word_attention"] = estimator.word_attention(X)
    return result


def localization_scores(maps, masks, *, threshold=0.5, relative=True, per_sample=False):
    """How well maps point at the true regions: IoU, Dice and pointing-game hit rate.

    Parameters
    ----------
    maps : array-like of shape (n_samples, H, W)
        Explanation or localisation maps (e.g. from :func:`grad_cam` or ``localize``), or
        (n, S, H, W) / (n, D, H, W) for slice stacks and volumes (scored per sample).
    masks : array-like of bool, the shape of ``maps``
        True regions (e.g. ``make_brain_cohort(return_masks=True, unit="slice").masks``).
    threshold : float, default=0.5
        Where a pixel is "on": at ``threshold`` times the map's maximum (``relative=True``,
        for explanation maps, which have no scale), or at ``threshold`` itself
        (``relative=False``, for probabilities such as a supervised ``localize``).
    relative : bool, default=True
    per_sample : bool, default=False
        Also return the scores of every scored sample (for intervals over subjects).

    Returns
    -------
    scores : dict
        ``iou`` (mean intersection over union of the thresholded maps and the masks),
        ``dice`` (mean Dice coefficient, ``2|A & B| / (|A| + |B|)``), ``pointing_game``
        (share of samples whose map maximum falls inside the mask, with a tolerance of one
        pixel), ``n_samples`` (the samples scored: those with a non-empty mask and, with
        ``relative=True``, a map that is not all zero; with ``relative=False`` an empty
        prediction scores 0). With ``per_sample``: ``samples`` (their positions) and
        ``per_sample`` (a dict of arrays ``iou``, ``dice``, ``pointing_game``).
    """
    maps = np.asarray(maps, dtype=float)
    masks = np.asarray(masks, dtype=bool)
    if maps.shape != masks.shape or maps.ndim not in (3, 4):
        raise ValueError(
            f"maps and masks must both be (n, H, W), or (n, S, H, W) / "
            f"(n, D, H, W) for slice stacks and volumes; got {maps.shape} and "
            f"{masks.shape}."
        )
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold}.")
    from scipy.ndimage import binary_dilation

    ious, dices, hits, kept = [], [], [], []
    for index, (heat, mask) in enumerate(zip(maps, masks)):
        if not mask.any() or (relative and heat.max() <= 0):
            continue
        on = heat >= threshold * (heat.max() if relative else 1.0)
        overlap = (on & mask).sum()
        ious.append(overlap / (on | mask).sum())
        dices.append(2 * overlap / (on.sum() + mask.sum()))
        peak = np.unravel_index(np.argmax(heat), heat.shape)
        hits.append(bool(binary_dilation(mask)[peak]) if heat.max() > 0 else False)
        kept.append(index)

    def mean(values):
        return float(np.mean(values)) if values else float("nan")

    scores = {
        "iou": mean(ious),
        "dice": mean(dices),
        "pointing_game": mean(hits),
        "n_samples": len(ious),
    }
    if per_sample:
        scores["samples"] = np.asarray(kept, dtype=int)
        scores["per_sample"] = {
            "iou": np.asarray(ious, dtype=float),
            "dice": np.asarray(dices, dtype=float),
            "pointing_game": np.asarray(hits, dtype=float),
        }
    return scores


def plot_overlays(images, maps, masks=None, *, path, n=8, titles=None):
    """Save a PNG of images with their maps overlaid (and mask outlines), one column each.

    Parameters
    ----------
    images : array-like of shape (n_samples, H, W) or (n_samples, 1, H, W)
    maps : array-like of shape (n_samples, H, W), or (n_samples, S, H, W) / (n_samples, D,
        H, W) for slice stacks and volumes (scored per sample over all its slices)
    masks : array-like of bool, the shape of ``maps``, default=None
    path : str or path-like
        Where the PNG goes.
    n : int, default=8
        First ``n`` samples are drawn.
    titles : list of str, default=None

    Returns
    -------
    path
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = np.asarray(images)
    images = images[:, 0] if images.ndim == 4 else images
    maps = np.asarray(maps)
    count = min(n, len(images))
    figure, axes = plt.subplots(2, count, figsize=(1.8 * count, 3.8), squeeze=False)
    for i in range(count):
        for row in (0, 1):
            axes[row, i].imshow(images[i], cmap="gray")
            axes[row, i].axis("off")
        axes[1, i].imshow(maps[i], cmap="jet", alpha=0.45, vmin=0, vmax=max(maps[i].max(), 1e-6))
        if masks is not None:
            axes[1, i].contour(np.asarray(masks)[i], [0.5], colors="w", linewidths=0.7)
        if titles is not None:
            axes[0, i].set_title(str(titles[i]), fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path
