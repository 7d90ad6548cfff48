"""neuroplay's DQN defaults vs Stable-Baselines3 DQN (rl-baselines3-zoo CartPole-v1 settings).

Every training run is a fresh subprocess with one torch thread, run one after another (never
in parallel), timed from building the agent to the end of training (imports excluded for
both). Every final model is then scored greedily on 100 CartPole episodes whose seeds were
not used in training, by the same evaluation code for both libraries.

    python benchmarks/dqn_vs_sb3.py                   # 10 neuroplay seeds, 5 SB3 seeds, from seed 100
    python benchmarks/dqn_vs_sb3.py --np-seeds 3 --sb3-seeds 0

Prints a table and a JSON summary (last line).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time

EVAL_EPISODES = 100
EVAL_SEED_BASE = 9_000_000  # never a training or in-training evaluation seed

# rl-baselines3-zoo hyperparams/dqn.yml, CartPole-v1
ZOO = dict(
    learning_rate=2.3e-3,
    batch_size=64,
    buffer_size=100_000,
    learning_starts=1000,
    gamma=0.99,
    target_update_interval=10,
    train_freq=256,
    gradient_steps=128,
    exploration_fraction=0.16,
    exploration_final_eps=0.04,
    policy_kwargs=dict(net_arch=[256, 256]),
)
ZOO_STEPS = 50_000


def worker(kind: str, seed: int) -> dict:
    import torch

    torch.set_num_threads(1)
    from neuroplay.rl.envs import evaluate_policy

    if kind == "neuroplay":
        from neuroplay.rl.dqn import DQN, DQNConfig

        t0 = time.perf_counter()
        agent = DQN(DQNConfig(seed=seed))
        result = agent.train()
        wall = time.perf_counter() - t0
        policy = lambda obs: agent.q_values(obs).argmax(axis=1)  # noqa: E731
        extra = {"env_steps": result.env_steps, "solved_in_training": result.solved, "updates": result.updates}
        fingerprint = float(sum(p.double().sum() for p in agent.q.parameters()))
    else:
        from stable_baselines3 import DQN as SB3DQN

        t0 = time.perf_counter()
        model = SB3DQN("MlpPolicy", "CartPole-v1", seed=seed, device="cpu", verbose=0, **ZOO)
        model.learn(total_timesteps=ZOO_STEPS)
        wall = time.perf_counter() - t0
        policy = lambda obs: model.predict(obs, deterministic=True)[0]  # noqa: E731
        extra = {"env_steps": ZOO_STEPS}
        fingerprint = None
    returns = evaluate_policy(policy, "CartPole-v1", EVAL_EPISODES, EVAL_SEED_BASE + seed)
    return {
        "kind": kind,
        "seed": seed,
        "wall_seconds": wall,
        "eval_mean": float(returns.mean()),
        "eval_min": float(returns.min()),
        "fingerprint": fingerprint,
        **extra,
    }


def run_worker(kind: str, seed: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(seed)], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--np-seeds", type=int, default=10)
    ap.add_argument("--sb3-seeds", type=int, default=5)
    ap.add_argument(
        "--first-seed", type=int, default=100, help="seeds start here (0-19 were used to choose the defaults)"
    )
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return

    rows = []
    # interleave the two so that slow phases of a shared machine hit both alike
    for i in range(max(args.np_seeds, args.sb3_seeds)):
        for kind, n in (("neuroplay", args.np_seeds), ("sb3", args.sb3_seeds)):
            if i < n:
                r = run_worker(kind, args.first_seed + i)
                rows.append(r)
                print(
                    f"{kind:10s} seed {args.first_seed + i}: {r['wall_seconds']:6.2f} s  {r['env_steps']:6d} steps  "
                    f"unseen-100 mean {r['eval_mean']:6.1f} (min {r['eval_min']:.0f})",
                    file=sys.stderr,
                    flush=True,
                )
    repeat = run_worker("neuroplay", args.first_seed) if args.np_seeds else None

    summary = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(f"\n{'':10s} {'seeds':>5s} {'≥475':>5s} {'median s':>9s} {'median steps':>13s} {'median eval':>12s}")
    for kind in ("neuroplay", "sb3"):
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        ok = sum(r["eval_mean"] >= 475 for r in rs)
        med_wall = statistics.median(r["wall_seconds"] for r in rs)
        med_steps = statistics.median(r["env_steps"] for r in rs)
        med_eval = statistics.median(r["eval_mean"] for r in rs)
        print(f"{kind:10s} {len(rs):5d} {ok:5d} {med_wall:9.2f} {med_steps:13.0f} {med_eval:12.1f}")
        summary[kind] = {
            "seeds": len(rs),
            "seeds_scoring_475": ok,
            "median_wall_seconds": round(med_wall, 3),
            "median_env_steps": med_steps,
            "eval_means": [round(r["eval_mean"], 1) for r in rs],
            "wall_seconds": [round(r["wall_seconds"], 2) for r in rs],
        }
    if "neuroplay" in summary and "sb3" in summary:
        ratio = summary["neuroplay"]["median_wall_seconds"] / summary["sb3"]["median_wall_seconds"]
        summary["wall_ratio_neuroplay_over_sb3"] = round(ratio, 3)
        print(f"\nmedian wall-clock ratio neuroplay / SB3: {ratio:.3f} (target ≤ 0.333)")
    if repeat is not None:
        first = next(r for r in rows if r["kind"] == "neuroplay" and r["seed"] == args.first_seed)
        same = first["fingerprint"] == repeat["fingerprint"] and first["env_steps"] == repeat["env_steps"]
        summary["repeat_identical"] = same
        print(f"seed {args.first_seed} run twice: identical weights and steps: {same}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
