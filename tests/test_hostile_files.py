"""Files that look right but are not, through the real command line: a model, champion or run
checkpoint with the right kind tag and a valid checksum (written with the project's own
``save_checkpoint``, as anyone could) or none (older files load without one), but wrong insides.
Every case is one `error: ...` line naming the file, exit code 2, no traceback, and the run folder
unchanged. One line per corruption in ``CORRUPTIONS``.
"""

import hashlib
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from neuroplay.common.checkpoint import load_checkpoint, save_checkpoint

# which file, and the command that reads it ({path}: the file or its run folder)
TARGETS = {
    "model": ("model.pt", ["dqn", "eval", "{path}", "-n", "1"]),
    "model-play": ("model.pt", ["dqn", "play", "{path}", "--gif", "{out}/ep.gif"]),
    "champion": ("champion.pt", ["evolve", "eval", "{path}", "--courses", "1", "--max-pipes", "2"]),
    "champion-play": ("champion.pt", ["evolve", "play", "{path}", "--gif", "{out}/fly.gif", "--max-frames", "5"]),
    "dqn-run": ("checkpoint.pt", ["dqn", "train", "--resume", "{dir}", "--total-steps", "400", "-q"]),
    "evo-run": ("checkpoint.pt", ["evolve", "train", "--resume", "{dir}", "--generations", "4", "-q"]),
    "evo-compare": (
        "checkpoint.pt",
        ["evolve", "play", "{dir}", "--compare", "--gif", "{out}/c.gif", "--max-frames", "5"],
    ),
    "stylenet": ("m.pt", ["stylenet", "apply", "{path}", "{dir}/photo.png", "-o", "{out}/x.png"]),
    "stylenet-run": ("m-run/checkpoint.pt", ["stylenet", "train", "--resume", "{dir}/m-run", "--steps", "3", "-q"]),
}
# which original run each target's file comes from
ORIGIN = {"model": "dqn", "model-play": "dqn", "dqn-run": "dqn", "stylenet": "sn", "stylenet-run": "sn"}
KINDS = {"model.pt": "neuroplay.dqn.model", "champion.pt": "neuroplay.evo.champion"}


def _set(*keys, value) -> Callable[[dict], None]:
    """Set ``data[k1][k2]...`` to ``value`` (a function of the old value when callable)."""

    def edit(data: dict) -> None:
        *outer, last = keys
        for key in outer:
            data = data[key]
        data[last] = value(data[last]) if callable(value) else value

    return edit


