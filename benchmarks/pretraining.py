"""What pretraining buys the image path: image-only and fused networks trained from scratch,
from a self-supervised image-clinical pretrainer (ImageClinicalPretrainer on unlabelled
patients), and from a supervised source task (MMSE regression on other patients), against
LogReg (clinical) and the simulation's oracle rows (the latent neurodegeneration score the
images show, alone and with the clinical table), on the built-in cohort (simulated).

Protocol (issue 22): AD vs NC, ``--labelled`` patients, subject-grouped stratified 5-fold CV
repeated over ``--repeats`` seeds (each changes the folds and the networks' initialisation);
one cohort per cohort seed. The unlabelled pool (NC/MCI/AD, labels never read) and the MMSE
source cohort are other patients drawn from the same generator with other seeds, so no
labelled patient is ever in them; pretraining and the source model are fitted once per cohort
seed and reused across folds. The differences against LogReg (clinical) are paired by
(repeat, fold) with Nadeau and Bengio's corrected 95% intervals; "gap closed" is
(method - LogReg) / (oracle - LogReg) with the oracle "LogReg (clinical + latent)". The row
"clinical + latent at the image ceiling" adds to the table the latent blurred by noise to the
R^2 with which the image network recovered it in ``image_ceiling.py`` (simulated): about what
a fused model can reach if its image path extracts all the pixels were measured to carry.
Every fused model also reports what shuffling its images costs (permutation importance of
"images") and the SD across test patients of its logit's two parts
(``skfusion.explain.logit_parts``): the clinical shortcut's and the deep path's.
Label efficiency: the training part of each fold subsampled (stratified) to a quarter and a
half (40 / 80 of 160 patients).

Settings are chosen on the development cohort seed (0). The judged seed is fixed here before
its first run: JUDGED_SEED. Chosen on seed 0 (linear probe of the latent score on the labelled
patients' pretrained features, 5-fold R^2): pretraining at lr 1e-3, batch 64, temperature 0.1
for 60 epochs (R^2 0.687) over lr 3e-3 for 30 epochs (0.593; temperature 0.5: 0.579); the
fused networks start from the MMSE source task (image-only AUC 0.820 against 0.566 for
self-supervised and 0.535 from scratch in the first development fold).

    python benchmarks/pretraining.py --seed 0 --quick        # development, about 20 minutes
    python benchmarks/pretraining.py --seed 2027 --quick     # the judged seed
    python benchmarks/pretraining.py --seed 2027             # the issue's protocol (3 x 5)

Writes ``results/pretraining_<config>_seed<seed>.{json,md}`` with the command.
"""

import argparse
import json
import pathlib
import platform
import shlex
import sys
import time
import warnings

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedGroupKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import (
    ClinicalAttentionClassifier,
    ClinicalAttentionRegressor,
    FeatureModulationClassifier,
    GatedFusionClassifier,
    ImageClinicalPretrainer,
)
from skfusion.datasets import make_brain_cohort
from skfusion.explain import logit_parts, permutation_importance

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _stats import corrected_interval  # noqa: E402  (benchmarks/ is not a package)

RESULTS = pathlib.Path(__file__).parent / "results"
DEV_SEED = 0
#: Fixed before the first run of this script; never used to choose a setting.
JUDGED_SEED = 2027
CONFIGS = {
    "quick": dict(
        labelled=160,
        unlabelled=1000,
        source=1000,
        slices=2,
        image_size=32,
        backbone="resnet18",
        base_width=8,
        epochs=30,
        pretrain_epochs=60,
        source_epochs=20,
        batch_size=32,
        lr=1e-3,
        repeats=1,
        fused=("concat", "full (RBCA)"),
    ),
    "standard": dict(
        labelled=160,
        unlabelled=2000,
        source=2000,
        slices=2,
        image_size=32,
        backbone="resnet18",
        base_width=8,
        epochs=30,
        pretrain_epochs=60,
        source_epochs=20,
        batch_size=32,
        lr=1e-3,
        repeats=3,
        fused=("concat", "full (RBCA)", "GatedFusion", "DAFT"),
    ),
}
#: The fused networks on frozen self-supervised encoders (issue 22's fusion goals): only the
#: self-supervised start, no label-efficiency subsets, every fused family; each variant is a
#: set of parameters on top of the start.
CONFIGS["fusion"] = dict(
    CONFIGS["standard"],
    starts=("self-supervised",),
    efficiency=False,
    variants={
        "frozen": {"freeze": "encoder"},
        "frozen, no shortcut": {"freeze": "encoder", "clinical_shortcut": False},
    },
)
#: 3-D: the image-only label-efficiency row on volumes of 8 slices (spatial_dims=3), from
#: scratch and from the self-supervised encoder pretrained on volumes.
CONFIGS["volumes"] = dict(
    CONFIGS["quick"], slices=8, spatial_dims=3, starts=("scratch", "self-supervised"), fused=()
)
#: A run of every code path in a minute (not a result).
CONFIGS["smoke"] = dict(
    CONFIGS["quick"],
    labelled=40,
    unlabelled=40,
    source=40,
    epochs=1,
    pretrain_epochs=1,
    source_epochs=1,
)
STARTS = ("scratch", "self-supervised", "MMSE source")


