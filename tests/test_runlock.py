"""A run folder is locked while a run writes it: a second process is refused, a dead one frees it."""

import os
import subprocess
import sys
import textwrap

import pytest

from neuroplay.common.errors import UserError
from neuroplay.common.runlock import LOCK_NAME, hold_run_folder, release_run_folder

HOLD = textwrap.dedent(
    """
    import sys, time
    from neuroplay.common.runlock import hold_run_folder
    hold_run_folder(sys.argv[1])
    print("held", flush=True)
    time.sleep(60)
    """
)


def _holder(folder):
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_until_the_first_ends(tmp_path):
    folder = tmp_path / "run"
    proc = _holder(folder)
    try:
        with pytest.raises(UserError, match=rf"in use by another neuroplay run \(process {proc.pid}\)"):
            hold_run_folder(folder)
    finally:
        proc.kill()  # the hardest way to end: the OS still drops the lock
        proc.wait()
    hold_run_folder(folder)
    hold_run_folder(folder)  # held already: nothing to do
    assert (folder / LOCK_NAME).read_text() == str(os.getpid())
    release_run_folder(folder)


def test_the_lock_is_made_with_its_folder(tmp_path):
    folder = tmp_path / "a" / "b"
    hold_run_folder(folder)
    try:
        assert (folder / LOCK_NAME).is_file()
    finally:
        release_run_folder(folder)


def test_two_trainings_in_one_folder_at_once(tmp_path):
    """What `dqn train --out SAME` twice at once did: both ran and one overwrote the other."""
    from neuroplay.evo.config import EvolveConfig
    from neuroplay.evo.ga import evolve

    folder = tmp_path / "run"
    proc = _holder(folder)
    try:
        with pytest.raises(UserError, match="in use by another neuroplay run"):
            evolve(EvolveConfig(algorithm="classic", population=20, generations=1), folder)
        assert sorted(p.name for p in folder.iterdir()) == [LOCK_NAME]  # nothing written
    finally:
        proc.kill()
        proc.wait()
