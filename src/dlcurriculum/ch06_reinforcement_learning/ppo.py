"""PPO's training loop for one seed, readable top to bottom (after cleanrl's `ppo.py`).

Each update: collect a rollout with the current policy, compute advantages with GAE,
then take `update_epochs` passes of minibatch gradient steps on the clipped surrogate,
the value loss and the entropy bonus, logging the diagnostics that show whether the
update was healthy. The exercise pieces (GAE, the losses, the buffer, the diagnostics)
come from a namespace, so `--impl WORKSPACE` runs the learner's versions.

Ref: Schulman et al. 2017 (PPO); Huang et al. 2022, "The 37 Implementation Details of
Proximal Policy Optimization" (the details kept here: orthogonal init, Adam eps 1e-5,
learning-rate annealing, GAE, minibatch epochs, advantage normalization, value clipping,
global gradient clipping, reward scaling).
"""

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dlcurriculum.ch06_reinforcement_learning import fast_update
from dlcurriculum.ch06_reinforcement_learning.agent import ActorCritic
from dlcurriculum.ch06_reinforcement_learning.config import PPOConfig
from dlcurriculum.ch06_reinforcement_learning.envs import VecEnv
from dlcurriculum.ch06_reinforcement_learning.evaluation import (
    evaluate_policy,
    record_gif,
)
from dlcurriculum.ch06_reinforcement_learning.impl import Impl, load_impl
from dlcurriculum.ch06_reinforcement_learning.losses import clip_fraction
from dlcurriculum.ch06_reinforcement_learning.normalization import RewardNormalizer
from dlcurriculum.ch06_reinforcement_learning.train_state import PPOProgress, make_train_state
from dlcurriculum.core import runs
from dlcurriculum.core.errors import DlcError
from dlcurriculum.core.seed import choose_device
from dlcurriculum.core.training import TrainingSession

SLUG = "ch06_reinforcement_learning"
WALL_CLOCK_KEYS = frozenset({"charts/sps"})
"""Metrics measured with a clock: the only ones that differ between two runs of one seed."""


def collect_rollout(
    agent: ActorCritic,
    envs: VecEnv,
    buffer: Any,
    obs: np.ndarray,
    normalizer: RewardNormalizer | None,
    generator: torch.Generator,
    device: torch.device,
    fast: bool = False,
) -> tuple[np.ndarray, list[tuple[float, int]]]:
    """Fill `buffer` with num_steps steps of the current policy (`fast`: its actions from
    `fast_update.act`, the same numbers).

    Returns the observations to continue from, and (raw return, length) of each episode that
    finished during the rollout.
    """
    buffer.reset()
    finished: list[tuple[float, int]] = []
    for _ in range(buffer.num_steps):
        obs_t = torch.as_tensor(obs, device=device)
        if fast:
            action, logprob, value = fast_update.act(agent, obs_t, generator)
        else:
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(obs_t, generator=generator)
        obs, reward, terminated, truncated, info = envs.step(action.cpu().numpy())
        final_values = torch.zeros_like(value)
        cut = truncated & info["_final_obs"]
        if cut.any():  # a time limit is not a terminal state: bootstrap from the final obs
            with torch.no_grad():
                final_obs = torch.as_tensor(info["final_obs"][cut], device=device)
                final_values[torch.as_tensor(cut, device=device)] = agent.get_value(final_obs)
        if normalizer is not None:
            reward = normalizer(reward, terminated | truncated)
        buffer.add(
            obs_t,
            action,
            logprob,
            value,
            torch.as_tensor(reward, device=device),
            torch.as_tensor(terminated, device=device),
            torch.as_tensor(truncated, device=device),
            final_values,
        )
        for i in np.flatnonzero(info["_episode"]):
            finished.append((float(info["episode"]["r"][i]), int(info["episode"]["l"][i])))
    return obs, finished