def _table(frame, names):
    """The clinical table as numbers for the logistic baselines (sex one-hot, imputed)."""
    table = frame[names].copy()
    if "sex" in table:
        table["sex"] = (table["sex"] == "F").astype(float)
    return table.astype(float).fillna(table.astype(float).median())


def _net(settings, seed):
    return dict(
        backbone=settings["backbone"],
        base_width=settings["base_width"],
        spatial_dims=settings.get("spatial_dims", 2),
        max_epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        lr=settings["lr"],
        optimizer__weight_decay=1e-2,
        verbose=0,
        random_state=seed,
        device="cpu",
    )


def _weights(settings, cohort_seed, log):
    """The pretrained starts, fitted once per cohort seed (labels never read)."""
    pool = make_brain_cohort(
        settings["unlabelled"],
        task="nc_mci_ad",
        n_slices=settings["slices"],
        image_size=settings["image_size"],
        random_state=cohort_seed + 1000,
    )
    start = time.perf_counter()
    pretrainer = ImageClinicalPretrainer(
        backbone=settings["backbone"],
        base_width=settings["base_width"],
        spatial_dims=settings.get("spatial_dims", 2),
        max_epochs=settings["pretrain_epochs"],
        batch_size=64,
        lr=settings["lr"],
        verbose=0,
        random_state=cohort_seed,
        device="cpu",
    ).fit(pool.X)
    log(
        f"  self-supervised pretraining on {settings['unlabelled']} unlabelled patients: "
        f"{time.perf_counter() - start:.0f} s, loss "
        f"{pretrainer.net_.history[0, 'train_loss']:.3f} -> "
        f"{pretrainer.net_.history[-1, 'train_loss']:.3f}"
    )
    if "MMSE source" not in settings.get("starts", STARTS):
        return {"scratch": None, "self-supervised": FrozenEstimator(pretrainer)}
    source = make_brain_cohort(
        settings["source"],
        task="mmse",
        n_slices=settings["slices"],
        image_size=settings["image_size"],
        random_state=cohort_seed + 2000,
    )
    start = time.perf_counter()
    regressor = ClinicalAttentionRegressor(
        mode="image", **{**_net(settings, cohort_seed), "max_epochs": settings["source_epochs"]}
    ).fit(source.X, source.y)
    log(
        f"  MMSE source task on {settings['source']} other patients: "
        f"{time.perf_counter() - start:.0f} s"
    )
    return {
        "scratch": None,
        "self-supervised": FrozenEstimator(pretrainer),
        "MMSE source": FrozenEstimator(regressor),
    }


