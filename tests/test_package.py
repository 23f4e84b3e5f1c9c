"""The package import: submodules reachable as attributes, loaded only when used."""

import subprocess
import sys

import pytest

import skfusion

LAZY = ("datasets", "distributed", "evaluation", "explain", "metrics", "tuning")


@pytest.mark.slow
def test_import_skfusion_loads_no_submodule_nor_their_heavy_dependencies():
    heavy = (
        "optuna",
        "matplotlib",
        "captum",
        "lifelines",
        "nibabel",
        "nilearn",
        "rouge_score",
        "sacrebleu",
    )
    code = (
        "import sys, skfusion; print(sorted(m for m in sys.modules if m.split('.')[0] in "
        f"{heavy!r} or m in {['skfusion.' + name for name in LAZY]!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", LAZY + ("callbacks", "nn", "preprocessing"))
def test_submodules_are_attributes_of_the_package(name):
    import importlib

    assert getattr(skfusion, name) is importlib.import_module(f"skfusion.{name}")
    assert name in dir(skfusion)


def test_an_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'explian'"):
        skfusion.explian  # noqa: B018
    assert not hasattr(skfusion, "_SUBMODULE_THAT_DOES_NOT_EXIST")
