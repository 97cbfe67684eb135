"""Activation patching of a HuggingFace causal LM's heads (SmolLM2 offline, GPT-2 online).

The same patching as `patching.patch_heads`, where HF models have no per-head HookPoint: the
heads' outputs are the input of each attention block's output projection (`o_proj` in
Llama-family models such as SmolLM2, `attn.c_proj` in GPT-2), [batch, pos, n_heads * d_head]
with head h in columns h * d_head .. (h + 1) * d_head - 1. Forward pre-hooks read or replace
that input and are removed in `finally`, as `core.hooks` does for outputs.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from dlcurriculum.ch08_interpretability.patching import Heads, Patching
from dlcurriculum.core.errors import DlcError

OUTPUT_PROJECTIONS = (".self_attn.o_proj", ".attn.c_proj")  # Llama family, GPT-2


def output_projections(model: nn.Module) -> list[nn.Module]:
    """Each layer's attention output projection, in layer order."""
    found = [m for name, m in model.named_modules() if name.endswith(OUTPUT_PROJECTIONS)]
    if not found:
        raise DlcError(
            f"{type(model).__name__} has no module ending in {' or '.join(OUTPUT_PROJECTIONS)}: "
            "head patching knows Llama-family models (SmolLM2) and GPT-2"
        )
    return found


def n_heads_of(model: nn.Module) -> int:
    """The number of attention heads per layer, from the model's config."""
    config: Any = model.config
    return int(getattr(config, "num_attention_heads", None) or config.n_head)


@contextmanager
def _pre_hooks(modules: dict[int, nn.Module], fn: Callable[[int, Tensor], Any]) -> Iterator[None]:
    handles: list[RemovableHandle] = []

    def hook(layer: int) -> Callable[..., Any]:
        def pre(module: nn.Module, args: tuple[Any, ...]) -> Any:
            out = fn(layer, args[0])
            return None if out is None else (out, *args[1:])

        return pre

    try:
        for layer, module in modules.items():
            handles.append(module.register_forward_pre_hook(hook(layer)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def hf_head_outputs(model: nn.Module, tokens: Tensor) -> dict[int, Tensor]:
    """Every layer's concatenated head outputs [batch, pos, n_heads * d_head], by layer."""
    cache: dict[int, Tensor] = {}

    def keep(layer: int, z: Tensor) -> None:
        cache[layer] = z.detach().clone()

    with torch.no_grad(), _pre_hooks(dict(enumerate(output_projections(model))), keep):
        model(tokens)
    return cache


def hf_patch_heads(
    model: nn.Module,
    tokens: Tensor,
    clean_z: dict[int, Tensor],
    heads: Heads,
    positions: Sequence[int] | None = None,
) -> Tensor:
    """Logits of `model` on `tokens` with the heads' outputs (at `positions`) from `clean_z`."""
    d_head = next(iter(clean_z.values())).shape[-1] // n_heads_of(model)
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)
    where = slice(None) if positions is None else list(positions)
    projections = output_projections(model)

    def replace(layer: int, z: Tensor) -> Tensor:
        z = z.clone()
        for head in by_layer[layer]:
            cols = slice(head * d_head, (head + 1) * d_head)
            z[:, where, cols] = clean_z[layer][:, where, cols]
        return z

    with _pre_hooks({layer: projections[layer] for layer in by_layer}, replace):
        return model(tokens).logits  # type: ignore[no-any-return]


def for_hf(model: nn.Module, clean: Tensor, corrupted: Tensor, half_len: int) -> Patching:
    """`Patching` of a HuggingFace causal LM."""
    return Patching(
        lambda tokens: model(tokens).logits,
        lambda tokens: hf_head_outputs(model, tokens),
        lambda tokens, z, heads, positions: hf_patch_heads(model, tokens, z, heads, positions),
        clean,
        corrupted,
        half_len,
    )
