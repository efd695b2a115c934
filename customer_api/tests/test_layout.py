"""Imports go one way: customer_api → vaults → ledger → common, and nothing imports customer_api.
common (infrastructure with no domain: databases, ids, client addresses and the admin lockout)
imports none of the others.

Read from the source (lazy imports inside functions included), so a shortcut back up the chain
fails here rather than in a circular import at startup.
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
OUR_PACKAGES = frozenset({"common", "ledger", "vaults", "customer_api", "vancelian"})


def imports_of(package: str, *, skip: tuple[str, ...] = ()) -> set[tuple[str, str]]:
    """(file, our package) for every import of another of our packages under `package`."""
    found = set()
    paths = list((ROOT / package).rglob("*.py"))
    assert len(paths) > 3, f"no sources found under {package}/: the check would pass without reading anything"
    for path in paths:
        relative = path.relative_to(ROOT)
        if any(part in skip for part in relative.parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in OUR_PACKAGES and top != package:
                    found.add((str(relative), top))
    return found


def test_ledger_is_a_leaf_importing_only_common():
    outside = {(path, top) for path, top in imports_of("ledger", skip=("tests", "migrations")) if top != "common"}
    assert outside == set()


def test_common_imports_none_of_the_domain():
    outside = {(path, top) for path, top in imports_of("common", skip=("tests",)) if top != "vancelian"}
    assert outside == set()


@pytest.mark.parametrize("package", ["common", "ledger", "vaults"])
def test_nothing_below_imports_customer_api(package):
    assert {path for path, top in imports_of(package) if top == "customer_api"} == set()
