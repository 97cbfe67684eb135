"""The `classifier=unitary/toxic-bert` path, offline: a tiny random BERT with toxic-bert's labels.

The classifier is saved to a folder and loaded by name through the same code path a hub id
takes (`AutoTokenizer` / `AutoModelForSequenceClassification.from_pretrained`). Its batched,
padded scores must equal the sigmoid of the "toxic" logit computed one string at a time.
"""

import pytest
import torch
import transformers

from dlcurriculum.ch09_adversarial_training.classifiers import load_classifier
from dlcurriculum.core.errors import DlcError

# toxic-bert's six multi-label heads, in its order
LABELS = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]
WORDS = "you are a the what is nice day stupid idiot hello world , . ? ! i hate love this".split()


@pytest.fixture(scope="module")
def tiny_toxic_bert(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("tiny-toxic-bert")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab))
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(WORDS) + 5, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=64,
        id2label=dict(enumerate(LABELS)), label2id={k: i for i, k in enumerate(LABELS)},
        problem_type="multi_label_classification",
    )  # fmt: skip
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def test_toxic_bert_path_scores_each_string_as_its_own_toxic_sigmoid(
    tiny_toxic_bert, monkeypatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    score = load_classifier(tiny_toxic_bert)
    texts = ["you are a stupid idiot", "hello", "what a nice day , is this love ?", ""]
    got = score(texts)
    assert len(got) == len(texts) and all(0.0 <= p <= 1.0 for p in got)

    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_toxic_bert)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_toxic_bert)
    with torch.no_grad():
        expected = [model(**tokenizer(t, return_tensors="pt")).logits[0, 0].sigmoid().item()
                    for t in texts]  # fmt: skip
    assert got == pytest.approx(expected, abs=1e-5)
    assert len(set(round(p, 6) for p in got)) > 1, "random weights still tell strings apart"


def test_unknown_classifier_is_a_clear_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DlcError, match="profanity-check"):
        load_classifier(str(tmp_path / "no-such-model"))