def _nan_first(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = math.nan
    return t


def _env_entry(kind: str, change: Callable) -> Callable[[dict], None]:
    """The first entry of ``kind`` ("array", "rng") in the environment's snapshot, changed."""

    def edit(data: dict) -> None:
        for obj in data["env"]:
            for name, (tag, value) in obj.items():
                if tag == kind and (kind != "array" or value.dim()):
                    obj[name] = (tag, change(value))
                    return
        raise AssertionError(f"no {kind} in the env snapshot")

    return edit


def _elite_tally(value: float, birds: int = 1) -> Callable[[dict], None]:
    """``birds`` elites (the first birds) whose tallies start with ``value``."""

    def edit(data: dict) -> None:
        data["elites"] = data["genomes"][:birds].clone()
        data["tally"] = torch.tensor([[value, 0.0, 0.0, 0.0]] * birds, dtype=torch.float64)

    return edit


def _huge_state(state: dict) -> dict:
    """A generator state whose number does not fit the generator (NumPy raises OverflowError)."""
    return {**state, "state": {**state["state"], "state": 2**200}}


def _only_tag(data: dict) -> None:
    for key in list(data):
        del data[key]


def _no_checksum(edit: Callable[[dict], None]) -> Callable[[dict], None]:
    edit.no_checksum = True  # type: ignore[attr-defined]
    return edit


Q0 = "body.0.weight"
SN0 = "enc1.1.weight"  # the style network's first convolution
# (target, id, edit): one line per corruption
CORRUPTIONS = [
    ("model", "only kind and version", _only_tag),
    ("model", "seed None", _set("config", "seed", value=None)),
    ("model", "hidden 10**9", _set("config", "hidden", value=[10**9])),
    ("model", "hidden beyond memory", _set("config", "hidden", value=[65536] * 4)),
    ("model", "hidden a string", _set("config", "hidden", value="abc")),
    ("model", "unknown setting", _set("config", "warp", value=9)),
    ("model", "config a list", _set("config", value=[1, 2])),
    ("model", "NaN weight", _set("q", Q0, value=_nan_first)),
    ("model", "inf weight", _set("q", "head.bias", value=lambda t: t.fill_(math.inf))),
    ("model-play", "NaN weight", _set("q", Q0, value=_nan_first)),
    ("model", "NaN weight, no checksum", _no_checksum(_set("q", Q0, value=_nan_first))),
    ("model", "weight of the wrong shape", _set("q", Q0, value=lambda t: t[:, :2].clone())),
    ("model", "weight as float64", _set("q", Q0, value=lambda t: t.double())),
    ("model", "weight missing", _set("q", value=lambda q: {k: v for k, v in q.items() if k != Q0})),
    ("model", "weights a list", _set("q", value=[1.0, 2.0])),
    ("model", "obs_shape wrong", _set("obs_shape", value=[5])),
    ("model", "n_actions wrong", _set("n_actions", value=3)),
    ("model", "another env", _set("config", "env_id", value="Acrobot-v1")),
    ("champion", "only kind and version", _only_tag),
    ("champion", "no champion", _set("champion", value=None)),
    ("champion", "sizes [3]", _set("champion", "sizes", value=[3])),
    ("champion", "sizes []", _set("champion", "sizes", value=[])),
    ("champion", "sizes [3,1,0]", _set("champion", "sizes", value=[3, 1, 0])),
    ("champion", "sizes floats", _set("champion", "sizes", value=[3.0, 2.0, 1.0])),
    ("champion", "sizes huge", _set("champion", "sizes", value=[3, 10**9, 1])),
    ("champion", "sizes [4,2,1]", _set("champion", "sizes", value=[4, 2, 1])),
    ("champion", "genome too short", _set("champion", "genome", value=lambda g: g[:-1].clone())),
    ("champion", "genome NaN", _set("champion", "genome", value=_nan_first)),
    (
        "champion",
        "genome inf, no checksum",
        _no_checksum(_set("champion", "genome", value=lambda g: g.fill_(math.inf))),
    ),
    ("champion", "genome float32", _set("champion", "genome", value=lambda g: g.float())),
    ("champion", "generation a string", _set("champion", "generation", value="7")),
    ("champion", "no training pipes", _set("champion", "train_pipes", value=[])),
    ("champion-play", "sizes [3]", _set("champion", "sizes", value=[3])),
    ("dqn-run", "only kind and version", _only_tag),
    ("dqn-run", "seed None", _set("config", "seed", value=None)),
    ("dqn-run", "hidden 10**9", _set("config", "hidden", value=[10**9])),
    ("dqn-run", "buffer beyond memory", _set("config", "buffer_size", value=10**9)),
    ("dqn-run", "replay obs shape", _set("replay", "obs", value=lambda t: torch.zeros(len(t), 5))),
    ("dqn-run", "replay action out of range", _set("replay", "action", value=lambda t: t.fill_(7))),
    ("dqn-run", "replay action negative", _set("replay", "action", value=lambda t: t.fill_(-1))),
    ("dqn-run", "replay size beyond its rows", _set("replay", "size", value=lambda n: n + 1)),
    ("dqn-run", "replay pos out of range", _set("replay", "pos", value=10**6)),
    ("dqn-run", "replay discount NaN", _set("replay", "discount", value=_nan_first)),
    ("dqn-run", "obs shape", _set("obs", value=lambda t: t[:, :3].clone())),
    ("dqn-run", "prev_done as floats", _set("prev_done", value=lambda t: t.float())),
    ("dqn-run", "ep_return one env short", _set("ep_return", value=lambda t: t[:-1].clone())),
    ("dqn-run", "counter a string", _set("counters", "env_steps", value="many")),
    ("dqn-run", "counter negative", _set("counters", "updates", value=-5)),
    ("dqn-run", "counter missing", _set("counters", value=lambda k: {n: v for n, v in k.items() if n != "passes"})),
    ("dqn-run", "elapsed NaN", _set("counters", "elapsed", value=math.nan)),
    ("dqn-run", "env array shape", _env_entry("array", lambda a: a[..., :1].clone())),
    ("dqn-run", "env snapshot short", _set("env", value=lambda e: e[:-1])),
    ("dqn-run", "n-step queue too long", _set("nstep", "history", 0, value=lambda h: h * 5)),
    ("dqn-run", "n-step obs shape", _set("nstep", "history", 0, 0, value=lambda e: (torch.zeros(7), *e[1:]))),
    ("dqn-run", "n-step action out of range", _set("nstep", "history", 0, 0, value=lambda e: (e[0], 9, e[2]))),
    ("dqn-run", "n-step envs missing", _set("nstep", "history", value=lambda h: h[:1])),
    ("dqn-run", "metrics row a string", _set("metrics", value=["oops"])),
    ("dqn-run", "metric missing", _set("metrics", 0, value=lambda m: {k: v for k, v in m.items() if k != "eval_mean"})),
    ("dqn-run", "metric a string", _set("metrics", 0, "eval_mean", value="high")),
    ("dqn-run", "episode return a string", _set("episode_returns", value=lambda r: ["x", *r[1:]])),
    ("dqn-run", "episode ends one short", _set("episode_ends", value=lambda e: e[:-1])),
    ("dqn-run", "NaN weight", _set("q", Q0, value=_nan_first)),
    ("dqn-run", "kept weights of the wrong shape", _set("kept_q", value=lambda q: {k: v[:1] for k, v in q.items()})),
    ("dqn-run", "optimizer moment shape", _set("optimizer", "exp_avg", 0, value=lambda t: t[:1].clone())),
    ("dqn-run", "numpy rng state", _set("rng", value={"bit_generator": "PCG64", "state": "x"})),
    ("dqn-run", "numpy rng state too large", _set("rng", value=_huge_state)),
    ("dqn-run", "env rng state too large", _env_entry("rng", _huge_state)),
    ("dqn-run", "torch rng state", _set("torch_rng", value=lambda t: t[:10].clone())),
    ("dqn-run", "NaN weight, no checksum", _no_checksum(_set("target", Q0, value=_nan_first))),
    ("evo-run", "only kind and version", _only_tag),
    ("evo-run", "seed None", _set("config", "seed", value=None)),
    ("evo-run", "hidden floats", _set("config", "hidden", value=[2.5])),
    ("evo-run", "population beyond memory", _set("config", "population", value=10**6)),
    ("evo-run", "hidden beyond memory", _set("config", "hidden", value=[4096] * 16)),
    ("evo-run", "stats row a string", _set("stats", 0, value="bad")),
    ("evo-run", "stats value a string", _set("stats", 0, "best_pipes", value="3")),
    ("evo-run", "stats one row short", _set("stats", value=lambda s: s[:-1])),
    ("evo-run", "stats, no checksum", _no_checksum(_set("stats", value=[{"generation": 0}]))),
    ("evo-run", "genomes NaN", _set("genomes", value=_nan_first)),
    ("evo-run", "genomes one bird short", _set("genomes", value=lambda g: g[:-1].clone())),
    ("evo-run", "generation negative", _set("generation", value=-1)),
    ("evo-run", "solved a string", _set("solved", value="no")),
    ("evo-run", "elites beyond the elite count", _elite_tally(0.0, birds=50)),
    ("evo-run", "tally negative", _elite_tally(-1.0)),
    ("evo-run", "tally NaN", _elite_tally(math.nan)),
    ("evo-run", "champion sizes [3,1,0]", _set("champion", "sizes", value=[3, 1, 0])),
    ("evo-run", "champion of other sizes", _set("champion", "sizes", value=[3, 4, 1])),
    ("evo-run", "rng state", _set("rng", value="seed")),
    ("evo-run", "rng state too large", _set("rng", value=_huge_state)),
    ("evo-compare", "early genome NaN", _set("early", "genome", value=_nan_first)),
    ("evo-compare", "early sizes []", _set("early", "sizes", value=[])),
    ("stylenet", "only kind and version", _only_tag),
    ("stylenet", "widths 10**6", _set("widths", value=[10**6, 1, 1])),
    ("stylenet", "two widths", _set("widths", value=[4, 4])),
    ("stylenet", "blocks a string", _set("blocks", value="1")),
    ("stylenet", "dtype int8", _set("dtype", value="int8")),
    ("stylenet", "card a list", _set("card", value=[1])),
    ("stylenet", "NaN weight", _set("state", SN0, value=_nan_first)),
    ("stylenet", "NaN weight, no checksum", _no_checksum(_set("state", SN0, value=_nan_first))),
    ("stylenet", "weight of the wrong shape", _set("state", SN0, value=lambda t: t[:1].clone())),
    ("stylenet", "weight as float64", _set("state", SN0, value=lambda t: t.double())),
    ("stylenet", "weight missing", _set("state", value=lambda q: {k: v for k, v in q.items() if k != SN0})),
    ("stylenet", "more blocks than weights", _set("blocks", value=3)),
    ("stylenet-run", "only kind and version", _only_tag),
    ("stylenet-run", "seed None", _set("config", "seed", value=None)),
    ("stylenet-run", "widths huge", _set("config", "widths", value=[10**6, 1, 1])),
    ("stylenet-run", "unknown setting", _set("config", "warp", value=9)),
    ("stylenet-run", "step beyond the budget", _set("step", value=10**6)),
    ("stylenet-run", "history one short", _set("history", value=lambda h: h[:-1])),
    ("stylenet-run", "history row a string", _set("history", 0, value="x")),
    ("stylenet-run", "loss NaN", _set("history", 0, "total", value=math.nan)),
    ("stylenet-run", "style image as floats", _set("style", value=lambda t: t.float())),
    ("stylenet-run", "style image 2-D", _set("style", value=lambda t: t[0].clone())),
    ("stylenet-run", "no content folders", _set("content", value=[])),
    ("stylenet-run", "NaN weight", _set("net", SN0, value=_nan_first)),
    ("stylenet-run", "weight of the wrong shape", _set("net", SN0, value=lambda t: t[:1].clone())),
    ("stylenet-run", "optimizer moment shape", _set("optimizer", "state", 0, "exp_avg", value=lambda t: t[:1].clone())),
]


def make_originals(root: Path) -> dict[str, Path]:
    """A tiny DQN run and a tiny evolution run in ``root``, each stopped before its budget (so it may
    resume): the files every corruption starts from (benchmarks/hostile_cases.py uses them too)."""
    from neuroplay.evo.config import EvolveConfig
    from neuroplay.evo.ga import evolve
    from neuroplay.rl.config import DQNConfig
    from neuroplay.rl.dqn import DQN

    dqn = DQNConfig(
        num_envs=2, hidden=(8,), buffer_size=400, batch_size=16, learning_starts=32, total_steps=300,
        eval_every=150, eval_episodes=2, checkpoint_every=100, n_step=3,
    )  # fmt: skip
    DQN(dqn).train(root / "dqn")
    evo = EvolveConfig(
        population=12, hidden=(2,), generations=3, courses=1, hard_courses=1, train_pipes=2, target_pipes=50,
        candidates=4, evidence_courses=2, elite=3, validation_courses=2,
    )  # fmt: skip
    evolve(evo, root / "evo")
    return {"dqn": root / "dqn", "evo": root / "evo", "sn": _stylenet_run(root / "sn")}


def _stylenet_run(root: Path) -> Path:
    """A 2-step style network run on generated pictures: ``m.pt``, ``m-run/``, and the inputs."""
    import numpy as np
    from PIL import Image

    from neuroplay.vision.stylenet.config import TrainConfig
    from neuroplay.vision.stylenet.train import train

    (root / "photos").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("photo.png", "style.png", "photos/a.png"):
        Image.fromarray((rng.random((40, 40, 3)) * 255).astype(np.uint8)).save(root / name)
    config = TrainConfig(steps=2, batch_size=1, crop=32, style_size=48, widths=(4, 4, 4), blocks=1,
                         precision="fp32", preview_every=0)  # fmt: skip
    train(config, root / "style.png", [root / "photos"], root / "m.pt")
    from neuroplay.common.runlock import release_run_folder

    release_run_folder(root / "m-run")
    return root


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, Path]:
    return make_originals(tmp_path_factory.mktemp("runs"))


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(root.rglob("*"))
    }


