"""Training speed of skfusion against a hand-written PyTorch loop, and what changes it.

The headline: ``ClinicalAttentionClassifier.fit`` versus the fastest hand loop we know (same
network, optimizer, batch size, data and epochs; the loop indexes in-memory tensors directly,
faster than a DataLoader), alternating in paired runs; ``fit_vs_raw_loop_ratio`` is the median
of fit time over raw-loop time. Also measured in the same run: inference throughput, time in
data loading versus compute, lazy NIfTI input (with and without DataLoader workers), the
machine's matmul ceiling and the achieved FLOP/s of training, channels-last, torch.compile,
thread count, mixed precision on CUDA (when a GPU exists), and how fit time scales with the
number of samples and the image size.

    python benchmarks/speed.py --quick
    python benchmarks/speed.py --headline --pairs 20   # the headline alone, remedies off and on

``--headline`` compares fit with the raw loop in two configurations: the remedies off in both,
and on in both (the raw loop then starts the clinical shortcut at the same logistic
regression and draws the "auto" augmentation and modality dropout per batch), over
``--pairs`` interleaved rounds, and writes ``results/speed_headline.{json,md}``. The raw loop
ends, as ``fit`` does, with a pass that recomputes the batch-normalisation statistics.
"""

import argparse
import json
import pathlib
import platform
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from _provenance import commit
from sklearn.exceptions import ConvergenceWarning

from skfusion import ClinicalAttentionClassifier, FusionInput
from skfusion._net.data import FusionDataset, TensorBatchIterator
from skfusion._tasks.classification import _logistic_start
from skfusion.datasets import load_cohort, make_brain_cohort
from skfusion.nn import ClinicalAttentionNet
from skfusion.nn.augment import AUTO_POLICY, apply_policy, drop_modalities

RESULTS = pathlib.Path(__file__).parent / "results"
PARAMS = dict(mode="full", backbone="resnet18", base_width=16, clinical_dim=64)
#: The raw loop trains the plain network: the headline compares fit with the same training.
#: The cost of the training remedies (augmentation, modality dropout, clinical shortcut) is
#: measured separately ("remedies: on").
SAME_TRAINING = dict(
    augment=False, modality_dropout=0.0, clinical_shortcut=False, clinical_preprocessing=None
)


#: The estimators' training remedies, on in both the estimator and the raw loop for the
#: headline's second configuration (clinical values stay as given in both).
REMEDIES = dict(
    augment="auto", modality_dropout=0.2, clinical_shortcut=True, clinical_preprocessing=None
)


def raw_loop(
    images,
    clinical,
    y,
    *,
    epochs,
    batch_size,
    lr,
    seed,
    channels_last=False,
    compile_model=False,
    remedies=False,
    precise_bn=True,
):
    """The hand loop. With ``remedies``: the clinical shortcut started at the same logistic
    regression, the "auto" augmentation policy and modality dropout 0.2 per batch, drawn
    from a local generator (what the estimator does, written out). With ``precise_bn`` (as
    ``fit`` does after training): one more pass over the training samples, without
    gradients, that recomputes the batch-normalisation statistics (torch's own
    ``swa_utils.update_bn`` recipe: cumulative averages over the batches)."""
    torch.manual_seed(seed)
    net = ClinicalAttentionNet(
        n_outputs=2,
        n_clinical=clinical.shape[1],
        in_channels=1,
        clinical_shortcut=remedies,
        **PARAMS,
    )
    generator = torch.Generator().manual_seed(seed)
    if remedies:
        coef, intercept = _logistic_start(clinical, y, 2, None, np.arange(2))
        with torch.no_grad():
            net.shortcut.weight.copy_(torch.as_tensor(coef))
            net.shortcut.bias.copy_(torch.as_tensor(intercept))
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    images, clinical, y = (torch.from_numpy(a) for a in (images[:, None], clinical, y))
    step_model = torch.compile(net) if compile_model else net
    rng = np.random.RandomState(seed)
    net.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(y)))
        for start in range(0, len(y), batch_size):
            index = order[start : start + batch_size]
            batch = images[index]
            inputs = {"images": batch, "clinical": clinical[index]}
            if remedies:
                inputs["images"] = apply_policy(AUTO_POLICY, batch, generator)
                inputs = drop_modalities(inputs, 0.2, generator)
            batch = inputs["images"]
            if channels_last:
                batch = batch.contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad()
            loss = loss_fn(step_model(batch, inputs["clinical"]), y[index])
            loss.backward()
            optimizer.step()
    if precise_bn:
        norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
        with torch.no_grad():
            for start in range(0, len(y), batch_size):
                batch = images[start : start + batch_size]
                if channels_last:
                    batch = batch.contiguous(memory_format=torch.channels_last)
                net(batch, clinical[start : start + batch_size])
        net.eval()
    return net


