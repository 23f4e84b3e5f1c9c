"""The GPU check: every CUDA path of skfusion and one epoch of the paper's configuration, in
one run of a few minutes on one GPU (the budget is 8 minutes).

    python benchmarks/gpu_check.py              # on a machine with a CUDA GPU
    python benchmarks/gpu_check.py --rehearse   # the same checks on the CPU, tiny sizes

What it checks, each with a pass/fail verdict and its time:

* ``device="auto"`` picks the GPU and trains there (classifier, regressor, survival model, a
  3-D volume model); the fitted network's parameters live on the GPU;
* mixed precision in bf16 (when the GPU supports it) and fp16: training stays finite and the
  predictions stay close to float32's (AUC within 0.05 on the training data);
* channels-last on and off give the same predictions up to kernel order;
* a model file saved from the GPU loads on the CPU (``skfusion.load(path, device="cpu")``)
  and predicts what the GPU model predicts;
* ``export`` from a GPU model (TorchScript; ONNX when ``skfusion[export]`` is installed)
  computes what the estimator predicts;
* one epoch of the paper's configuration: ResNet-50 with clinical attention in all three
  stages (``mode="full"``), 256 x 256 slices, batch 16, Adam at 1e-4, in float32 and in the
  default mixed precision: seconds per step, images per second and peak GPU memory (from the
  second epoch, so cuDNN's autotuning is not counted);
* the "auto" augmentation of a batch costs under 10% of a training step at 64 x 64;
* ``fit_distributed`` with NCCL across all GPUs when there are two or more.

It prints one table and writes it, with the command that made it, to
``benchmarks/results/gpu_check.{json,md}`` (``gpu_check_rehearsal.*`` with ``--rehearse``).
On a machine without a CUDA GPU (and without ``--rehearse``) it says so and exits 0, writing
nothing. It exits 1 when a check fails.
"""

import argparse
import json
import pathlib
import platform
import sys
import tempfile
import time
import traceback
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score

import skfusion
from skfusion import (
    ClinicalAttentionClassifier,
    ClinicalAttentionRegressor,
    GatedFusionSurvival,
    survival_target,
)
from skfusion.datasets import make_brain_cohort

RESULTS = pathlib.Path(__file__).parent / "results"
#: The small networks of the path checks (the paper configuration is separate).
SMALL = dict(backbone="resnet18", base_width=8, batch_size=16, lr=1e-3, verbose=0, random_state=0)


def _data(task, n, image_size, n_slices=1, **kwargs):
    return make_brain_cohort(
        n, task=task, n_slices=n_slices, image_size=image_size, random_state=0, **kwargs
    )


def _fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def _on(model, device_type):
    """Whether every parameter of the fitted network lives on ``device_type``."""
    return {p.device.type for p in model.net_.module_.parameters()} == {device_type}


def _auc(model, X, y):
    return roc_auc_score(y == model.classes_[1], model.predict_proba(X)[:, 1])


