"""The Shakespeare pipeline and checkpoints, on small synthetic text (no corpus needed)."""

import dataclasses
import math
import random

import pytest
import torch

from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch01_transformers.shakespeare import (
    chunk,
    evaluate_loss,
    generate_text,
    load_shakespeare_model,
    prepare_data,
    save_shakespeare_model,
    split_regions,
    unigram_loss,
)
from dlcurriculum.ch01_transformers.tokenizer import WordTokenizer, split_pieces
from dlcurriculum.core.errors import DlcError

from .helpers import TINY


def synthetic_text(n_words: int = 3000, seed: int = 0) -> str:
    rng = random.Random(seed)
    words = ["thou", "art", "the", "king", "and", "I", "am", "thy", "fool", "good", "my", "lord"]
    lines = []
    for _ in range(n_words // 6):
        lines.append(
            " ".join(rng.choice(words) for _ in range(5)) + rng.choice([",", ".", "!", "?"])
        )
    return "\n".join(lines) + "\n"


def test_regions_are_contiguous_disjoint_and_cover_the_text() -> None:
    pieces = [str(i) for i in range(1000)]
    train, val = split_regions(pieces, n_regions=10, val_fraction=0.2)
    assert len(train) == 8 and len(val) == 2
    for region in train + val:  # each region is a run of consecutive pieces
        assert [int(p) for p in region] == list(range(int(region[0]), int(region[0]) + len(region)))
    assert sorted(int(p) for r in train + val for p in r) == list(range(1000))
    assert int(val[0][0]) > 0 and int(val[-1][-1]) < 999  # spread out, not just the end


def test_chunk_gives_non_overlapping_sequences() -> None:
    assert torch.equal(chunk(list(range(10)), 3), torch.arange(9).view(3, 3))


def test_prepare_data_shapes_and_no_leakage() -> None:
    data = prepare_data(synthetic_text(), seq_len=16, min_count=2, n_regions=10, val_fraction=0.2)
    assert data.train.shape[1] == data.val.shape[1] == 16
    assert len(data.train) >= 3 * len(data.val) > 0
    assert data.train.max() < len(data.tokenizer) and data.val.max() < len(data.tokenizer)
    # the vocabulary comes from the training regions only
    pieces = split_pieces(synthetic_text())
    train_regions, _ = split_regions(pieces, 10, 0.2)
    expected = WordTokenizer.fit((p for r in train_regions for p in r), min_count=2)
    assert data.tokenizer.vocab == expected.vocab
    # 12 words, the space, 4 punctuation-newline pieces and <unk>; each seen hundreds of times
    assert len(data.tokenizer) == 18 and data.unk_fraction == 0.0


def test_unigram_loss_on_a_known_distribution() -> None:
    train = torch.tensor([[0, 1, 1, 1]])  # add-one counts over 3 ids: 2, 4, 1 of 7
    val = torch.tensor([[2, 0, 1]])  # targets 0 and 1
    expected = -(math.log(2 / 7) + math.log(4 / 7)) / 2
    assert unigram_loss(train, val, d_vocab=3) == pytest.approx(expected)


def test_empty_or_tiny_corpus_is_a_clear_error() -> None:
    for text in ("", "a few words only."):
        with pytest.raises(DlcError, match="use more text"):
            prepare_data(text, seq_len=16, min_count=1)


def _trained_size_model(d_vocab: int) -> Transformer:
    torch.manual_seed(0)
    return Transformer(dataclasses.replace(TINY, d_vocab=d_vocab)).eval()


def test_checkpoint_round_trip(tmp_path) -> None:
    tok = WordTokenizer.fit(split_pieces(synthetic_text()))
    model = _trained_size_model(len(tok))
    save_shakespeare_model(tmp_path / "model.pt", model, tok)
    loaded, loaded_tok = load_shakespeare_model(tmp_path)  # a run folder works too
    assert loaded_tok.vocab == tok.vocab and not loaded.training
    tokens = torch.randint(0, len(tok), (2, 8))
    torch.testing.assert_close(loaded(tokens), model(tokens))
    fast, _ = load_shakespeare_model(tmp_path / "model.pt", fast_path=True)
    torch.testing.assert_close(fast(tokens), model(tokens), atol=1e-5, rtol=1e-5)


def test_bad_checkpoints_are_clear_errors(tmp_path) -> None:
    tok = WordTokenizer.fit(split_pieces(synthetic_text()))
    model = _trained_size_model(len(tok))
    with pytest.raises(DlcError, match="no model at"):
        load_shakespeare_model(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(DlcError, match="not a readable checkpoint"):
        load_shakespeare_model(tmp_path / "junk.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(DlcError, match="not a Shakespeare model"):
        load_shakespeare_model(tmp_path / "other.pt")
    with pytest.raises(DlcError, match="tokenizer has"):
        save_shakespeare_model(tmp_path / "x.pt", _trained_size_model(len(tok) + 1), tok)
    # a checkpoint whose weights come from a model of another shape
    path = save_shakespeare_model(tmp_path / "ok.pt", model, tok)
    state = torch.load(path, weights_only=True)
    state["config"]["d_model"] = 32
    torch.save(state, tmp_path / "shape.pt")
    with pytest.raises(DlcError, match="weights do not fit"):
        load_shakespeare_model(tmp_path / "shape.pt")
    state = torch.load(path, weights_only=True)
    state["tokenizer"]["vocab"] = state["tokenizer"]["vocab"][:-1]
    torch.save(state, tmp_path / "vocab.pt")
    with pytest.raises(DlcError, match="mixes two runs"):
        load_shakespeare_model(tmp_path / "vocab.pt")


def test_generate_text_handles_unknown_words_and_refuses_empty_prompts() -> None:
    tok = WordTokenizer.fit(split_pieces(synthetic_text()))
    model = _trained_size_model(len(tok))
    out = generate_text(model, tok, "thou zounds", max_new_tokens=5, temperature=0.8, seed=3)
    assert out.startswith("thou zounds")
    assert out == generate_text(
        model, tok, "thou zounds", max_new_tokens=5, temperature=0.8, seed=3
    )
    with pytest.raises(DlcError, match="empty"):
        generate_text(model, tok, "", max_new_tokens=5)
    # a model that always predicts <unk>: samples avoid it unless allowed
    with torch.no_grad():  # ln_final outputs all ones, which the unk column scores highest
        model.ln_final.w.zero_()
        model.ln_final.b.fill_(1.0)
        model.unembed.W_U[:, tok.unk_id] = 10.0
    assert "<unk>" not in generate_text(model, tok, "thou", max_new_tokens=8, temperature=0.0)
    assert "<unk>" in generate_text(model, tok, "thou", 8, temperature=0.0, allow_unk=True)


def test_evaluate_loss_is_the_mean_over_targets() -> None:
    model = _trained_size_model(TINY.d_vocab)
    seqs = torch.randint(0, TINY.d_vocab, (5, 8))
    whole = evaluate_loss(model, seqs, batch_size=5)
    assert evaluate_loss(model, seqs, batch_size=2) == pytest.approx(whole, rel=1e-5)
    assert whole == pytest.approx(math.log(TINY.d_vocab), rel=0.1)  # untrained: near uniform


def test_real_corpus_split_and_baseline() -> None:
    """The numbers the README quotes, on the real complete works (offline source chain)."""
    from dlcurriculum.data import load_shakespeare

    data = prepare_data(load_shakespeare(), seq_len=128, min_count=10)
    assert len(data.tokenizer) == 6_189
    assert data.unk_fraction == pytest.approx(0.0347, abs=5e-4)
    assert data.train.numel() == 1_684_224 and data.val.numel() == 187_136
    assert data.unigram_val_loss == pytest.approx(4.555, abs=5e-4)
