"""Composition scores against hand-computed values, the random baseline against its analytic
expectation, LayerNorm folding against the model's own attention scores, and TransformerLens
when it is installed."""

import math

import pytest
import torch

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch08_interpretability import composition as comp


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def test_hand_computed_scores() -> None:
    # A = u v^T: A A^T = |v|^2 u u^T, so the score of A with its transpose is 1 ...
    u, v = _t([[1.0], [0.0]]), _t([[1.0], [1.0]])
    A = u @ v.T
    assert float(comp.composition_score(A, A.T)) == pytest.approx(1.0)
    # ... and with itself |cos(u, v)|: A A = (v . u) u v^T
    assert float(comp.composition_score(A, A)) == pytest.approx(1 / math.sqrt(2))
    # diag(3, 4) with itself: sqrt(3^4 + 4^4) / (3^2 + 4^2)
    D = torch.diag(_t([[3.0, 4.0]])[0])
    assert float(comp.composition_score(D, D)) == pytest.approx(math.sqrt(337) / 25)
    # the identity and any orthogonal Q with Q^T: sqrt(d) / d
    g = torch.Generator().manual_seed(0)
    Q, _ = torch.linalg.qr(torch.randn(5, 5, dtype=torch.float64, generator=g))
    eye = torch.eye(5, dtype=torch.float64)
    assert float(comp.composition_score(eye, eye)) == pytest.approx(1 / math.sqrt(5))
    assert float(comp.composition_score(Q, Q.T)) == pytest.approx(1 / math.sqrt(5))
    # writes e_0 -> e_1, reads e_0: nothing composes in this order, everything in the other
    E01, E00 = _t([[0.0, 1.0], [0.0, 0.0]]), _t([[1.0, 0.0], [0.0, 0.0]])
    assert float(comp.composition_score(E01, E00)) == 0.0
    assert float(comp.composition_score(E00, E01)) == 1.0
    # scale-free
    assert float(comp.composition_score(3 * A, 0.1 * A)) == pytest.approx(1 / math.sqrt(2))


def test_composition_scores_kinds_and_layer_mask() -> None:
    g = torch.Generator().manual_seed(0)
    W_OV = torch.randn(3, 2, 6, 6, generator=g)
    W_QK = torch.randn(3, 2, 6, 6, generator=g)
    scores = {kind: comp.composition_scores(W_OV, W_QK, kind) for kind in comp.KINDS}
    # K-composition is Q-composition with every W_QK transposed
    transposed = comp.composition_scores(W_OV, W_QK.transpose(-1, -2), "Q")
    torch.testing.assert_close(scores["K"], transposed)
    pairs = comp.layer_pairs(3, 2)
    for kind, s in scores.items():
        assert (s[~pairs] == 0).all(), kind  # a head reads only earlier layers
        assert (s[pairs] > 0).all() and (s[pairs] <= 1).all(), kind
        reader = {"Q": W_QK, "K": W_QK.mT, "V": W_OV}[kind][2, 1]
        torch.testing.assert_close(s[1, 0, 2, 1], comp.composition_score(W_OV[1, 0], reader))
    best = comp.top_pairs(scores["K"], 2)
    assert best[0][2] == float(scores["K"][pairs].max()) and best[0][2] >= best[1][2]
    (la, ha), (lb, hb), value = best[0]
    assert la < lb and value == float(scores["K"][la, ha, lb, hb])


@pytest.mark.parametrize(("d_model", "d_head"), [(32, 8), (64, 16), (128, 32), (128, 8)])
def test_random_baseline_is_near_one_over_sqrt_d_model(d_model: int, d_head: int) -> None:
    g = torch.Generator().manual_seed(d_model + d_head)
    scores = comp.random_composition_scores(2, 4, d_model, d_head, g, "K", n_models=16)
    assert len(scores) == 16 * 4 * 4
    # E||AB||^2 / (E||A||^2 E||B||^2) = 1 / d_model exactly; the scores concentrate there
    assert float((scores**2).mean()) * d_model == pytest.approx(1.0, rel=0.04)
    assert float(scores.mean()) == pytest.approx(comp.expected_random_score(d_model), rel=0.03)
    for kind in ("Q", "V"):
        other = comp.random_composition_scores(2, 4, d_model, d_head, g, kind, n_models=4)
        assert float(other.mean()) == pytest.approx(1 / math.sqrt(d_model), rel=0.05)


def test_head_matrices_give_the_models_attention_scores() -> None:
    cfg = TransformerConfig(d_vocab=11, n_ctx=8, d_model=16, n_layers=2, n_heads=2, attn_only=True)
    torch.manual_seed(0)
    model = Transformer(cfg).eval()
    with torch.no_grad():
        for block in model.blocks:
            block.ln1.w.uniform_(0.5, 2.0)  # a gain that folding must carry
    raw_ov, raw_qk = comp.head_matrices(model, fold_ln=False)
    attn = model.blocks[1].attn
    torch.testing.assert_close(raw_ov[1, 0], (attn.W_V[0] @ attn.W_O[0]).detach())
    torch.testing.assert_close(raw_qk[1, 1], (attn.W_Q[1] @ attn.W_K[1].T).detach())
    W_OV, W_QK = comp.head_matrices(model)
    # x_q W_QK x_k^T on centred, unit-variance residuals = the model's q . k (no biases)
    x = torch.randn(2, 16)
    ln = model.blocks[1].ln1
    normed = ln(x[None])[0].detach() - ln.b.detach()
    q = normed[0] @ attn.W_Q[1].detach()
    k = normed[1] @ attn.W_K[1].detach()
    var = x.var(-1, correction=0, keepdim=True)
    centred = (x - x.mean(-1, keepdim=True)) / (var + cfg.layer_norm_eps).sqrt()
    torch.testing.assert_close(centred[0] @ W_QK[1, 1] @ centred[1], q @ k, rtol=1e-4, atol=1e-5)
    # what a head writes is read only after LayerNorm removes its mean: W_OV's rows are centred
    torch.testing.assert_close(W_OV.sum(-1), torch.zeros(2, 2, 16), atol=1e-5, rtol=0)


def test_matches_transformer_lens_when_installed() -> None:
    pytest.importorskip("transformer_lens")
    from transformer_lens import FactoredMatrix
    from transformer_lens.utils import composition_scores as tl_scores

    g = torch.Generator().manual_seed(1)
    W_Q, W_K, W_V = (torch.randn(3, 2, 12, 4, generator=g) for _ in range(3))
    W_O = torch.randn(3, 2, 4, 12, generator=g)
    OV, QK = FactoredMatrix(W_V, W_O), FactoredMatrix(W_Q, W_K.transpose(-1, -2))
    pairs = comp.layer_pairs(3, 2)
    for kind, right in (("Q", QK), ("K", QK.T), ("V", OV)):
        theirs = torch.where(pairs, tl_scores(OV, right), torch.zeros(()))
        ours = comp.composition_scores(W_V @ W_O, W_Q @ W_K.transpose(-1, -2), kind)
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-6)
