"""Why a fold of mode "full" takes longer than one of "concat": the same training step
(forward, backward, Adam) of each network on the same batches, timed interleaved, and the
torch operators that account for the difference.

    python benchmarks/mode_cost.py --repeats 5

The demo's networks (ResNet18 of width 8, ``clinical_dim="auto"``, batch 32 of 64x64
slices of the simulated built-in cohort; the demo's estimator settings otherwise). Each
repeat times 20 training steps of each mode, alternating which goes first; the result is
the ratio of the two times per repeat, with its median and range. Then one profiled step
of each (``torch.profiler``, CPU time per operator, summed over 10 steps) names where the
extra time goes. Writes ``results/mode_cost.{json,md}``.
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
import torch

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from _provenance import commit  # noqa: E402

from skfusion import ClinicalAttentionClassifier  # noqa: E402
from skfusion.datasets import make_brain_cohort  # noqa: E402

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
PROFILE = dict(
    backbone="resnet18",
    base_width=8,
    clinical_dim="auto",
    max_epochs=1,
    batch_size=32,
    lr=1e-3,
    optimizer__weight_decay=1e-2,
    verbose=0,
    slices="channels",
)


def fitted(mode, X, y):
    """A network of ``mode`` after one epoch (built as the estimator builds it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ClinicalAttentionClassifier(mode=mode, random_state=0, **PROFILE).fit(X, y)
    return model.net_


def step(net, images, clinical, target):
    net.module_.train()
    net.optimizer_.zero_grad()
    loss = torch.nn.functional.cross_entropy(net.module_(images, clinical), target)
    loss.backward()
    net.optimizer_.step()


def timed(net, batches, n_steps=20):
    start = time.perf_counter()
    for i in range(n_steps):
        step(net, *batches[i % len(batches)])
    return time.perf_counter() - start


def operators(net, batches, n_steps=10):
    """CPU milliseconds per operator name, summed over ``n_steps`` profiled steps."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for i in range(n_steps):
            step(net, *batches[i % len(batches)])
    return {event.key: event.self_cpu_time_total / 1000 for event in prof.key_averages()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    command = f"python benchmarks/mode_cost.py --repeats {args.repeats}"
    cohort = make_brain_cohort(160, n_slices=3, image_size=64, random_state=0, unit="slice")
    X, y = cohort.X, cohort.y
    nets = {mode: fitted(mode, X, y) for mode in ("concat", "full")}
    generator = torch.Generator().manual_seed(0)
    encoder = nets["full"].module_.clinical_encoder
    n_clinical = next(m for m in encoder.modules() if isinstance(m, torch.nn.Linear)).in_features
    clinical = torch.randn(len(y), n_clinical, generator=generator)  # standardised values
    images = torch.as_tensor(np.asarray(X.images, dtype=np.float32)).unsqueeze(1)
    target = torch.as_tensor((np.asarray(y) == "AD").astype(np.int64))
    batches = [
        (images[i : i + 32], clinical[i : i + 32], target[i : i + 32])
        for i in range(0, len(y) - 31, 32)
    ]
    for net in nets.values():
        timed(net, batches, 3)  # warm-up
    runs = []
    for repeat in range(args.repeats):
        order = ("concat", "full") if repeat % 2 == 0 else ("full", "concat")
        seconds = {mode: timed(nets[mode], batches) for mode in order}
        runs.append(seconds)
        print(
            f"  repeat {repeat + 1}: concat {seconds['concat']:.2f} s, full "
            f"{seconds['full']:.2f} s, ratio {seconds['full'] / seconds['concat']:.3f}",
            flush=True,
        )
    ratios = [r["full"] / r["concat"] for r in runs]
    ops = {mode: operators(net, batches) for mode, net in nets.items()}
    extra = {
        name: ops["full"].get(name, 0) - ops["concat"].get(name, 0)
        for name in set(ops["full"]) | set(ops["concat"])
    }
    top = sorted(extra.items(), key=lambda item: -item[1])[:10]
    counts = {mode: sum(p.numel() for p in net.module_.parameters()) for mode, net in nets.items()}
    modules = {mode: sum(1 for _ in net.module_.modules()) for mode, net in nets.items()}
    write(command, runs, ratios, ops, top, counts, modules)


def write(command, runs, ratios, ops, top, counts, modules):
    total = {mode: sum(values.values()) for mode, values in ops.items()}
    lines = [
        "# Why a fold of full takes longer than one of concat",
        "",
        f"`{command}` — commit {commit()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; the demo's networks "
        "(ResNet18 of width 8, batch 32 of 64x64 simulated slices); 20 training steps "
        "(forward, backward, Adam) per mode and repeat, the modes interleaved.",
        "",
        f"full / concat step time: median {statistics.median(ratios):.3f}, range "
        f"{min(ratios):.3f}-{max(ratios):.3f} over {len(ratios)} repeats.",
        "",
        f"Parameters: concat {counts['concat']:,}, full {counts['full']:,}; modules: concat "
        f"{modules['concat']}, full {modules['full']}.",
        "",
        f"Profiled (10 steps each): operator CPU time concat {total['concat']:.0f} ms, full "
        f"{total['full']:.0f} ms. The operators with the most extra time in full:",
        "",
        "| operator | concat (ms) | full (ms) | extra (ms) |",
        "|---|---|---|---|",
    ]
    for name, difference in top:
        lines.append(
            f"| `{name}` | {ops['concat'].get(name, 0):.1f} | "
            f"{ops['full'].get(name, 0):.1f} | {difference:+.1f} |"
        )
    text = "\n".join(lines) + "\n"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mode_cost.md").write_text(text)
    (RESULTS / "mode_cost.json").write_text(
        json.dumps(
            {
                "command": command,
                "commit": commit(),
                "runs": runs,
                "ratios": ratios,
                "top": top,
                "parameters": counts,
                "modules": modules,
            },
            indent=1,
        )
    )
    print(text)


if __name__ == "__main__":
    main()
