"""End to end on a toy task: training the chapter-1 model grows a real induction circuit, and
the chapter's scores, ablation, composition scores and patching find it (the quick
Shakespeare run takes minutes)."""

import torch

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.lm_training import make_optimizer, train_step
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch08_interpretability import composition as comp
from dlcurriculum.ch08_interpretability import induction as ind
from dlcurriculum.ch08_interpretability import patching as pat
from dlcurriculum.ch08_interpretability.induction_heads_experiment import with_repeats
from dlcurriculum.core.hooks import capture

VOCAB, CTX, HALF = 20, 64, 20


def test_training_on_repeats_with_random_periods_forms_an_induction_head():
    torch.manual_seed(0)
    cfg = TransformerConfig(
        d_vocab=VOCAB, n_ctx=CTX, d_model=64, n_layers=2, n_heads=2, attn_only=True,
        pos_embed="sinusoidal", init_range=0.1, fast_path=True,
    )  # fmt: skip
    model = Transformer(cfg)
    optimizer = make_optimizer(model, lr=3e-3, weight_decay=0.05)
    g = torch.Generator().manual_seed(0)
    for _ in range(1000):
        # Random periods (4-24), so copying a fixed distance back does not work: only the
        # two-layer induction circuit predicts the repeats.
        tokens = with_repeats(torch.randint(0, VOCAB, (16, CTX), generator=g), 1.0, g, 4, 24)
        train_step(model, optimizer, tokens, lr=3e-3, max_grad_norm=1.0)

    readable = Transformer(TransformerConfig(**{**vars(cfg), "fast_path": False})).eval()
    readable.load_state_dict(model.state_dict())
    probe = ind.repeated_random_tokens(32, HALF, VOCAB, torch.Generator().manual_seed(1))
    patterns = ind.attention_patterns(readable, probe)
    induction = torch.stack([ind.induction_score(p, HALF) for p in patterns])
    previous = torch.stack([ind.previous_token_score(p) for p in patterns])
    layer, head, score = ind.top_heads(induction, 1)[0]
    assert (layer, score > 0.5) == (1, True), induction  # composition needs layer 1
    assert float(previous[0].max()) > 0.2, previous  # ... reading a previous-token head

    with torch.no_grad():
        first, second = ind.half_losses(ind.per_position_loss(readable(probe), probe), HALF)
        ablated = ind.ablate_heads(readable, probe, [(layer, head)])
        _, second_ablated = ind.half_losses(ind.per_position_loss(ablated, probe), HALF)
    assert second < first - 1.0  # the model copies unseen random tokens ...
    assert second_ablated > second + 1.0  # ... through that head

    # the circuit in the weights: the previous-token head K-composes with the induction head
    # more than any other pair does, and far more than random matrices of the same shapes
    prev = (0, int(previous[0].argmax()))
    W_OV, W_QK = comp.head_matrices(readable)
    k_scores = comp.composition_scores(W_OV, W_QK, "K")
    writer, reader, top = comp.top_pairs(k_scores, 1)[0]
    assert (writer, reader) == (prev, (layer, head)), k_scores
    assert top > 1.5 * comp.expected_random_score(cfg.d_model)
    # ... and in the activations: patching the induction head's clean output into a run whose
    # first copy is redrawn restores most of the logit difference; layer 0 (and, in part, the
    # previous-token head alone) patched at the first copy only restores the induction head's
    # attention to its target: what layer 0 writes there is read through the keys
    corrupted = pat.corrupt_first_copy(probe, HALF, VOCAB, torch.Generator().manual_seed(2))
    pa = pat.for_transformer(readable, pat.patch_heads, probe, corrupted, HALF)
    assert pa.clean_ld > pa.corrupted_ld + 2.0
    assert pa.recovery([(layer, head)]) > 0.5
    with torch.no_grad(), capture(readable, ["blocks.1.attn.hook_pattern"]) as cache:
        readable(corrupted)
        broken = float(ind.induction_score(cache["blocks.1.attn.hook_pattern"], HALF)[head])
        pat.patch_heads(readable, corrupted, pa.clean_z, [prev], list(range(HALF)))
        mended = float(ind.induction_score(cache["blocks.1.attn.hook_pattern"], HALF)[head])
        layer0 = [(0, h) for h in range(cfg.n_heads)]
        pat.patch_heads(readable, corrupted, pa.clean_z, layer0, list(range(HALF)))
        all_layer0 = float(ind.induction_score(cache["blocks.1.attn.hook_pattern"], HALF)[head])
    # measured: 0.06 corrupted, 0.42 with the previous-token head, 0.74 with layer 0, 0.82 clean
    assert all_layer0 > broken + 0.7 * (score - broken), (broken, all_layer0, score)
    assert mended > broken + 0.3 * (score - broken), (broken, mended, score)
