"""``neuroplay demo``: a short tour of every part on built-in inputs, shown in one HTML page
(the tour itself is :func:`neuroplay.tour.run_tour`)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from neuroplay.cli._util import Common, common_options, emit_json
from neuroplay.common.progress import console, make_progress


@common_options(quiet=typer.Option(False, "--quiet", "-q", help="No progress bars."), device=None)
def demo(
    out: Path = typer.Option(Path("neuroplay-demo"), "--out", "-o", help="Folder for the demo's outputs."),
    quick: bool = typer.Option(
        False, "--quick", help="Shrink every budget: the whole tour in well under a minute (the agents learn little)."
    ),
    *,
    common: Common,
) -> None:
    """Run a short tour of every part on built-in inputs; open OUT/index.html to see it."""
    from neuroplay.tour import TourConfig, check_out_dir, run_tour

    config = TourConfig(seed=common.seed, quick=quick)
    check_out_dir(out)  # here too, before the bars start, so a refusal is one clean line
    t0 = time.perf_counter()
    c = console()
    with make_progress(disable=common.quiet, transient=True) as progress:
        tasks: dict[str, int] = {}

        def on_progress(task: str, done: int, total: int | None, status: str) -> None:
            if task not in tasks:
                tasks[task] = progress.add_task(task, total=total, status="")
            progress.update(tasks[task], completed=done, total=total, status=status)

        def on_part(name: str) -> None:
            for task in tasks.values():  # the finished part's bars go
                progress.remove_task(task)
            tasks.clear()
            if not common.quiet:
                progress.console.print(f"[bold]demo:[/] {name} …")

        result = run_tour(out, config, progress=on_progress, on_part=on_part)
    if common.json:
        emit_json(
            {"out": str(out), "index": str(result.index), "wall_seconds": time.perf_counter() - t0, **result.numbers}
        )
    else:
        c.print(f"demo written to [bold]{out.resolve()}[/]; open {result.index.resolve()}")
