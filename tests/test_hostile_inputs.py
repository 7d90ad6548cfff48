"""Hostile input, through the real command line: every case is one `error: ...` line, exit code 2,
no traceback, nothing written and no input changed, and it is refused before any work starts.

A new option gets its bad values by adding a line to ``BAD_VALUES`` (or to ``BAD_OUTPUTS`` for a
path); the placeholders in a command are the files the ``world`` fixture makes.
"""

import hashlib
from pathlib import Path

import pytest

NAN, INF, HUGE = "nan", "inf", str(10**30)
SEEDS = ["-1", str(2**64)]

# command (with what it needs to run) -> the arguments; {model}, {champion}, {image}, {map} are inputs
COMMANDS = {
    "dqn train": ["dqn", "train", "--out", "run", "-q"],
    "dqn eval": ["dqn", "eval", "{model}"],
    "dqn play": ["dqn", "play", "{model}", "--gif", "ep.gif"],
    "qtable": ["qtable", "--out", "qt", "-q"],
    "evolve train": ["evolve", "train", "--out", "run", "-q"],
    "evolve eval": ["evolve", "eval", "{champion}"],
    "evolve play": ["evolve", "play", "{champion}", "--gif", "fly.gif"],
    "style": ["style", "{image}", "demo:swirl", "-o", "out.png", "-q"],
    "dream": ["dream", "{image}", "-o", "dream.png", "-q"],
    "sketch search": ["sketch", "search", "demo:cat", "-q"],
    "sketch colorize": ["sketch", "colorize", "demo:cup", "-o", "col.png", "-q"],
    "sketch train": ["sketch", "train", "--pairs", "pairs", "-o", "m.pt", "-q"],
    "demo": ["demo", "--out", "tour", "--quick", "-q"],
    "stylenet train": ["stylenet", "train", "{image}", "--content", "{photos}", "-o", "sn.pt", "-q"],
    "stylenet apply": ["stylenet", "apply", "{stylenet}", "{image}", "-o", "sn.png", "-q"],
}

