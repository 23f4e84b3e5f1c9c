import json
import subprocess
import sys
import textwrap

import optuna
import pytest
from optuna_integration import OptunaSearchCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skfusion import ClinicalAttentionClassifier, ClinicalTransformer
from skfusion.__main__ import main
from skfusion.tuning import search_space, tune

from ._base.test_grouped_validation import subject_data
from .conftest import TINY

optuna.logging.set_verbosity(optuna.logging.WARNING)


def tiny_pipeline(**params):
    return make_pipeline(
        ClinicalTransformer(StandardScaler()), ClinicalAttentionClassifier(**{**TINY, **params})
    )


def test_search_space_for_estimators_and_pipelines():
    space = search_space(ClinicalAttentionClassifier())
    assert isinstance(space["lr"], optuna.distributions.FloatDistribution) and space["lr"].log
    assert set(space["mode"].choices) == {"image", "clinical", "concat", "full"}
    piped = search_space(tiny_pipeline())
    assert set(piped) == {f"clinicalattentionclassifier__{name}" for name in space}
    # every name is a real parameter
    tiny_pipeline().set_params(
        **{name: d.choices[0] if hasattr(d, "choices") else d.low for name, d in piped.items()}
    )
    with pytest.raises(TypeError, match="skfusion's estimators"):
        search_space(LogisticRegression())


def test_optuna_search_cv_with_fusion_input_groups_and_pipeline():
    X, y, groups = subject_data()
    space = {
        "clinicalattentionclassifier__lr": optuna.distributions.FloatDistribution(
            1e-4, 1e-2, log=True
        )
    }
    search = OptunaSearchCV(
        tiny_pipeline(), space, cv=StratifiedGroupKFold(3), n_trials=2, random_state=0, verbose=0
    )
    search.fit(X, y, groups=groups)
    assert set(search.best_params_) == set(space)
    assert search.predict(X).shape == y.shape


def test_optuna_search_cv_prunes_through_partial_fit():
    X, y, groups = subject_data()
    space = {"lr": optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}
    search = OptunaSearchCV(
        ClinicalAttentionClassifier(**TINY),
        space,
        cv=StratifiedGroupKFold(2),
        enable_pruning=True,
        max_iter=3,
        n_trials=4,
        random_state=0,
        verbose=0,
        study=optuna.create_study(
            direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1)
        ),
    )
    search.fit(X.__class__(X.images, X.clinical.to_numpy()), y, groups=groups)
    steps = [len(t.intermediate_values) for t in search.trials_]
    assert max(steps) == 3  # one report per partial_fit epoch
    assert search.best_estimator_.n_epochs_ == TINY["max_epochs"]  # the refit uses fit


@pytest.mark.slow
def test_tune_prunes_from_epoch_losses_and_keeps_subjects_whole():
    X, y, groups = subject_data()
    space = {
        "clinicalattentionclassifier__lr": optuna.distributions.FloatDistribution(
            1e-4, 1.0, log=True
        )
    }
    study = tune(
        tiny_pipeline(max_epochs=3), X, y, groups=groups, space=space, cv=3, n_trials=6, verbose=0
    )
    states = {t.state.name for t in study.trials}
    assert states <= {"COMPLETE", "PRUNED"} and "COMPLETE" in states
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert all(len(t.user_attrs["fold_scores"]) == 3 for t in complete)
    # intermediate values: negated validation losses, one per epoch and fold
    assert all(v <= 0 for t in complete for v in t.intermediate_values.values())
    assert max(len(t.intermediate_values) for t in complete) <= 9


def test_tune_without_pruning_runs_folds_in_parallel(capsys):
    X, y, groups = subject_data()
    space = {
        "clinicalattentionclassifier__lr": optuna.distributions.FloatDistribution(
            1e-3, 1e-2, log=True
        )
    }
    study = tune(
        tiny_pipeline(), X, y, groups=groups, space=space, cv=2, n_trials=1, pruning=False, n_jobs=2
    )
    assert study.trials[0].state.name == "COMPLETE"
    assert "trial 0: roc_auc" in capsys.readouterr().out


@pytest.mark.slow
def test_two_processes_share_a_sqlite_study(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    script = textwrap.dedent(f"""
        import optuna
        from tests.test_tuning import tiny_pipeline
        from tests._base.test_grouped_validation import subject_data
        from skfusion.tuning import tune
        X, y, groups = subject_data()
        space = {{"clinicalattentionclassifier__lr":
                 optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)}}
        tune(tiny_pipeline(), X, y, groups=groups, space=space, cv=2, n_trials=2,
             pruning=False, storage={storage!r}, study_name="shared", verbose=0)
    """)
    # Create the study once, so both workers join it rather than race to create it.
    optuna.create_study(storage=storage, study_name="shared", direction="maximize")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script], env={"OMP_NUM_THREADS": "1", "PATH": ""}, cwd="."
        )
        for _ in range(2)
    ]
    assert [w.wait(timeout=300) for w in workers] == [0, 0]
    study = optuna.load_study(study_name="shared", storage=storage)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4
    assert len({t.params["clinicalattentionclassifier__lr"] for t in complete}) == 4


def test_command_line_tune(tmp_path, capsys):
    assert (
        main(
            [
                "tune",
                "--n-trials",
                "2",
                "--subjects",
                "12",
                "--epochs",
                "2",
                "--folds",
                "2",
                "--output",
                str(tmp_path),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "trial 1:" in out and "best roc_auc" in out
    summary = json.loads((tmp_path / "best_params.json").read_text())
    assert summary["n_trials"] == 2 and "clinicalattentionclassifier__lr" in summary["best_params"]
    assert (tmp_path / "trials.csv").exists()


def test_cli_runs_never_overwrite_each_other(tmp_path, monkeypatch):
    from skfusion.__main__ import output_folder

    monkeypatch.chdir(tmp_path)
    first, second = output_folder("tune", None), output_folder("tune", None)
    assert first != second and first.parent == second.parent
    assert first.parent.name == "skfusion-tune" and first.is_dir() and second.is_dir()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "best_params.json").write_text("{}")
    with pytest.raises(SystemExit, match="already holds.*best_params.json"):
        output_folder("tune", str(tmp_path / "mine"))
    assert output_folder("demo", str(tmp_path / "mine")) == tmp_path / "mine"
