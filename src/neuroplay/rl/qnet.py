"""The Q-network: an MLP with a linear output, optionally with dueling heads."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class QNetwork(nn.Module):
    """Maps an observation to one Q-value per action.

    ``dueling=True`` splits the last layer into a state value V(s) and advantages A(s, a),
    combined as ``Q = V + A - mean(A)`` (Wang et al., 2016).
    """

    def __init__(self, obs_dim: int, n_actions: int, hidden: tuple[int, ...] = (128, 128), dueling: bool = False):
        super().__init__()
        layers: list[nn.Module] = []
        width = obs_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers)
        self._hidden = [m for m in layers if isinstance(m, nn.Linear)]  # the same modules, for forward()
        self.dueling = dueling
        self.head = nn.Linear(width, n_actions)
        self.value = nn.Linear(width, 1) if dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        # F.linear on the layers' own parameters: the same maths as calling the modules, minus
        # their per-call overhead, which dominates for a net this small
        z = obs
        for layer in self._hidden:
            z = F.relu(F.linear(z, layer.weight, layer.bias))
        q = F.linear(z, self.head.weight, self.head.bias)
        if self.value is not None:
            q = F.linear(z, self.value.weight, self.value.bias) + q - q.mean(dim=-1, keepdim=True)
        return q


def weight_shapes(obs_dim: int, n_actions: int, hidden: tuple[int, ...], dueling: bool = False) -> dict:
    """The name and shape of every tensor in the state dict of ``QNetwork(obs_dim, n_actions,
    hidden, dueling)``, in its order (that of ``parameters()`` too), from the sizes alone: what a
    model file must hold is checked against these before any network is built."""
    shapes: dict[str, tuple[int, ...]] = {}
    width = obs_dim
    for i, h in enumerate(hidden):  # body.{0,2,4,...}: the Linear layers between the ReLUs
        shapes[f"body.{2 * i}.weight"], shapes[f"body.{2 * i}.bias"] = (h, width), (h,)
        width = h
    shapes["head.weight"], shapes["head.bias"] = (n_actions, width), (n_actions,)
    if dueling:
        shapes["value.weight"], shapes["value.bias"] = (1, width), (1,)
    return shapes
