"""Settings: what training reads from an estimator, read once into a frozen value."""

import dataclasses

import pytest

from skfusion import ClinicalAttentionClassifier, GatedFusionRegressor
from skfusion._base.core.settings import Settings
from skfusion._base.core.training import check_augment, check_trainable, training_positions


def test_settings_hold_the_parameters_and_what_they_imply():
    model = ClinicalAttentionClassifier(
        mode="concat", lr=3e-3, early_stopping=True, optimizer__weight_decay=1e-4
    )
    settings = Settings.of(model)
    assert settings.lr == 3e-3 and settings.mode == "concat"
    assert settings.routed == {"optimizer__weight_decay": 1e-4}
    assert settings.description == "ClinicalAttentionClassifier(mode='concat')"
    assert settings.multimodal and settings.uses_clinical and settings.reads_images
    assert settings.held_out == ("early_stopping=False",)
    assert [name for name, _ in settings.monitor_callbacks] == ["valid_acc"]
    assert Settings.of(ClinicalAttentionClassifier(mode="image")).multimodal is False
    assert Settings.of(GatedFusionRegressor()).monitor_callbacks == ()


def test_settings_are_a_snapshot_that_nothing_can_change():
    model = ClinicalAttentionClassifier(lr=1e-3)
    settings = Settings.of(model)
    model.set_params(lr=0.5)
    assert settings.lr == 1e-3
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 0.1
    with pytest.raises(TypeError):
        settings.params["lr"] = 0.1
    with pytest.raises(AttributeError, match="learning_rate"):
        settings.learning_rate


def test_the_steps_read_settings():
    refusing = Settings.of(ClinicalAttentionClassifier(augment={"flip": 0.5}))
    refusing = dataclasses.replace(refusing, flip_refusal="the side is the label.")
    with pytest.raises(ValueError, match="the side is the label"):
        check_augment(refusing)
    held = Settings.of(ClinicalAttentionClassifier(early_stopping=True, validation_fraction=0.5))
    assert check_trainable(10, held) == 5
    with pytest.raises(ValueError, match="early_stopping=False"):
        check_trainable(3, held)
    train = training_positions(held, 10, 0, None, None)
    assert (
        len(train) == 5
        and len(training_positions(Settings.of(ClinicalAttentionClassifier()), 10, 0, None, None))
        == 10
    )