def _networks(settings, seed, weights, best):
    net = _net(settings, seed)
    image = {
        f"image, {name}": (
            lambda w=w: ClinicalAttentionClassifier(mode="image", image_weights=w, **net)
        )
        for name, w in weights.items()
        if name in settings.get("starts", STARTS)
    }
    fused_start = weights.get(best)
    fused = {
        "concat": lambda: ClinicalAttentionClassifier(mode="concat", **net),
        "full (RBCA)": lambda: ClinicalAttentionClassifier(mode="full", **net),
        "GatedFusion": lambda: GatedFusionClassifier(n_heads=4, head_dim=16, **net),
        "DAFT": lambda: FeatureModulationClassifier(method="daft", **net),
    }
    out = dict(image)
    variants = settings.get("variants")
    for name in settings["fused"]:
        if variants is None:
            out[f"{name}, scratch"] = fused[name]
            out[f"{name}, {best}"] = lambda make=fused[name]: make().set_params(
                image_weights=fused_start
            )
            continue
        for variant, params in variants.items():
            out[f"{name}, {best} {variant}"] = lambda make=fused[name], params=params: (
                make().set_params(image_weights=fused_start, **params)
            )
    return out


#: The positive class of each labelled task.
POSITIVE = {"ad_vs_nc": "AD", "mci_conversion": "pMCI"}


def _ad_score(model, X):
    """The predicted probability of the positive class, AD or pMCI (the class order is the
    models' own)."""
    classes = list(model.classes_)
    return model.predict_proba(X)[:, classes.index("AD" if "AD" in classes else "pMCI")]


def _logreg(features_train, y_train, features_test):
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=4000))
    return _ad_score(model.fit(features_train, y_train), features_test)


def run(settings, cohort_seed, best, log):
    cohort = make_brain_cohort(
        settings["labelled"],
        task=settings.get("task", "ad_vs_nc"),
        n_slices=settings["slices"],
        image_size=settings["image_size"],
        random_state=cohort_seed,
    )
    X, y = cohort.X, cohort.y
    positive = (y == POSITIVE[settings.get("task", "ad_vs_nc")]).astype(int)
    table = _table(cohort.frame, list(X.clinical.columns))
    latent = cohort.frame[["neurodegeneration"]].to_numpy()
    latent_at_ceiling = _at_image_ceiling(latent, cohort_seed)
    pixels = np.asarray(X.images, dtype=np.float32).reshape(len(y), -1)
    weights = _weights(settings, cohort_seed, log)
    rows = []
    for repeat in range(settings["repeats"]):
        folds = StratifiedGroupKFold(5, shuffle=True, random_state=repeat)
        for fold, (train, test) in enumerate(folds.split(pixels, y, groups=cohort.groups)):

            def record(
                method,
                score,
                n_train=len(train),
                seconds=0.0,
                images=np.nan,
                parts=(np.nan, np.nan),
            ):
                rows.append(
                    {
                        "repeat": repeat,
                        "fold": fold,
                        "method": method,
                        "n_train": n_train,
                        "auc": roc_auc_score(positive[test], score),
                        "seconds": seconds,
                        "images_importance": images,
                        "shortcut_sd": parts[0],
                        "deep_sd": parts[1],
                    }
                )

            record("LogReg (clinical)", _logreg(table.iloc[train], y[train], table.iloc[test]))
            record("LogReg (latent) [oracle]", _logreg(latent[train], y[train], latent[test]))
            both = np.c_[table.to_numpy(), latent]
            record(
                "LogReg (clinical + latent) [oracle]", _logreg(both[train], y[train], both[test])
            )
            seen = np.c_[table.to_numpy(), latent_at_ceiling]
            record(
                "LogReg (clinical + latent at the image ceiling) [simulated]",
                _logreg(seen[train], y[train], seen[test]),
            )
            pca = make_pipeline(
                StandardScaler(),
                PCA(min(50, len(train) - 1), random_state=repeat),
                LogisticRegression(C=0.1, max_iter=4000),
            )
            record(
                "LogReg (PCA of pixels)", _ad_score(pca.fit(pixels[train], y[train]), pixels[test])
            )
            subsets = {len(train): train}
            for share in (0.25, 0.5) if settings.get("efficiency", True) else ():
                part, _ = train_test_split(
                    train, train_size=share, stratify=y[train], random_state=repeat
                )
                subsets[len(part)] = part
            for name, make in _networks(settings, repeat, weights, best).items():
                sizes = subsets if name.startswith("image") else {len(train): train}
                for n_train, part in sizes.items():
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        model = make().fit(_take(X, part), y[part])
                    score = _ad_score(model, _take(X, test))
                    images, parts = np.nan, (np.nan, np.nan)
                    if not name.startswith("image"):  # what shuffling the images costs
                        images = permutation_importance(
                            model,
                            _take(X, test),
                            y[test],
                            scoring="roc_auc",
                            n_repeats=5,
                            random_state=repeat,
                        ).importances_mean[-2]
                        parts = _logit_sds(model, _take(X, test))
                    record(name, score, n_train, time.perf_counter() - start, images, parts)
            done = pd.DataFrame(rows)
            last = done[
                (done.repeat == repeat) & (done.fold == fold) & (done.n_train == len(train))
            ]
            log(
                f"  repeat {repeat} fold {fold}: "
                + ", ".join(f"{m} {a:.3f}" for m, a in zip(last.method, last.auc))
            )
    return pd.DataFrame(rows)


