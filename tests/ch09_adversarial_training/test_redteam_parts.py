"""Red-teaming pieces against independent oracles: prompts, statistics, classifier, log-probs."""

import math

import pytest
import torch

from dlcurriculum.ch09_adversarial_training import analysis, checks, prompts
from dlcurriculum.ch09_adversarial_training.classifiers import load_classifier
from dlcurriculum.ch09_adversarial_training.generation import completion_logprobs
from dlcurriculum.core.checks import ExerciseFailure
from dlcurriculum.core.stats import Z95, wilson_interval
from dlcurriculum.lm import tiny_causal_lm


def test_check_few_shot_prompt_passes_on_the_reference() -> None:
    checks.check_few_shot_prompt(prompts.few_shot_prompt)


def _uniform(questions, scores, k, generator):
    picked = torch.randperm(len(questions), generator=generator)[:k].tolist()
    body = "".join(f"{i}. {questions[j]}\n" for i, j in enumerate(picked, 1))
    return prompts.LIST_HEADER + body + f"{k + 1}."


def _with_replacement(questions, scores, k, generator):
    w = torch.tensor(scores, dtype=torch.float64)
    picked = torch.multinomial(w, k, replacement=True, generator=generator).tolist()
    body = "".join(f"{i}. {questions[j]}\n" for i, j in enumerate(picked, 1))
    return prompts.LIST_HEADER + body + f"{k + 1}."


def _trailing_space(questions, scores, k, generator):
    return prompts.few_shot_prompt(questions, scores, k, generator) + " "


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_uniform, "probability proportional to its score"),
        (_with_replacement, "draw without replacement"),
        (_trailing_space, "no trailing space"),
    ],
)
def test_check_few_shot_prompt_rejects_known_wrong_versions(wrong, message) -> None:
    with pytest.raises(ExerciseFailure, match=message):
        checks.check_few_shot_prompt(wrong)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" What is your name? I am Bob.\n2. Next?", "What is your name?"),
        ("Tell me a story.\n2. Why?", None),
        ("?", None),
    ],
)
def test_extract_question(text, expected) -> None:
    assert prompts.extract_question(text) == expected


def test_wilson_interval_matches_closed_forms() -> None:
    z = Z95
    low, high = wilson_interval(0, 10)  # k = 0: the upper end is z^2 / (n + z^2)
    assert low == 0 and high == pytest.approx(z * z / (10 + z * z))
    for n in (6, 11, 21, 22, 27, 31):  # sizes where rounding used to miss the exact ends
        assert wilson_interval(0, n)[0] == 0.0
        assert wilson_interval(n, n)[1] == 1.0
    from scipy.stats import binomtest

    ci = binomtest(7, 40).proportion_ci(method="wilson")
    assert wilson_interval(7, 40) == pytest.approx((ci.low, ci.high), abs=1e-6)


@pytest.mark.parametrize("k1,n1,k0,n0", [(1, 253, 0, 866), (5, 100, 1, 500), (0, 50, 3, 60),
                                         (7, 20, 7, 20), (12, 256, 2, 2048)])  # fmt: skip
def test_fisher_greater_matches_scipy(k1, n1, k0, n0) -> None:
    from scipy.stats import fisher_exact

    expected = fisher_exact([[k1, n1 - k1], [k0, n0 - k0]], alternative="greater").pvalue
    assert analysis.fisher_greater(k1, n1, k0, n0) == pytest.approx(expected, rel=1e-9)


def test_distinct_n_and_self_bleu_on_hand_worked_cases() -> None:
    texts = ["why are you here ?", "why are you sad ?"]
    # unigrams: 10 in all, unique {why, are, you, here, sad, ?} = 6; bigrams 8, unique 6
    assert analysis.distinct_n(texts, 1) == pytest.approx(6 / 10)
    assert analysis.distinct_n(texts, 2) == pytest.approx(6 / 8)
    assert analysis.self_bleu(["a b c d e"] * 3) == pytest.approx(1.0)
    # one substituted word in 5: precisions 4/5, (3+1)/(4+1), (2+1)/(3+1), (1+1)/(2+1)
    expected = math.exp(sum(map(math.log, [4 / 5, 4 / 5, 3 / 4, 2 / 3])) / 4)
    assert analysis.bleu("a b c d x".split(), ["a b c d e".split()]) == pytest.approx(expected)
    assert analysis.bleu("x y".split(), ["a b".split()]) == 0.0


def test_offline_classifier_on_a_handful_of_strings() -> None:
    score = load_classifier()
    offensive = score(["you are a stupid idiot", "shut the hell up, moron"])
    benign = score(["What a lovely morning for a walk.", "The capital of France is Paris."])
    assert min(offensive) > 0.5 > max(benign)


def test_completion_logprobs_match_the_models_own_loss() -> None:
    model, tok = tiny_causal_lm(seed=3)
    prompt_texts, completions = ["Hello there", "Q"], [" friend", " and a longer answer"]
    batched = completion_logprobs(model, tok, prompt_texts, completions)
    for i, (p, c) in enumerate(zip(prompt_texts, completions, strict=True)):
        p_ids = tok(p, add_special_tokens=False)["input_ids"]
        c_ids = tok(c, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        ids = torch.tensor([p_ids + c_ids])
        labels = ids.clone()
        labels[0, : len(p_ids)] = -100  # HF's loss ignores -100: only the completion counts
        with torch.no_grad():
            mean_nll = model(input_ids=ids, labels=labels).loss
        assert batched[i].item() == pytest.approx(-mean_nll.item() * len(c_ids), rel=1e-4)


def test_reply_cache_keeps_one_reply_per_asking_and_per_group(tmp_path) -> None:
    from dlcurriculum.ch09_adversarial_training.redteam import ReplyCache

    cache = ReplyCache(tmp_path / "replies.jsonl")
    assert cache.missing("zero-shot", ["a?", "b?", "a?"]) == ["a?", "a?", "b?"]
    cache.add("zero-shot", ["a?", "a?", "b?"], ["r1", "r2", "r3"], [0.9, 0.1, 0.2])
    assert cache.missing("zero-shot", ["a?", "a?", "b?"]) == []
    # a copied question in another group (method) must earn a reply of its own
    assert cache.missing("few-shot", ["a?"]) == ["a?"]
    assert cache.missing("zero-shot", ["a?"] * 3) == ["a?"]
    again = ReplyCache(tmp_path / "replies.jsonl")  # a rerun reads the file back
    cases = again.cases("zero-shot", ["b?", "a?", "a?"])
    assert [(c.reply, c.score) for c in cases] == [("r3", 0.2), ("r1", 0.9), ("r2", 0.1)]
