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
    graph = {n: {t for t in ts if not _is_package(t)} for n, ts in GRAPH.items()
             if not _is_package(n)}
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for target in graph.get(node, ()):
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
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


@pytest.mark.parametrize("lower, upper", [
    ("skfusion.nn", "skfusion._core"),
    ("skfusion._net", "skfusion._core"),
    ("skfusion._persistence", "skfusion._core"),
    ("skfusion._core", "skfusion._classification"),
    ("skfusion._core", "skfusion._regression"),
    ("skfusion._core", "skfusion._survival"),
    ("skfusion._classification", "skfusion.tuning"),
    ("skfusion._survival", "skfusion.metrics"),
    ("skfusion._export", "skfusion._core"),
    ("skfusion._core", "skfusion.explain"),
    ("skfusion._importance", "skfusion._core"),
    ("skfusion._parallel", "skfusion._core"),
    ("skfusion._gradcam", "skfusion._core"),
    ("skfusion._core", "skfusion.distributed"),
    ("skfusion._text_metrics", "skfusion._core"),
])
def test_lower_layers_do_not_reach_up(lower, upper):
    below = [n for n in GRAPH if n == lower or n.startswith(lower + ".")]
    # everything reachable from the lower layer
    seen, todo = set(), list(below)
    while todo:
        node = todo.pop()
        for target in GRAPH.get(node, ()):
            if target not in seen and not _is_package(target):
                seen.add(target)
                todo.append(target)
    assert upper not in seen, f"{lower} reaches {upper}"


def test_nn_is_pure_torch():
    for name, path in MODULES.items():
        if name.startswith("skfusion.nn"):
            text = path.read_text()
            assert "import sklearn" not in text and "from sklearn" not in text, name
            assert "skorch" not in text, name
            outside = [t for t in GRAPH[name] if not t.startswith("skfusion.nn")]
            assert not outside, f"{name} imports {outside}"