def timed(fn, repeats=1):
    runs = []
    for _ in range(repeats):
        tick = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - tick)
    return statistics.median(runs)


def data(n, size, seed=0):
    rng = np.random.RandomState(seed)
    images = rng.normal(size=(n, size, size)).astype(np.float32)
    clinical = rng.normal(size=(n, 8)).astype(np.float32)
    return images, clinical, (np.arange(n) % 2).astype(np.int64)


def estimator(epochs, batch_size, lr, **extra):
    return ClinicalAttentionClassifier(
        **{**PARAMS, **SAME_TRAINING, **extra},
        max_epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        device="cpu",
        verbose=0,
        random_state=0,
    )


def bootstrap_median(values, seed=0, draws=10_000):
    """The median of ``values`` and its 95% bootstrap interval (percentile method)."""
    values = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    medians = np.median(values[rng.integers(0, len(values), (draws, len(values)))], axis=1)
    return float(np.median(values)), *np.percentile(medians, [2.5, 97.5]).tolist()


def headline(pairs, say, n=256, size=64, epochs=2, batch_size=32, lr=1e-4):
    """fit / raw-loop time with the remedies off in both and on in both: ``pairs`` rounds,
    each timing the four runs back to back, fit and raw loop in alternating order."""
    images, clinical, y = data(n, size)
    X = FusionInput(images, clinical)
    runs = {}
    for remedies in (False, True):
        extra = REMEDIES if remedies else {}
        runs[remedies] = (
            lambda extra=extra: estimator(epochs, batch_size, lr, **extra).fit(X, y),
            lambda remedies=remedies: raw_loop(
                images,
                clinical,
                y,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                seed=0,
                remedies=remedies,
            ),
        )
        runs[remedies][0](), runs[remedies][1]()  # warm-up
    times = {False: [], True: []}
    for round_ in range(pairs):
        for remedies, (ours, raw) in runs.items():
            order = (
                (("fit", ours), ("raw", raw)) if round_ % 2 == 0 else (("raw", raw), ("fit", ours))
            )
            pair = {name: timed(fn) for name, fn in order}
            times[remedies].append(pair)
            say(
                f"  round {round_ + 1}/{pairs}, remedies {'on ' if remedies else 'off'}: "
                f"fit {pair['fit']:.2f}s raw {pair['raw']:.2f}s ratio "
                f"{pair['fit'] / pair['raw']:.3f}",
                flush=True,
            )
    result = {
        "setting": dict(
            PARAMS, n_samples=n, image_size=size, epochs=epochs, batch_size=batch_size, pairs=pairs
        )
    }
    for remedies, pairs_ in times.items():
        ratios = [p["fit"] / p["raw"] for p in pairs_]
        median, low, high = bootstrap_median(ratios)
        result["remedies on" if remedies else "remedies off"] = {
            "ratio_median": median,
            "ratio_ci_low": low,
            "ratio_ci_high": high,
            "fit_seconds_median": statistics.median(p["fit"] for p in pairs_),
            "raw_seconds_median": statistics.median(p["raw"] for p in pairs_),
            "pairs": pairs_,
        }
    return result


