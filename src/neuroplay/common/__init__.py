"""Shared plumbing: errors, atomic IO, checkpoints, seeding, progress bars, plots."""

from neuroplay.common.errors import UserError

__all__ = ["UserError"]
