"""Ahead of what a data scientist builds in sklearn alone? The powered design (issue 38):
independent training draws scored on one large fresh test cohort, at every cohort size.

    python benchmarks/powered.py --part judged --tag judged_n400          # n = 400, 8 draws
    python benchmarks/powered.py --part curves --tag curves \\
        --variants "atrophy (built-in)" "lesion size" "lesion size, clinical none"
    python benchmarks/powered.py --report                                 # results/powered.md
    python benchmarks/powered.py --figure curves                          # the curves' figure
    python benchmarks/powered.py --smoke                                  # checks it runs

All data is **simulated** (``benchmarks/_variants.py``). For each variant and cohort size n,
draw ``d`` trains every method on ``make_variant(variant, n, seed=d)`` (new patients each
draw) and scores it on one test cohort of ``--test`` patients (seed 20_000) from the same
generator: no folds, so no fold-overlap correction and no 40-patient test folds. Intervals
are t intervals over the draws; a difference between two methods is paired by draw.

Methods: every family with its defaults and the benchmarks' CPU profile (``cohorts.PROFILE``:
ResNet18 width 8, 15 epochs, batch 32, lr 1e-3); what a data scientist would build: logistic
regression (ridge, Cox) on the table, logistic regression and gradient boosting on 20 pixel
principal components plus the table, "embed, then sklearn" (gradient boosting on
``ImageEmbedder`` features of an ``ImageClinicalPretrainer`` fitted, without labels, on the
draw's own training images, plus the table); and the oracle (the table plus the
simulation's latent scores, which no real model can read).

The number of draws: on the choosing variants (``results/attention_start*.md``, 5 draws of
400), the paired difference full - best baseline had a standard deviation over draws of
0.045 AUC where the table says nothing (0.006 where it says much). A 95% t interval's
half-width is t(0.975, d-1) * sd / sqrt(d): 0.045 needs d = 8 for <= 0.035 and d = 10 for
<= 0.030 (t = 2.26); so 10 draws where the networks are unstable, 5 elsewhere suffice. The
default is 8; ``--draws`` sets it.

Records are appended to ``results/powered_<tag>.json`` as each (variant, n, draw, method)
finishes, and a run resumes where it stopped: the whole benchmark runs in parts, across
sessions. ``--report`` combines every ``powered_*.json`` into ``results/powered.md``.
"""

import argparse
import json
import pathlib
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from _provenance import commit  # noqa: E402
from _stats import draws_interval  # noqa: E402
from _variants import VARIANTS, make_variant  # noqa: E402
from cohorts import (  # noqa: E402
    FAMILIES,
    METRIC,
    PROFILE,
    Classical,
    Network,
    _encoder,
    baselines,
    score,
)

from skfusion import FusionInput  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
TEST_SEED = 20_000
SIZES = (100, 200, 400, 800, 1600)
#: ClinicalAttentionClassifier(mode="full") with the paper's block and start.
PAPER_BLOCK = "full (RBCA), paper block"
#: GatedFusion with 64 per head (its default before 0.4.0; issue 38): records made before
#: head_dim="auto" became the default were renamed to this.
GMU_64 = "GatedFusion, 64 per head"
#: The former defaults: compared, never judged as a family.
FORMER = (PAPER_BLOCK, GMU_64)


class EmbedThenBoost:
    """Gradient boosting on a self-supervised encoder's features plus the table; the encoder
    is pretrained on the training patients' images and table, without their labels."""

    def __init__(self, task, seed, profile):
        self.task, self.seed, self.profile = task, seed, profile

    def fit(self, X, y):
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from sklearn.frozen import FrozenEstimator

        from skfusion import ImageClinicalPretrainer, ImageEmbedder

        size = {
            k: v for k, v in self.profile.items() if k in ("backbone", "base_width", "spatial_dims")
        }
        pretrainer = ImageClinicalPretrainer(
            **size,
            max_epochs=self.profile["max_epochs"],
            batch_size=64,
            lr=1e-3,
            verbose=0,
            random_state=self.seed,
        ).fit(X)
        self.embedder_ = ImageEmbedder(
            image_weights=FrozenEstimator(pretrainer),
            spatial_dims=self.profile.get("spatial_dims", 2),
        ).fit(X)
        features = self._features(X, fitting=True)
        model = (
            HistGradientBoostingClassifier
            if self.task == "classification"
            else HistGradientBoostingRegressor
        )(random_state=self.seed)
        self.model_ = model.fit(features, y)
        return self

    def _features(self, X, fitting=False):
        frame = self.embedder_.transform(X)
        images = frame.iloc[:, : self.embedder_.n_image_features_].to_numpy()
        if fitting:
            self.encoder_ = _encoder().fit(X.clinical)
        return np.c_[images, self.encoder_.transform(X.clinical)]

    def score(self, X):
        features = self._features(X)
        if self.task == "classification":
            return self.model_.predict_proba(features)[:, 1]
        return self.model_.predict(features)


