"""Actor-critic networks: an MLP for vector observations, the IMPALA CNN for images.

The actor outputs a distribution over actions — categorical logits for discrete action
spaces, a diagonal Gaussian (state-dependent mean, learned state-independent std) for
continuous ones — and the critic a scalar value. They share a trunk or each have their own.
The distributions are written out by hand rather than with torch.distributions: on a CPU
the rollout calls the policy on a handful of observations at a time, and the generic
classes' overhead would cost more than the network.
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from jaxtyping import Float, Shaped
from torch import Tensor, nn


@dataclass(frozen=True)
class ActionSpec:
    """What the policy must output: n discrete actions, or a box of n dims."""

    discrete: bool
    n: int
    """Number of actions (discrete) or action dimensions (continuous)."""
    low: tuple[float, ...] = ()
    """Lower bounds of a continuous action (the env clips to them)."""
    high: tuple[float, ...] = ()
    """Upper bounds of a continuous action."""

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one action: () for discrete, (n,) for continuous."""
        return () if self.discrete else (self.n,)


def layer_init(
    layer: nn.Linear | nn.Conv2d, std: float = math.sqrt(2), bias: float = 0.0
) -> nn.Linear | nn.Conv2d:
    """Orthogonal weights with gain `std` and constant biases.

    Ref: Engstrom et al. 2020, section 3 (orthogonal initialization); cleanrl `ppo.py`. A
    small gain on the policy head starts the policy near uniform, so it explores.
    """
    nn.init.orthogonal_(layer.weight, std)
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


def sample_categorical(
    probs: Float[Tensor, "batch n"], generator: torch.Generator | None = None
) -> Tensor:
    """One action per row drawn from `probs`: argmax(probs / q) with q ~ Exp(1).

    The same draws as torch.multinomial(probs, 1), which uses this method, without its input
    checks (three host syncs that cost more than the policy network on a small batch).
    """
    noise = torch.empty_like(probs).exponential_(generator=generator)
    return (probs / noise).argmax(-1)


class MLPTrunk(nn.Sequential):
    """Two tanh hidden layers, the trunk of the PPO paper's MuJoCo and CartPole agents."""

    def __init__(self, obs_dim: int, hidden: int):
        super().__init__(
            layer_init(nn.Linear(obs_dim, hidden)),
            nn.Tanh(),
            layer_init(nn.Linear(hidden, hidden)),
            nn.Tanh(),
        )
        self.out_features: int = hidden