def _at_image_ceiling(latent, cohort_seed):
    """The latent score as well as the pixels show it (simulated): the latent plus Gaussian
    noise that leaves the R^2 the image network reached in ``image_ceiling.py`` (a linear
    read of latent + noise explains var / (var + noise var) of the latent). What a fused
    model could reach if its image path recovered everything the image ceiling found."""
    rows = json.loads((RESULTS / "image_ceiling.json").read_text())["rows"]
    r2 = max(row["r2"] for row in rows if row["r2"] is not None)  # the better of the two
    rng = np.random.RandomState(cohort_seed + 3000)
    scale = latent.std() * np.sqrt((1 - r2) / r2)
    return latent + rng.normal(scale=scale, size=latent.shape)


def _logit_sds(model, X):
    """SD across patients of the two-class logit's shortcut part and deep part."""
    parts = logit_parts(model, X)
    return tuple(float(np.std(parts[k][:, 1] - parts[k][:, 0])) for k in ("shortcut", "deep"))


def _take(X, index):
    return X[np.asarray(index)]


def summarise(results):
    full = results[results.n_train == results.n_train.max()]
    keyed = full.set_index(["repeat", "fold", "method"])["auc"].unstack("method")
    reference = keyed["LogReg (clinical)"]
    oracle = keyed["LogReg (clinical + latent) [oracle]"].mean()
    lines = []
    for method in keyed.columns:
        diff = keyed[method] - reference
        mean, low, high = (
            corrected_interval(diff) if method != "LogReg (clinical)" else (0.0, 0.0, 0.0)
        )
        gap = (keyed[method].mean() - reference.mean()) / (oracle - reference.mean())
        shuffled = full[full.method == method]["images_importance"]
        importance = (
            corrected_interval(shuffled.to_numpy())
            if shuffled.notna().all()
            else (np.nan, np.nan, np.nan)
        )
        sds = full[full.method == method][["shortcut_sd", "deep_sd"]].mean()
        lines.append(
            {
                "method": method,
                "auc": keyed[method].mean(),
                "images": importance,
                "shortcut_sd": sds.iloc[0],
                "deep_sd": sds.iloc[1],
                "sd": keyed[method].std(ddof=1),
                "minus_logreg": mean,
                "ci_low": low,
                "ci_high": high,
                "gap_closed": gap,
            }
        )
    efficiency = (
        results[results.method.str.startswith("image")]
        .groupby(["n_train", "method"])["auc"]
        .agg(["mean", "std"])
        .reset_index()
    )
    return pd.DataFrame(lines), efficiency


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEV_SEED, help="cohort seed")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 1,000 unlabelled")
    parser.add_argument("--smoke", action="store_true", help="every code path, no result")
    parser.add_argument(
        "--fusion",
        action="store_true",
        help="fused networks on frozen self-supervised encoders, 3 x 5",
    )
    parser.add_argument(
        "--volumes", action="store_true", help="3-D: image-only label efficiency on 8-slice volumes"
    )
    parser.add_argument("--repeats", type=int, help="override the configuration's repeats")
    parser.add_argument(
        "--task",
        choices=sorted(POSITIVE),
        default="ad_vs_nc",
        help="the labelled task (the unlabelled pool is always NC/MCI/AD)",
    )
    parser.add_argument(
        "--variant",
        action="append",
        help="with --fusion: the variant(s) to run (chosen on the dev seed)",
    )
    parser.add_argument(
        "--best",
        default="MMSE source",
        choices=STARTS[1:],
        help="the start the fused networks use (chosen on the dev seed)",
    )
    args = parser.parse_args()
    config = (
        "smoke"
        if args.smoke
        else "volumes"
        if args.volumes
        else "quick"
        if args.quick
        else "fusion"
        if args.fusion
        else "standard"
    )
    settings = dict(CONFIGS[config])
    if args.fusion:
        args.best = "self-supervised"
        if args.smoke:  # every code path of --fusion in a minute (not a result)
            settings.update(
                {
                    k: v
                    for k, v in CONFIGS["fusion"].items()
                    if k in ("starts", "efficiency", "variants", "fused")
                }
            )
    if args.repeats:
        settings["repeats"] = args.repeats
    settings["task"] = args.task
    if args.variant:
        settings["variants"] = {v: settings["variants"][v] for v in args.variant}
    torch.set_num_threads(2)
    role = (
        "development"
        if args.seed == DEV_SEED
        else "judged"
        if args.seed == JUDGED_SEED
        else "other"
    )
    command = "python benchmarks/pretraining.py " + shlex.join(sys.argv[1:])
    print(f"{command}\n{config} settings {settings}; cohort seed {args.seed} ({role})")
    start = time.perf_counter()
    results = run(settings, args.seed, args.best, print)
    table, efficiency = summarise(results)
    minutes = (time.perf_counter() - start) / 60
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"pretraining_{config}_seed{args.seed}"
    if args.repeats or args.variant:
        stem = stem.with_name(stem.name + f"_r{settings['repeats']}")
    if args.task != "ad_vs_nc":
        stem = stem.with_name(stem.name + f"_{args.task}")
    stem.with_suffix(".json").write_text(
        json.dumps(
            {
                "command": command,
                "config": config,
                "settings": {
                    k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()
                },
                "cohort_seed": args.seed,
                "role": role,
                "fused_start": args.best,
                "minutes": minutes,
                "machine": platform.platform(),
                "torch": torch.__version__,
                "results": results.to_dict(orient="records"),
            },
            indent=1,
        )
    )
    lines = [
        f"# Pretraining on the built-in cohort (simulated), {args.task}, cohort seed "
        f"{args.seed} ({role})",
        "",
        f"`{command}` — {minutes:.1f} min, {platform.machine()}, "
        f"{settings['repeats']} repeat(s) x 5 subject-grouped folds, "
        f"{settings['labelled']} labelled patients, {settings['unlabelled']} unlabelled "
        "for self-supervised pretraining"
        + (
            f", {settings['source']} other patients for the MMSE source task"
            if "MMSE source" in settings.get("starts", STARTS)
            else ""
        )
        + "."
        + (
            " Fused networks: the chosen variant(s) on the self-supervised encoder."
            if settings.get("variants")
            else ""
        ),
        "",
        "| method | AUC (mean ± sd) | − LogReg (clinical) [95% CI] | gap closed "
        "| images shuffled: AUC drop [95% CI] | logit SD: shortcut / deep |",
        "|---|---|---|---|---|---|",
    ]
    for row in table.itertuples():
        lines.append(
            f"| {row.method} | {row.auc:.3f} ± {row.sd:.3f} | {row.minus_logreg:+.3f} "
            f"[{row.ci_low:+.3f}, {row.ci_high:+.3f}] | {row.gap_closed:+.2f} | "
            + ("" if np.isnan(row.images[0]) else "{:+.3f} [{:+.3f}, {:+.3f}]".format(*row.images))
            + " | "
            + ("" if np.isnan(row.deep_sd) else f"{row.shortcut_sd:.2f} / {row.deep_sd:.2f}")
            + " |"
        )
    if settings.get("efficiency", True):
        lines += [
            "",
            "Label efficiency (image-only network; training patients per fold):",
            "",
            "| training patients | start | AUC (mean ± sd) |",
            "|---|---|---|",
        ]
    for row in efficiency.itertuples() if settings.get("efficiency", True) else ():
        lines.append(
            f"| {row.n_train} | {row.method.split(', ', 1)[1]} | {row[3]:.3f} ± {row[4]:.3f} |"
        )
    text = "\n".join(lines) + "\n"
    stem.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