class Oracle(Classical):
    """The table plus the simulation's latent scores (only a simulation can offer them)."""

    def __init__(self, task, latent_train, latent_test, seed=0):
        kind = {"classification": "logreg", "regression": "ridge", "survival": "cox"}[task]
        super().__init__(kind, task, 0, seed)
        self.latent_train, self.latent_test = latent_train, latent_test

    def _features(self, X, fitting=False):
        table = super()._features(X, fitting)
        latent = self.latent_train if fitting else self.latent_test
        return np.c_[table, latent]


def methods(variant, draw, profile, latents):
    """name -> (group, maker): the networks, the sklearn baselines, the oracle."""
    profile = {
        **profile,
        "random_state": draw,
        "verbose": 0,
        **({"spatial_dims": 3} if variant.dims == 3 else {}),
    }
    # The plain names are the networks with their defaults, which have no linear image
    # path; "+ image PCA" adds it (issue 41).
    found = {
        name: (
            "network",
            lambda f=family, p=params: Network(
                f, {**p, "image_shortcut": None}, variant.kind, profile
            ),
        )
        for name, (family, params) in FAMILIES.items()
    }
    # The linear image path (issue 41). "at its start":
    # the same network left where it starts (one step at lr 1e-12): the logistic (ridge,
    # Cox) model on pixel PCA + table it begins as, fitted on the same training patients.
    for name, (family, params) in FAMILIES.items():
        shortcut = {**params, "image_shortcut": "pca"}
        found[f"{name} + image PCA"] = (
            "network",
            lambda f=family, p=shortcut: Network(f, p, variant.kind, profile),
        )
        found[f"{name} + image PCA, at its start"] = (
            "start",
            lambda f=family, p=shortcut: Network(
                f, p, variant.kind, {**profile, "max_epochs": 1, "lr": 1e-12}
            ),
        )
    # The paper's block (the default before 0.4.0; issue 38, part 5): records made before
    # the "inner" form became the default were renamed to this, and it stays comparable.
    paper = {"attention_form": "paper", "attention_start": "paper", "image_shortcut": None}
    found[PAPER_BLOCK] = (
        "network",
        lambda: Network("ClinicalAttention", paper, variant.kind, profile),
    )
    found[GMU_64] = (
        "network",
        lambda: Network(
            "GatedFusion", {"head_dim": 64, "image_shortcut": None}, variant.kind, profile
        ),
    )
    found.update(
        {name: ("baseline", make) for name, make in baselines(variant.kind, draw, 20).items()}
    )
    if variant.kind != "survival":
        found["Embed + GradBoost"] = (
            "baseline",
            lambda: EmbedThenBoost(variant.kind, draw, profile),
        )
    found["Oracle (table + latent)"] = ("oracle", lambda: Oracle(variant.kind, *latents, seed=draw))
    return found


def cohort(variant, n, seed):
    images, frame, y, latent = make_variant(variant, n, seed, return_latent=True)
    return FusionInput(images[:, 0], frame), y, latent


def records_path(tag):
    return RESULTS / f"powered_{tag}.json"


def load_records(tag):
    path = records_path(tag)
    return json.loads(path.read_text()) if path.exists() else {"records": []}


