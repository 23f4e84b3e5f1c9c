"""The command line refuses bad options and unusable output folders before any work (no
cohort built, no trial run), naming the option; passwords never reach the screen or files."""

import json
import os

import pytest

import skfusion.__main__ as cli
from skfusion._cli.checks import MARKER, mask_credentials


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if a command gets as far as doing its work."""
    import skfusion._cli.demo as demo
    import skfusion._cli.tune as tune_cli

    def reached(*args, **kwargs):
        raise AssertionError("the command started its work")

    monkeypatch.setattr(demo, "run_demo", reached)
    monkeypatch.setattr(tune_cli, "run_tune", reached)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["tune", "--storage", "notaurl"], "--storage 'notaurl': not a database URL"),
        (["tune", "--storage", ""], "--storage '': not a database URL"),
        (["tune", "--storage", "sqlite:////nonexistent/x.db"], "the folder /nonexistent does not"),
        (["tune", "--storage", "sqlite:///:memory:"], "in-memory SQLite database"),
        (["tune", "--storage", "oracle://x/y"], "unsupported scheme 'oracle'"),
        (["tune", "--storage", "postgresql://me:secret@127.0.0.1:9/db"], "cannot connect"),
        (["tune", "--heartbeat", "nan"], "--heartbeat nan: expected a number >= 1"),
        (["tune", "--n-trials", "-1"], "--n-trials -1: expected a whole number >= 1"),
        (["tune", "--threads", "0"], "--threads 0"),
        (["tune", "--timeout", "-5"], "--timeout -5.0"),
        (["demo", "--modes", ","], "--modes ',': expected a comma-separated list"),
        (["demo", "--modes", "image,fancy"], "unknown \\['fancy'\\]"),
        (["demo", "--folds", "1"], "--folds 1: expected a whole number >= 2"),
        (["demo", "--folds", "0"], "--folds 0"),
        (["demo", "--epochs", "0"], "--epochs 0"),
    ],
)
def test_bad_options_are_refused_before_any_work(argv, message, no_work, capsys, tmp_path):
    with pytest.raises(SystemExit) as info:
        cli.main(argv + ["--output", str(tmp_path / "out")])
    assert info.value.code == 2
    error = capsys.readouterr().err
    assert pytest.importorskip("re").search(message, error), error
    assert "secret" not in error


def test_output_folders_that_cannot_hold_results_are_refused_first(no_work, capsys, tmp_path):
    afile = tmp_path / "file.txt"
    afile.write_text("x")
    with pytest.raises(SystemExit):
        cli.main(["demo", "--output", str(afile)])
    assert "is a file" in capsys.readouterr().err
    if os.geteuid() != 0:  # root writes into read-only folders
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(SystemExit):
            cli.main(["demo", "--output", str(locked / "sub")])
        assert "cannot write there" in capsys.readouterr().err


def test_a_second_run_on_the_same_output_folder_is_refused(monkeypatch, capsys, tmp_path):
    import skfusion._cli.demo as demo

    ran = []
    monkeypatch.setattr(demo, "run_demo", lambda **kwargs: ran.append(kwargs["output"]))
    folder = tmp_path / "shared"
    assert cli.main(["demo", "--output", str(folder)]) == 0
    assert (folder / MARKER).exists() and ran == [folder]
    with pytest.raises(SystemExit):
        cli.main(["demo", "--output", str(folder)])  # once: both exited 0, one overwritten
    assert "another run used or is using this folder" in capsys.readouterr().err
    assert len(ran) == 1


def test_passwords_are_masked():
    assert (
        mask_credentials("postgresql://me:s3cret@db:5432/optuna")
        == "postgresql://me:***@db:5432/optuna"
    )
    assert (
        mask_credentials("sqlite:///x.db?password=hunter2&mode=rw")
        == "sqlite:///x.db?password=***&mode=rw"
    )
    assert mask_credentials(None) is None


def test_tune_writes_no_password(monkeypatch, tmp_path):
    """The command recorded in best_params.json masks the storage password."""
    import types

    import skfusion._cli.tune as tune_cli

    class Study:
        best_params, best_value, trials = {"lr": 0.1}, 0.5, []

        def trials_dataframe(self):
            import pandas as pd

            return pd.DataFrame({"state": ["COMPLETE"]})

    monkeypatch.setattr(tune_cli, "tune", lambda *a, **k: Study())
    monkeypatch.setattr(
        tune_cli,
        "make_brain_cohort",
        lambda *a, **k: types.SimpleNamespace(X=None, y=None, groups=None),
    )
    args = types.SimpleNamespace(
        command="tune",
        quiet=True,
        threads=None,
        subjects=8,
        task="ad_vs_nc",
        epochs=1,
        device="cpu",
        seed=0,
        no_pruning=False,
        storage="sqlite:///x.db?password=hunter2",
        folds=2,
        n_trials=1,
        timeout=None,
        study_name=None,
        heartbeat=60,
        output=tmp_path,
    )
    tune_cli.run_tune(args)
    text = (tmp_path / "best_params.json").read_text()
    assert "hunter2" not in text and "password=***" in json.loads(text)["command"]