def _craft(source: Path, dest: Path, edit: Callable[[dict], None]) -> None:
    """``source`` with ``edit`` applied, written to ``dest`` as an attacker would: through the
    project's own save_checkpoint (a valid checksum), or plain torch.save (no checksum)."""
    kind = KINDS.get(source.name) or torch.load(source, weights_only=True)["kind"]
    data = load_checkpoint(source, kind, 10)
    version = data.pop("format_version")
    data.pop("kind")
    edit(data)
    if getattr(edit, "no_checksum", False):
        torch.save({"kind": kind, "format_version": version, **data}, dest)
    else:
        save_checkpoint(dest, kind, version, data)


@pytest.mark.parametrize(
    "target, edit", [pytest.param(t, e, id=f"{t}: {name}") for t, name, e in CORRUPTIONS]
)  # fmt: skip
def test_a_file_with_wrong_insides_is_one_clean_error(target, edit, originals, run_cli, tmp_path, monkeypatch):
    import neuroplay.common.bounds as bounds

    # a laptop's memory, whatever the machine has: a network of terabytes is refused everywhere
    monkeypatch.setattr(bounds, "available_memory", lambda device=None: 16 * 2**30)
    name, argv = TARGETS[target]
    run = tmp_path / "run"
    shutil.copytree(originals[ORIGIN.get(target, "evo")], run)
    _craft(run / name, run / name, edit)
    (tmp_path / "out").mkdir()
    before = _digest(tmp_path)
    fill = {"path": run / name, "dir": run, "out": tmp_path / "out"}
    code, _, err = run_cli(*[part.format(**fill) for part in argv])
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and str(run) in err, err
    assert _digest(tmp_path) == before  # nothing written, the run folder unchanged