class ResidualBlock(nn.Module):
    """relu -> conv -> relu -> conv, added to the input."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Float[Tensor, "batch c h w"]) -> Float[Tensor, "batch c h w"]:
        return x + self.conv1(F.relu(self.conv0(F.relu(x))))


class ImpalaCNN(nn.Module):
    """The IMPALA network: per stack a conv, a 3x3 stride-2 max-pool and two residual blocks.

    Ref: Espeholt et al. 2018, "IMPALA", figure 3 (right); Cobbe et al. 2020 (Procgen) use
    channels (16, 32, 32) and a 256-unit dense layer.
    """

    def __init__(
        self,
        obs_shape: tuple[int, int, int],
        channels: tuple[int, ...] = (16, 32, 32),
        out_features: int = 256,
        downsample: int = 1,
    ):
        super().__init__()
        height, width, in_channels = obs_shape
        # average-pooling the frame first makes CPU training affordable (quick presets)
        self.downsample = downsample
        height, width = height // downsample, width // downsample
        stacks: list[nn.Module] = []
        for c in channels:
            stacks += [
                nn.Conv2d(in_channels, c, 3, padding=1),
                nn.MaxPool2d(3, stride=2, padding=1),
                ResidualBlock(c),
                ResidualBlock(c),
            ]
            in_channels, height, width = c, (height + 1) // 2, (width + 1) // 2
        self.stacks = nn.Sequential(*stacks)
        self.fc = nn.Linear(in_channels * height * width, out_features)
        layer_init(self.fc)
        self.out_features: int = out_features

    def forward(self, x: Float[Tensor, "batch c h w"]) -> Float[Tensor, "batch d"]:
        if self.downsample > 1:
            x = F.avg_pool2d(x, self.downsample)
        x = self.stacks(x)
        return F.relu(self.fc(F.relu(x.flatten(1))))


class ActorCritic(nn.Module):
    """Policy and value function for PPO, with a shared trunk or two separate ones."""

    def __init__(
        self,
        obs_shape: tuple[int, ...],
        action: ActionSpec,
        network: Literal["mlp", "impala"] = "mlp",
        hidden: int = 64,
        shared_trunk: bool = False,
        impala_channels: tuple[int, ...] = (16, 32, 32),
        downsample: int = 1,
    ):
        super().__init__()
        self.action, self.image = action, network == "impala"

        def trunk() -> MLPTrunk | ImpalaCNN:
            if network == "impala":
                assert len(obs_shape) == 3, (
                    f"the IMPALA CNN needs (H, W, C) images, not {obs_shape}"
                )
                h, w, c = obs_shape
                return ImpalaCNN((h, w, c), impala_channels, 256, downsample)
            assert len(obs_shape) == 1, f"the MLP needs flat observations, not {obs_shape}"
            return MLPTrunk(obs_shape[0], hidden)

        self.actor_trunk = trunk()
        self.critic_trunk = self.actor_trunk if shared_trunk else trunk()
        features = self.actor_trunk.out_features
        self.actor_head = layer_init(nn.Linear(features, action.n), std=0.01)
        self.critic_head = layer_init(nn.Linear(features, 1), std=1.0)
        self.log_std = None if action.discrete else nn.Parameter(torch.zeros(action.n))
        self.shared = shared_trunk

    def _inputs(self, obs: Tensor) -> Tensor:
        if not self.image:
            return obs.float()
        # [batch, H, W, C] uint8 -> [batch, C, H, W] in [0, 1]; the permuted view is
        # channels-last in memory, which CPU convolutions run about twice as fast on
        return obs.permute(0, 3, 1, 2).float() / 255.0

    def get_value(self, obs: Shaped[Tensor, " batch *obs_shape"]) -> Float[Tensor, " batch"]:
        """The critic's V(s) for a batch of observations."""
        return self.critic_head(self.critic_trunk(self._inputs(obs))).squeeze(-1)

    def get_action_and_value(
        self,
        obs: Shaped[Tensor, " batch *obs_shape"],
        action: Tensor | None = None,
        generator: torch.Generator | None = None,
        deterministic: bool = False,
    ) -> tuple[Tensor, Float[Tensor, " batch"], Float[Tensor, " batch"], Float[Tensor, " batch"]]:
        """(action, log pi(action | s), entropy of pi(. | s), V(s)) for a batch.

        Args:
            obs: observations, in the environment's dtype.
            action: evaluate these actions; None samples new ones (or takes the mode).
            generator: the random stream to sample from (on the agent's device).
            deterministic: take the most likely action (argmax / the Gaussian's mean).
        """
        x = self._inputs(obs)
        hidden = self.actor_trunk(x)
        value = self.critic_head(hidden if self.shared else self.critic_trunk(x)).squeeze(-1)
        out = self.actor_head(hidden)
        if self.log_std is None:
            logp_all = out.log_softmax(-1)  # [batch, n_actions]
            if action is None:
                action = (
                    logp_all.argmax(-1)
                    if deterministic
                    else sample_categorical(logp_all.exp(), generator)
                )
            logprob = logp_all.gather(-1, action.long()[:, None]).squeeze(-1)
            entropy = -(logp_all.exp() * logp_all).sum(-1)
            return action, logprob, entropy, value
        log_std = self.log_std.expand_as(out)
        if action is None:
            noise = torch.randn(out.shape, generator=generator, device=out.device)
            action = out if deterministic else out + log_std.exp() * noise
        z = (action - out) / log_std.exp()
        logprob = (-0.5 * z**2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + log_std).sum(-1)
        return action, logprob, entropy, value