def main_headline(argv):
    parser = argparse.ArgumentParser(description="fit / raw loop, remedies off and on")
    parser.add_argument("--headline", action="store_true")
    parser.add_argument("--pairs", type=int, default=20)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs on purpose
        result = headline(args.pairs, print)
    result["command"] = "python benchmarks/speed.py " + " ".join(argv)
    result["commit"] = commit()
    result["minutes"] = (time.perf_counter() - start) / 60
    result["machine"] = {
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    lines = [
        "# fit against the raw PyTorch loop",
        "",
        f"`{result['command']}` — commit {result['commit']}, "
        f"{result['minutes']:.1f} min, "
        f"{result['machine']['cpu']}, {result['machine']['torch_threads']} threads; "
        f"{args.pairs} interleaved pairs per configuration; median fit / raw-loop time "
        "with its 95% bootstrap interval.",
        "",
        "| configuration | fit s (median) | raw loop s (median) | fit / raw [95% CI] |",
        "|---|---|---|---|",
    ]
    for key in ("remedies off", "remedies on"):
        r = result[key]
        lines.append(
            f"| {key} | {r['fit_seconds_median']:.2f} | {r['raw_seconds_median']:.2f} "
            f"| {r['ratio_median']:.3f} [{r['ratio_ci_low']:.3f}, "
            f"{r['ratio_ci_high']:.3f}] |"
        )
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "speed_headline.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "speed_headline.md").write_text(text)
    print(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes on 2 cores")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = parser.parse_args(argv)
    n, size, epochs, repeats = (256, 64, 2, 5) if args.quick else (1024, 64, 3, 7)
    repeats = args.repeats or repeats
    batch_size, lr = 32, 1e-4
    images, clinical, y = data(n, size)
    X = FusionInput(images, clinical)
    result = {
        "setting": dict(
            PARAMS,
            n_samples=n,
            image_size=size,
            epochs=epochs,
            batch_size=batch_size,
            repeats=repeats,
        )
    }
    say = print

    # 1. Headline: paired fit vs raw loop.
    def ours():
        estimator(epochs, batch_size, lr).fit(X, y)

    def raw():
        raw_loop(images, clinical, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=0)

    ours(), raw()  # warm-up
    pairs = []
    for repeat in range(repeats):
        order = (("fit", ours), ("raw", raw)) if repeat % 2 == 0 else (("raw", raw), ("fit", ours))
        pair = {name: timed(fn) for name, fn in order}
        pairs.append(pair)
        say(
            f"  repeat {repeat + 1}/{repeats}: fit {pair['fit']:.2f}s  raw {pair['raw']:.2f}s"
            f"  ratio {pair['fit'] / pair['raw']:.3f}",
            flush=True,
        )
    ratios = [p["fit"] / p["raw"] for p in pairs]
    fit_s = statistics.median(p["fit"] for p in pairs)
    raw_s = statistics.median(p["raw"] for p in pairs)
    result.update(
        {
            "fit_vs_raw_loop_ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "fit_seconds_median": fit_s,
            "raw_seconds_median": raw_s,
            "fit_images_per_second": n * epochs / fit_s,
            "raw_images_per_second": n * epochs / raw_s,
        }
    )

    # 2. Inference throughput and where training time goes.
    model = estimator(epochs, batch_size, lr).fit(X, y)
    predict_s = timed(lambda: model.predict_proba(X), 3)
    dataset = FusionDataset(
        torch.from_numpy(images[:, None]), torch.from_numpy(clinical), torch.from_numpy(y)
    )
    loading_s = timed(
        lambda: [
            None
            for _ in TensorBatchIterator(
                dataset, batch_size, shuffle=True, random_state=np.random.RandomState(0)
            )
        ],
        3,
    )
    result.update(
        {
            "predict_images_per_second": n / predict_s,
            "data_loading_seconds_per_epoch": loading_s,
            "data_loading_share_of_fit": loading_s * epochs / fit_s,
        }
    )

    # 3. The machine's ceiling and the achieved FLOP/s of training.
    a = torch.randn(1024, 1024)
    matmul_s = timed(lambda: [a @ a for _ in range(10)], 3)
    ceiling = 10 * 2 * 1024**3 / matmul_s
    from torch.utils.flop_counter import FlopCounterMode

    net = model.net_.module_.eval()
    with FlopCounterMode(display=False) as counter:
        net(torch.from_numpy(images[:batch_size, None]), torch.from_numpy(clinical[:batch_size]))
    forward_flops_per_image = counter.get_total_flops() / batch_size
    achieved = 3 * forward_flops_per_image * n * epochs / fit_s  # forward + backward ~ 3x
    result.update(
        {
            "matmul_ceiling_gflops": ceiling / 1e9,
            "forward_mflops_per_image": forward_flops_per_image / 1e6,
            "training_achieved_gflops": achieved / 1e9,
            "fraction_of_matmul_ceiling": achieved / ceiling,
        }
    )

    # 4. Options on and off.
    options = {}
    options["channels_last: off"] = timed(
        lambda: estimator(epochs, batch_size, lr, channels_last=False).fit(X, y)
    )
    options["channels_last: on"] = timed(
        lambda: estimator(epochs, batch_size, lr, channels_last=True).fit(X, y)
    )
    options["threads: 1"] = timed(lambda: estimator(epochs, batch_size, lr, n_threads=1).fit(X, y))
    options["remedies: off (as the raw loop)"] = fit_s
    options["remedies: on (the estimators' defaults)"] = timed(
        lambda: estimator(
            epochs, batch_size, lr, augment=True, modality_dropout=0.2, clinical_shortcut=True
        ).fit(X, y)
    )
    options[f"threads: {torch.get_num_threads()}"] = fit_s
    if not args.no_compile:
        tick = time.perf_counter()
        raw_loop(
            images, clinical, y, epochs=1, batch_size=batch_size, lr=lr, seed=0, compile_model=True
        )
        result["torch_compile_first_epoch_seconds"] = time.perf_counter() - tick
        options["raw loop, torch.compile (after compiling)"] = timed(
            lambda: raw_loop(
                images,
                clinical,
                y,
                epochs=epochs,
                batch_size=batch_size,
                lr=lr,
                seed=0,
                compile_model=True,
            )
        )
        options["raw loop, eager"] = raw_s
    if torch.cuda.is_available():
        options["cuda, mixed precision"] = timed(
            lambda: estimator(epochs, batch_size, lr, device="cuda", mixed_precision=True).fit(X, y)
        )
        options["cuda, float32"] = timed(
            lambda: estimator(epochs, batch_size, lr, device="cuda", mixed_precision=False).fit(
                X, y
            )
        )
        result["gpu"] = torch.cuda.get_device_name()
    else:
        result["gpu"] = None
        say("  no GPU on this machine: mixed precision and pinned memory not measured")
    result["options_fit_seconds"] = options

    # 5. Lazy NIfTI input against in-memory arrays of the same cohort.
    with tempfile.TemporaryDirectory() as folder:
        make_brain_cohort(
            64, n_slices=4, image_size=size, output_dir=folder, random_state=0, unit="slice"
        )
        eager, cohort_y, _ = load_cohort(folder)
        lazy, _, _ = load_cohort(folder, lazy=True)
        numeric = lambda Z: FusionInput(Z.images, Z.clinical.drop(columns="sex"))  # noqa: E731
        lazy_times = {
            "in memory": timed(
                lambda: estimator(epochs, batch_size, lr).fit(numeric(eager), cohort_y)
            ),
            "lazy NIfTI, 0 workers": timed(
                lambda: estimator(epochs, batch_size, lr).fit(numeric(lazy), cohort_y)
            ),
            "lazy NIfTI, 2 workers": timed(
                lambda: estimator(epochs, batch_size, lr, iterator_train__num_workers=2).fit(
                    numeric(lazy), cohort_y
                )
            ),
        }
    result["lazy_fit_seconds"] = lazy_times

    # 6. Scaling with samples and image size.
    scaling = {"samples": {}, "image_size": {}}
    for count in (128, 256, 512):
        i, c, t = data(count, 64)
        scaling["samples"][count] = timed(
            lambda i=i, c=c, t=t: estimator(1, batch_size, lr).fit(FusionInput(i, c), t)
        )
    for side in (32, 64, 96):
        i, c, t = data(256, side)
        scaling["image_size"][side] = timed(
            lambda i=i, c=c, t=t: estimator(1, batch_size, lr).fit(FusionInput(i, c), t)
        )
    result["scaling_fit_seconds_one_epoch"] = scaling
    _plot_scaling(
        scaling, RESULTS / ("speed_scaling_quick.png" if args.quick else "speed_scaling.png")
    )

    result["command"] = "python benchmarks/speed.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    result["machine"] = {
        "cpu": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": sys.version.split()[0],
    }
    RESULTS.mkdir(exist_ok=True)
    name = "speed_quick.json" if args.quick else "speed.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2, default=str))

    say("\n| measure | value |")
    say("|---|---|")
    say(
        f"| fit vs raw loop (median of {repeats} paired runs) | "
        f"{result['fit_vs_raw_loop_ratio']:.3f} (range {min(ratios):.3f}-{max(ratios):.3f}) |"
    )
    say(
        f"| training images/s: fit / raw loop | {result['fit_images_per_second']:.0f} / "
        f"{result['raw_images_per_second']:.0f} |"
    )
    say(f"| inference images/s | {result['predict_images_per_second']:.0f} |")
    say(f"| data loading share of fit time | {100 * result['data_loading_share_of_fit']:.1f}% |")
    say(
        f"| matmul ceiling / achieved training GFLOP/s | {result['matmul_ceiling_gflops']:.1f} / "
        f"{result['training_achieved_gflops']:.1f} "
        f"({100 * result['fraction_of_matmul_ceiling']:.0f}%) |"
    )
    for key, value in options.items():
        say(f"| fit seconds, {key} | {value:.2f} |")
    if "torch_compile_first_epoch_seconds" in result:
        say(
            f"| torch.compile: first epoch incl. compiling | "
            f"{result['torch_compile_first_epoch_seconds']:.1f} s |"
        )
    for key, value in lazy_times.items():
        say(f"| fit seconds, 64 subjects x 4 slices, {key} | {value:.2f} |")
    for key, value in scaling["samples"].items():
        say(f"| one epoch, {key} samples of 64x64 | {value:.2f} s |")
    for key, value in scaling["image_size"].items():
        say(f"| one epoch, 256 samples of {key}x{key} | {value:.2f} s |")
    say(
        f"\nfit_vs_raw_loop_ratio {result['fit_vs_raw_loop_ratio']:.3f}; written to "
        f"{RESULTS / name}"
    )


def _plot_scaling(scaling, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    for ax, key, label in (
        (left, "samples", "samples (64x64)"),
        (right, "image_size", "image side (256 samples)"),
    ):
        xs = list(scaling[key])
        ax.plot(xs, [scaling[key][x] for x in xs], "o-")
        ax.set_xlabel(label)
        ax.set_ylabel("fit seconds, one epoch")
        ax.set_ylim(bottom=0)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


if __name__ == "__main__":
    if "--headline" in sys.argv[1:]:
        main_headline(sys.argv[1:])
    else:
        main()