@pytest.mark.parametrize("hidden", [[10**9], [65536] * 4, [30000, 30000], [8000] * 3])  # the last two would fit
def test_a_network_too_big_is_refused_before_it_is_built(hidden, originals, run_cli, tmp_path, monkeypatch):
    import neuroplay.common.bounds as bounds
    import neuroplay.rl.dqn as dqn

    monkeypatch.setattr(bounds, "available_memory", lambda device=None: 16 * 2**30)
    monkeypatch.setattr(dqn, "QNetwork", lambda *a, **k: pytest.fail("a network was built"))
    _craft(originals["dqn"] / "model.pt", tmp_path / "model.pt", _set("config", "hidden", value=hidden))
    code, _, err = run_cli("dqn", "eval", tmp_path / "model.pt")
    assert code == 2 and err.startswith(f"error: {tmp_path / 'model.pt'}: ") and err.count("\n") == 1, err


@pytest.mark.parametrize(
    "edit",
    [
        _set("q", "head.weight", value=torch.zeros(2, 9)),
        _set("optimizer", "exp_avg", value=[]),
        _set("replay", "action", value=torch.full((300,), 7)),
        _set("kept_q", value={"head.bias": torch.zeros(2)}),
    ],
    ids=["q shape", "adam moments", "replay action", "kept network"],
)
def test_a_resume_checks_the_whole_state_before_it_builds_anything(edit, originals, tmp_path, monkeypatch):
    """Network, optimiser and replay memory are made only once the file has passed, so a file can
    neither make them allocate what its weights do not hold nor fail halfway through filling them."""
    import neuroplay.rl.dqn as dqn
    from neuroplay.common.errors import UserError

    run = tmp_path / "run"
    shutil.copytree(originals["dqn"], run)
    _craft(run / "checkpoint.pt", run / "checkpoint.pt", edit)
    for name in ("QNetwork", "ReplayMemory", "Adam", "make_vec_env"):
        monkeypatch.setattr(dqn, name, lambda *a, _name=name, **k: pytest.fail(f"{_name} was built"))
    with pytest.raises(UserError, match=re.escape(str(run / "checkpoint.pt"))):
        dqn.DQN.resume(run, total_steps=400)


