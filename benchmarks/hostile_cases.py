"""The hardening issue's measured targets: how many hostile cases the tests cover, per command,
and the peak memory of the real command line given each crafted file.

Counts come from the parametrised suites themselves (tests/test_hostile_inputs.py: bad values and
outputs per command; tests/test_hostile_files.py: files with wrong insides per command;
tests/test_fuzz_checkpoints.py: generated files per loader). Then every crafted file of
tests/test_hostile_files.py is written again and its command is run as a user would run it, in its
own process (``python -m neuroplay``), recording the exit code, whether stderr is one ``error:``
line, and the process's peak resident memory (``ru_maxrss`` from ``wait4``). Target: exit 2, one
line, no process above 2 GB.

    python benchmarks/hostile_cases.py
    python benchmarks/hostile_cases.py --json /tmp/hostile.json
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
LIMIT_MB = 2048


def counts() -> dict[str, collections.Counter]:
    """Cases per command in each hostile suite."""
    import test_fuzz_checkpoints as fuzz
    import test_hostile_files as files
    import test_hostile_inputs as inputs

    values = collections.Counter(p.values[0] for p in inputs.CASES)
    crafted = collections.Counter(" ".join(files.TARGETS[t][1][:2]) for t, _, _ in files.CORRUPTIONS)
    per_test = fuzz.SETTINGS.max_examples
    generated = collections.Counter({"dqn eval/play (DQN.load)": per_test, "evolve eval/play (load_champion)": per_test,
                                     "dqn train --resume (DQN.resume)": per_test})  # fmt: skip
    return {"bad values and outputs": values, "crafted files": crafted, "generated files (hypothesis)": generated}


def run_crafted(work: Path) -> list[dict]:
    """Each crafted file of the suite through the real command line, in its own process."""
    import shutil

    import test_hostile_files as files

    originals = files.make_originals(work / "originals")
    rows = []
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "MPLBACKEND": "Agg"}
    for i, (target, name, edit) in enumerate(files.CORRUPTIONS):
        file_name, argv = files.TARGETS[target]
        case = work / f"case{i}"
        run = case / "run"
        shutil.copytree(originals["dqn" if file_name == "model.pt" or target == "dqn-run" else "evo"], run)
        files._craft(run / file_name, run / file_name, edit)
        (case / "out").mkdir()
        before = files._digest(case)
        args = [part.format(path=run / file_name, dir=run, out=case / "out") for part in argv]
        with open(work / "stderr", "w+b") as err:  # a file, not a pipe: wait4 reaps the child itself
            proc = subprocess.Popen([sys.executable, "-m", "neuroplay", *args], stdout=subprocess.DEVNULL, stderr=err,
                                    env=env)  # fmt: skip
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
            err.seek(0)
            text = err.read().decode(errors="replace")
        peak_mb = usage.ru_maxrss / 1024  # kB on Linux
        rows.append(
            {
                "command": " ".join(argv[:2]),
                "case": f"{target}: {name}",
                "exit": proc.returncode,
                "one_line": text.startswith("error: ") and text.count("\n") == 1 and "Traceback" not in text,
                "unchanged": files._digest(case) == before,
                "peak_mb": peak_mb,
            }
        )
        print(f"{rows[-1]['exit']:>3} {peak_mb:>7.0f} MB  {rows[-1]['case']}", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    os.chdir(ROOT)

    print(f"# hostile cases — {platform.node()}, {os.cpu_count()} cores, {datetime.date.today()}\n")
    tables = counts()
    commands = sorted({c for table in tables.values() for c in table})
    print("| command | " + " | ".join(tables) + " |")
    print("|---|" + "---:|" * len(tables))
    for command in commands:
        print(f"| {command} | " + " | ".join(str(t.get(command, 0) or "") for t in tables.values()) + " |")
    print("| **all** | " + " | ".join(str(sum(t.values())) for t in tables.values()) + " |")

    with tempfile.TemporaryDirectory() as tmp:
        rows = run_crafted(Path(tmp))
    bad = [r for r in rows if r["exit"] != 2 or not r["one_line"] or not r["unchanged"]]
    peak = max(r["peak_mb"] for r in rows)
    by_command = collections.defaultdict(list)
    for r in rows:
        by_command[r["command"]].append(r["peak_mb"])
    print("\n| command | crafted files run | exit 2, one line, inputs unchanged | peak memory, largest |")
    print("|---|---:|---:|---:|")
    for command, peaks in sorted(by_command.items()):
        ok = sum(1 for r in rows if r["command"] == command and r not in bad)
        print(f"| {command} | {len(peaks)} | {ok} | {max(peaks):.0f} MB |")
    for r in bad:
        print(f"FAILED: {r}")
    verdict = "PASS" if not bad and peak <= LIMIT_MB else "FAIL"
    print(f"\n{verdict}: {len(rows)} crafted files, {len(bad)} not a clean refusal, largest process {peak:.0f} MB "
          f"(limit {LIMIT_MB} MB)")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"counts": {k: dict(v) for k, v in tables.items()}, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
