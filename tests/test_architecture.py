"""The house rules of docs/ARCHITECTURE.md, checked: who may import whom, and a CLI that starts light."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "neuroplay"

# room -> rooms it may import (besides itself); "vision.sketch" is a room inside "vision"
ALLOWED = {
    "common": set(),
    "rl": {"common"},
    "evo": {"common"},
    "vision": {"common"},
    "vision.sketch": {"common", "vision"},
    "tour": {"common", "rl", "evo", "vision", "vision.sketch"},
    "studio": {"common", "rl", "evo", "vision", "vision.sketch", "tour"},
    "cli": {"common", "rl", "evo", "vision", "vision.sketch", "tour", "studio"},
}
# anyone may import these: the version, and the gymnasium registration of neuroplay's own
# environments (by entry-point string, so it imports no part)
OPEN = {"__version__", "__main__", "envs"}


def _room(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "neuroplay" or len(parts) < 2 or parts[1] in OPEN:
        return None
    if parts[1] == "vision" and len(parts) > 2 and parts[2] == "sketch":
        return "vision.sketch"
    return parts[1]


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(module, at_top_level)`` for every neuroplay import in the file."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            found += [(n, id(node) in top) for n in names if n.startswith("neuroplay")]
        elif isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names if a.name.startswith("neuroplay")]
    return found


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def test_rooms_import_only_what_they_may():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        own = _room(_module_name(path))
        if own is None:  # neuroplay/__init__.py, __main__.py
            continue
        for module, _ in _imports(path):
            other = _room(module)
            if other is None or other == own:
                continue
            if other not in ALLOWED[own]:
                bad.append(f"{path.relative_to(SRC)} imports {module}")
    assert not bad, "\n".join(bad)


def test_no_private_names_imported_across_modules():
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("neuroplay"):
                bad += [
                    f"{path.relative_to(SRC)}: {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_") and not a.name.startswith("__")
                ]
    assert not bad, "\n".join(bad)


def test_files_stay_short():
    long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 450}
    assert not long, long


HEAVY = ("torch", "numpy", "gymnasium", "scipy", "PIL", "matplotlib", "gradio")


def _heavy_modules_loaded(argv: list[str]) -> list[str]:
    """Run ``neuroplay ARGV`` in a fresh interpreter; the heavy packages it imported."""
    code = (
        "import sys\n"
        "from neuroplay.cli import main\n"
        f"try:\n    main({argv!r})\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    last = out.strip().splitlines()[-1]
    assert last.startswith("HEAVY"), out[-500:]
    return [m for m in last.removeprefix("HEAVY").strip().split(",") if m]


@pytest.mark.parametrize(
    "argv", [["--help"], ["dqn", "train", "--help"], ["style", "--help"], ["sketch", "--help"], ["studio", "--help"]]
)
def test_help_imports_no_heavy_package(argv):
    assert _heavy_modules_loaded(argv) == []


def test_qtable_runs_without_torch(tmp_path):
    loaded = _heavy_modules_loaded(["qtable", "--episodes", "20", "--out", str(tmp_path / "q"), "-q"])
    assert "torch" not in loaded and "numpy" in loaded  # it did run, on NumPy
    assert (tmp_path / "q" / "summary.json").is_file()
