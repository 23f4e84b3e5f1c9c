"""tests/ mirrors skfusion/: every module has ``tests/<subpackage>/test_<module>.py`` or a
row in docs/developers.md naming the suite that tests it (issue 39)."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROW = re.compile(r"^\| `skfusion/([\w/]+\.py)` \| `tests/([\w/]+\.py)` \|", re.M)


def _listed():
    return dict(ROW.findall((ROOT / "docs" / "developers.md").read_text()))


def _own_test(module):
    path = pathlib.PurePosixPath(module)
    folder = ROOT / "tests" / path.parent
    return any(
        (folder / f"test_{name}.py").is_file() for name in {path.stem, path.stem.lstrip("_")}
    )


def _modules():
    return sorted(
        str(p.relative_to(ROOT / "skfusion").as_posix())
        for p in (ROOT / "skfusion").rglob("*.py")
        if p.name != "__init__.py"
    )


def test_every_module_has_its_test_file_or_a_listed_suite():
    listed = _listed()
    untested = [m for m in _modules() if not _own_test(m) and m not in listed]
    assert not untested, (
        f"{len(untested)} module(s) without tests/<subpackage>/test_<module>.py and without a "
        f"row in docs/developers.md ('Modules tested by a suite'): {untested}. Add the test "
        "file, or the row naming the suite that tests the module."
    )


def test_every_listed_row_names_a_module_and_a_suite_that_exist():
    listed = _listed()
    assert len(listed) > 50  # the table was found and read
    modules = set(_modules())
    stale = {
        m: s
        for m, s in listed.items()
        if m not in modules or not (ROOT / "tests" / s).is_file() or _own_test(m)
    }
    assert not stale, (
        f"docs/developers.md lists {stale}: a module that no longer exists, a "
        "suite that does not, or a module that now has its own test file; "
        "remove or correct the row."
    )


def test_the_rule_catches_a_module_without_tests(tmp_path):
    assert not _own_test("_base/no_such_module.py")
    assert _own_test("_base/parameters/params.py") and _own_test("datasets/_readers/nifti.py")