def test_untouched_files_still_load_and_resume(originals, run_cli, tmp_path):
    """The same files, rewritten without a change (and once without a checksum), work as before."""
    for target in ("dqn-run", "evo-run", "model", "champion", "stylenet", "stylenet-run"):
        name, argv = TARGETS[target]
        run = tmp_path / target
        shutil.copytree(originals[ORIGIN.get(target, "evo")], run)
        _craft(run / name, run / name, _no_checksum(lambda data: None))
        code, _, err = run_cli(*[part.format(path=run / name, dir=run, out=tmp_path) for part in argv])
        assert code == 0, err


def test_an_environment_whose_arrays_change_dtype_mid_episode_still_resumes(tmp_path):
    """Acrobot's state is float32 after reset and float64 once it steps: the snapshot's rule allows it."""
    from neuroplay.rl.config import DQNConfig
    from neuroplay.rl.dqn import DQN

    config = DQNConfig(env_id="Acrobot-v1", num_envs=2, hidden=(8,), buffer_size=100, batch_size=16,
                       learning_starts=32, total_steps=120, eval_every=10**6, checkpoint_every=10**6)  # fmt: skip
    DQN(config).train(tmp_path)
    assert DQN.resume(tmp_path, total_steps=160).train(tmp_path, resume=True).env_steps >= 160