# (command, option, bad values): one line per option
BAD_VALUES = [
    ("dqn train", "--seed", SEEDS),
    ("dqn train", "--threads", [HUGE, "0"]),
    ("dqn train", "--buffer-size", [str(10**12), "0"]),
    ("dqn train", "--num-envs", [str(10**6), "0"]),
    ("dqn train", "--batch-size", [str(10**9)]),
    ("dqn train", "--hidden", ["100000", "65536,65536,65536,65536"]),
    ("dqn train", "--total-steps", [HUGE]),
    ("dqn train", "--n-step", [str(10**9)]),
    ("dqn train", "--eval-episodes", [str(10**9)]),
    ("dqn train", "--threshold", [NAN, INF]),
    ("dqn train", "--max-grad-norm", [NAN, INF, "-1"]),
    ("dqn train", "--lr", [NAN, INF, "0"]),
    ("dqn train", "--gamma", [NAN, "2"]),
    ("dqn train", "--tau", [NAN]),
    ("dqn train", "--eps-start", [NAN]),
    ("dqn eval", "--seed", SEEDS),
    ("dqn eval", "--episodes", [str(10**9), "0"]),
    ("dqn play", "--seed", SEEDS),
    ("dqn play", "--scale", [NAN, INF, "1e4"]),
    ("dqn play", "--fps", ["0", str(10**9)]),
    ("dqn play", "--frame-skip", [str(10**9)]),
    ("qtable", "--seed", SEEDS),
    ("qtable", "--episodes", [str(10**12), "0"]),
    ("qtable", "--alpha", [NAN, INF]),
    ("qtable", "--gamma", [NAN]),
    ("qtable", "--slip", [NAN]),
    ("qtable", "--max-steps", [HUGE]),
    ("qtable", "--eps-decay", [HUGE]),
    ("evolve train", "--seed", SEEDS),
    ("evolve train", "--population", [str(10**7), "1"]),
    ("evolve train", "--generations", [HUGE]),
    ("evolve train", "--hidden", ["100000"]),
    ("evolve train", "--mutation-scale", [NAN, INF]),
    ("evolve train", "--crossover-rate", [NAN]),
    ("evolve train", "--pipe-bonus", [NAN, INF]),
    ("evolve eval", "--seed", SEEDS),
    ("evolve eval", "--courses", [str(10**9)]),
    ("evolve eval", "--max-pipes", [HUGE]),
    ("evolve play", "--seed", SEEDS),
    ("evolve play", "--scale", [NAN, INF, "1e4"]),
    ("evolve play", "--max-frames", [HUGE, "0"]),
    ("evolve play", "--fps", [NAN, "0"]),
    ("style", "--seed", SEEDS),
    ("style", "--threads", [HUGE, "0"]),
    ("style", "--iterations", [HUGE, "0"]),
    ("style", "--size", [HUGE]),
    ("style", "--style-weight", [NAN, INF, "1e300"]),
    ("style", "--content-weight", [NAN]),
    ("style", "--learning-rate", [NAN]),
    ("style", "--style-scale", [NAN, INF]),
    ("style", "--save-every", [HUGE]),
    ("style", "--max-memory", [NAN, INF]),
    ("dream", "--seed", SEEDS),
    ("dream", "--threads", [HUGE]),
    ("dream", "--steps", [HUGE]),
    ("dream", "--octave-scale", [NAN, INF]),
    ("dream", "--step-size", [NAN]),
    ("dream", "--fps", [NAN]),
    ("sketch search", "-k", [HUGE, "0"]),
    ("sketch colorize", "--seed", SEEDS),
    ("sketch colorize", "--threads", [HUGE]),
    ("sketch colorize", "--iterations", [HUGE]),
    ("sketch colorize", "--style-weight", [NAN, "1e300"]),
    ("sketch colorize", "--size", [HUGE]),
    ("sketch train", "--seed", SEEDS),
    ("sketch train", "--threads", [HUGE]),
    ("demo", "--seed", SEEDS),
    ("stylenet train", "--seed", SEEDS),
    ("stylenet train", "--threads", [HUGE, "0"]),
    ("stylenet train", "--steps", [HUGE, "0"]),
    ("stylenet train", "--batch-size", [HUGE, "0"]),
    ("stylenet train", "--crop", [HUGE, "8"]),
    ("stylenet train", "--style-size", [HUGE, "0"]),
    ("stylenet train", "--learning-rate", [NAN, INF, "0"]),
    ("stylenet train", "--style-weight", [NAN, INF, "1e300"]),
    ("stylenet train", "--content-weight", [NAN, "-1"]),
    ("stylenet train", "--tv-weight", [NAN]),
    ("stylenet train", "--widths", ["100000,1,1", "8,8", "0,8,8"]),
    ("stylenet train", "--blocks", [HUGE, "-1"]),
    ("stylenet train", "--preview-every", [HUGE]),
    ("stylenet train", "--checkpoint-every", [HUGE]),
    ("stylenet apply", "--seed", SEEDS),
    ("stylenet apply", "--threads", [HUGE, "0"]),
    ("stylenet apply", "--size", [HUGE, "0"]),
    ("stylenet apply", "--deflicker", [NAN, INF, "2", "-1"]),
    ("stylenet apply", "--ray-workers", [HUGE, "0"]),
    ("stylenet apply", "--precision", ["fp8"]),
]

