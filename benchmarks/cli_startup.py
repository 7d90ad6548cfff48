"""How long the command line takes before it does anything, and which commands import torch.

Times ``neuroplay --help`` and every ``neuroplay CMD --help`` (the median of ``--runs`` runs of
the installed console script, as a user starts it), and runs each once under ``python -X
importtime`` to list the heavy packages it loaded. Target (issue 12): ``neuroplay --help``
<= 0.3 s here, and no help text or torch-free command imports torch.

    .venv/bin/python benchmarks/cli_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("torch", "gymnasium", "numpy", "scipy", "skimage", "matplotlib", "PIL", "ray")
COMMANDS = [
    [],
    ["dqn"],
    ["dqn", "train"],
    ["dqn", "eval"],
    ["dqn", "play"],
    ["qtable"],
    ["evolve"],
    ["evolve", "train"],
    ["evolve", "eval"],
    ["evolve", "play"],
    ["style"],
    ["dream"],
    ["sketch"],
    ["sketch", "search"],
    ["sketch", "colorize"],
    ["weights"],
    ["weights", "list"],
    ["demo"],
]


def script() -> str:
    return str(Path(sys.executable).with_name("neuroplay"))


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def heavy_imports(args: list[str], cwd: str | None = None) -> list[str]:
    """Top-level names of the heavy packages that ``python -X importtime -m neuroplay ARGS`` loaded."""
    cmd = [sys.executable, "-X", "importtime", "-m", "neuroplay", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=dict(os.environ, COLUMNS="100"))
    found = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            module = line.rsplit("|", 1)[1].strip()
            if module.split(".")[0] in HEAVY:
                found.add(module.split(".")[0])
    return sorted(found)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Timed runs per command (the median is reported).")
    args = parser.parse_args()
    exe = script()
    wall([exe, "--help"])  # warm the file cache
    print(f"{'command':<24} {'median s':>9} {'min s':>7}  heavy imports")
    for command in COMMANDS:
        argv = [*command, "--help"]
        times = [wall([exe, *argv]) for _ in range(args.runs)]
        heavy = heavy_imports(argv)
        name = "neuroplay " + " ".join(argv)
        print(f"{name:<24} {statistics.median(times):9.3f} {min(times):7.3f}  {', '.join(heavy) or '-'}")
    with tempfile.TemporaryDirectory() as tmp:  # a command that runs for real but needs no torch
        argv = ["qtable", "--episodes", "50", "--out", str(Path(tmp) / "q"), "-q"]
        times = [wall([exe, *argv]) for _ in range(args.runs)]
        heavy = heavy_imports(argv, cwd=tmp)
        print(f"{'neuroplay qtable (run)':<24} {statistics.median(times):9.3f} {min(times):7.3f}  {', '.join(heavy)}")
        print("torch imported by the qtable run: " + ("YES" if "torch" in heavy else "no"))


if __name__ == "__main__":
    main()
