"""Import isolation: the core imports no framework; each twin imports only its own."""

import subprocess
import sys

import pytest

CASES = [
    ("deberta_core", ["torch", "tensorflow", "keras"]),
    ("deberta_core.tokenizer", ["torch", "tensorflow", "keras", "transformers"]),
    ("deberta_core.weight_map", ["torch", "tensorflow", "keras"]),
    ("deberta_core.weight_plan", ["torch", "tensorflow", "keras"]),
    ("deberta_core.checkpoint_io", ["torch", "tensorflow", "keras"]),
    ("deberta_core.mlm", ["torch", "tensorflow", "keras"]),
    ("deberta_torch", ["tensorflow", "keras"]),
    ("deberta_tf", ["torch"]),
    ("deberta_torch.mlm", ["tensorflow", "keras"]),
    ("deberta_tf.mlm", ["torch"]),
]


@pytest.mark.parametrize("module, forbidden", CASES, ids=[c[0] for c in CASES])
def test_import_does_not_pull_other_frameworks(module, forbidden):
    script = (
        "import importlib, sys, json;"
        f"importlib.import_module({module!r});"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and f"No module named '{module}'" in done.stderr:
        pytest.fail(f"{module} is missing: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    import json

    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not loaded & set(forbidden), f"importing {module} imported {sorted(loaded & set(forbidden))}"


# ---------------------------------------------------------------------------------------------------- structure
# The floor plan: what each package may import (docs/architecture.md, "Packages and what imports what"). Read
# from the sources with ast (no import runs), so function-level imports count as much as the ones at the top of a
# file.
import ast  # noqa: E402
import pathlib  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("deberta_core", "deberta_torch", "deberta_tf", "conversion")
MAY_IMPORT = {
    "deberta_core": {"deberta_core"},
    "deberta_torch": {"deberta_core", "deberta_torch"},
    "deberta_tf": {"deberta_core", "deberta_tf"},
    "conversion": {"deberta_core", "deberta_torch", "deberta_tf", "conversion"},
    "examples": {"deberta_core", "deberta_torch", "deberta_tf", "conversion", "examples"},
}


def _module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for top in (*PACKAGES, "examples") for p in sorted((ROOT / top).rglob("*.py"))}


def _imports(module: str):
    """(imported project module, imported names, line) for every import statement of ``module``, at any depth."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in MAY_IMPORT:
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] not in MAY_IMPORT:
                continue
            names = [alias.name for alias in node.names]
            submodules = [f"{target}.{name}" for name in names if f"{target}.{name}" in MODULES]
            yield (submodules[0] if len(submodules) == len(names) == 1 else target), names, node.lineno


def test_every_package_imports_only_what_the_floor_plan_allows():
    bad = [f"{module}:{line} imports {target}" for module in MODULES for target, _, line in _imports(module)
           if target.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]]
    assert not bad, bad


def test_no_import_cycle_counting_function_level_imports():
    graph = {module: {target for target, _, _ in _imports(module) if target in MODULES and target != module}
             for module in MODULES}
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, [" -> ".join(c) for c in cycles]


def test_no_private_name_is_imported_across_files():
    bad = [f"{module}:{line} imports {name} from {target}" for module in MODULES
           for target, names, line in _imports(module) for name in names
           if name.startswith("_") and not name.startswith("__")]
    assert not bad, bad
