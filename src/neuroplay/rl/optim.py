"""A lean Adam for small networks.

``torch.optim.Adam`` is right for big models, but for a 128-128 MLP its per-step Python
overhead rivals the maths, and its first ``step()`` imports torch's compiler stack
(~1 s here). This class calls the same fused kernel directly. Same update rule, same
defaults, state saved as plain tensors.
"""

from __future__ import annotations

import torch

from neuroplay.common.schema import Dict, Weights

# what Adam.state_dict saves, for parameters of the shapes dims["params"] (their step counts: dims["steps"])
ADAM_STATE = Dict({"exp_avg": Weights("params"), "exp_avg_sq": Weights("params"), "steps": Weights("steps")})


class Adam:
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params]
        self.lr, self.betas, self.eps = lr, betas, eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]
        self._fused = hasattr(torch, "_fused_adam_") and all(p.device.type == "cpu" for p in self.params)
        self._fallback = None if self._fused else torch.optim.Adam(self.params, lr=lr, betas=betas, eps=eps)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        if self._fallback is not None:
            self._fallback.step()
            return
        torch._foreach_add_(self.steps, 1.0)
        torch._fused_adam_(
            self.params,
            [p.grad for p in self.params],
            self.exp_avg,
            self.exp_avg_sq,
            [],
            self.steps,
            lr=self.lr,
            beta1=self.betas[0],
            beta2=self.betas[1],
            weight_decay=0.0,
            eps=self.eps,
            amsgrad=False,
            maximize=False,
        )

    def state_dict(self) -> dict:
        """Both moments and the step count of every parameter, as plain tensors: the same form
        whether the fused kernel or torch's Adam ran (a run may resume on another device)."""
        if self._fallback is not None:
            self._sync_from_fallback()
        return {
            "exp_avg": [t.detach().cpu().clone() for t in self.exp_avg],
            "exp_avg_sq": [t.detach().cpu().clone() for t in self.exp_avg_sq],
            "steps": [t.detach().cpu().clone() for t in self.steps],
        }

    def load_state_dict(self, state: dict) -> None:
        """Take what :meth:`state_dict` saved (checked beforehand against the parameters' shapes)."""
        for name in ("exp_avg", "exp_avg_sq", "steps"):
            for dst, src in zip(getattr(self, name), state[name], strict=True):
                dst.copy_(src)
        if self._fallback is not None:
            for p, m, v, k in zip(self.params, self.exp_avg, self.exp_avg_sq, self.steps, strict=True):
                step = k.detach().cpu().clone()  # torch keeps a step count on the CPU unless fused
                self._fallback.state[p] = {"step": step, "exp_avg": m.clone(), "exp_avg_sq": v.clone()}

    def _sync_from_fallback(self) -> None:
        for i, p in enumerate(self.params):
            state = self._fallback.state.get(p)
            if state:  # torch's Adam fills a parameter's state at its first step
                self.exp_avg[i].copy_(state["exp_avg"])
                self.exp_avg_sq[i].copy_(state["exp_avg_sq"])
                self.steps[i].copy_(torch.as_tensor(state["step"], dtype=torch.float32))