# (command, the arguments replacing its usual output, what the message names): outputs in the
# way of a file, a folder, or an input. {file} is a regular file, {blocked} a folder whose
# model.pt, champion.pt and summary.json are folders, {adir} a folder named like a .gif/.png
BAD_OUTPUTS = [
    ("dqn train", ["--out", "{file}/run"], "is a file"),
    ("dqn train", ["--out", "{file}"], "not a directory"),
    ("dqn train", ["--out", "{blocked}"], "model.pt is a directory"),
    ("dqn play", ["--gif", "{adir}.gif"], "is a directory"),
    ("dqn play", ["--gif", "{file}/ep.gif"], "is a file"),
    ("dqn play", ["--gif", "{model}"], ".gif"),
    ("qtable", ["--out", "{file}"], "not a directory"),
    ("qtable", ["--out", "{file}/qt"], "is a file"),
    ("qtable", ["--out", "{blocked}"], "summary.json is a directory"),
    ("evolve train", ["--out", "{file}/run"], "is a file"),
    ("evolve train", ["--out", "{blocked}"], "champion.pt is a directory"),
    ("evolve play", ["--gif", "{adir}.gif"], "is a directory"),
    ("evolve play", ["--gif", "{file}/fly.gif"], "is a file"),
    ("style", ["-o", "{image}"], "overwrite an input"),
    ("style", ["-o", "{file}/out.png"], "is a file"),
    ("style", ["-o", "{adir}.png"], "is a directory"),
    ("style", ["-o", "o.png", "--init", "o.png"], "overwrite an input"),
    ("style", ["-o", "{inputs}/pic.png", "--mask", "{inputs}/pic.json"], "overwrite an input"),
    ("style", ["-o", "{inputs}/pic.png", "--init", "{inputs}/pic_0002.png", "--save-every", "1"], "overwrite"),
    ("dream", ["-o", "{image}"], "overwrite an input"),
    ("dream", ["-o", "{inputs}/pic.png", "--mask", "{inputs}/pic.json"], "overwrite an input"),
    ("sketch colorize", ["-o", "{image}", "--photo", "{image}"], "overwrite an input"),
    ("sketch colorize", ["-o", "{inputs}/pic.png", "--photo", "{inputs}/pic_sheet.png"], "overwrite an input"),
    ("sketch colorize", ["-o", "{file}/col.png"], "is a file"),
    ("demo", ["--out", "{file}/tour"], "is a file"),
    ("stylenet train", ["-o", "{file}/sn.pt"], "is a file"),
    ("stylenet train", ["-o", "{adir}.pt"], "is a directory"),
    ("stylenet train", ["-o", "sn.png"], ".pt"),
    ("stylenet apply", ["-o", "{image}"], "overwrite an input"),
    ("stylenet apply", ["-o", "{file}/sn.png"], "is a file"),
    ("stylenet apply", ["-o", "{adir}.png"], "is a directory"),
    ("stylenet apply", ["-o", "sn.gif"], "image file"),
]

