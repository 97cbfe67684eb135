"""Activation patching: which heads, at which positions, carry a behaviour from a clean run.

Ref: Meng et al. 2022, "Locating and Editing Factual Associations in GPT" (causal tracing);
Wang et al. 2022, "Interpretability in the Wild" (path and activation patching, the
logit-difference metric); Heimersheim & Nanda 2024, "How to use and interpret activation
patching" (denoising: patch clean activations into a corrupted run).

Two runs differ only where the behaviour's input differs. On induction's probe the clean
run is T random tokens repeated twice; the corrupted run has fresh random tokens in the
first copy, so the second copy cannot be predicted by copying. The metric is the logit
difference at each second-copy query: the logit of the token the clean context predicts
(the next token of the repeat) minus that of the token the corrupted context would copy.
Patching a component's clean activation into the corrupted run and measuring

    recovery = (metric(patched) - metric(corrupted)) / (metric(clean) - metric(corrupted))

says how much of the behaviour that component carries: 1 restores the clean run, 0 changes
nothing, a negative value pushes towards the corrupted answer.
"""

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn

from dlcurriculum.core.hooks import capture, patch

Heads = Sequence[tuple[int, int]]
PatchFn = Callable[[Tensor, dict[int, Tensor], Heads, Sequence[int] | None], Tensor]


def corrupt_first_copy(
    tokens: Int[Tensor, "batch pos"],
    half_len: int,
    d_vocab: int,
    generator: torch.Generator,
    low: int = 0,
) -> Int[Tensor, "batch pos"]:
    """The probe with the first of its two copies (positions n - 2T .. n - T - 1) redrawn."""
    out = tokens.clone()
    n = tokens.shape[1]
    fresh = torch.randint(low, d_vocab, (tokens.shape[0], half_len), generator=generator)
    out[:, n - 2 * half_len : n - half_len] = fresh.to(tokens.device)
    return out


def induction_answers(
    clean: Int[Tensor, "batch pos"], corrupted: Int[Tensor, "batch pos"], half_len: int
) -> tuple[Tensor, Tensor, Tensor]:
    """(query positions, right answers, wrong answers) of the induction logit difference.

    The queries are the second copy's positions q = n - T .. n - 2; each predicts clean[q + 1],
    and copying from the corrupted first copy would predict corrupted[q + 1 - T].
    """
    n = clean.shape[1]
    queries = torch.arange(n - half_len, n - 1, device=clean.device)
    return queries, clean[:, queries + 1], corrupted[:, queries + 1 - half_len]


def logit_difference(
    logits: Float[Tensor, "batch pos d_vocab"],
    queries: Int[Tensor, " q"],
    right: Int[Tensor, "batch q"],
    wrong: Int[Tensor, "batch q"],
) -> float:
    """Mean over the batch and the queries of logit(right answer) - logit(wrong answer)."""
    at = logits[:, queries].float()
    diff = at.gather(-1, right[..., None]) - at.gather(-1, wrong[..., None])
    return float(diff.mean())


def recovery(patched: float, clean: float, corrupted: float) -> float:
    """(patched - corrupted) / (clean - corrupted): 1 = the clean run, 0 = the corrupted run."""
    return (patched - corrupted) / (clean - corrupted)


def head_outputs(model: nn.Module, tokens: Int[Tensor, "batch pos"]) -> dict[int, Tensor]:
    """Every layer's head outputs z [batch, n_heads, pos, d_head] (before W_O), by layer."""
    names = {i: f"blocks.{i}.attn.hook_z" for i in range(len(model.blocks))}  # type: ignore[arg-type]
    with torch.no_grad(), capture(model, list(names.values())) as cache:
        model(tokens)
    return {i: cache[name] for i, name in names.items()}


