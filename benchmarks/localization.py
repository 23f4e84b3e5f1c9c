"""Localisation on held-out subjects: supervised (masks in fit) and weakly supervised maps.

Two data sets, both simulated from the built-in MNI152 cohort at 64x64 (4 slices per subject,
subjects split 75/25 by subject, one split per seed):

* "hippocampi": the cohort's hippocampal masks (a region every subject has, where the
  regional atrophy was applied); the task is the diagnosis (AD / MCI / CN).
* "moving lesions": the same slices with a bright lesion (radius 3-6 px) at a random
  position inside the brain in half of the subjects (the same position on each of a
  subject's slices); the task is whether there is a lesion, the masks are the lesions.

Supervised: each estimator fitted on ``FusionInput(images, clinical, masks=masks)``;
``localize`` probabilities thresholded at 0.5. Weakly supervised: the same estimator fitted
without masks; smoothed input-gradient saliency (``localize``'s default), Grad-CAM combined
over stages 2-4 (``weak="gradcam"``) and last-stage Grad-CAM, thresholded at half the maximum.
References: the mean training mask (thresholded at 0.5), random maps. IoU, Dice and pointing
game per held-out slice with a non-empty mask; differences are paired per slice and their
95% interval bootstraps held-out subjects (2,000 resamples, pooled over seeds).

    python benchmarks/localization.py --quick
    python benchmarks/localization.py --seeds 3
"""

import argparse
import json
import pathlib
import platform
import sys
import time

import numpy as np
import torch
from sklearn.model_selection import GroupShuffleSplit

from skfusion import ClinicalAttentionClassifier, FeatureModulationClassifier, FusionInput
from skfusion.datasets import make_brain_cohort
from skfusion.explain import grad_cam, localization_scores, plot_overlays

RESULTS = pathlib.Path(__file__).parent / "results"
METRICS = ("iou", "dice", "pointing_game")


def moving_lesions(cohort, seed):
    """The cohort's slices with a lesion at a random brain position in half the subjects."""
    rng = np.random.RandomState(1000 + seed)
    images = cohort.X.images.copy()
    masks = np.zeros(images.shape, dtype=bool)
    subjects = np.unique(cohort.groups)
    has = dict(zip(subjects, rng.rand(len(subjects)) < 0.5))
    yy, xx = np.mgrid[: images.shape[1], : images.shape[2]]
    for subject in subjects:
        rows = np.flatnonzero(cohort.groups == subject)
        if not has[subject]:
            continue
        brain = np.argwhere(images[rows].mean(axis=0) > 0.25 * images[rows].max())
        r, c = brain[rng.randint(len(brain))]
        radius = rng.uniform(3, 6)
        lesion = (yy - r) ** 2 + (xx - c) ** 2 <= radius**2
        masks[rows] = lesion
        images[rows] = np.where(lesion, images[rows] + 0.6 * images[rows].max(), images[rows])
    y = np.array([int(has[s]) for s in cohort.groups])
    return FusionInput(images, cohort.X.clinical, subjects=cohort.groups), y, masks


