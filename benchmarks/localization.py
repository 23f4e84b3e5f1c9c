"""Do explanation maps point at the hippocampi, where the cohort's regional atrophy is?

Trains each image model on the built-in cohort (subjects split 75/25), computes Grad-CAM (and
GatedFusion's own spatial attention) on the held-out slices, and scores them against the
cohort's hippocampal masks (IoU of the map thresholded at half its maximum; pointing game).
Random maps and a centred blob are the reference points.

    python benchmarks/localization.py --quick
"""

import argparse
import json
import pathlib
import platform
import time

import numpy as np
import torch
from sklearn.model_selection import GroupShuffleSplit
from sklearn.pipeline import make_pipeline

from skfusion import ClinicalAttentionClassifier, FeatureModulationClassifier, GatedFusionClassifier
from skfusion._demo import _clinical_preprocessing
from skfusion.datasets import make_brain_cohort
from skfusion.explain import attention_maps, grad_cam, localization_scores, plot_overlays

RESULTS = pathlib.Path(__file__).parent / "results"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    subjects, epochs = (120, 12) if args.quick else (300, 30)
    cohort = make_brain_cohort(subjects, n_slices=4, image_size=64, return_masks=True,
                               random_state=0, unit="slice")
    train, test = next(GroupShuffleSplit(1, test_size=0.25, random_state=0).split(
        cohort.X.images, cohort.y, cohort.groups))
    common = dict(backbone="resnet18", base_width=8, max_epochs=epochs, batch_size=32, lr=1e-3,
                  device="cpu", verbose=0, random_state=0, clinical_preprocessing=None)
    models = {
        "ClinicalAttention (full)": ClinicalAttentionClassifier(mode="full", clinical_dim=64,
                                                                **common),
        "GatedFusion": GatedFusionClassifier(n_heads=2, head_dim=32, clinical_dim=64, **common),
        "DAFT": FeatureModulationClassifier(method="daft", **common),
    }
    masks = cohort.masks[test]
    rows = {}
    rng = np.random.RandomState(0)
    rows["random maps"] = localization_scores(rng.rand(*masks.shape), masks)
    yy, xx = np.mgrid[:64, :64]
    blob = np.exp(-((yy - 32) ** 2 + (xx - 32) ** 2) / (2 * 12.0**2))
    rows["centred blob"] = localization_scores(np.broadcast_to(blob, masks.shape), masks)
    for name, model in models.items():
        started = time.perf_counter()
        pipe = make_pipeline(_clinical_preprocessing(), model).fit(cohort.X[train],
                                                                   cohort.y[train])
        accuracy = pipe.score(cohort.X[test], cohort.y[test])
        cams = grad_cam(pipe, cohort.X[test])
        rows[f"{name}: Grad-CAM, last stage (2x2)"] = {**localization_scores(cams, masks),
                                     "test_accuracy": accuracy,
                                     "seconds": time.perf_counter() - started}
        rows[f"{name}: Grad-CAM, stage 2 (16x16)"] = localization_scores(
            grad_cam(pipe, cohort.X[test], stage=2), masks)
        plot_overlays(cohort.X.images[test][:8], cams[:8], masks[:8],
                      path=RESULTS / f"gradcam_{name.split()[0].lower()}.png",
                      titles=cohort.y[test][:8])
        if isinstance(model, GatedFusionClassifier):
            native = attention_maps(pipe, cohort.X[test])["spatial_attention"]
            for stage, maps in native.items():
                rows[f"{name}: own spatial attention ({stage})"] = localization_scores(maps,
                                                                                       masks)
        print(f"  {name}: test accuracy {accuracy:.3f}, Grad-CAM IoU "
              f"{rows[f'{name}: Grad-CAM, last stage (2x2)']['iou']:.3f}", flush=True)
    result = {"command": "python benchmarks/localization.py" + (" --quick" if args.quick else ""),
              "setting": {"subjects": subjects, "slices": 4, "image_size": 64, "epochs": epochs,
                          "test_slices": int(len(test)), "threshold": 0.5},
              "scores": rows,
              "machine": {"cpu": platform.processor() or platform.machine(),
                          "torch": torch.__version__, "threads": torch.get_num_threads()}}
    RESULTS.mkdir(exist_ok=True)
    name = "localization_quick.json" if args.quick else "localization.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))
    print("\n| map | IoU | pointing game |")
    print("|---|---|---|")
    for key, row in rows.items():
        print(f"| {key} | {row['iou']:.3f} | {row['pointing_game']:.3f} |")
    print(f"\nwritten to {RESULTS / name}")


if __name__ == "__main__":
    main()