def run(variants, sizes, draws, n_test, profile, tag, command, say, only=None):
    stored = load_records(tag)
    code = commit()  # the code this process runs, whatever is committed while it runs
    done = {(r["variant"], r["n"], r["draw"], r["method"]) for r in stored["records"]}
    for variant in variants:
        X_test, y_test, latent_test = cohort(variant, n_test, TEST_SEED)
        for n in sizes:
            for draw in range(draws):
                X, y, latent = cohort(variant, n, draw)
                for name, (group, make) in methods(
                    variant, draw, profile, (latent, latent_test)
                ).items():
                    if (only and name not in only) or (variant.name, n, draw, name) in done:
                        continue
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model = make().fit(X, y)
                        value = float(score(variant.kind, y_test, model.score(X_test)))
                    stored["records"].append(
                        {
                            "variant": variant.name,
                            "role": variant.role,
                            "kind": variant.kind,
                            "n": n,
                            "draw": draw,
                            "method": name,
                            "group": group,
                            "value": value,
                            "seconds": time.perf_counter() - start,
                            "commit": code,
                        }
                    )
                    stored["command"], stored["commit"] = command, code
                    if command not in stored.setdefault("commands", []):
                        stored["commands"].append(command)
                    stored["profile"], stored["test"] = profile, n_test
                    records_path(tag).write_text(json.dumps(stored, indent=1))
                    say(
                        f"{variant.name} n={n} draw {draw}: {name} "
                        f"{METRIC[variant.kind]} {value:.3f}"
                    )


def report(say=print):
    """results/powered.md from every powered_*.json: per variant and n, each method's mean
    with its interval, and its paired difference to the best sklearn baseline."""
    records, commands = [], []
    for path in sorted(RESULTS.glob("powered_*.json")):
        stored = json.loads(path.read_text())
        records += stored["records"]
        made = list(dict.fromkeys(r["commit"] for r in stored["records"]))
        made = made if len(made) <= 2 else [made[0], "…", made[-1]]
        commands.append(
            ", ".join(f"`{c}`" for c in stored.get("commands", []) or [stored.get("command", "?")])
            + f" (records on commits {', '.join(made)}; "
            f"{sum(r['seconds'] for r in stored['records']) / 60:.0f} min of "
            "fitting in all)"
        )
    cells, groups = {}, {}
    for r in records:
        groups[r["method"]] = r["group"]
        cells.setdefault((r["variant"], r["role"], r["kind"], r["n"]), {}).setdefault(
            r["method"], {}
        )[r["draw"]] = r["value"]
    lines = [
        "# Ahead of sklearn alone? Independent draws, one fresh test cohort",
        "",
        "Simulated data (`benchmarks/_variants.py`). Made by: " + "; ".join(commands),
        "",
        'Each cell: mean over draws [95% t interval]; "− best baseline": the paired '
        "difference to the best sklearn baseline on the same draws (the oracle is not a "
        "baseline).",
        "",
    ]
    for (variant, role, kind, n), by_method in sorted(cells.items()):
        baseline_names = [m for m in by_method if groups[m] == "baseline"]
        best = max(baseline_names, key=lambda m: np.mean(list(by_method[m].values())), default=None)
        lines += [
            f"## {variant} ({role}, {kind}), n = {n}",
            "",
            f"| method | {METRIC[kind]} | − best baseline ({best}) | draws |",
            "|---|---|---|---|",
        ]
        for method, values in sorted(
            by_method.items(), key=lambda kv: -np.mean(list(kv[1].values()))
        ):
            mean, low, high = draws_interval(list(values.values()))
            diff = "—"
            if best is not None and method != best:
                shared = sorted(set(values) & set(by_method[best]))
                if shared:
                    d = draws_interval([values[k] - by_method[best][k] for k in shared])
                    diff = f"{d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}]"
            lines.append(
                f"| {method} | {mean:.3f} [{low:.3f}, {high:.3f}] | {diff} | {len(values)} |"
            )
        for method in sorted(by_method):
            start = f"{method}, at its start"
            if start in by_method:
                shared = sorted(set(by_method[method]) & set(by_method[start]))
                d = draws_interval([by_method[method][k] - by_method[start][k] for k in shared])
                lines.append(
                    f"\nWhat training added to {method}'s own start (the linear "
                    f"model on pixel PCA + table it begins as): {d[0]:+.3f} "
                    f"[{d[1]:+.3f}, {d[2]:+.3f}] over {len(shared)} draws."
                )
        lines.append("")
    lines[6:6] = (
        goals(cells, groups, "full (RBCA)", "concat", "with their defaults (no linear image path)")
        + [""]
        + goals(
            cells,
            groups,
            PAPER_BLOCK,
            "concat",
            "with their defaults, full with the paper's block and start (the default before 0.4.0)",
        )
        + [""]
        + goals(
            cells,
            groups,
            f"{PAPER_BLOCK} + image PCA",
            "concat + image PCA",
            'with the linear image path (image_shortcut="pca"), full with the paper\'s block',
        )
        + [""]
    )
    text = "\n".join(lines) + "\n"
    (RESULTS / "powered.md").write_text(text)
    say(text)