def score(maps, masks, relative):
    return localization_scores(maps, masks, relative=relative, per_sample=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args(argv)
    subjects, epochs = (120, 12) if args.quick else (240, 25)
    common = dict(
        backbone="resnet18",
        base_width=16,
        max_epochs=epochs,
        batch_size=32,
        lr=1e-3,
        device="cpu",
        verbose=0,
    )
    families = {
        "ClinicalAttention (full)": lambda s: ClinicalAttentionClassifier(
            mode="full", clinical_dim=64, random_state=s, **common
        ),
        "DAFT": lambda s: FeatureModulationClassifier(method="daft", random_state=s, **common),
    }
    per_slice = {}  # (data, method) -> {metric: [...]}, subjects -> [...]
    accuracy = {}
    started = time.perf_counter()
    for seed in range(args.seeds):
        cohort = make_brain_cohort(
            subjects, n_slices=4, image_size=64, return_masks=True, random_state=seed, unit="slice"
        )
        sets = {
            "hippocampi": (
                FusionInput(cohort.X.images, cohort.X.clinical, subjects=cohort.groups),
                cohort.y,
                cohort.masks,
            ),
            "moving lesions": moving_lesions(cohort, seed),
        }
        train, test = next(
            GroupShuffleSplit(1, test_size=0.25, random_state=seed).split(
                cohort.X.images, cohort.y, cohort.groups
            )
        )
        for data, (X, y, masks) in sets.items():
            rng = np.random.RandomState(seed)
            test_masks = masks[test]
            mean_mask = masks[train].mean(axis=0)
            maps = {
                "reference: mean training mask": (
                    np.broadcast_to(mean_mask, test_masks.shape),
                    False,
                ),
                "reference: random maps": (rng.rand(*test_masks.shape), True),
            }
            for name, build in families.items():
                supervised = build(seed).fit(
                    FusionInput(X.images[train], X.clinical.iloc[train], masks=masks[train]),
                    y[train],
                )
                weak = build(seed).fit(X[train], y[train])
                accuracy.setdefault((data, f"{name}: supervised"), []).append(
                    supervised.score(X[test], y[test])
                )
                accuracy.setdefault((data, f"{name}: weakly supervised"), []).append(
                    weak.score(X[test], y[test])
                )
                maps[f"{name}: supervised localize"] = (supervised.localize(X[test]), False)
                maps[f"{name}: weak, Grad-CAM stages 2-4"] = (
                    weak.localize(X[test], weak="gradcam"),
                    True,
                )
                maps[f"{name}: weak, Grad-CAM last stage"] = (grad_cam(weak, X[test]), True)
                maps[f"{name}: weak, saliency (localize)"] = (weak.localize(X[test]), True)
                if seed == 0 and name.startswith("Clinical"):
                    shown = np.flatnonzero(test_masks.reshape(len(test), -1).any(axis=1))[:8]
                    tag = data.split()[0]
                    run = "quick" if args.quick else "standard"
                    plot_overlays(
                        X.images[test][shown],
                        maps[f"{name}: supervised localize"][0][shown],
                        test_masks[shown],
                        path=RESULTS / f"localize_{tag}_{run}.png",
                        titles=[f"true/pred, {data}"] + [""] * 7,
                    )
                print(
                    f"  seed {seed}, {data}, {name}: done ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
            for method, (values, relative) in maps.items():
                result = score(values, test_masks, relative)
                entry = per_slice.setdefault((data, method), {m: [] for m in METRICS})
                entry.setdefault("subjects", []).extend(
                    f"{seed}:{s}" for s in cohort.groups[test][result["samples"]]
                )
                for metric in METRICS:
                    entry[metric].extend(result["per_sample"][metric].tolist())
    rows = summarise(per_slice, accuracy)
    command = (
        "python benchmarks/localization.py"
        + (" --quick" if args.quick else "")
        + (f" --seeds {args.seeds}" if args.seeds != 1 else "")
    )
    result = {
        "command": command,
        "setting": {
            "subjects": subjects,
            "slices": 4,
            "image_size": 64,
            "epochs": epochs,
            "seeds": args.seeds,
            "split": "75/25 by subject",
            "data": "simulated from MNI152 (built-in cohort)",
        },
        "rows": rows,
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
        },
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    name = "localization_quick" if args.quick else "localization_standard"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    table = markdown(rows, command)
    (RESULTS / f"{name}.md").write_text(table)
    print(table)
    print(f"written to {RESULTS / name}.json and .md")


def bootstrap(diff, subjects, n=2000, seed=0):
    """Mean of paired per-slice differences and a 95% interval resampling subjects."""
    diff, subjects = np.asarray(diff), np.asarray(subjects)
    ids, inverse = np.unique(subjects, return_inverse=True)
    sums = np.bincount(inverse, weights=diff)
    counts = np.bincount(inverse)
    rng = np.random.RandomState(seed)
    draws = rng.randint(len(ids), size=(n, len(ids)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    return float(diff.mean()), [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def summarise(per_slice, accuracy):
    rows = []
    for (data, method), entry in per_slice.items():
        row = {
            "data": data,
            "method": method,
            "n_slices": len(entry["iou"]),
            **{m: float(np.mean(entry[m])) for m in METRICS},
        }
        for family in ("ClinicalAttention (full)", "DAFT"):
            kind = "supervised" if "supervised localize" in method else "weakly supervised"
            if method.startswith(family):
                row["test_accuracy"] = float(np.mean(accuracy[(data, f"{family}: {kind}")]))
        reference = (
            "reference: mean training mask"
            if "supervised localize" in method
            else "reference: random maps"
        )
        if not method.startswith("reference"):
            other = per_slice[(data, reference)]
            if other["subjects"] == entry["subjects"]:
                for metric in METRICS:
                    diff = np.subtract(entry[metric], other[metric])
                    mean, interval = bootstrap(diff, entry["subjects"])
                    row[f"{metric}_minus_reference"] = {
                        "reference": reference,
                        "mean": mean,
                        "interval": interval,
                    }
        rows.append(row)
    return rows


def markdown(rows, command):
    lines = [
        f"Command: `{command}` (simulated data, see the script's docstring).",
        "",
        "| data | maps | slices | IoU | Dice | pointing game | IoU - reference [95% CI] "
        "| pointing - reference [95% CI] | test accuracy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:

        def diff(metric):
            d = row.get(f"{metric}_minus_reference")
            if d is None:
                return ""
            short = "mean mask" if "mean" in d["reference"] else "random"
            return f"{d['mean']:+.3f} [{d['interval'][0]:+.3f}, {d['interval'][1]:+.3f}] vs {short}"

        accuracy = f"{row['test_accuracy']:.3f}" if "test_accuracy" in row else ""
        lines.append(
            f"| {row['data']} | {row['method']} | {row['n_slices']} | "
            f"{row['iou']:.3f} | {row['dice']:.3f} | {row['pointing_game']:.3f} | "
            f"{diff('iou')} | {diff('pointing_game')} | {accuracy} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
