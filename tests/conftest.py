"""Tiny, deterministic fixtures shared by the tests."""

import numpy as np
import pandas as pd
import pytest

from skfusion import FusionInput

#: Settings that make every classifier train in well under a second on a CPU.
TINY = dict(
    backbone="resnet18",
    base_width=4,
    clinical_dim=8,
    max_epochs=2,
    batch_size=8,
    device="cpu",
    verbose=0,
    random_state=0,
)

#: TINY for estimators without a clinical embedding (FiLM, DAFT).
TINY_NO_CLINICAL_DIM = {k: v for k, v in TINY.items() if k != "clinical_dim"}


def make_data(n=24, size=16, channels=None, n_classes=2, labels=("AD", "NC"), seed=0):
    """Images whose brightness and clinical 'score' both depend on the class."""
    rng = np.random.RandomState(seed)
    y_index = np.arange(n) % n_classes
    rng.shuffle(y_index)
    shape = (n, size, size) if channels is None else (n, channels, size, size)
    images = rng.normal(size=shape).astype(np.float32) + y_index.reshape(
        (-1,) + (1,) * (len(shape) - 1)
    )
    clinical = pd.DataFrame(
        {
            "age": rng.normal(70, 5, n),
            "score": rng.normal(size=n) + 2 * y_index,
            "noise": rng.normal(size=n),
        }
    )
    y = np.asarray(labels)[y_index] if labels is not None else y_index
    return FusionInput(images, clinical), y


@pytest.fixture
def data():
    return make_data()


def pytest_terminal_summary(terminalreporter):
    """Print how many cases the robustness, hostile-file and crash suites tried (only the
    suites this run collected: importing one here would need its extras, e.g. hypothesis)."""
    import sys

    def counts(module, name):
        return getattr(sys.modules.get(f"{__package__}.{module}"), name, None) or {}

    KILLS = counts("_base.test_crash_consistency", "KILLS")
    CASES = counts("_base.test_hostile_files", "CASES")
    TRIED = counts("_base.test_robustness", "TRIED")
    TIMES = counts("test_docs", "TIMES")

    if CASES:
        terminalreporter.write_line(
            f"hostile files: {sum(CASES.values())} crafted or generated model files loaded, "
            f"all refused with ModelFileError or loaded safely ({len(CASES)} kinds): "
            + ", ".join(f"{k}={v}" for k, v in sorted(CASES.items()))
        )
    if KILLS:
        terminalreporter.write_line(
            "crash consistency: " + ", ".join(f"{k}={v}" for k, v in sorted(KILLS.items()))
        )
    if TRIED:
        total = sum(TRIED.values())
        terminalreporter.write_line(
            f"robustness: {total} bad-input cases tried ({len(TRIED)} case/outcome kinds): "
            + ", ".join(f"{k}={v}" for k, v in sorted(TRIED.items()))
        )
    if TIMES:
        terminalreporter.write_line(
            "docs examples (seconds per page, one fresh interpreter each): "
            + ", ".join(f"{page}={seconds:.0f}" for page, seconds in TIMES.items())
        )