def figure(tag="curves", path=None):
    """``results/powered_<tag>.png``: the metric against the number of training patients,
    one panel per variant of ``powered_<tag>.json``, every method with its 95% interval over
    draws (networks solid, sklearn baselines dashed, the oracle dotted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stored = load_records(tag)
    cells = {}
    for r in stored["records"]:
        cells.setdefault(r["variant"], {}).setdefault((r["method"], r["group"]), {}).setdefault(
            r["n"], []
        ).append(r["value"])
    # A size is drawn once every draw has run for it; a variant once two sizes are.
    for by_method in cells.values():
        for key, by_n in list(by_method.items()):
            most = max(len(values) for values in by_n.values())
            by_method[key] = {n: v for n, v in by_n.items() if len(v) == most}
    cells = {v: m for v, m in cells.items() if max(len(by_n) for by_n in m.values()) >= 2}
    variants = sorted(cells, key=lambda v: [x.name for x in VARIANTS].index(v))
    fig, axes = plt.subplots(1, len(variants), figsize=(5.2 * len(variants), 4.6), squeeze=False)
    style = {"network": "-", "baseline": "--", "oracle": ":", "start": "-."}
    # One colour per method across panels (20 distinct ones); the package's main estimator
    # drawn thicker.
    names = sorted({m for by_method in cells.values() for m, _ in by_method})
    colours = dict(zip(names, plt.cm.tab20.colors[::2] + plt.cm.tab20.colors[1::2]))
    for ax, variant in zip(axes[0], variants):
        kind = next(r["kind"] for r in stored["records"] if r["variant"] == variant)
        for (method, group), by_n in sorted(cells[variant].items()):
            sizes = sorted(by_n)
            rows = [draws_interval(by_n[n]) for n in sizes]
            means = [r[0] for r in rows]
            (line,) = ax.plot(
                sizes,
                means,
                style.get(group, "-"),
                marker="o",
                markersize=3,
                label=method,
                color=colours[method],
                linewidth=2.6 if method == "full (RBCA)" else 1.4,
            )
            ax.fill_between(
                sizes,
                [r[1] for r in rows],
                [r[2] for r in rows],
                color=line.get_color(),
                alpha=0.12,
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({n for by_n in cells[variant].values() for n in by_n}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("training patients (simulated)")
        ax.set_ylabel(f"{METRIC[kind]} on 2,000 fresh patients")
        ax.set_title(variant)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    columns = min(len(labels), 2 * len(variants))
    rows = -(-len(labels) // columns)
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=8)
    fig.tight_layout(rect=(0, 0.045 * rows + 0.02, 1, 1))
    path = path or RESULTS / f"powered_{tag}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def goals(cells, groups, full="full (RBCA)", concat="concat", label=""):
    """Issue 38's goals at n = 400, one row per judged classification variant: full minus
    the best sklearn baseline (>= -0.02, half-width <= 0.03) and minus concat (>= -0.01);
    where the image carries no signal, every family within 0.01 of LogReg on the table."""
    lines = [
        f"## Goals at n = 400 (judged classification variants), networks {label}",
        "",
        "| variant | draws | full | concat | best baseline | full − best baseline | goal "
        "(≥ −0.02, half-width ≤ 0.03) | full − concat | goal (≥ −0.01) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (variant, role, kind, n), by_method in sorted(cells.items()):
        baseline_names = [m for m in by_method if groups[m] == "baseline"]
        if (
            role != "judged"
            or kind != "classification"
            or n != 400
            or not baseline_names
            or full not in by_method
            or concat not in by_method
        ):
            continue
        best = max(baseline_names, key=lambda m: np.mean(list(by_method[m].values())))

        def diff(a, b):
            shared = sorted(set(by_method[a]) & set(by_method[b]))
            return draws_interval([by_method[a][k] - by_method[b][k] for k in shared])

        to_best, to_concat = diff(full, best), diff(full, concat)
        met_best = to_best[0] >= -0.02 and (to_best[2] - to_best[1]) / 2 <= 0.03
        lines.append(
            f"| {variant} | {len(by_method[full])} | {np.mean(list(by_method[full].values())):.3f}"
            f" | {np.mean(list(by_method[concat].values())):.3f} | {best} "
            f"{np.mean(list(by_method[best].values())):.3f} | {to_best[0]:+.3f} "
            f"[{to_best[1]:+.3f}, {to_best[2]:+.3f}] | {'met' if met_best else 'NOT met'} | "
            f"{to_concat[0]:+.3f} [{to_concat[1]:+.3f}, {to_concat[2]:+.3f}] | "
            f"{'met' if to_concat[0] >= -0.01 else 'NOT met'} |"
        )
        if variant == "no image signal":
            table = "LogReg (clinical)"
            below = {
                m: diff(m, table)[0]
                for m in by_method
                if groups[m] == "network"
                and ("image PCA" in m) == ("image PCA" in full)
                and (m == full or not any(former in m for former in FORMER))
            }
            worst = min(below, key=below.get)
            lines.append(
                f"| ↳ no image signal: every family within 0.01 of {table}? | | | | "
                f"| worst: {worst} {below[worst]:+.3f} | "
                f"{'met' if below[worst] >= -0.01 else 'NOT met'} | | |"
            )
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["judged", "choosing", "curves"], default=None)
    parser.add_argument("--variants", nargs="*", default=None, help="variant names")
    parser.add_argument("--sizes", nargs="*", type=int, default=None)
    parser.add_argument("--draws", type=int, default=8)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--methods", nargs="*", default=None, help="only these methods")
    parser.add_argument("--tag", default=None)
    parser.add_argument("--report", action="store_true")
    parser.add_argument(
        "--figure",
        default=None,
        metavar="TAG",
        help="draw results/powered_TAG.png from powered_TAG.json",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="2 draws of 40 patients, 2 epochs, 100 test patients"
    )
    args = parser.parse_args(argv)
    if args.report:
        report()
        return 0
    if args.figure:
        print(figure(args.figure))
        return 0
    command = "python benchmarks/powered.py " + " ".join(sys.argv[1:] if argv is None else argv)
    profile = dict(PROFILE)
    if args.smoke:
        profile.update(max_epochs=2, base_width=4)
        args.draws, args.test, args.sizes = 2, 100, [40]
        args.tag = args.tag or "smoke"
        args.variants = args.variants or ["atrophy (built-in)", "lesion area (regression)"]
    by_name = {v.name: v for v in VARIANTS}
    if args.variants:
        unknown = [v for v in args.variants if v not in by_name]
        if unknown:
            parser.error(f"--variants: unknown {unknown}; known: {sorted(by_name)}")
        variants = [by_name[v] for v in args.variants]
    elif args.part in ("judged", "choosing"):
        variants = [v for v in VARIANTS if v.role == args.part]
    else:
        parser.error("name --variants, or --part judged/choosing")
    sizes = args.sizes or ([400] if args.part != "curves" else list(SIZES))
    tag = args.tag or args.part or "run"
    started = time.perf_counter()
    run(
        variants,
        sizes,
        args.draws,
        args.test,
        profile,
        tag,
        command,
        lambda s: print(s, flush=True),
        only=args.methods,
    )
    print(f"{(time.perf_counter() - started) / 60:.1f} min")
    if args.smoke:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