def ppo_update(
    agent: ActorCritic,
    optimizer: torch.optim.Optimizer,
    buffer: Any,
    cfg: PPOConfig,
    clip_coef: float,
    ns: Impl,
    generator: torch.Generator,
    fast: bool = False,
) -> dict[str, float]:
    """update_epochs passes of minibatch steps on the rollout; returns the update's diagnostics.

    `fast` takes each step's gradient from `fast_update` (derived by hand, the reference
    losses only) instead of autograd.

    Raises:
        DlcError: when a loss or the gradient is not finite; the parameters are left as they
            were before the offending step.
    """
    adv_mean, adv_std = buffer.advantages.mean().item(), buffer.advantages.std().item()
    if cfg.norm_adv:  # per rollout, so adv/mean and adv/std are exactly the statistics used
        buffer.advantages = ns.normalize_advantages(buffer.advantages)
    logs: dict[str, list[torch.Tensor]] = {k: [] for k in ("pg", "v", "ent", "kl", "clip", "gn")}
    params, epochs = list(agent.parameters()), 0
    for _ in range(cfg.update_epochs):
        epochs += 1
        epoch_kl = []
        for mb in buffer.minibatches(cfg.num_minibatches, generator):
            if fast:
                loss, pg_loss, v_loss, ent, logprob, grad_norm = fast_update.loss_and_grad(
                    agent,
                    mb,
                    clip_coef,
                    cfg.clip_vloss,
                    cfg.ent_coef,
                    cfg.vf_coef,
                    cfg.max_grad_norm,
                )
            else:
                _, logprob, entropy, value = agent.get_action_and_value(mb.obs, mb.actions)
                pg_loss = ns.clipped_surrogate(logprob, mb.logprobs, mb.advantages, clip_coef)
                v_clip = clip_coef if cfg.clip_vloss else None
                v_loss = ns.value_loss(value, mb.values, mb.returns, v_clip)
                ent = entropy.mean()
                loss = ns.ppo_loss(pg_loss, v_loss, entropy, cfg.ent_coef, cfg.vf_coef)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = nn.utils.clip_grad_norm_(params, cfg.max_grad_norm, foreach=True)
            terms = {"policy loss": pg_loss, "value loss": v_loss, "entropy": ent}
            if not torch.isfinite(torch.stack([loss.detach(), grad_norm])).all():
                raise _nonfinite(terms, grad_norm, logprob, mb.logprobs)
            optimizer.step()
            with torch.no_grad():
                kl = ns.approx_kl(logprob, mb.logprobs).detach()
            clipped = clip_fraction(logprob.detach(), mb.logprobs, clip_coef)
            for key, x in zip(logs, (pg_loss, v_loss, ent, kl, clipped, grad_norm), strict=True):
                logs[key].append(x.detach())
            epoch_kl.append(kl)
        if cfg.target_kl is not None and torch.stack(epoch_kl).mean() > cfg.target_kl:
            break
    mean = {k: torch.stack(v).mean().item() for k, v in logs.items()}
    return {
        "losses/policy_loss": mean["pg"],
        "losses/value_loss": mean["v"],
        "policy/entropy": mean["ent"],
        "policy/approx_kl": mean["kl"],
        "policy/clipfrac": mean["clip"],
        "charts/grad_norm": mean["gn"],
        "charts/epochs": epochs,
        "value/explained_variance": ns.explained_variance(
            buffer.values.flatten(), buffer.returns.flatten()
        ),
        "adv/mean": adv_mean,
        "adv/std": adv_std,
    }


def _crossed(step: int, batch_size: int, every: int) -> bool:
    """True when the last batch_size steps crossed a multiple of `every` (0 = never)."""
    return every > 0 and step // every > (step - batch_size) // every


def _nonfinite(
    terms: dict[str, torch.Tensor],
    grad_norm: torch.Tensor,
    logprob: torch.Tensor,
    old_logprob: torch.Tensor,
) -> DlcError:
    """Say which diagnostic broke, and which knob usually fixes it."""
    log_ratio = (logprob - old_logprob).detach()
    if not torch.isfinite(terms["policy loss"]):
        if not torch.isfinite(log_ratio).all() or log_ratio.abs().max() > 80:
            what = "the probability ratio overflowed (approx KL exploded)"
            fix = "lower learning_rate, or set target_kl so an update stops early"
        else:
            what = "the policy loss is not finite (advantages overflowed)"
            fix = "turn on norm_reward and norm_adv, or check the environment's rewards"
    elif not torch.isfinite(terms["value loss"]):
        what = "the value loss is not finite (the critic diverged)"
        fix = "turn on norm_reward, lower vf_coef or learning_rate"
    elif not torch.isfinite(terms["entropy"]):
        what = "the entropy is not finite (the policy's std or logits diverged)"
        fix = "lower learning_rate or ent_coef"
    else:
        what = f"the gradient norm is {grad_norm.item()} (not finite)"
        fix = "lower learning_rate; keep max_grad_norm small (0.5)"
    return DlcError(f"{what}: {fix}")


def _evaluate(
    agent: ActorCritic,
    state: PPOProgress,
    cfg: PPOConfig,
    row: dict[str, Any],
    device: torch.device,
) -> None:
    """Evaluate the agent, add the figures to `row`, and note when the target is first met."""
    returns, lengths = evaluate_policy(agent, cfg, device)
    row["charts/eval_return"] = state.last_eval = float(np.mean(returns))
    row["charts/eval_length"] = float(np.mean(lengths))
    state.best_eval = max(state.best_eval or -np.inf, state.last_eval)
    if state.steps_to_target is None and state.last_eval >= cfg.target_return:
        state.steps_to_target, state.time_to_target_s = state.global_step, state.train_s


