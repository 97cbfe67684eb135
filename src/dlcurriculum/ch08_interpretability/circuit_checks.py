"""Grader checks for the circuit tools: composition scores and activation patching.

Oracles that share no code with the reference: hand-built rank-one heads whose Q-, K- and
V-composition scores are known by hand (1, 0 or 1/sqrt(2)), a loop over pairs in float64,
and patching done at another hook point (the attention block's output, corrected by each
patched head's clean-minus-live z through its slice of W_O).
"""

import copy
from collections.abc import Callable

import torch
from torch import Tensor

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.core.checks import ExerciseFailure, assert_close, assert_shape, name_the_mistake
from dlcurriculum.core.hooks import capture, hook_count, patch

D = 6  # the hand-built heads' d_model


def _e(i: int, j: int, scale: float = 1.0) -> Tensor:
    """The d x d matrix with `scale` at (i, j): maps basis vector e_i to e_j (rows are vectors)."""
    out = torch.zeros(D, D, dtype=torch.float64)
    out[i, j] = scale
    return out


def _fro(m: Tensor) -> Tensor:
    return m.pow(2).sum((-2, -1)).sqrt()


def check_composition_score(composition_score: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Hand-computed scores, the usual mistakes named, broadcasting, random matrices."""
    one = torch.eye(3, dtype=torch.float64)[:1].T @ torch.ones(1, 3, dtype=torch.float64)
    out = composition_score(one, one)
    assert_shape(out, (), "score of two 3 x 3 matrices", "one score per pair: a 0-d tensor")
    A = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    B = torch.tensor([[0.0, 1.0], [2.0, 0.0]], dtype=torch.float64)
    # by hand: A B = [[4, 1], [8, 3]] (|.|^2 = 90), |A|^2 = 30, |B|^2 = 5
    right = (90 / (30 * 5)) ** 0.5
    name_the_mistake(
        composition_score(A, B),
        {
            "divide by the product of the two Frobenius norms (||W_A|| ||W_B||)": 90**0.5,
            "divide by the product of the norms, not their sum": 90**0.5 / (30**0.5 + 5**0.5),
            "squared norms: take the Frobenius norms themselves, not their squares": 90 / 150,
            "that is the elementwise product W_A * W_B: multiply the matrices, W_A @ W_B": (
                float(_fro(A * B)) / (30 * 5) ** 0.5
            ),
            "you multiplied in the wrong order (W_B @ W_A); the writer comes first, W_A @ W_B": (
                float(_fro(B @ A)) / (30 * 5) ** 0.5
            ),
            "that is the spectral norm (ord=2): the score uses Frobenius norms": float(
                torch.linalg.matrix_norm(A @ B, 2)
                / (torch.linalg.matrix_norm(A, 2) * torch.linalg.matrix_norm(B, 2))
            ),
        },
        "score of A = [[1, 2], [3, 4]], B = [[0, 1], [2, 0]]",
        atol=1e-6,
    )
    assert_close(
        composition_score(A, B),
        torch.tensor(right, dtype=torch.float64),
        "score of A = [[1, 2], [3, 4]], B = [[0, 1], [2, 0]] (by hand: sqrt(90 / 150))",
        atol=1e-6,
        hint="||W_A @ W_B||_F / (||W_A||_F * ||W_B||_F)",
    )
    eye = torch.eye(4, dtype=torch.float64)
    assert_close(
        composition_score(eye, eye),
        torch.tensor(0.5, dtype=torch.float64),
        "score of I_4 with itself (sqrt(4) / (sqrt(4) sqrt(4)) = 1/2)",
        atol=1e-6,
    )
    g = torch.Generator().manual_seed(0)
    W_A = torch.randn(3, 1, 5, 5, generator=g, dtype=torch.float64)
    W_B = torch.randn(1, 2, 5, 5, generator=g, dtype=torch.float64)
    out = composition_score(W_A, W_B)
    assert_shape(
        out,
        (3, 2),
        "scores of [3, 1] x [1, 2] broadcast pairs",
        "reduce only the last two dims (the matrices); the leading dims broadcast",
    )
    loop = torch.tensor(
        [
            [
                float(_fro(W_A[i, 0] @ W_B[0, j]) / (_fro(W_A[i, 0]) * _fro(W_B[0, j])))
                for j in range(2)
            ]
            for i in range(3)
        ],
        dtype=torch.float64,
    )
    assert_close(out, loop, "scores of broadcast random pairs", atol=1e-6)


def _planted() -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """Three layers of two heads, each matrix rank one, and the right scores by hand."""
    W_OV = torch.zeros(3, 2, D, D, dtype=torch.float64)
    W_QK = torch.zeros(3, 2, D, D, dtype=torch.float64)
    W_OV[0, 0] = _e(0, 1)  # writes e_0 -> e_1
    W_OV[0, 1] = _e(2, 3)  # writes e_2 -> e_3
    W_QK[0, 0], W_QK[0, 1] = _e(4, 5), _e(5, 4)
    # layer 1 head 0: keys read e_1 (K-composes with 0.0); queries read e_3 (Q with 0.1)
    W_QK[1, 0] = _e(3, 1)
    W_OV[1, 0] = _e(1, 4)  # values read e_1 (V-composes with 0.0), writes e_4
    # layer 1 head 1: keys read e_1 and e_5 (K with 0.0 at 1/sqrt(2))
    W_QK[1, 1] = _e(2, 1) + _e(2, 5)
    W_OV[1, 1] = _e(5, 0)
    # layer 2 head 0: queries read e_4 (Q with 1.0), keys read e_0 (K with 1.1)
    W_QK[2, 0] = _e(4, 0)
    W_OV[2, 0] = _e(0, 2)
    W_QK[2, 1], W_OV[2, 1] = _e(1, 1), _e(3, 3)
    right = {kind: _loop_scores(W_OV, W_QK, kind) for kind in "QKV"}
    return W_OV, W_QK, right


def _loop_scores(W_OV: Tensor, W_QK: Tensor, kind: str, allowed: str = "<") -> Tensor:
    """The scores pair by pair; `allowed` says which layer pairs are scored (the rest are 0)."""
    n_layers, n_heads = W_OV.shape[:2]
    out = torch.zeros(n_layers, n_heads, n_layers, n_heads, dtype=torch.float64)
    ok = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "all": lambda a, b: True,
        ">": lambda a, b: a > b,
    }[allowed]
    for la in range(n_layers):
        for lb in range(n_layers):
            if not ok(la, lb):
                continue
            for ha in range(n_heads):
                for hb in range(n_heads):
                    A = W_OV[la, ha]
                    B = {
                        "Q": W_QK[lb, hb],
                        "K": W_QK[lb, hb].T,
                        "V": W_OV[lb, hb],
                        "QK": W_QK[lb, hb],
                        "T": W_QK[lb, hb].T,
                    }[kind]
                    out[la, ha, lb, hb] = _fro(A @ B) / (_fro(A) * _fro(B))
    return out


def _composition_mistakes(W_OV: Tensor, W_QK: Tensor, kind: str) -> dict[str, Tensor]:
    """What the usual mistakes in composition_scores compute, by hint."""
    other = {"Q": "K", "K": "Q"}.get(kind)
    mistakes: dict[str, Tensor] = {}
    if other is not None:
        how = (
            "through B's keys, W_OV^A (W_QK^B)^T (transpose W_QK)"
            if kind == "K"
            else "through B's queries, W_OV^A W_QK^B (no transpose)"
        )
        mistakes[
            f"these are the {other}-composition scores: {kind}-composition reads A's output {how}"
        ] = _loop_scores(W_OV, W_QK, other)
    else:
        mistakes["V-composition reads A's output through B's values: use W_OV^B, not W_QK^B"] = (
            _loop_scores(W_OV, W_QK, "QK")
        )
    return mistakes | {
        "a head reads only what earlier layers wrote: score pairs with the writer's layer "
        "< the reader's, not <= (0 within a layer)": _loop_scores(W_OV, W_QK, kind, "<="),
        "a head reads only what earlier layers wrote: keep only pairs with the writer's "
        "layer < the reader's, set the rest to 0": _loop_scores(W_OV, W_QK, kind, "all"),
        "writer and reader are the wrong way round: scores[la, ha, lb, hb] has the writer "
        "(earlier layer la) first and is 0 where la >= lb": _loop_scores(W_OV, W_QK, kind, ">"),
    }


def check_composition_scores(composition_scores: Callable[[Tensor, Tensor, str], Tensor]) -> None:
    """Random heads (the usual mistakes named, a loop oracle), then planted heads whose Q-,
    K- and V-composition scores are known by hand."""
    g = torch.Generator().manual_seed(3)
    W_OV = torch.randn(3, 2, 8, 8, generator=g, dtype=torch.float64)
    W_QK = torch.randn(3, 2, 8, 8, generator=g, dtype=torch.float64)
    for kind in "QKV":
        out = composition_scores(W_OV, W_QK, kind)
        what = f"{kind}-composition scores of random heads, 3 layers x 2"
        assert_shape(
            out,
            (3, 2, 3, 2),
            what,
            "[n_layers, n_heads, n_layers, n_heads]: writer first, then reader",
        )
        name_the_mistake(out, _composition_mistakes(W_OV, W_QK, kind), what, atol=1e-6)
        assert_close(
            out,
            _loop_scores(W_OV, W_QK, kind),
            what,
            atol=1e-6,
            hint="writer A = W_OV[la, ha]; reader B = W_QK[lb, hb] (Q), W_QK[lb, hb]^T (K) or "
            "W_OV[lb, hb] (V); score = composition_score(A, B) where la < lb, else 0",
        )
    W_OV, W_QK, right = _planted()
    # by hand: 0.0 -> 1.0 through keys, 0.1 -> 1.0 through queries, 0.0 -> 1.0 through
    # values, each 1; 0.0 -> 1.1 through keys, 1 / sqrt(2)
    assert abs(float(right["K"][0, 0, 1, 1]) - 0.5**0.5) < 1e-12
    assert (right["K"][0, 0, 1, 0], right["Q"][0, 1, 1, 0], right["V"][0, 0, 1, 0]) == (1, 1, 1)
    for kind in "QKV":
        out = composition_scores(W_OV, W_QK, kind)
        what = f"{kind}-composition scores of hand-built rank-one heads"
        swapped = list(_composition_mistakes(W_OV, W_QK, kind).items())[:1]  # Q for K and back
        name_the_mistake(out, dict(swapped), what, atol=1e-6)
        assert_close(out, right[kind], what, atol=1e-6)


def _patch_oracle(
    model: Transformer,
    tokens: Tensor,
    clean_z: dict[int, Tensor],
    heads: list[tuple[int, int]],
    positions: list[int] | None,
    pair_up: bool = False,
) -> Tensor:
    """Patching done on the attention block's output: add (clean z - live z) @ W_O[head] at the
    patched heads and positions (`pair_up`: the mistake that pairs heads with positions)."""
    where = list(range(tokens.shape[1])) if positions is None else positions
    names = [f"blocks.{layer}.attn.hook_z" for layer in range(len(model.blocks))]

    def correct(layer: int, live: dict[str, Tensor]) -> Callable[[Tensor], Tensor]:
        def fn(out: Tensor) -> Tensor:
            z = live[f"blocks.{layer}.attn.hook_z"]
            W_O = model.get_parameter(f"blocks.{layer}.attn.W_O")
            out = out.clone()
            mine = [h for la, h in heads if la == layer]
            cells = [(h, p) for h in mine for p in where]
            if pair_up and len(mine) == len(where):  # one head broadcasts over the positions
                cells = list(zip(mine, where, strict=True))
            for h, p in cells:
                out[:, p] += (clean_z[layer][:, h, p] - z[:, h, p]) @ W_O[h]
            return out

        return fn

    with torch.no_grad(), capture(model, names) as live:
        edits = {f"blocks.{la}.hook_attn_out": correct(la, live) for la in range(len(names))}
        with patch(model, edits):
            return model(tokens)  # type: ignore[no-any-return]


def perturbed_tiny_model() -> Transformer:
    """A 2-layer attention-only model with every weight and bias moved off its init, so a
    wrong patch or ablation cannot hide behind zero biases."""
    cfg = TransformerConfig(d_vocab=20, n_ctx=12, d_model=16, n_layers=2, n_heads=4, attn_only=True)
    torch.manual_seed(0)
    model = Transformer(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn_like(p))
    return model


def check_patch_heads(patch_heads: Callable[..., Tensor]) -> None:
    """Patching equals the same patch applied at the block output; all heads give the clean
    run at the second copy, none the corrupted run; no hook is left, no weight changes."""
    model = perturbed_tiny_model()
    g = torch.Generator().manual_seed(2)
    clean = torch.randint(0, 20, (3, 12), generator=g)
    corrupted = clean.clone()
    corrupted[:, :6] = torch.randint(0, 20, (3, 6), generator=g)
    names = [f"blocks.{layer}.attn.hook_z" for layer in range(2)]
    with torch.no_grad(), capture(model, names) as cache:
        clean_logits, corrupted_logits = model(clean), model(corrupted)
        model(clean)
    clean_z = {layer: cache[name].clone() for layer, name in enumerate(names)}
    kept = {layer: z.clone() for layer, z in clean_z.items()}
    before = copy.deepcopy(model.state_dict())

    def run(heads: list[tuple[int, int]], positions: list[int] | None) -> Tensor:
        with torch.no_grad():
            out = patch_heads(model, corrupted, clean_z, heads, positions)
        if hook_count(model) != 0:
            raise ExerciseFailure(
                "hooks are still registered after patch_heads returned: use core.hooks.patch "
                "(a with block) so they are removed"
            )
        return out

    def oracle(heads: list[tuple[int, int]], positions: list[int] | None, **kw: bool) -> Tensor:
        return _patch_oracle(model, corrupted, clean_z, heads, positions, **kw)

    # two heads in layer 0 and one in layer 1, (layer, head) pairs that are valid either way
    # round, and as many positions as layer 0's heads: each usual mistake patches other cells
    heads, positions = [(0, 1), (0, 0), (1, 1)], [2, 5]
    every = [(layer, h) for layer in range(2) for h in range(4)]
    out = run(heads, positions)
    assert_shape(out, clean_logits.shape, "logits", "the patched run's logits, like model(tokens)")
    name_the_mistake(
        out,
        {
            "the heads are (layer, head) pairs: you read them as (head, layer)": oracle(
                [(1, 0), (0, 0), (1, 1)], positions
            ),
            "you patched every position: patch only z[:, head, positions] when positions is "
            "given": oracle(heads, None),
            "with several heads in the same layer only the last was patched (a dict keyed by "
            "layer kept one): group the heads by layer and patch them all": oracle(
                [(0, 0), (1, 1)], positions
            ),
            "with several heads in the same layer only the first was patched: group the heads "
            "by layer and patch them all": oracle([(0, 1), (1, 1)], positions),
            "you patched every head of the layer: patch only the listed heads": oracle(
                every, positions
            ),
            "indexing z[:, heads, positions] with two lists pairs them up (head i at position "
            "i only): index the heads and the positions one after the other": oracle(
                heads, positions, pair_up=True
            ),
            "nothing was patched: replace z with the clean run's clean_z[layer] at the listed "
            "heads and positions": corrupted_logits,
        },
        f"logits with heads {heads} patched at positions {positions}",
        atol=1e-5,
    )
    assert_close(
        run(every, None)[:, 6:],
        clean_logits[:, 6:],
        "logits with every head patched at every position, at the positions whose tokens the "
        "two runs share",
        atol=1e-4,
        hint="patch z[:, head] of every listed head with the clean run's z; with every head "
        "patched, a position whose token is clean must give the clean run's logits",
    )
    assert_close(
        run([], None),
        corrupted_logits,
        "logits when no head is patched",
        atol=1e-5,
        hint="with no heads listed the corrupted run must be unchanged",
    )
    cases: list[tuple[list[tuple[int, int]], list[int] | None]] = [
        ([(1, 2)], None),
        ([(0, 1), (1, 3), (0, 2)], [4]),
        ([(0, 0), (0, 2)], [1, 7, 8, 10]),
    ]
    for some, at in cases:
        assert_close(
            run(some, at),
            oracle(some, at),
            f"logits with heads {some} patched at positions {at}",
            atol=1e-5,
            hint="at blocks.{layer}.attn.hook_z (dims [batch, n_heads, pos, d_head]) set "
            "z[:, head, positions] = clean_z[layer][:, head, positions], on a copy of z",
        )
    for layer, z in clean_z.items():
        assert_close(
            z,
            kept[layer],
            f"clean_z[{layer}] after patch_heads",
            hint="patch_heads must not change the clean activations it is given",
        )
    for name, value in model.state_dict().items():
        assert_close(
            value,
            before[name],
            f"parameter {name} after patch_heads",
            hint="patch_heads must not change the model's weights",
        )
