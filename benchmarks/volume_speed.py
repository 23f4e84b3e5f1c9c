"""Training throughput of our 3-D ResNet18 (``spatial_dims=3``) against MONAI's ResNet18 of
the same depth, width, stem and input, on the same data and the same plain training loop;
measured side by side, interleaved, repeated.

    pip install monai          # the benchmark's own dependency, not skfusion's
    python benchmarks/volume_speed.py --repeats 5    # about 2 minutes on 2 CPU cores
"""

import argparse
import json
import pathlib
import platform
import sys
import time

import numpy as np
import torch

from skfusion.nn.resnet import ResNet

RESULTS = pathlib.Path(__file__).parent / "results"


class Ours(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = ResNet("resnet18", in_channels=1, base_width=64, spatial_dims=3)
        self.head = torch.nn.Linear(self.encoder.out_features, 2)

    def forward(self, x):
        return self.head(self.encoder(x))


def monai_resnet18():
    from monai.networks.nets import resnet18

    # MONAI's defaults use a stride-1 first convolution; stride 2 (+ max pool) is the
    # standard ResNet stem that ours has.
    return resnet18(spatial_dims=3, n_input_channels=1, num_classes=2, conv1_t_stride=2)


def images_per_second(model, data, labels, steps):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    started = time.perf_counter()
    for step in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(data[step]), labels[step])
        loss.backward()
        optimizer.step()
    return steps * data.shape[1] / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import monai

    steps, batch = (3, 2) if args.quick else (10, 4)
    torch.manual_seed(0)
    data = torch.randn(steps, batch, 1, args.size, args.size, args.size)
    labels = torch.randint(0, 2, (steps, batch))
    models = {"skfusion ResNet18 (3-D)": Ours(), "MONAI ResNet18 (3-D)": monai_resnet18()}
    counts = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    for model in models.values():  # warm-up
        images_per_second(model, data[:1], labels[:1], 1)
    rates = {name: [] for name in models}
    for _ in range(args.repeats):
        for name, model in models.items():  # interleaved
            rates[name].append(images_per_second(model, data, labels, steps))
    ours, theirs = (np.array(rates[n]) for n in models)
    ratios = ours / theirs
    lines = ["| network | parameters | images/s (median [min, max]) |", "|---|---|---|"]
    for name in models:
        values = np.array(rates[name])
        lines.append(
            f"| {name} | {counts[name]:,} | {np.median(values):.2f} "
            f"[{values.min():.2f}, {values.max():.2f}] |"
        )
    lines.append(
        f"\nours / MONAI: median {np.median(ratios):.3f} (per repeat "
        f"{', '.join(f'{r:.3f}' for r in ratios)}); {args.size}^3 volumes, batch "
        f"{batch}, {steps} steps x {args.repeats} interleaved repeats, Adam, "
        f"{torch.get_num_threads()} threads, MONAI {monai.__version__}"
    )
    text = "\n".join(lines)
    print(text)
    command = "python benchmarks/volume_speed.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    RESULTS.mkdir(exist_ok=True)
    stem = f"volume_speed_{'quick' if args.quick else 'standard'}"
    (RESULTS / f"{stem}.json").write_text(
        json.dumps(
            {
                "command": command,
                "rates": rates,
                "ratios": ratios.tolist(),
                "parameters": counts,
                "size": args.size,
                "batch": batch,
                "steps": steps,
                "machine": {
                    "cpu": platform.processor() or platform.machine(),
                    "threads": torch.get_num_threads(),
                    "torch": torch.__version__,
                    "monai": monai.__version__,
                },
            },
            indent=2,
        )
    )
    (RESULTS / f"{stem}.md").write_text(f"Command: `{command}`\n\n{text}\n")


if __name__ == "__main__":
    main()
