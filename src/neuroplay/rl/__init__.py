"""Reinforcement learning: Deep Q-learning (:class:`DQN`) and tabular Q-learning on a grid world."""

from neuroplay.rl.config import DQNConfig

__all__ = ["DQN", "DQNConfig", "TrainResult", "train"]


def __getattr__(name: str):
    # the agent pulls in torch and gymnasium; import it only when used
    if name in ("DQN", "TrainResult", "train"):
        from neuroplay.rl import dqn

        return getattr(dqn, name)
    raise AttributeError(name)
