"""Progress bars for epochs, folds and trials: drawn at verbose=2 on a terminal only."""

import numpy as np
import pytest

import skfusion
import skfusion._net.progress as progress_module
from skfusion.evaluation import cross_val_diagnostics

from ..conftest import TINY, make_data


def test_bars_need_verbose_2_and_a_terminal(monkeypatch):
    monkeypatch.setattr(progress_module, "_is_terminal", lambda: True)
    assert progress_module.wants_bars(2) and not progress_module.wants_bars(1)
    assert not progress_module.wants_bars(0)
    items = [1, 2, 3]
    assert progress_module.progress(items, verbose=1, desc="x") is items
    monkeypatch.setattr(progress_module, "_is_terminal", lambda: False)
    assert not progress_module.wants_bars(2)  # a log file: lines only


@pytest.mark.slow
def test_epochs_and_folds_draw_bars_on_a_terminal(monkeypatch, capsys):
    X, y = make_data(n=24, size=16)
    monkeypatch.setattr(progress_module, "_is_terminal", lambda: True)
    model = skfusion.ClinicalAttentionClassifier(**{**TINY, "verbose": 2}).fit(X, y)
    assert "progress_bar" in dict(model.net_.callbacks_)
    err = capsys.readouterr().err
    assert "it/s]" in err or "s/it]" in err  # tqdm's rate, drawn on standard error
    cross_val_diagnostics(
        skfusion.ClinicalAttentionClassifier(**TINY),
        X,
        y,
        cv=2,
        groups=np.arange(len(y)),
        pos_label="AD",
        verbose=2,
    )
    assert "folds" in capsys.readouterr().err


def test_verbose_0_and_logs_stay_quiet(monkeypatch, capsys):
    X, y = make_data(n=24, size=16)
    monkeypatch.setattr(progress_module, "_is_terminal", lambda: False)
    model = skfusion.ClinicalAttentionClassifier(**{**TINY, "verbose": 2}).fit(X, y)
    assert "progress_bar" not in dict(model.net_.callbacks_)
    assert "it/s]" not in capsys.readouterr().err
    skfusion.ClinicalAttentionClassifier(**TINY).fit(X, y)  # TINY has verbose=0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_the_epoch_table_has_no_colour_codes_in_a_pipe_and_keeps_them_on_a_terminal(
    monkeypatch, capsys
):
    X, y = make_data(n=24, size=16)
    skfusion.ClinicalAttentionClassifier(**{**TINY, "verbose": 1}).fit(X, y)
    out = capsys.readouterr().out
    assert "train_loss" in out and "\x1b[" not in out  # capsys is a pipe, not a terminal

    class Terminal:
        def __init__(self):
            self.text = []

        def write(self, text):
            self.text.append(text)

        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr("sys.stdout", terminal)
    progress_module.plain_print("\x1b[36m0.5\x1b[0m")
    assert "\x1b[36m" in "".join(terminal.text)