def test_an_environment_holding_numpy_floats_in_a_tuple_resumes(tmp_path):
    """MountainCar keeps (position, velocity) as a tuple of NumPy floats; its checkpoint was refused
    by the weights-only loader as 'not a safe neuroplay checkpoint'."""
    from neuroplay.rl.config import DQNConfig
    from neuroplay.rl.dqn import DQN

    config = DQNConfig(env_id="MountainCar-v0", num_envs=1, hidden=(8,), buffer_size=100, batch_size=16,
                       learning_starts=32, total_steps=80, eval_every=10**6, checkpoint_every=10**6)  # fmt: skip
    DQN(config).train(tmp_path)
    assert DQN.resume(tmp_path, total_steps=120).train(tmp_path, resume=True).env_steps >= 120


def test_the_schema_names_the_value_and_binds_sizes():
    from neuroplay.common.errors import UserError
    from neuroplay.common.schema import Dict, Int, List, Tensor, validate

    schema = Dict(
        {"n": Int(0, 10, bind="rows"), "x": Tensor(torch.float32, ("rows", 2)), "y": List(Int(), length="rows")}
    )
    validate("f.pt", {"n": 2, "x": torch.zeros(2, 2), "y": [1, 2]}, schema)
    for bad, says in [
        ({"n": 3, "x": torch.zeros(2, 2), "y": [1, 2]}, "x has shape (2, 2), expected (3, 2)"),
        ({"n": 2, "x": torch.zeros(2, 2), "y": [1]}, "the length of y is 1, expected 2"),
        ({"n": True, "x": torch.zeros(2, 2), "y": [1, 2]}, "n must be an integer"),
        ({"n": 2, "x": torch.full((2, 2), math.nan), "y": [1, 2]}, "x holds NaN"),
        ({"n": 2, "y": [1, 2]}, "the checkpoint has no x"),
    ]:
        with pytest.raises(UserError, match="^" + re.escape(f"f.pt: {says}")):
            validate("f.pt", bad, schema)