class Checks:
    """The checks, each returning ``(passed, detail)``; ``device`` is "auto" on a GPU."""

    def __init__(self, device, rehearse):
        self.device = device
        self.rehearse = rehearse
        self.device_type = "cpu" if rehearse else "cuda"
        size = 16 if rehearse else 64
        self.cohort = _data("ad_vs_nc", 48 if rehearse else 160, size)
        self.epochs = 2 if rehearse else 5
        self.X, self.y = self.cohort.X, self.cohort.y
        self._reference = None
        self.figures = {}  # the paper configuration's measurements, by precision

    def model(self, **params):
        return ClinicalAttentionClassifier(
            mode="full", **{**SMALL, "max_epochs": self.epochs, "device": self.device, **params}
        )

    def reference(self):
        """The float32 model the other checks compare with (fitted once)."""
        if self._reference is None:
            self._reference = _fit(self.model(mixed_precision=False), self.X, self.y)
        return self._reference

    def device_auto(self):
        model = self.reference()
        proba = model.predict_proba(self.X)
        passed = _on(model, self.device_type) and np.isfinite(proba).all()
        return passed, (
            f"device_={model.device_!r}, parameters on {self.device_type}, "
            f"training AUC {_auc(model, self.X, self.y):.3f}"
        )

    def tasks(self):
        details, passed = [], True
        mmse = _data("mmse", 48 if self.rehearse else 96, self.cohort.X.images.shape[-1])
        regressor = _fit(
            ClinicalAttentionRegressor(
                mode="full", **{**SMALL, "max_epochs": self.epochs, "device": self.device}
            ),
            mmse.X,
            mmse.y,
        )
        prediction = regressor.predict(mmse.X)
        passed &= _on(regressor, self.device_type) and np.isfinite(prediction).all()
        details.append(f"regressor R2 {regressor.score(mmse.X, mmse.y):.2f}")
        times = _data(
            "conversion_time", 48 if self.rehearse else 96, self.cohort.X.images.shape[-1]
        )
        target = survival_target(times.y["event"], times.y["time"])
        survival = _fit(
            GatedFusionSurvival(**{**SMALL, "max_epochs": self.epochs, "device": self.device}),
            times.X,
            target,
        )
        passed &= _on(survival, self.device_type) and np.isfinite(survival.predict(times.X)).all()
        details.append(f"survival C-index {survival.score(times.X, target):.2f}")
        volumes = make_brain_cohort(
            32,
            n_slices=8 if self.rehearse else 16,
            image_size=16 if self.rehearse else 32,
            random_state=0,
        )
        volume = _fit(self.model(spatial_dims=3), volumes.X, volumes.y)
        passed &= (
            _on(volume, self.device_type) and np.isfinite(volume.predict_proba(volumes.X)).all()
        )
        details.append(f"3-D volumes {volume.image_shape_}")
        return bool(passed), ", ".join(details)

    def _precision(self, setting):
        model = _fit(self.model(mixed_precision=setting), self.X, self.y)
        losses = np.asarray(model.net_.history[:, "train_loss"], dtype=float)
        reference = _auc(self.reference(), self.X, self.y)
        auc = _auc(model, self.X, self.y)
        passed = np.isfinite(losses).all() and abs(auc - reference) <= 0.05
        return passed, (
            f"loss {losses[0]:.3f} -> {losses[-1]:.3f}, training AUC {auc:.3f} "
            f"(float32 {reference:.3f})"
        )

    def bf16(self):
        if not self.rehearse and not torch.cuda.is_bf16_supported():
            return None, "this GPU has no bf16"
        return self._precision("bf16")

    def fp16(self):
        if self.rehearse:
            return None, "fp16 autocast is a CUDA path"
        return self._precision("fp16")

    def channels_last(self):
        on = _fit(self.model(mixed_precision=False, channels_last=True), self.X, self.y)
        off = _fit(self.model(mixed_precision=False, channels_last=False), self.X, self.y)
        gap = np.abs(on.predict_proba(self.X) - off.predict_proba(self.X)).max()
        return gap < 1e-2, f"largest probability difference on vs off: {gap:.1e}"

    def saved_on_gpu_loaded_on_cpu(self):
        model = self.reference()
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "model.skf"
            model.save(path)
            loaded = skfusion.load(path, device="cpu")
        gap = np.abs(loaded.predict_proba(self.X) - model.predict_proba(self.X)).max()
        passed = _on(loaded, "cpu") and gap < 1e-4
        return passed, f"largest probability difference GPU vs CPU: {gap:.1e}"

    def export(self):
        model = self.reference()
        X = self.X[np.arange(8)]
        images = model._check_X(X, fitting=False).images
        images = np.ascontiguousarray(images, dtype=np.float32)
        expected = model.predict_proba(X)
        details, passed = [], True
        with tempfile.TemporaryDirectory() as folder:
            path = pathlib.Path(folder) / "model.pt"
            signature = model.export(path, format="torchscript")
            clinical = (
                X.clinical[signature["clinical"]["columns"]].to_numpy(np.float32)
                if signature["clinical"]["encoding_in_graph"]
                else model.clinical_encoder_.transform(X.clinical).astype(np.float32)
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                module = torch.jit.load(str(path), map_location="cpu")
            # Every patient here has an image: the presence input (after the others) is all True.
            present = np.ones(len(images), dtype=bool)
            with torch.no_grad():
                got = module(
                    torch.from_numpy(images), torch.from_numpy(clinical), torch.from_numpy(present)
                ).numpy()
            gap = np.abs(got - expected).max()
            passed &= gap < 1e-3
            details.append(f"TorchScript (run on the CPU) differs by {gap:.1e}")
            try:
                import onnxruntime
                import onnxscript  # noqa: F401
            except ImportError:
                details.append("ONNX skipped (pip install 'skfusion[export]' onnxruntime)")
            else:
                path = pathlib.Path(folder) / "model.onnx"
                model.export(path)
                session = onnxruntime.InferenceSession(
                    str(path), providers=["CPUExecutionProvider"]
                )
                feed = dict(
                    zip([i.name for i in session.get_inputs()], (images, clinical, present))
                )
                gap = np.abs(session.run(None, feed)[0] - expected).max()
                passed &= gap < 1e-3
                details.append(f"ONNX differs by {gap:.1e}")
        return bool(passed), "; ".join(details)

    def paper_configuration(self, mixed_precision):
        """One measured epoch (the second) of ResNet-50 RBCA at 256 x 256, batch 16."""
        size, n = (32, 32) if self.rehearse else (256, 160)
        cohort = make_brain_cohort(n, n_slices=1, image_size=size, random_state=0)
        model = ClinicalAttentionClassifier(
            mode="full",
            attention_form="paper",  # the paper's block, as its configuration has it
            attention_start="paper",
            backbone="resnet50",
            base_width=8 if self.rehearse else 64,
            batch_size=16,
            lr=1e-4,
            max_epochs=2,
            mixed_precision=mixed_precision,
            device=self.device,
            verbose=0,
            random_state=0,
        )
        if not self.rehearse:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        _fit(model, cohort.X, cohort.y)
        epoch = float(model.net_.history[-1, "dur"])
        steps = int(np.ceil(n / 16))
        peak = (torch.cuda.max_memory_allocated() / 2**30) if not self.rehearse else float("nan")
        losses = np.asarray(model.net_.history[:, "train_loss"], dtype=float)
        self.figures[f"paper_{mixed_precision}"] = {
            "seconds_per_step": epoch / steps,
            "images_per_second": n / epoch,
            "peak_memory_gib": peak,
            "image_size": size,
            "patients": n,
        }
        return (
            bool(np.isfinite(losses).all()),
            f"{epoch / steps * 1000:.0f} ms/step, {n / epoch:.0f} images/s, "
            + (f"peak {peak:.2f} GiB" if not self.rehearse else "peak memory: GPU only")
            + f" ({size}x{size}, {n} images, mixed_precision="
            f"{mixed_precision!r})",
        )

    def augmentation_cost(self):
        """The "auto" augmentation of a batch against one training step, at 64 x 64, batch
        32 (the issue's bound: under 10% of a step), 30 interleaved medians."""
        from skfusion.nn import ClinicalAttentionNet
        from skfusion.nn.augment import AUTO_POLICY, apply_policy

        device = torch.device("cpu" if self.rehearse else "cuda")
        generator = torch.Generator(device=device).manual_seed(0)
        net = ClinicalAttentionNet(
            n_outputs=2,
            n_clinical=8,
            in_channels=1,
            mode="full",
            backbone="resnet18",
            base_width=16,
        ).to(device)
        optimizer = torch.optim.Adam(net.parameters(), 1e-4)
        images = torch.randn(32, 1, 64, 64, generator=generator, device=device)
        clinical = torch.randn(32, 8, generator=generator, device=device)
        labels = torch.randint(0, 2, (32,), generator=generator, device=device)

        def timed(work):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            work()
            if device.type == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - start

        def step():
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(net(images, clinical), labels).backward()
            optimizer.step()

        def augment():
            apply_policy(AUTO_POLICY, images, generator)

        for _ in range(3):
            step(), augment()
        steps, augments = zip(*[(timed(step), timed(augment)) for _ in range(30)])
        share = np.median(augments) / np.median(steps)
        return bool(share < 0.10), (
            f"augmentation {np.median(augments) * 1000:.2f} ms = "
            f"{share:.1%} of a {np.median(steps) * 1000:.1f} ms step"
        )

    def distributed(self):
        count = torch.cuda.device_count() if not self.rehearse else 0
        if count < 2:
            return None, f"{count} GPU(s): NCCL needs two or more"
        from skfusion.distributed import fit_distributed

        model = fit_distributed(self.model(), self.X, self.y, n_processes=count, backend="nccl")
        proba = model.predict_proba(self.X)
        return bool(np.isfinite(proba).all()), (
            f"{count} processes, training AUC {_auc(model, self.X, self.y):.3f}"
        )


def run(rehearse, log):
    checks = Checks("cpu" if rehearse else "auto", rehearse)
    plan = [
        ("device='auto' trains on the GPU", checks.device_auto),
        ("regressor, survival, 3-D on the GPU", checks.tasks),
        ("mixed precision bf16", checks.bf16),
        ("mixed precision fp16", checks.fp16),
        ("channels-last", checks.channels_last),
        ("saved on the GPU, loaded on the CPU", checks.saved_on_gpu_loaded_on_cpu),
        ("export from a GPU model", checks.export),
        ("augmentation under 10% of a step (64x64)", checks.augmentation_cost),
        ("paper configuration, float32", lambda: checks.paper_configuration(False)),
        ("paper configuration, mixed precision", lambda: checks.paper_configuration("auto")),
        ("fit_distributed with NCCL", checks.distributed),
    ]
    rows = []
    for name, check in plan:
        start = time.perf_counter()
        try:
            passed, detail = check()
        except Exception as error:  # a failed check is reported, the others still run
            passed, detail = False, f"{type(error).__name__}: {error}"
            traceback.print_exc()
        verdict = "skipped" if passed is None else "pass" if passed else "FAIL"
        rows.append(
            {
                "check": name,
                "result": verdict,
                "detail": detail,
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
        log(f"  {verdict:7} {name}: {detail} ({rows[-1]['seconds']} s)")
    return rows, checks.figures


def table(rows):
    lines = ["| check | result | detail | seconds |", "|---|---|---|---|"]
    lines += [f"| {r['check']} | {r['result']} | {r['detail']} | {r['seconds']} |" for r in rows]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rehearse",
        action="store_true",
        help="run every check on the CPU at tiny sizes (not a result)",
    )
    parser.add_argument(
        "--output",
        type=pathlib.Path,
        default=RESULTS,
        help="folder for gpu_check.{json,md} (default: benchmarks/results)",
    )
    args = parser.parse_args(argv)
    if not args.rehearse and not torch.cuda.is_available():
        print(
            f"No CUDA GPU on this machine (torch {torch.__version__}, "
            f"CUDA build {torch.version.cuda or 'none'}): there is nothing to check. "
            "Run it where a GPU is present; --rehearse runs the checks on the CPU."
        )
        return 0
    device = (
        "CPU rehearsal"
        if args.rehearse
        else f"{torch.cuda.get_device_name(0)} x {torch.cuda.device_count()}"
    )
    print(f"GPU check on {device}, torch {torch.__version__}, skfusion {skfusion.__version__}")
    start = time.perf_counter()
    rows, figures = run(args.rehearse, print)
    minutes = (time.perf_counter() - start) / 60
    command = "python benchmarks/gpu_check.py" + (" --rehearse" if args.rehearse else "")
    text = (
        f"# GPU check{' (CPU rehearsal: not a result)' if args.rehearse else ''}\n\n"
        f"`{command}` — {minutes:.1f} min on {device}, torch {torch.__version__}, "
        f"{platform.machine()}.\n\n{table(rows)}\n"
    )
    print("\n" + table(rows))
    stem = "gpu_check_rehearsal" if args.rehearse else "gpu_check"
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / f"{stem}.md").write_text(text)
    (args.output / f"{stem}.json").write_text(
        json.dumps(
            {
                "command": command,
                "device": device,
                "torch": torch.__version__,
                "minutes": minutes,
                "checks": rows,
                "figures": figures,
            },
            indent=2,
            default=float,
        )
    )
    return 1 if any(r["result"] == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
