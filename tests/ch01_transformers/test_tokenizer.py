"""The word-piece tokenizer: lossless splitting, the unknown token, saving."""

import pytest

from dlcurriculum.ch01_transformers.tokenizer import UNK, WordTokenizer, split_pieces
from dlcurriculum.core.errors import DlcError

TEXT = "To be, or not to be: that is the question.\nTo be!\n"


def test_pieces_split_at_word_boundaries_and_join_back() -> None:
    assert split_pieces("Hi, you!") == ["Hi", ", ", "you", "!"]
    assert "".join(split_pieces(TEXT)) == TEXT
    assert "" not in split_pieces(TEXT)


def test_rare_pieces_become_unknown_and_ids_are_deterministic() -> None:
    tok = WordTokenizer.fit(split_pieces(TEXT), min_count=2)
    assert tok.vocab[0] == UNK
    assert tok.vocab[1] == " "  # the most frequent piece comes first
    assert "question" not in tok.vocab and "be" in tok.vocab
    ids = tok.encode("be question")
    assert ids[-1] == tok.unk_id
    assert tok.decode(ids) == f"be {UNK}"
    assert WordTokenizer.fit(split_pieces(TEXT), min_count=2).vocab == tok.vocab


def test_known_text_round_trips_and_max_vocab_caps_the_size() -> None:
    tok = WordTokenizer.fit(split_pieces(TEXT))
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert len(WordTokenizer.fit(split_pieces(TEXT), max_vocab=5)) == 5


def test_character_level_encodes_every_character_and_round_trips() -> None:
    tok = WordTokenizer.fit(split_pieces(TEXT, "char"), level="char")
    assert set(tok.vocab[1:]) == set(TEXT)
    ids = tok.encode("To be")
    assert len(ids) == 5 and tok.unk_id not in ids
    assert tok.decode(tok.encode(TEXT)) == TEXT
    assert tok.encode("Zz") == [tok.unk_id, tok.unk_id]  # unseen characters


def test_save_and_load(tmp_path) -> None:
    for level in ("word", "char"):
        tok = WordTokenizer.fit(split_pieces(TEXT, level), level=level)
        tok.save(tmp_path / "tok.json")
        loaded = WordTokenizer.load(tmp_path / "tok.json")
        assert (loaded.vocab, loaded.level) == (tok.vocab, level)
        assert loaded.encode(TEXT) == tok.encode(TEXT)


def test_bad_inputs_are_clear_errors() -> None:
    with pytest.raises(DlcError, match="use more text"):
        WordTokenizer.fit([], min_count=1)
    with pytest.raises(DlcError, match="at least 5 times"):
        WordTokenizer.fit(split_pieces("a b c"), min_count=5)
    tok = WordTokenizer.fit(split_pieces(TEXT))
    with pytest.raises(DlcError, match="different tokenizer"):
        tok.decode([len(tok)])
    with pytest.raises(DlcError, match="must start with"):
        WordTokenizer(["a", UNK])
    with pytest.raises(DlcError, match="'word' or 'char'"):
        WordTokenizer.from_dict({"kind": "word", "vocab": [UNK, "a"], "level": "byte"})
    with pytest.raises(DlcError, match="not a saved WordTokenizer"):
        WordTokenizer.from_dict({"vocab": "oops"})
