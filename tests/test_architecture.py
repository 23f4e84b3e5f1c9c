"""The package's layering: no import cycles, nothing imports what is above it, and the torch
side (``skfusion.nn``) never imports scikit-learn or the estimators."""

import ast
import pathlib

import pytest

import skfusion

PACKAGE = pathlib.Path(skfusion.__file__).parent


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path):
    """Every skfusion module ``path`` imports (at module level or inside functions)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("skfusion")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("skfusion"):
                found.add(target)
                for alias in node.names:  # "from . import x" imports the module x
                    if f"{target}.{alias.name}" in MODULES:
                        found.add(f"{target}.{alias.name}")
    return found - {name}


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: {t for t in _imports(path) if t in MODULES} for name, path in MODULES.items()}


def _is_package(name):
    return MODULES[name].name == "__init__.py"


def test_no_import_cycles_between_modules():
    # Packages' __init__ re-export their modules; the cycles that matter are between modules.
    graph = {
        n: {t for t in ts if not _is_package(t)} for n, ts in GRAPH.items() if not _is_package(n)
    }
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for target in graph.get(node, ()):
            if state.get(target) == "open":
                cycle = stack[stack.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_the_package_is_never_imported_by_its_own_modules():
    offenders = [n for n, ts in GRAPH.items() if "skfusion" in ts and n != "skfusion"]
    assert not offenders, f"{offenders} import the skfusion package itself"


#: The package's layers, bottom to top: a module may import its own layer and those below.
#: The longest matching prefix decides a module's layer.
LAYERS = {
    "skfusion._version": 0,
    "skfusion._input": 0,
    "skfusion._input_parts": 0,
    "skfusion._legacy": 0,
    "skfusion.preprocessing": 1,
    "skfusion.datasets": 1,
    "skfusion.nn": 2,
    "skfusion._net": 3,
    "skfusion._base": 4,
    "skfusion._tasks": 5,
    "skfusion._families": 6,
    "skfusion.metrics": 7,
    "skfusion.explain": 7,
    "skfusion.evaluation": 8,
    "skfusion.conformal": 8,
    "skfusion.tuning": 8,
    "skfusion.uncertainty": 8,
    "skfusion.embedding": 8,
    "skfusion.distributed": 8,
    "skfusion.callbacks": 8,
    "skfusion._cli": 9,
    "skfusion.__main__": 9,
    "skfusion": 10,
}


def _layer(module):
    prefixes = [p for p in LAYERS if module == p or module.startswith(p + ".")]
    assert prefixes, f"{module} is in no layer of LAYERS"
    return LAYERS[max(prefixes, key=len)]


def test_every_module_imports_only_its_own_layer_and_those_below():
    upward = [
        f"{name} ({_layer(name)}) -> {target} ({_layer(target)})"
        for name, targets in sorted(GRAPH.items())
        for target in sorted(targets)
        if _layer(target) > _layer(name)
    ]
    assert not upward, "imports that reach up:\n" + "\n".join(upward)


def test_the_top_level_holds_few_private_modules():
    private = sorted(
        p.name
        for p in PACKAGE.glob("_*.py")
        if p.name not in ("__init__.py", "__main__.py", "_version.py")
    )
    assert len(private) <= 3, private


def test_nn_is_pure_torch():
    for name, path in MODULES.items():
        if name.startswith("skfusion.nn"):
            text = path.read_text()
            assert "import sklearn" not in text and "from sklearn" not in text, name
            assert "skorch" not in text, name
            outside = [t for t in GRAPH[name] if not t.startswith("skfusion.nn")]
            assert not outside, f"{name} imports {outside}"


def test_the_developers_guide_layer_table_names_every_layer():
    """Each entry of LAYERS (a module or a folder) is named in docs/developers.md's layer
    table, so a newcomer finds every top-level tool there."""
    text = (PACKAGE.parent / "docs" / "developers.md").read_text()
    table = text[text.index("| layer | what is in it | may import |") :]
    table = table[: table.index("\n\n")]
    missing = []
    for name in LAYERS:
        if name == "skfusion":
            continue
        short = name.removeprefix("skfusion.")
        if f"`{short}/`" not in table and f"`{short}.py`" not in table:
            missing.append(name)
    assert not missing, f"not in the layer table of docs/developers.md: {missing}"
