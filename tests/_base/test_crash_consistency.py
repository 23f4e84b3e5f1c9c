"""Saving is atomic: a process killed (SIGKILL) at any moment of a save, or two processes
saving to the same path at once, leave a file that loads, holding the old model or the new.
"""

import collections
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import skfusion
from skfusion import ClinicalAttentionClassifier
from skfusion.callbacks import EpochCheckpoint

from ..conftest import TINY, make_data

pytestmark = pytest.mark.slow  # starts processes

KILLS = collections.Counter()
N_KILLS = 20

#: Two of these save to one path at once (the concurrent-writers test).
_WRITER = textwrap.dedent("""
    import sys, skfusion
    a, b, target = sys.argv[1:4]
    models = [skfusion.load(a), skfusion.load(b)]
    for i in range(6):
        models[i % 2].save(target)
""")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crash")
    X, y = make_data(n=20)
    # Wide enough that a save takes tens of milliseconds: kills land inside writes.
    settings = {**TINY, "base_width": 24, "max_epochs": 1}
    a = ClinicalAttentionClassifier(**settings).fit(X, y)
    b = ClinicalAttentionClassifier(**{**settings, "random_state": 1}).fit(X, y)
    return (
        folder,
        a.save(folder / "a.skf"),
        b.save(folder / "b.skf"),
        X,
        [a.predict_proba(X), b.predict_proba(X)],
    )


def _loads_as_old_or_new(path, X, expected):
    proba = skfusion.load(path).predict_proba(X)
    return any(np.array_equal(proba, e) for e in expected)


#: One process imports skfusion and loads the two models once, then forks a saver per kill
#: (a fresh interpreter per kill spent ~7 s importing torch: 2 of the suite's minutes).
_FORK_SERVER = textwrap.dedent("""
    import os, sys, torch, skfusion
    a, b, target = sys.argv[1:4]
    models = [skfusion.load(a), skfusion.load(b)]
    print("ready", flush=True)
    for _ in sys.stdin:
        pid = os.fork()
        if pid == 0:  # the saver, killed by the test in the middle of some save
            try:
                torch.set_num_threads(1)
                i = 0
                while True:
                    models[i % 2].save(target)
                    i += 1
                    if i == 2:
                        print("saved", flush=True)
            finally:
                os._exit(1)
        print("pid", pid, flush=True)
        os.waitpid(pid, 0)
        print("reaped", flush=True)
""")


def _read_until(stream, word):
    """The first line of ``stream`` starting with ``word`` (skipping the savers' lines)."""
    while True:
        line = stream.readline()
        assert line, f"the fork server ended before printing {word!r}"
        if line.startswith(word):
            return line.split()


@pytest.mark.skipif(
    not hasattr(os, "fork") or not hasattr(signal, "SIGKILL"), reason="needs POSIX fork and SIGKILL"
)
def test_sigkill_during_saves_never_leaves_a_broken_file(two_models):
    folder, a, b, X, expected = two_models
    target = folder / "target.skf"
    rng = np.random.RandomState(0)
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "-c", _FORK_SERVER, str(a), str(b), str(target)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        _read_until(server.stdout, "ready")
        for kill in range(N_KILLS):
            server.stdin.write("go\n")
            server.stdin.flush()
            pid = int(_read_until(server.stdout, "pid")[1])
            if kill == 0:  # the first kill lands after a whole file exists
                _read_until(server.stdout, "saved")
            time.sleep(rng.uniform(0, 0.25))
            os.kill(pid, signal.SIGKILL)
            _read_until(server.stdout, "reaped")
            assert _loads_as_old_or_new(target, X, expected), f"kill {kill}: broken file"
            KILLS["SIGKILL during a save loop, file loaded after"] += 1
    finally:
        server.kill()
        server.wait()
    KILLS["seconds"] = round(time.perf_counter() - started)


def test_concurrent_writers_leave_a_loadable_file(two_models):
    folder, a, b, X, expected = two_models
    target = folder / "shared.skf"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(first), str(second), str(target)],
            stdout=subprocess.DEVNULL,
        )
        for first, second in ((a, b), (b, a))
    ]
    for child in children:
        assert child.wait(timeout=120) == 0
    assert _loads_as_old_or_new(target, X, expected)
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".shared.skf.")]
    assert not leftovers, leftovers
    KILLS["concurrent writers, file loaded after"] += 1


def test_a_failed_save_keeps_the_previous_file(two_models, monkeypatch):
    folder, a, b, X, expected = two_models
    target = folder / "kept.skf"
    skfusion.load(a).save(target)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        skfusion.load(b).save(target)
    monkeypatch.undo()
    assert _loads_as_old_or_new(target, X, expected[:1])
    assert not [p for p in folder.iterdir() if p.name.startswith(".kept.skf.")]


def test_checkpoints_are_written_atomically(two_models, tmp_path, monkeypatch):
    _, a, _, X, _ = two_models
    import skfusion._base.files.persistence as persistence

    calls = []
    original = persistence.atomic_write
    monkeypatch.setattr(
        persistence, "atomic_write", lambda path, write: calls.append(path) or original(path, write)
    )
    X2, y2 = make_data(n=20)
    ClinicalAttentionClassifier(**TINY, callbacks=[EpochCheckpoint(tmp_path)]).fit(X2, y2)
    assert len(calls) == TINY["max_epochs"]
