"""DESIGN §1: an import only points down the floors of the house."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fcnet"

FLOORS = {
    "backend": 1, "random": 1, "_pool": 1,  # the threads BLAS and the kernels share
    "ops": 2, "_fused": 2, "_conv": 2,  # the compiled element-wise kernels (DESIGN §4)
    "activations": 3, "initializers": 3, "regularizers": 3, "constraints": 3, "losses": 3,
    "metrics": 3, "_registry": 3,
    "variables": 4, "layers": 4,
    "optimizers": 5, "callbacks": 5,
    "models": 6,
    "saving": 7, "distribution": 7, "distributed": 7, "utils": 7, "datasets": 7, "testing": 7,
    "wrappers": 7,
    "__init__": 8, "__main__": 8,
}


def floor_of(module_parts):
    return FLOORS[module_parts[0]] if module_parts else 8


def imported_modules(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fcnet"):
            parts = node.module.split(".")[1:]
            if parts:
                yield node.lineno, parts
            else:
                for alias in node.names:
                    yield node.lineno, [alias.name]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("fcnet."):
                    yield node.lineno, alias.name.split(".")[1:]


# DESIGN §1's one sanctioned reach upward, as in Keras: these functions of the models
# floor call into fcnet/saving through an import made when they run.
SAVING_ENTRY_POINTS = {"save", "save_weights", "load_weights", "to_json", "load_model",
                       "save_model", "model_from_json"}


def sanctioned(tree) -> set[int]:
    """Lines of imports of fcnet.saving made inside the saving entry points."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in SAVING_ENTRY_POINTS:
            lines.update(lineno for lineno, target in imported_modules(node)
                         if target[0] == "saving")
    return lines


def test_every_module_has_a_floor_and_imports_only_downwards():
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        own = floor_of(list(parts))
        tree = ast.parse(path.read_text())
        allowed = sanctioned(tree) if parts[0] == "models" else set()
        for lineno, target in imported_modules(tree):
            if floor_of(target) > own and lineno not in allowed:
                offences.append(f"{path.relative_to(PACKAGE)}:{lineno} imports "
                                f"fcnet.{'.'.join(target)} (floor {floor_of(target)} > {own})")
    assert offences == []
