"""Which committed results a later change of behaviour has overtaken.

    python benchmarks/stale.py            # the stale results, and the changes since each
    python benchmarks/stale.py --cited    # stale results that README.md or benchmarks/README.md
                                          # cite on a line that does not say "stale"
    python benchmarks/stale.py --all      # every result, stale or not

A change that alters what models output is recorded in CHANGELOG.md, under "Changed
behaviour", with ``[outputs changed: <commit>]`` at the end of its entry (the commit that made
it). A change that alters the outputs of some families only names them after the commit,
``[outputs changed: <commit> for GatedFusion]`` (the reference fit stores each family's
outputs apart, so it shows which moved), or a word that every affected result mentions
(``for temperature``: the fits calibrated by a temperature): it overtakes only the results
that mention one of those names. A refactor that changes no output records nothing; it
proves that with the bit-for-bit reference fit of ``tests/test_reference_outputs.py``, whose
stored predictions any change of output breaks (and a change of behaviour then re-records
them, and its entry here).

A result's commit is the ``"commit"`` its JSON file records (every benchmark writes it now);
for results written before that, the last commit that touched the file (an upper bound: such
a result may be older than its commit says, never newer). A result is stale when some
recorded change is not an ancestor of its commit. Markdown and figures share the stem of
their JSON (``x.md``, ``x.png`` and ``x.json`` are one result).

Exit status: 0, or 1 with ``--cited`` when a README cites a stale result without saying so.
"""

import argparse
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
CHANGE = re.compile(r"\[outputs changed: ([0-9a-f]{7,40})(?: for ([A-Za-z]+(?:, [A-Za-z]+)*))?\]")
CITING = ("README.md", "benchmarks/README.md")


def git(*args):
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def behaviour_changes(changelog=ROOT / "CHANGELOG.md"):
    """The commits that changed outputs, in the order the release notes list them."""
    return list(change_scopes(changelog))


def change_scopes(changelog=ROOT / "CHANGELOG.md"):
    """Each commit that changed outputs -> the families whose outputs it changed (a frozenset
    of names), or None for a change of every family's."""
    scopes = {}
    for commit, families in CHANGE.findall(changelog.read_text()):
        scope = frozenset(families.split(", ")) if families else None
        if commit in scopes and (scopes[commit] is None or scope is None):
            scopes[commit] = None
        elif commit in scopes:
            scopes[commit] = scopes[commit] | scope
        else:
            scopes[commit] = scope
    return scopes


def result_text(stem):
    """The text of a result's files (its JSON and Markdown), to find the families it holds."""
    return "\n".join(
        path.read_text(errors="replace")
        for path in sorted((RESULTS / stem).parent.glob(f"{(RESULTS / stem).name}.*"))
        if path.suffix in (".json", ".md")
    )


def result_stem(path):
    """``results/x`` for ``results/x.md``, ``results/x.json``, ``results/x.png``."""
    relative = path.relative_to(RESULTS)
    return relative.parent / relative.name.split(".")[0]


def result_commits():
    """Each result (by stem) -> (its commit, how the commit is known)."""
    found = {}
    for path in sorted(p for p in RESULTS.rglob("*") if p.is_file()):
        stem = result_stem(path)
        recorded = None
        if path.suffix == ".json":
            try:
                recorded = json.loads(path.read_text()).get("commit")
            except (ValueError, AttributeError):
                recorded = None
        if recorded:
            found[stem] = (str(recorded).removesuffix("-dirty"), "recorded")
        elif stem not in found or found[stem][1] != "recorded":
            # The last commit that changed its content: a move (git mv) is not a re-run.
            last = git(
                "log", "-1", "--format=%H", "--follow", "--diff-filter=AM", "--", str(path)
            ).stdout.strip()
            if last and (stem not in found or _is_ancestor(found[stem][0], last)):
                found[stem] = (last, "last commit of the file")
            elif stem not in found:
                found[stem] = (None, "not committed")
    return found


def _is_ancestor(older, newer):
    return git("merge-base", "--is-ancestor", older, newer).returncode == 0


def overtaken_by(commit, changes, scopes=None, text=""):
    """The recorded changes that ``commit`` does not contain (all of them when unknown); a
    change scoped to some families (``scopes``: commit -> families or None) overtakes a
    result only when its ``text`` names one of them."""
    scopes = scopes or {}

    def concerns(change):
        families = scopes.get(change)
        return families is None or any(family in text for family in families)

    return [
        change
        for change in changes
        if concerns(change) and (commit is None or not _is_ancestor(change, commit))
    ]


def stale_results():
    """Result stem -> (commit, how known, the changes that overtook it) for every result."""
    scopes = change_scopes()
    changes = list(scopes)
    return {
        stem: (commit, how, overtaken_by(commit, changes, scopes, result_text(stem)))
        for stem, (commit, how) in result_commits().items()
    }


def cited_without_saying(results=None):
    """(file, line number, result) for each README line that names a stale result (as
    ``results/<stem>``) and does not say "stale"."""
    results = stale_results() if results is None else results
    stale = {str(stem) for stem, (_, _, changes) in results.items() if changes}
    found = []
    for name in CITING:
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1):
            if "stale" in line.lower():
                continue
            for match in re.finditer(r"results/([A-Za-z0-9_./-]+)", line):
                cited = match.group(1).rstrip(".*/`)")
                names = {cited.split(".")[0]} if cited else set()
                # "results/x_" or "results/pretraining_fusion_" name a family of results.
                hits = sorted(
                    s for s in stale if s in names or (cited.endswith("_") and s.startswith(cited))
                )
                found += [(name, number, hit) for hit in hits]
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="list fresh results too")
    parser.add_argument(
        "--cited", action="store_true", help="stale results the READMEs cite without saying so"
    )
    args = parser.parse_args(argv)
    results = stale_results()
    if args.cited:
        found = cited_without_saying(results)
        for name, number, stem in found:
            print(f"{name}:{number}: cites results/{stem}, which is stale")
        if not found:
            print("no stale result is cited without saying so")
        return 1 if found else 0
    changes = behaviour_changes()
    print(f"{len(changes)} recorded changes of output (CHANGELOG.md): {', '.join(changes)}")
    shown = 0
    for stem, (commit, how, overtaken) in sorted(results.items()):
        if overtaken or args.all:
            state = (
                f"stale (after it: {', '.join(c[:7] for c in overtaken)})"
                if overtaken
                else "current"
            )
            print(f"{stem}: {state}; ran on {(commit or '?')[:7]} ({how})")
            shown += 1
    n_stale = sum(bool(o) for _, _, o in results.values())
    print(f"{n_stale} of {len(results)} results are stale")
    return 0


if __name__ == "__main__":
    sys.exit(main())