def patch_heads(
    model: nn.Module,
    tokens: Int[Tensor, "batch pos"],
    clean_z: dict[int, Float[Tensor, "batch n_heads pos d_head"]],
    heads: Sequence[tuple[int, int]],
    positions: Sequence[int] | None = None,
) -> Float[Tensor, "batch pos d_vocab"]:
    """Logits of our Transformer on `tokens` with some heads' outputs taken from a clean run.

    Args:
        model: a chapter-1 `Transformer` (its attention blocks have the HookPoint `hook_z`,
            [batch, n_heads, pos, d_head], the heads' outputs before W_O).
        tokens: the corrupted input.
        clean_z: the clean run's z of each layer (from `head_outputs`), same shape as the
            corrupted run's.
        heads: (layer, head) pairs to patch.
        positions: patch only these positions (None = every position).

    Returns:
        The logits of the corrupted forward pass in which z[:, head, positions] of each
        listed head is replaced by the clean run's. Heads not listed, and positions not
        listed, keep their corrupted values; no hook is left on the model afterwards.
    """
    # BEGIN SOLUTION
    # HINT: group the heads by layer and patch f"blocks.{layer}.attn.hook_z" with a function
    # HINT: that returns a copy of z with z[:, head, positions] = clean_z[layer][:, head,
    # HINT: positions]; index the heads and the positions one after the other, so that
    # HINT: two lists are not paired up element by element.
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)
    where = slice(None) if positions is None else list(positions)

    def from_clean(layer: int, heads_here: list[int]):  # type: ignore[no-untyped-def]
        def fn(z: Tensor) -> Tensor:
            z = z.clone()
            for head in heads_here:
                z[:, head, where] = clean_z[layer][:, head, where]
            return z

        return fn

    edits = {f"blocks.{layer}.attn.hook_z": from_clean(layer, hs) for layer, hs in by_layer.items()}
    with patch(model, edits):
        return model(tokens)  # type: ignore[no-any-return]
    # END SOLUTION


class Patching:
    """A clean and a corrupted run of induction's probe, and the recovery of any patch.

    Model-agnostic: `forward(tokens)` gives logits, `outputs(tokens)` a run's head outputs by
    layer, `patch_fn(tokens, clean_z, heads, positions)` the logits of a patched run. For our
    Transformer `for_transformer` fills them in with `head_outputs` and `patch_heads` (the
    reference's or the learner's); for a HuggingFace model `hf_patching.for_hf`.
    """

    def __init__(
        self,
        forward: Callable[[Tensor], Tensor],
        outputs: Callable[[Tensor], dict[int, Tensor]],
        patch_fn: PatchFn,
        clean: Int[Tensor, "batch pos"],
        corrupted: Int[Tensor, "batch pos"],
        half_len: int,
    ) -> None:
        self.patch_fn, self.corrupted = patch_fn, corrupted
        self.queries, self.right, self.wrong = induction_answers(clean, corrupted, half_len)
        with torch.no_grad():
            self.clean_z = outputs(clean)
            self.clean_ld = self.metric(forward(clean))
            self.corrupted_ld = self.metric(forward(corrupted))

    def metric(self, logits: Float[Tensor, "batch pos d_vocab"]) -> float:
        """The logit difference of a run's logits."""
        return logit_difference(logits, self.queries, self.right, self.wrong)

    def recovery(self, heads: Heads, positions: Sequence[int] | None = None) -> float:
        """The recovery when the heads' clean outputs (at `positions`, or all) are patched in."""
        with torch.no_grad():
            logits = self.patch_fn(self.corrupted, self.clean_z, heads, positions)
        return recovery(self.metric(logits), self.clean_ld, self.corrupted_ld)

    def by_head(self, n_layers: int, n_heads: int) -> Float[Tensor, "n_layers n_heads"]:
        """The recovery of patching each head alone, at every position."""
        return torch.tensor(
            [[self.recovery([(la, h)]) for h in range(n_heads)] for la in range(n_layers)]
        )

    def by_position(self, heads: Heads) -> Float[Tensor, "n_patched pos"]:
        """The recovery of patching each of `heads` at one position at a time."""
        n = self.corrupted.shape[1]
        rows = [[self.recovery([head], [p]) for p in range(n)] for head in heads]
        return torch.tensor(rows).reshape(len(heads), n)


def for_transformer(
    model: nn.Module,
    patch_fn: Callable[..., Tensor],
    clean: Int[Tensor, "batch pos"],
    corrupted: Int[Tensor, "batch pos"],
    half_len: int,
) -> Patching:
    """`Patching` of our chapter-1 Transformer; `patch_fn` has `patch_heads`' signature."""
    return Patching(
        model,
        lambda tokens: head_outputs(model, tokens),
        lambda tokens, z, heads, positions: patch_fn(model, tokens, z, heads, positions),
        clean,
        corrupted,
        half_len,
    )
