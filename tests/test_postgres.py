"""Optuna studies on a real PostgreSQL server (started by ``.ci/run``; these tests skip
without ``SKFUSION_TEST_POSTGRES``): two ``python -m skfusion tune`` workers share a study,
and a worker killed mid-trial leaves a failed trial that another worker retries."""

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest

optuna = pytest.importorskip("optuna")
URL = os.environ.get("SKFUSION_TEST_POSTGRES")
pytestmark = pytest.mark.skipif(
    URL is None,
    reason="no PostgreSQL server: run `source .ci/postgres.sh start` first (.ci/run does)",
)

CLI = [
    sys.executable,
    "-m",
    "skfusion",
    "tune",
    "--subjects",
    "12",
    "--epochs",
    "2",
    "--folds",
    "2",
    "--device",
    "cpu",
    "--threads",
    "1",
    "--no-pruning",
    "--quiet",
]


def worker(study, n_trials, tmp_path, name, heartbeat=2, seed=0):
    return subprocess.Popen(
        CLI
        + [
            "--storage",
            URL,
            "--study-name",
            study,
            "--n-trials",
            str(n_trials),
            "--heartbeat",
            str(heartbeat),
            "--seed",
            str(seed),
            "--output",
            str(tmp_path / name),
        ],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def new_study():
    name = f"test-{uuid.uuid4().hex[:8]}"
    optuna.create_study(storage=URL, study_name=name, direction="maximize")
    return name


def finished(process, timeout=300):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    assert "Warning" not in output, output  # no deprecated or experimental API on the way
    return output


def test_two_command_line_workers_share_one_study(tmp_path):
    study_name = new_study()
    workers = [worker(study_name, 2, tmp_path, f"w{i}", seed=i) for i in range(2)]
    for process in workers:
        finished(process)
    study = optuna.load_study(study_name=study_name, storage=URL)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 4
    params = {tuple(sorted(t.params.items())) for t in study.trials}
    assert len(params) == 4  # four distinct trials, two from each worker
    optuna.delete_study(study_name=study_name, storage=URL)


def test_a_killed_workers_trial_is_failed_and_retried(tmp_path):
    study_name = new_study()
    doomed = worker(study_name, 3, tmp_path, "doomed")
    study = optuna.load_study(study_name=study_name, storage=URL)
    deadline = time.monotonic() + 120
    while not any(t.state.name == "RUNNING" for t in study.get_trials(deepcopy=False)):
        assert time.monotonic() < deadline and doomed.poll() is None, "no trial started"
        time.sleep(0.2)
    time.sleep(1.0)  # mid-trial
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    before = study.get_trials(deepcopy=False)
    killed = [t for t in before if t.state.name == "RUNNING"]
    done_before = sum(t.state.name == "COMPLETE" for t in before)
    assert len(killed) == 1
    time.sleep(5)  # past the grace period (2 heartbeats of 2 s)
    finished(worker(study_name, 2, tmp_path, "survivor", seed=1))
    trials = {t.number: t for t in optuna.load_study(study_name=study_name, storage=URL).trials}
    lost = trials[killed[0].number]
    assert lost.state.name == "FAIL"  # marked, not left RUNNING
    retry = (
        getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None)
        or optuna.storages.RetryFailedTrialCallback
    )
    retried = [t for t in trials.values() if retry.retried_trial_number(t) == lost.number]
    assert len(retried) == 1 and retried[0].state.name == "COMPLETE"
    assert retried[0].params == lost.params  # the same point, run again
    assert sum(t.state.name == "COMPLETE" for t in trials.values()) == done_before + 2
    optuna.delete_study(study_name=study_name, storage=URL)