def train(
    cfg: PPOConfig, run_dir: Path, ns: Impl | None = None, desc: str = "ppo"
) -> dict[str, Any]:
    """Train one seed with PPO; log, checkpoint and resume in run_dir.

    Args:
        cfg: the settings; cfg.seed is this training's seed.
        run_dir: its folder: metrics.jsonl, checkpoints/, agent.pt, eval.gif.
        ns: the exercise functions (None = resolve cfg.impl: the reference or the learner's).
        desc: progress bar label.

    Returns:
        Final figures: evaluation returns, when (steps and training seconds) the target was
        first reached, the last training episodes' returns, throughput.

    Raises:
        DlcError: for a bad environment id, or when training produces NaN; then the state
            at the start of the failed update is saved as the newest checkpoint.
    """
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    reference = ns is None and not cfg.impl
    ns = ns or load_impl(cfg.impl)
    device = choose_device(cfg.device)
    run_dir.mkdir(parents=True, exist_ok=True)
    ts = make_train_state(cfg, device)
    agent, envs = ts.agent, ts.envs
    fast = cfg.fast_path and reference and fast_update.applies(agent)
    buffer = ns.RolloutBuffer(
        cfg.num_steps,
        cfg.num_envs,
        envs.obs_shape,
        envs.action.shape,
        torch.uint8 if envs.obs_dtype == np.uint8 else torch.float32,
        torch.int64 if envs.action.discrete else torch.float32,
        device,
    )
    session = TrainingSession(run_dir, PPOProgress(), cfg.total_timesteps, desc, ts.stateful())
    state, bar = session.state, session.bar
    fresh_steps, fresh_s = 0, 0.0
    while state.update < cfg.num_updates:
        frac = 1.0 - state.update / cfg.num_updates
        lr = cfg.learning_rate * (frac if cfg.anneal_lr else 1.0)
        clip_coef = cfg.clip_coef * (frac if cfg.anneal_clip else 1.0)
        for group in ts.optimizer.param_groups:
            group["lr"] = lr
        last_good = session.contents()
        started = time.perf_counter()
        ts.obs, finished = collect_rollout(
            agent, envs, buffer, ts.obs, ts.normalizer, ts.act_gen, device, fast
        )
        with torch.no_grad():
            last_values = agent.get_value(torch.as_tensor(ts.obs, device=device))
        buffer.compute_advantages(last_values, cfg.gamma, cfg.gae_lambda)
        try:
            row = ppo_update(agent, ts.optimizer, buffer, cfg, clip_coef, ns, ts.shuffle_gen, fast)
        except DlcError as e:
            path = session.checkpoint(last_good)
            raise DlcError(
                f"PPO stopped at update {state.update + 1}: {e}. The state before this "
                f"update is saved in {path}."
            ) from None
        elapsed = time.perf_counter() - started
        fresh_steps, fresh_s = fresh_steps + cfg.batch_size, fresh_s + elapsed
        state.update += 1
        state.global_step += cfg.batch_size
        state.episodes += len(finished)
        state.recent.extend(r for r, _ in finished)
        row |= {
            "charts/learning_rate": lr,
            "charts/clip_coef": clip_coef,
            "charts/episodes": state.episodes,
            "charts/sps": cfg.batch_size / elapsed,
        }
        if ts.normalizer is not None:
            row["charts/reward_scale"] = ts.normalizer.scale
        if finished:
            row["charts/episodic_return"] = float(np.mean([r for r, _ in finished]))
            row["charts/episodic_length"] = float(np.mean([n for _, n in finished]))
        last = state.update == cfg.num_updates
        if last or _crossed(state.global_step, cfg.batch_size, cfg.eval_every):
            with session.paused():  # evaluation is not training time
                _evaluate(agent, state, cfg, row, device)
        session.log(state.global_step, **row)
        bar.update(cfg.batch_size)
        bar.set_postfix({k.split("/")[1]: f"{v:.1f}" for k, v in row.items() if "return" in k})
        if last or state.update % cfg.checkpoint_every == 0:
            state.train_s = session.clock.elapsed
            session.checkpoint()
    session.close()
    envs.close()
    with runs.atomic_open(run_dir / "agent.pt", "wb") as f:
        torch.save({"model": agent.state_dict()}, f)
    if cfg.gif_episodes:
        record_gif(agent, cfg, run_dir / "eval.gif", device)
    recent = list(state.recent)
    return {
        "seed": cfg.seed,
        "env_steps": state.global_step,
        "updates": state.update,
        "episodes": state.episodes,
        "final_eval_return": state.last_eval,
        "best_eval_return": state.best_eval,
        "steps_to_target": state.steps_to_target,
        "time_to_target_s": state.time_to_target_s,
        "recent_return_mean": float(np.mean(recent)) if recent else None,
        "recent_return_std": float(np.std(recent)) if recent else None,
        "recent_episodes": len(recent),
        "train_time_s": state.train_s,
        "sps": fresh_steps / fresh_s if fresh_s > 0 else None,
        "parameters": sum(p.numel() for p in agent.parameters()),
        "device": str(device),
    }
