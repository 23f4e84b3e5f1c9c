"""What the built-in cohort's images carry (simulated): the image ceiling of issue 22.

On 1,600 patients (AD vs NC, 2 coronal slices of 32x32 as in ``pretraining.py``), the latent
neurodegeneration score the images show is predicted from the pixels alone by two models,
trained on 80% of the patients and scored on the other 20% (subject-grouped, stratified):

* a non-deep model: ridge regression on 50 principal components of the standardised pixels;
* the image network (``ClinicalAttentionRegressor(mode="image")``, ResNet18 width 8) trained
  to convergence (early stopping on a subject-grouped validation split; no
  ``ConvergenceWarning``).

Reported: R^2 of the latent score on the held-out patients, and the AUC for AD vs NC of the
predicted score, beside the AUC of the true latent score (the oracle). The better of the two
is the ceiling an image encoder can be judged against.

    python benchmarks/image_ceiling.py

Writes ``results/image_ceiling.{json,md}``.
"""

import json
import pathlib
import platform
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score, roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import ClinicalAttentionRegressor
from skfusion.datasets import make_brain_cohort

RESULTS = pathlib.Path(__file__).parent / "results"
#: A cohort seed of its own (the pretraining benchmark's seeds draw other patients).
COHORT_SEED = 5027


def main():
    torch.set_num_threads(2)
    start = time.perf_counter()
    cohort = make_brain_cohort(1600, n_slices=2, image_size=32, random_state=COHORT_SEED)
    X, y = cohort.X, cohort.y
    latent = cohort.frame["neurodegeneration"].to_numpy(dtype=float)
    positive = (y == "AD").astype(int)
    train, test = next(
        StratifiedGroupKFold(5, shuffle=True, random_state=0).split(latent, y, groups=cohort.groups)
    )
    pixels = np.asarray(X.images, dtype=np.float32).reshape(len(y), -1)
    rows = {"latent score itself [oracle]": (latent[test], None)}
    pca = make_pipeline(
        StandardScaler(), PCA(50, random_state=0), RidgeCV(alphas=np.logspace(-3, 3, 13))
    )
    rows["ridge on 50 PCs of the pixels"] = (
        pca.fit(pixels[train], latent[train]).predict(pixels[test]),
        None,
    )
    network = ClinicalAttentionRegressor(
        mode="image",
        backbone="resnet18",
        base_width=8,
        batch_size=64,
        lr=1e-3,
        optimizer__weight_decay=1e-2,
        max_epochs=200,
        early_stopping=True,
        n_iter_no_change=10,
        verbose=0,
        random_state=0,
        device="cpu",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        network.fit(X[train], latent[train])
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    rows["image network (ResNet18 w8, early stopping)"] = (
        network.predict(X[test]),
        len(network.net_.history),
    )
    table = []
    for name, (prediction, epochs) in rows.items():
        table.append(
            {
                "model": name,
                "r2": None
                if name.endswith("[oracle]")
                else float(r2_score(latent[test], prediction)),
                "auc": float(roc_auc_score(positive[test], prediction)),
                "epochs": epochs,
            }
        )
    minutes = (time.perf_counter() - start) / 60
    command = "python benchmarks/image_ceiling.py"
    lines = [
        "# The image ceiling on the built-in cohort (simulated)",
        "",
        f"`{command}` — {minutes:.1f} min, {platform.machine()}; cohort seed "
        f"{COHORT_SEED}, 1,600 patients (AD vs NC) x 2 slices of 32x32; trained on "
        f"{len(train)}, scored on {len(test)} held-out patients (subject-grouped). The "
        f"network converged (no ConvergenceWarning): {converged}.",
        "",
        "| model (pixels only) | R² of the latent score | AUC AD vs NC | epochs |",
        "|---|---|---|---|",
    ]
    for row in table:
        r2 = "" if row["r2"] is None else f"{row['r2']:.3f}"
        lines.append(f"| {row['model']} | {r2} | {row['auc']:.3f} | {row['epochs'] or ''} |")
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "image_ceiling.md").write_text(text)
    (RESULTS / "image_ceiling.json").write_text(
        json.dumps(
            {
                "command": command,
                "cohort_seed": COHORT_SEED,
                "converged": converged,
                "minutes": minutes,
                "torch": torch.__version__,
                "rows": table,
            },
            indent=1,
        )
    )
    print(text)


if __name__ == "__main__":
    sys.exit(main())
