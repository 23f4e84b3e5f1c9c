"""benchmarks/gpu_check.py, the script to run the day a GPU is lent: on a machine without one
it says so, exits 0 and writes nothing (its checks are rehearsed on the CPU with
``--rehearse``, a two-minute run kept out of the suite)."""

import pathlib
import subprocess
import sys

import pytest
import torch

pytestmark = pytest.mark.slow  # starts processes

SCRIPT = pathlib.Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: run the check")
def test_without_a_gpu_the_check_says_so_and_exits_0(tmp_path):
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "No CUDA GPU on this machine" in done.stdout and "--rehearse" in done.stdout
    assert not list(tmp_path.iterdir())


def test_the_check_covers_what_the_issue_lists():
    source = SCRIPT.read_text()
    for path in (
        '"bf16"',
        '"fp16"',
        "channels_last=True",
        'load(path, device="cpu")',
        'format="torchscript"',
        'backend="nccl"',
        'backbone="resnet50"',
        "max_memory_allocated",
    ):
        assert path in source, path


def test_the_checks_rehearse_on_the_cpu():
    """The checks' own code runs (on the CPU, tiny sizes), so it has not rotted by the day a
    GPU is lent; the slowest checks (every task, channels-last) stay in ``--rehearse``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    checks = module.Checks("cpu", rehearse=True)
    # Not checks.bf16: torch's CPU bfloat16 kernels turn weights NaN in some runs (the
    # estimator warns; tests/_families/test_clinical_attention.py covers that path), and
    # the check is meant for GPUs.
    for check in (
        checks.device_auto,
        checks.saved_on_gpu_loaded_on_cpu,
        checks.export,
        checks.augmentation_cost,
        lambda: checks.paper_configuration(False),
    ):
        passed, detail = check()
        assert passed, detail
    assert checks.fp16()[0] is None and checks.distributed()[0] is None
    assert checks.figures["paper_False"]["images_per_second"] > 0