CASES = [
    pytest.param(command, [option, value], option, id=f"{command} {option} {value}")
    for command, option, values in BAD_VALUES
    for value in values
] + [pytest.param(command, args, named, id=f"{command} {' '.join(args)}") for command, args, named in BAD_OUTPUTS]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict[str, Path]:
    """The inputs the cases read: a DQN model, a champion, images, a regular file, blocked outputs."""
    import numpy as np
    from PIL import Image

    from neuroplay.evo.champion import Champion, save_champion
    from neuroplay.evo.config import EvolveConfig
    from neuroplay.rl.dqn import DQN, DQNConfig

    root = tmp_path_factory.mktemp("inputs")
    DQN(DQNConfig(hidden=(8,))).save(root / "model.pt")
    config = EvolveConfig(population=10, hidden=(2,))
    genome = np.zeros(sum((a + 1) * b for a, b in zip(config.sizes, config.sizes[1:], strict=False)))
    save_champion(root / "champion.pt", Champion(genome, config.sizes, 0, [1]), config)
    picture = Image.fromarray(np.full((48, 64, 3), 128, np.uint8))
    for name in ("image.png", "pic.json", "pic_0002.png", "pic_sheet.png"):
        picture.save(root / name, format="PNG")
    (root / "afile").write_text("a regular file\n")
    for name in ("model.pt", "champion.pt", "summary.json"):
        (root / "blocked" / name).mkdir(parents=True)
    (root / "adir.gif").mkdir()
    (root / "adir.png").mkdir()
    (root / "adir.pt").mkdir()
    (root / "photos").mkdir()
    picture.save(root / "photos" / "p.png", format="PNG")
    from neuroplay.vision.stylenet.model_file import save_model
    from neuroplay.vision.stylenet.network import StyleNet

    save_model(root / "stylenet.pt", StyleNet((2, 2, 2), 0), {"name": "tiny"})
    return {
        "inputs": root,
        "model": root / "model.pt",
        "champion": root / "champion.pt",
        "image": root / "image.png",
        "file": root / "afile",
        "blocked": root / "blocked",
        "adir": root / "adir",
        "photos": root / "photos",
        "stylenet": root / "stylenet.pt",
    }


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("command, args, named", CASES)
def test_hostile_input_is_one_clean_error(command, args, named, world, run_cli, tmp_path, monkeypatch):
    import neuroplay.common.bounds as bounds

    monkeypatch.chdir(tmp_path)
    # a laptop's memory, whatever the machine has: a network of terabytes is refused everywhere
    monkeypatch.setattr(bounds, "available_memory", lambda device=None: 16 * 2**30)
    (tmp_path / "o.png").write_bytes(world["image"].read_bytes())  # an input in the working folder
    before, here = _digest(world["inputs"]), _digest(tmp_path)
    fill = {key: str(path) for key, path in world.items()}
    argv = [part.format(**fill) for part in [*COMMANDS[command], *args]]
    code, _, err = run_cli(*argv)
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and named in err, err
    assert _digest(world["inputs"]) == before and _digest(tmp_path) == here  # nothing changed, nothing written


def test_a_run_too_big_for_memory_names_the_largest_that_fits(run_cli, tmp_path, monkeypatch):
    """Within the bounds but beyond the memory at hand: refused before allocating, with what fits."""
    import neuroplay.common.bounds as bounds

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(bounds, "available_memory", lambda device=None: 2 * 2**30)
    for argv, option in [
        (["dqn", "train", "--out", "run", "--buffer-size", str(10**8)], "--buffer-size"),
        (["evolve", "train", "--out", "run", "--population", str(10**6)], "--population"),
        (["evolve", "play", "x.pt", "--gif", "x.gif", "--max-frames", str(10**6), "--scale", "4"], "--max-frames"),
        (["dream", "demo:chelsea", "-o", "z.gif", "--zoom-frames", "10000", "--max-size", "2048"], "--zoom-frames"),
    ]:
        code, _, err = run_cli(*argv)
        assert code == 2 and err.count("\n") == 1, err
        largest = int(err.rsplit(f"the largest {option} that fits is ", 1)[1])
        assert 0 < largest < int(argv[argv.index(option) + 1]), err
    assert list(tmp_path.iterdir()) == []


def test_every_command_has_hostile_cases():
    counted = {command: 0 for command in COMMANDS}
    for param in CASES:
        counted[param.values[0]] += 1
    assert all(counted.values()), counted


def test_in_range_refuses_what_cannot_be_run_and_names_it():
    from neuroplay.common.bounds import check_seed, in_range, largest_that_fits
    from neuroplay.common.errors import UserError

    for value in (float("nan"), float("inf"), -1.0, 2.5):
        with pytest.raises(UserError, match=r"^lr must be a number in \(0, 2\], got"):
            in_range("lr", value, 0.0, 2.0, open_lo=True)
    with pytest.raises(UserError, match=r"^--episodes must be an integer, got 1.5"):
        in_range("--episodes", 1.5, 1, 10)
    with pytest.raises(UserError, match="seed must be an integer in 0..4294967295"):
        check_seed(2**64)
    in_range("lr", None, 0.0, 1.0)  # an optional setting left unset
    in_range("steps", 10**3, 1, 10**3)
    assert largest_that_fits(lambda n: 3 * n, 10**6, 3000) == 1000
    assert largest_that_fits(lambda n: 10**9, 10**6, 3000) == 0
