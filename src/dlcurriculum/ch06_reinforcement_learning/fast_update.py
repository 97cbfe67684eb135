"""PPO's minibatch gradient derived by hand: the fast path of the reference update.

For CartPole's two small tanh MLPs, a minibatch step is almost all per-operation overhead:
autograd records and replays about 35 nodes to move 9k parameters (measured, one CPU
thread: forward and backward 1.0 of the step's 1.3 ms). Here the loss's gradient with
respect to the logits and the value is written out, and backpropagated through the two
trunks with a dozen matrix products, so the step does the same arithmetic in a few dozen
operations. It computes exactly the reference losses (`losses.py`, with their tie rules
for min and max), and the tests hold its gradients equal to autograd's within float
rounding. Used only for the reference exercises on a discrete-action MLP agent with two
trunks; anything else (the learner's code with --impl, Procgen's CNN) takes autograd.

The derivatives, per sample, with B the minibatch size, p = softmax(logits), a the action:
    d logp(a) / d logits   = onehot(a) - p
    d H / d logits         = -p * (log p + H)
    d pg_loss / d logp(a)  = -A * ratio / B   where the unclipped term is the min, else 0
    d v_loss / d v         = (v - R) / B      (clipped: where the unclipped square is the max)
"""

from typing import cast
from weakref import WeakKeyDictionary

import torch
from torch import Tensor, nn

from dlcurriculum.ch06_reinforcement_learning.agent import ActorCritic, MLPTrunk, sample_categorical
from dlcurriculum.ch06_reinforcement_learning.buffer import Minibatch


def applies(agent: ActorCritic) -> bool:
    """The hand-derived gradient covers this agent: discrete actions, two MLP trunks."""
    return agent.log_std is None and not agent.shared and isinstance(agent.actor_trunk, MLPTrunk)


MLP = tuple[nn.Linear, nn.Linear, nn.Linear]
"""An MLP trunk's two linear layers and the head on top of it."""

# Made once per agent: looking modules and parameters up through nn.Module on every step
# cost a tenth of the step (measured)
_MLPS: WeakKeyDictionary[ActorCritic, tuple[MLP, MLP]] = WeakKeyDictionary()
_GRADS: WeakKeyDictionary[ActorCritic, tuple[Tensor, list[nn.Parameter], list[Tensor]]] = (
    WeakKeyDictionary()
)


def _mlps(agent: ActorCritic) -> tuple[MLP, MLP]:
    """The actor's and the critic's layers."""
    if agent not in _MLPS:

        def mlp(trunk: nn.Module, head: nn.Module) -> MLP:
            first, second = trunk[0], trunk[2]  # type: ignore[index]
            return cast(nn.Linear, first), cast(nn.Linear, second), cast(nn.Linear, head)

        actor = mlp(agent.actor_trunk, agent.actor_head)
        _MLPS[agent] = actor, mlp(agent.critic_trunk, agent.critic_head)
    return _MLPS[agent]


def _flat_grad(agent: ActorCritic) -> Tensor:
    """One buffer whose views are the parameters' .grad (made again if anything replaced
    them): the global norm and the clip are then one operation each."""
    cached = _GRADS.get(agent)
    if cached is not None and all(p.grad is v for p, v in zip(*cached[1:], strict=True)):
        return cached[0]
    params = list(agent.parameters())
    flat = params[0].new_zeros(sum(p.numel() for p in params))
    parts = flat.split([p.numel() for p in params])
    views = [v.view_as(p) for v, p in zip(parts, params, strict=True)]
    for p, v in zip(params, views, strict=True):
        p.grad = v
    _GRADS[agent] = (flat, params, views)
    return flat


