"""benchmarks/gpu_check.py, the script to run the day a GPU is lent: on a machine without one
it says so, exits 0 and writes nothing (its checks are rehearsed on the CPU with
``--rehearse``, a two-minute run kept out of the suite)."""

import pathlib
import subprocess
import sys

import pytest
import torch

SCRIPT = pathlib.Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: run the check")
def test_without_a_gpu_the_check_says_so_and_exits_0(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "No CUDA GPU on this machine" in done.stdout and "--rehearse" in done.stdout
    assert not list(tmp_path.iterdir())


def test_the_check_covers_what_the_issue_lists():
    source = SCRIPT.read_text()
    for path in ('"bf16"', '"fp16"', "channels_last=True", 'load(path, device="cpu")',
                 'format="torchscript"', 'backend="nccl"', 'backbone="resnet50"',
                 "max_memory_allocated"):
        assert path in source, path
