import math

import pytest

from skfusion.metrics import npv_score, ppv_score, sensitivity_score, specificity_score

# TP=3, FN=1, FP=2, TN=4 for pos_label "AD".
Y_TRUE = ["AD"] * 4 + ["NC"] * 6
Y_PRED = ["AD", "AD", "AD", "NC", "AD", "AD", "NC", "NC", "NC", "NC"]


@pytest.mark.parametrize(
    "metric, expected",
    [(sensitivity_score, 3 / 4), (specificity_score, 4 / 6), (ppv_score, 3 / 5),
     (npv_score, 4 / 5)],
)
def test_against_a_hand_counted_confusion_matrix(metric, expected):
    assert metric(Y_TRUE, Y_PRED, pos_label="AD") == pytest.approx(expected)


def test_pos_label_swaps_roles():
    assert sensitivity_score(Y_TRUE, Y_PRED, pos_label="NC") == pytest.approx(4 / 6)
    assert npv_score(Y_TRUE, Y_PRED, pos_label="NC") == pytest.approx(3 / 5)


def test_zero_division_is_explicit():
    assert math.isnan(sensitivity_score([0, 0], [0, 1]))
    assert sensitivity_score([0, 0], [0, 1], zero_division=0) == 0
    assert ppv_score([0, 1], [0, 0], zero_division=1) == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="binary"):
        sensitivity_score([0, 1, 2], [0, 1, 2])
    with pytest.raises(ValueError, match="pos_label='X'"):
        specificity_score(["a", "b"], ["a", "b"], pos_label="X")
    with pytest.raises(ValueError, match="zero_division"):
        ppv_score([0, 1], [0, 1], zero_division=2)
