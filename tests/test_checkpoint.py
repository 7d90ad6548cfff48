"""Checkpoints carry a checksum of their contents: a flipped byte or an edited value is refused."""

import numpy as np
import pytest
import torch

from neuroplay.common.checkpoint import CHECKSUM, content_digest, load_checkpoint, save_checkpoint
from neuroplay.common.errors import UserError

PAYLOAD = {"weights": torch.full((64,), 1234.5), "config": {"hidden": [16, 16], "lr": 1e-3}, "steps": 7}


def test_a_checkpoint_round_trips_with_its_checksum(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, "neuroplay-test", 1, PAYLOAD)
    assert CHECKSUM in torch.load(path, weights_only=True)
    back = load_checkpoint(path, "neuroplay-test", 1)
    assert torch.equal(back["weights"], PAYLOAD["weights"]) and back["config"] == PAYLOAD["config"]
    assert CHECKSUM not in back


def test_a_flipped_byte_in_a_tensor_is_caught(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, "neuroplay-test", 1, PAYLOAD)
    raw = bytearray(path.read_bytes())
    at = raw.find(np.float32(1234.5).tobytes() * 4)
    assert at > 0  # the tensor's bytes are stored as they are
    raw[at + 2] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match="damaged"):
        load_checkpoint(path, "neuroplay-test", 1)


def test_an_edited_value_is_caught_and_an_old_file_without_a_checksum_loads(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, "neuroplay-test", 1, PAYLOAD)
    data = torch.load(path, weights_only=True)
    data["config"]["hidden"] = [10**9]
    torch.save(data, path)
    with pytest.raises(UserError, match="damaged"):
        load_checkpoint(path, "neuroplay-test", 1)
    del data[CHECKSUM]
    torch.save(data, path)
    assert load_checkpoint(path, "neuroplay-test", 1)["config"]["hidden"] == [10**9]


def test_the_digest_follows_numbers_types_and_structure():
    base = content_digest(PAYLOAD)
    assert base == content_digest({k: PAYLOAD[k] for k in reversed(list(PAYLOAD))})  # key order does not matter
    assert base != content_digest({**PAYLOAD, "steps": 8})
    assert base != content_digest({**PAYLOAD, "weights": PAYLOAD["weights"].double()})
    assert base != content_digest({**PAYLOAD, "weights": PAYLOAD["weights"].reshape(8, 8)})
    assert content_digest({"x": torch.zeros(0)}) != content_digest({"x": torch.zeros(0, 2)})