def _forward(mlp: MLP, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The two hidden activations and the head's output."""
    first, second, head = mlp
    h1 = torch.addmm(first.bias, x, first.weight.T).tanh_()
    h2 = torch.addmm(second.bias, h1, second.weight.T).tanh_()
    return h1, h2, torch.addmm(head.bias, h2, head.weight.T)


def _backward(mlp: MLP, x: Tensor, h1: Tensor, h2: Tensor, d_out: Tensor) -> None:
    """Write the .grad of an MLP's layers, from the gradient at the head's output."""
    first, second, head = mlp
    torch.mm(d_out.T, h2, out=head.weight.grad)
    torch.sum(d_out, 0, out=head.bias.grad)
    # d tanh(z) / dz = 1 - tanh(z)^2, in one kernel (the one autograd uses)
    d_z2 = torch.ops.aten.tanh_backward(d_out @ head.weight, h2)
    torch.mm(d_z2.T, h1, out=second.weight.grad)
    torch.sum(d_z2, 0, out=second.bias.grad)
    d_z1 = torch.ops.aten.tanh_backward(d_z2 @ second.weight, h1)
    torch.mm(d_z1.T, x, out=first.weight.grad)
    torch.sum(d_z1, 0, out=first.bias.grad)


@torch.no_grad()
def act(
    agent: ActorCritic, obs: Tensor, generator: torch.Generator
) -> tuple[Tensor, Tensor, Tensor]:
    """(action, log pi(action), V) for a rollout step: the numbers of
    `agent.get_action_and_value` to the bit, without its module calls and the entropy."""
    x = obs.float()
    actor, critic = _mlps(agent)
    logits, value = _forward(actor, x)[2], _forward(critic, x)[2]
    logp_all = logits.log_softmax(-1)
    action = sample_categorical(logp_all.exp(), generator)
    return action, logp_all.gather(-1, action[:, None]).squeeze(-1), value.squeeze(-1)


@torch.no_grad()
def loss_and_grad(
    agent: ActorCritic,
    mb: Minibatch,
    clip_coef: float,
    clip_vloss: bool,
    ent_coef: float,
    vf_coef: float,
    max_grad_norm: float,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The minibatch's (loss, policy loss, value loss, mean entropy, log pi(a), gradient
    norm), as the reference losses compute them, with every parameter's .grad set to the
    loss's gradient clipped to max_grad_norm as `nn.utils.clip_grad_norm_` clips it."""
    flat = _flat_grad(agent)
    x, n = mb.obs.float(), len(mb.obs)
    actor, critic = _mlps(agent)
    a1, a2, logits = _forward(actor, x)
    c1, c2, value = _forward(critic, x)
    value = value.squeeze(-1)
    logp_all = logits.log_softmax(-1)
    p = logp_all.exp()
    action = mb.actions.long()[:, None]
    logprob = logp_all.gather(-1, action).squeeze(-1)
    entropy = -(p * logp_all).sum(-1)

    ratio = (logprob - mb.logprobs).exp()
    unclipped = ratio * mb.advantages
    clipped = ratio.clamp(1 - clip_coef, 1 + clip_coef) * mb.advantages
    pg_loss = -torch.minimum(unclipped, clipped).mean()
    # the unclipped term passes A * ratio where it is the min; inside the clip range the two
    # terms are equal (torch.minimum gives each half, and the clamp passes its half), so
    # "unclipped <= clipped" is exactly where the gradient flows (a tie outside needs A = 0)
    d_logprob = unclipped.mul_(unclipped <= clipped).mul_(-1 / n)

    err = value - mb.returns
    if clip_vloss:
        delta = value - mb.values
        err_clip = mb.values + delta.clamp(-clip_coef, clip_coef) - mb.returns
        sq, sq_clip = err * err, err_clip * err_clip
        v_loss = 0.5 * torch.maximum(sq, sq_clip).mean()
        # torch.maximum's tie rule again; old + (v - old) need not round back to v, so the
        # clipped side keeps its own gradient where the clamp passes it
        w = (sq > sq_clip).float() + 0.5 * (sq == sq_clip).float()
        inside = (delta >= -clip_coef) & (delta <= clip_coef)
        d_value = (w * err + (1 - w) * inside * err_clip) * (vf_coef / n)
    else:
        v_loss = 0.5 * (err * err).mean()
        d_value = err * (vf_coef / n)

    ent = entropy.mean()
    loss = pg_loss - ent_coef * ent + vf_coef * v_loss
    d_logits = (-d_logprob[:, None] * p).scatter_add_(1, action, d_logprob[:, None])
    if ent_coef:
        d_logits += (ent_coef / n) * p * (logp_all + entropy[:, None])
    _backward(actor, x, a1, a2, d_logits)
    _backward(critic, x, c1, c2, d_value[:, None])
    norm = torch.linalg.vector_norm(flat)
    flat.mul_((max_grad_norm / (norm + 1e-6)).clamp_(max=1.0))
    return loss, pg_loss, v_loss, ent, logprob, norm
