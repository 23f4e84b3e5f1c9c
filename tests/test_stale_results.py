"""benchmarks/stale.py: results know the code they ran on, and the READMEs never cite a
result that a later change of behaviour has overtaken without saying so."""

import importlib.util
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _stale():
    spec = importlib.util.spec_from_file_location("stale", ROOT / "benchmarks" / "stale.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytestmark = pytest.mark.skipif(
    subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True).returncode
    != 0,
    reason="needs the git history (a clone, not an unpacked archive)",
)


def test_the_release_notes_record_the_changes_of_output():
    changes = _stale().behaviour_changes()
    assert any(c.startswith("c147b48") for c in changes)  # precise batch normalisation
    for change in changes:  # each one a commit of this history
        assert (
            subprocess.run(
                ["git", "-C", str(ROOT), "cat-file", "-e", change + "^{commit}"],
                capture_output=True,
            ).returncode
            == 0
        ), change


def test_a_result_older_than_a_change_is_stale_and_a_newer_one_is_not():
    stale = _stale()
    changes = stale.behaviour_changes()
    first = changes[0]
    parent = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", first + "^"], capture_output=True, text=True
    ).stdout.strip()
    assert first in stale.overtaken_by(parent, changes)
    assert first not in stale.overtaken_by(first, changes)
    assert stale.overtaken_by(None, changes) == changes  # unknown: stale


def test_the_readmes_cite_no_stale_result_without_saying_so():
    found = _stale().cited_without_saying()
    assert not found, "\n".join(
        f"{name}:{line}: results/{stem} is stale; re-run it or say 'stale' on that line"
        for name, line, stem in found
    )


def test_a_change_scoped_to_a_family_overtakes_only_the_results_that_name_it(tmp_path):
    stale = _stale()
    notes = tmp_path / "CHANGELOG.md"
    first = stale.behaviour_changes()[0]
    notes.write_text(
        f"- one family changed. [outputs changed: {first} for GatedFusion, FiLM]\n"
        f"- again. [outputs changed: {first} for DAFT]\n"
    )
    scopes = stale.change_scopes(notes)
    assert scopes == {first: frozenset({"GatedFusion", "FiLM", "DAFT"})}
    parent = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", first + "^"], capture_output=True, text=True
    ).stdout.strip()
    changes = list(scopes)
    assert stale.overtaken_by(parent, changes, scopes, "| GatedFusion | 0.916 |") == [first]
    assert stale.overtaken_by(parent, changes, scopes, "| concat | 0.927 |") == []
    assert stale.overtaken_by(first, changes, scopes, "| GatedFusion | 0.916 |") == []
    # an unscoped entry for the same commit makes it a change of every family's outputs
    notes.write_text(notes.read_text() + f"- all. [outputs changed: {first}]\n")
    assert stale.change_scopes(notes) == {first: None}
