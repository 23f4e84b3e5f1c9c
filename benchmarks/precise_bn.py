"""What precise batch normalisation costs and what it buys, on the built-in cohort.

    python benchmarks/precise_bn.py --seeds 3

The check of c147b48, re-run on the current code: ``make_brain_cohort(600, random_state=0)``
(simulated), 480 patients trained and 120 held out (stratified, seed 0), one
``ClinicalAttentionClassifier(mode="concat")`` per seed with the benchmarks' CPU profile
(ResNet18 width 8, 15 epochs, batch size 32, lr 1e-3; everything else at its defaults).

Each fit is timed whole, and its precise batch-normalisation pass apart (the pass's share of
the fit is the goal of issue 37: <= 3%). The same fit is also scored with the running
statistics training left (captured just before the pass): the calibration precise BN buys is
the difference between those two rows (mean predicted P(AD) against the held-out prevalence,
accuracy, AUC, Brier score). ``--missing 0.33`` drops a third of the training patients'
images (``present=``), the case the pass once read placeholders in. Writes
``results/precise_bn{_tag}.{json,md}``.
"""

import argparse
import json
import os
import pathlib
import platform
import statistics
import sys
import time
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from _provenance import commit  # noqa: E402

from skfusion import ClinicalAttentionClassifier, FusionInput  # noqa: E402
from skfusion._net.net import FusionNet  # noqa: E402
from skfusion.datasets import make_brain_cohort  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
PROFILE = dict(backbone="resnet18", base_width=8, max_epochs=15, batch_size=32, lr=1e-3)


class Timed:
    """Wraps ``FusionNet.recompute_batchnorm`` for one fit: its seconds and the running
    statistics just before it."""

    def __enter__(self):
        self.seconds, self.before = 0.0, None
        original = self.original = FusionNet.recompute_batchnorm

        def timed(net, dataset, **kwargs):
            self.before = {k: v.clone() for k, v in net.module_.state_dict().items()}
            start = time.perf_counter()
            out = original(net, dataset, **kwargs)
            self.seconds += time.perf_counter() - start
            return out

        FusionNet.recompute_batchnorm = timed
        return self

    def __exit__(self, *exc):
        FusionNet.recompute_batchnorm = self.original


def scores(model, X, y):
    proba = model.predict_proba(X)[:, list(model.classes_).index("AD")]
    positive = np.asarray(y) == "AD"
    return {
        "mean_p_ad": float(proba.mean()),
        "prevalence": float(positive.mean()),
        "accuracy": float(accuracy_score(positive, proba > 0.5)),
        "auc": float(roc_auc_score(positive, proba)),
        "brier": float(brier_score_loss(positive, proba)),
    }


def run_seed(seed, missing):
    cohort = make_brain_cohort(600, random_state=0)
    X, y = cohort.X, cohort.y
    train, test = train_test_split(np.arange(len(y)), test_size=120, stratify=y, random_state=0)
    X_train, X_test = X[train], X[test]
    if missing:
        present = np.random.default_rng(seed).random(len(train)) >= missing
        X_train = FusionInput(
            X_train.images,
            X_train.clinical,
            subjects=X_train.subjects,
            layout=X_train.layout,
            present={"images": present},
        )
    model = ClinicalAttentionClassifier(mode="concat", random_state=seed, verbose=0, **PROFILE)
    with Timed() as timer, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X_train, y[train])
        fit_seconds = time.perf_counter() - start
    precise = scores(model, X_test, y[test])
    after = {k: v.clone() for k, v in model.net_.module_.state_dict().items()}
    model.net_.module_.load_state_dict(timer.before)
    lagging = scores(model, X_test, y[test])
    model.net_.module_.load_state_dict(after)
    return {
        "seed": seed,
        "fit_s": fit_seconds,
        "pass_s": timer.seconds,
        "pass_share": timer.seconds / (fit_seconds - timer.seconds),
        "precise": precise,
        "training_running_averages": lagging,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--missing", type=float, default=0.0)
    parser.add_argument("--tag", default="")
    args = parser.parse_args(argv)
    command = "python benchmarks/precise_bn.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    runs = []
    for seed in range(args.seeds):
        runs.append(run_seed(seed, args.missing))
        r = runs[-1]
        print(
            f"seed {seed}: fit {r['fit_s']:.1f} s, pass {r['pass_s']:.2f} s "
            f"({100 * r['pass_share']:.1f}%); precise {r['precise']}; "
            f"running averages {r['training_running_averages']}",
            flush=True,
        )
    minutes = (time.perf_counter() - started) / 60
    shares = [r["pass_share"] for r in runs]
    fit_seconds = [r["fit_s"] for r in runs]
    lines = [
        "# Precise batch normalisation: its cost and the calibration it buys",
        "",
        f"`{command}` — commit {commit()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{minutes:.1f} min. Simulated: `make_brain_cohort(600, random_state=0)`, 480 "
        f"patients trained, 120 held out; concat with the CPU profile {PROFILE}"
        + (f"; {args.missing:.0%} of the training images missing" if args.missing else "")
        + ".",
        "",
        f"Pass / rest of the fit: {', '.join(f'{100 * s:.1f}%' for s in shares)} "
        f"(median {100 * statistics.median(shares):.1f}%); fits took "
        f"{', '.join(f'{seconds:.0f}' for seconds in fit_seconds)} s.",
        "",
        "| statistics | mean P(AD) | prevalence | accuracy | AUC | Brier |",
        "|---|---|---|---|---|---|",
    ]
    for key, label in (
        ("precise", "precise (recomputed after training)"),
        ("training_running_averages", "running averages of training"),
    ):
        rows = [r[key] for r in runs]

        def mean(name, rows=rows):
            values = [row[name] for row in rows]
            return f"{np.mean(values):.3f}" + (
                f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else ""
            )

        lines.append(
            f"| {label} | {mean('mean_p_ad')} | {mean('prevalence')} | "
            f"{mean('accuracy')} | {mean('auc')} | {mean('brier')} |"
        )
    lines += [
        "",
        f"Means ± standard deviation over {len(runs)} seeds (training draws of the "
        "same patients; the held-out 120 are the same in each).",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    name = "precise_bn" + (f"_{args.tag}" if args.tag else "")
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {
                "command": command,
                "commit": commit(),
                "profile": PROFILE,
                "runs": runs,
                "minutes": minutes,
            },
            indent=1,
        )
    )
    print(text)


if __name__ == "__main__":
    main()
