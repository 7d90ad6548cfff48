"""The Q-network: an MLP with a linear output, optionally with dueling heads."""

from __future__ import annotations

import torch
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
        self.dueling = dueling
        self.head = nn.Linear(width, n_actions)
        self.value = nn.Linear(width, 1) if dueling else None

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        z = self.body(obs)
        q = self.head(z)
        if self.value is not None:
            q = self.value(z) + q - q.mean(dim=-1, keepdim=True)
        return q
