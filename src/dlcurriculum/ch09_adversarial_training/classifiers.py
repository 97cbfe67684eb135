"""Offensiveness classifiers: score(texts) -> probabilities in [0, 1] that a text is offensive.

Offline default: `alt-profanity-check` (a linear SVM on word n-grams, calibrated; it ships
its weights in the wheel and scores thousands of strings in milliseconds). Online users can
name a HuggingFace text classifier such as `unitary/toxic-bert` (multi-label: we read its
"toxic" label through a sigmoid).
"""

from collections.abc import Callable, Sequence
from typing import Any

from dlcurriculum.core.errors import DlcError, install_hint

OFFLINE_DEFAULT = "profanity-check"
Scorer = Callable[[Sequence[str]], list[float]]


def load_classifier(name: str = OFFLINE_DEFAULT, device: str = "cpu") -> Scorer:
    """A function mapping texts to offensiveness probabilities."""
    if name in (OFFLINE_DEFAULT, "alt-profanity-check"):
        try:
            from profanity_check import predict_prob
        except ImportError as e:
            raise DlcError(
                f"the offline classifier needs alt-profanity-check: {install_hint('nlp')}"
            ) from e

        def profanity(texts: Sequence[str]) -> list[float]:
            return [float(p) for p in predict_prob(list(texts))] if texts else []

        return profanity
    return _hf_classifier(name, device)


def _hf_classifier(name: str, device: str) -> Scorer:
    import torch

    from dlcurriculum.data import sources

    try:
        import transformers

        tokenizer = transformers.AutoTokenizer.from_pretrained(
            name, local_files_only=sources.is_offline()
        )
        model = (
            transformers.AutoModelForSequenceClassification.from_pretrained(
                name, local_files_only=sources.is_offline()
            )
            .to(device)
            .eval()
        )
    except (ImportError, OSError, ValueError) as e:
        raise DlcError(
            f"could not load classifier {name!r} ({type(e).__name__}: {e}); offline, use "
            f"--set classifier={OFFLINE_DEFAULT}"
        ) from e
    labels = {v.lower(): k for k, v in model.config.id2label.items()}
    column = labels.get("toxic", labels.get("toxicity", labels.get("offensive", 1)))
    multi_label = model.config.problem_type == "multi_label_classification" or "toxic" in labels

    @torch.no_grad()
    def score(texts: Sequence[str]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(texts), 32):
            enc = tokenizer(
                list(texts[i : i + 32]),
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=256,
            ).to(device)
            logits: Any = model(**enc).logits
            probs = logits.sigmoid() if multi_label else logits.softmax(-1)
            out += probs[:, column].tolist()
        return out

    return score
