"""How a family's clinical guidance should start, chosen on a choosing variant: the clinical
attention of ``ClinicalAttentionClassifier(mode="full")`` (the paper's initialisation, a
neutral start, the inner form) and GatedFusion's gated multimodal unit (its arms ``GMU, ...``),
beside concat and the sklearn baselines.

    python benchmarks/attention_start.py --draws 4 --n 400            # the choosing variant
    python benchmarks/attention_start.py --variant "lesion size, clinical none" --tag judged
    python benchmarks/attention_start.py --variant "atrophy (built-in), image none" \
        --arms "GMU, default" "GMU, head_dim 16" concat --tag gmu

All data is **simulated** (``benchmarks/_variants.py``). Independent draws: each draw trains
on ``--n`` new patients of the variant (``make_variant(variant, n, seed=draw)``) and every
model is scored on one fresh test cohort of ``--test`` patients (seed 10_000) from the same
generator; differences are paired by draw, with a t interval over the draws. Networks use
the benchmarks' CPU profile (``cohorts.PROFILE``: ResNet18 width 8, 15 epochs, batch 32, lr
1e-3), everything else at its defaults. The default is chosen on the choosing variant only
(issue 38); other variants judge it. Writes ``results/attention_start{_tag}.{json,md}``.
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from _provenance import commit  # noqa: E402
from _stats import draws_interval  # noqa: E402
from _variants import VARIANTS, make_variant  # noqa: E402
from cohorts import PROFILE, Classical  # noqa: E402

from skfusion import (  # noqa: E402
    ClinicalAttentionClassifier,
    FusionInput,
    GatedFusionClassifier,
)

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
CA, GF = ClinicalAttentionClassifier, GatedFusionClassifier
#: name -> (estimator class, parameters beside the CPU profile)
ARMS = {
    "full, paper start": (CA, dict(mode="full", attention_form="paper", attention_start="paper")),
    "full, neutral start": (
        CA,
        dict(mode="full", attention_form="paper", attention_start="neutral"),
    ),
    "full, inner form": (CA, dict(mode="full", attention_form="inner", attention_start="neutral")),
    "concat": (CA, dict(mode="concat")),
    "GMU, default": (GF, {}),
    "GMU, head_dim 2": (GF, dict(head_dim=2)),
    "GMU, head_dim 4": (GF, dict(head_dim=4)),
    "GMU, head_dim 8": (GF, dict(head_dim=8)),
    "GMU, head_dim 16": (GF, dict(head_dim=16)),
    "GMU, head_dim 32": (GF, dict(head_dim=32)),
    "GMU, classic gate": (GF, dict(gate="classic")),
    "GMU, no spatial attention": (GF, dict(attention_stages=())),
}


def cohort(variant, n, seed):
    images, frame, y = make_variant(variant, n, seed)
    return FusionInput(images[:, 0], frame), y


def run(variant, draws, n, n_test, say, arms=tuple(ARMS)):
    X_test, y_test = cohort(variant, n_test, 10_000)
    from sklearn.metrics import roc_auc_score

    rows = []
    for draw in range(draws):
        X, y = cohort(variant, n, draw)
        row = {"draw": draw}
        for name in arms:
            family, params = ARMS[name]
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = family(**params, **PROFILE, random_state=draw, verbose=0).fit(X, y)
            row[name] = float(roc_auc_score(y_test, model.predict_proba(X_test)[:, 1]))
            row[f"{name} s"] = time.perf_counter() - start
        for name, kind, components in (
            ("LogReg (clinical)", "logreg", 0),
            ("LogReg (PCA + clinical)", "logreg", 20),
            ("GradBoost (PCA + clinical)", "gbm", 20),
        ):
            model = Classical(kind, "classification", components, seed=draw).fit(X, y)
            row[name] = float(roc_auc_score(y_test, model.score(X_test)))
        rows.append(row)
        say(
            f"draw {draw}: "
            + ", ".join(
                f"{k} {v:.3f}" for k, v in row.items() if k != "draw" and not k.endswith(" s")
            )
        )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="atrophy (built-in)")
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--tag", default="")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    args = parser.parse_args(argv)
    if "concat" not in args.arms:
        args.arms.append("concat")  # every arm is compared with concat
    variant = next(v for v in VARIANTS if v.name == args.variant)
    command = "python benchmarks/attention_start.py " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    started = time.perf_counter()
    rows = run(variant, args.draws, args.n, args.test, lambda s: print(s, flush=True), args.arms)
    minutes = (time.perf_counter() - started) / 60
    methods = [k for k in rows[0] if k != "draw" and not k.endswith(" s")]
    lines = [
        "# How the clinical guidance starts",
        "",
        f"`{command}` — commit {commit()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"{minutes:.1f} min. Simulated variant {variant.name!r} ({variant.role}); "
        f"{args.draws} independent training draws of {args.n} patients, one fresh test "
        f"cohort of {args.test}; CPU profile {PROFILE}. AUC: mean over draws [95% t "
        "interval over draws].",
        "",
        "| method | AUC | − concat | − best baseline |",
        "|---|---|---|---|",
    ]
    baselines = [m for m in methods if m not in args.arms]
    best = max(baselines, key=lambda m: np.mean([r[m] for r in rows]))
    for method in methods:
        values = [r[method] for r in rows]
        cells = [
            f"{draws_interval(values)[0]:.3f} [{draws_interval(values)[1]:.3f}, "
            f"{draws_interval(values)[2]:.3f}]"
        ]
        for reference in ("concat", best):
            if method == reference:
                cells.append("—")
                continue
            diff = draws_interval([r[method] - r[reference] for r in rows])
            cells.append(f"{diff[0]:+.3f} [{diff[1]:+.3f}, {diff[2]:+.3f}]")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Best sklearn baseline on these draws: {best}. Fit times (s, mean): "
        + ", ".join(f"{name} {np.mean([r[name + ' s'] for r in rows]):.0f}" for name in args.arms)
        + ".",
    ]
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    name = "attention_start" + (f"_{args.tag}" if args.tag else "")
    (RESULTS / f"{name}.md").write_text(text)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            {
                "command": command,
                "commit": commit(),
                "variant": variant.name,
                "role": variant.role,
                "profile": PROFILE,
                "n": args.n,
                "test": args.test,
                "rows": rows,
                "minutes": minutes,
            },
            indent=1,
        )
    )
    print(text)


if __name__ == "__main__":
    main()
