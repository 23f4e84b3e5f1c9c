"""One record per parameter: every view (signature, constraints, docstring, module
arguments, search space, model-file caps) is made from the records."""

import inspect
from numbers import Integral

import pytest
import torch
from sklearn.utils._param_validation import Interval

from skfusion import ClinicalAttentionClassifier, ImageClinicalPretrainer, ReportGenerator
from skfusion._base.parameters.params import Param
from skfusion._tasks.classification import BaseFusionClassifier
from skfusion.nn.clinical_attention import ClinicalAttentionNet
from skfusion.tuning import search_space


class _ToyNet(torch.nn.Module):
    def __init__(
        self,
        n_outputs,
        n_clinical,
        in_channels=1,
        spatial_dims=2,
        clinical_shortcut=True,
        width=8,
        backbone="resnet18",
        base_width=4,
    ):
        super().__init__()
        self.out = torch.nn.Linear(n_clinical, n_outputs)

    def forward(self, images, clinical):
        return self.out(clinical)


class _Toy:
    _module_class = _ToyNet
    _params = {
        "width": Param(
            8,
            [Interval(Integral, 1, None, closed="left")],
            "Channels.",
            module=True,
            search=("categorical", (8, 16)),
            cap=64,
        )
    }
    _param_defaults = {"batch_size": 4}


class _ToyClassifier(_Toy, BaseFusionClassifier):
    """A toy.

    Parameters
    ----------
    {parameters}
    """


def test_every_view_comes_from_the_records():
    signature = inspect.signature(_ToyClassifier)
    assert signature.parameters["width"].default == 8
    assert signature.parameters["batch_size"].default == 4
    assert list(signature.parameters)[0] == "width"  # the family's first, then the task's
    assert _ToyClassifier._parameter_constraints["width"][0].left == 1
    assert "width" in _ToyClassifier._module_param_names
    assert "backbone" in _ToyClassifier._module_param_names  # a shared record's module=True
    assert _ToyClassifier._search_space["width"] == ("categorical", (8, 16))
    assert _ToyClassifier._param_caps["width"] == 64
    assert _ToyClassifier._param_caps["base_width"] == 1024  # shared records' caps too
    doc = _ToyClassifier.__doc__
    assert "    width : int, default=8\n        Channels." in doc
    assert "    batch_size : int, default=4\n" in doc  # the overridden default, documented
    assert "{parameters}" not in doc and "    **kwargs\n" in doc


def test_a_changed_record_changes_every_view():
    class _Wider(_Toy):
        _params = {
            "width": Param(
                16, [Interval(Integral, 2, None, closed="left")], "Wider.", module=False, cap=None
            )
        }

    class _WiderClassifier(_Wider, BaseFusionClassifier):
        """Wider.

        Parameters
        ----------
        {parameters}
        """

    assert _WiderClassifier().width == 16
    assert "width" not in _WiderClassifier._module_param_names
    assert "width" not in _WiderClassifier._search_space
    assert "width" not in _WiderClassifier._param_caps
    assert "    width : int, default=16\n        Wider." in _WiderClassifier.__doc__
    with pytest.raises(ValueError, match="width"):
        _WiderClassifier(width=1)._validate_params()


def test_a_default_for_an_undeclared_name_is_refused():
    with pytest.raises(TypeError, match="_param_defaults names 'widht'"):

        class _Bad(BaseFusionClassifier):
            _param_defaults = {"widht": 3}


def test_a_record_without_a_type_text_needs_one():
    assert Param(3, [], "x").type == "int" and Param(True, [], "x").type == "bool"
    with pytest.raises(TypeError, match="needs its type text"):
        Param("auto", [], "x")


def test_the_real_estimators_views():
    assert ClinicalAttentionClassifier._search_space["mode"][0] == "categorical"
    assert set(ClinicalAttentionClassifier._module_param_names) == {
        "mode",
        "backbone",
        "base_width",
        "clinical_dim",
        "attention_start",
        "attention_form",
    }
    assert ImageClinicalPretrainer().batch_size == 64
    assert "batch_size : int, default=64" in ImageClinicalPretrainer.__doc__
    assert "lr : float, default=1e-4" in ReportGenerator.__doc__
    assert ReportGenerator._param_caps["beam_size"] == 64
    assert "optimizer__weight_decay" in search_space(ClinicalAttentionClassifier())


def test_a_family_record_its_module_does_not_take_is_refused_at_definition():
    class _Typo:
        _module_class = ClinicalAttentionNet
        _params = {"widht": Param(8, [], "Channels.", module=True)}

    with pytest.raises(TypeError, match=r"forwards \['widht'\] to ClinicalAttentionNet"):

        class _TypoClassifier(_Typo, BaseFusionClassifier):
            pass


def test_families_that_share_a_parameter_share_its_record():
    from skfusion import GatedFusionRegressor
    from skfusion._base.parameters.params import declared
    from skfusion._base.parameters.shared_params import CLINICAL_DIM

    for cls in (ClinicalAttentionClassifier, GatedFusionRegressor):
        assert declared(cls).records["clinical_dim"] is CLINICAL_DIM


def test_a_pickle_from_before_a_parameter_existed_gets_its_default():
    model = ClinicalAttentionClassifier(mode="concat")
    state = model.__getstate__()
    del state["calibration"]  # as pickled by skfusion 0.3
    restored = ClinicalAttentionClassifier.__new__(ClinicalAttentionClassifier)
    restored.__setstate__(state)
    assert restored.calibration is None and restored.mode == "concat"
    assert restored.get_params()["calibration"] is None


def test_a_changed_default_keeps_what_earlier_models_were():
    """A parameter whose default changed records the value earlier models behave as; a
    pickle or model file without it gets that value, everything else its default."""
    before = ClinicalAttentionClassifier._defaults_before
    assert before == {"attention_start": "paper", "attention_form": "paper"}
    assert ClinicalAttentionClassifier().attention_form == "inner"
    model = ClinicalAttentionClassifier(max_epochs=3)
    state = {
        k: v
        for k, v in model.__dict__.items()
        if k not in ("attention_form", "attention_start", "max_epochs")
    }
    restored = ClinicalAttentionClassifier.__new__(ClinicalAttentionClassifier)
    restored.__setstate__(state)
    assert (restored.attention_form, restored.attention_start) == ("paper", "paper")
    assert restored.max_epochs == ClinicalAttentionClassifier().max_epochs
