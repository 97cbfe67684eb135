"""A tiny chapter-1 model for chapter 7's tests (CI has no trained checkpoint)."""

from pathlib import Path

import torch

from dlcurriculum.ch01_transformers.config import TransformerConfig
from dlcurriculum.ch01_transformers.model import Transformer
from dlcurriculum.ch01_transformers.shakespeare import save_shakespeare_model
from dlcurriculum.ch01_transformers.tokenizer import WordTokenizer, split_pieces

TEXT = (
    "ROMEO.\nO my love, my joy, my sweet and gentle lady, how merry is this night.\n"
    "JULIET.\nAlas, what woe, what grief and bloody death, thou villain, thou foul traitor.\n"
    "NURSE.\nGood morrow, the king is come, and the queen, and the fair lords of the court.\n"
) * 4


def tiny_policy(path: Path, seed: int = 0) -> Path:
    """Save a random 1-layer model with a vocabulary of the words above; return the file."""
    torch.manual_seed(seed)
    tokenizer = WordTokenizer.fit(split_pieces(TEXT))
    cfg = TransformerConfig(
        d_vocab=len(tokenizer), n_ctx=32, d_model=32, n_layers=1, n_heads=2, d_mlp=64
    )
    return save_shakespeare_model(path / "model.pt", Transformer(cfg), tokenizer)
