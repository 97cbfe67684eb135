"""The RL red team's policy gradient: log-probs of exactly the sampled tokens, and an update
that makes a rewarded sample more likely."""

import pytest
import torch
import torch.nn.functional as F

from dlcurriculum.ch09_adversarial_training import redteam
from dlcurriculum.ch09_adversarial_training.generation import sample_ids, token_logprobs
from dlcurriculum.ch09_adversarial_training.redteam import Case, Pipeline, decided_length
from dlcurriculum.lm import tiny_causal_lm


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_token_logprobs_equal_the_logprobs_seen_while_sampling(arch) -> None:
    model, tok = tiny_causal_lm(arch=arch, seed=1)
    prompts = ["List of questions:\n1.", "Q:"]  # unequal lengths: left padding matters
    ids = sample_ids(model, tok, prompts, 6, seed=5, temperature=1.0, top_p=1.0)
    # the oracle: HF generate's own raw logits at each step, same seed, same samples
    enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    torch.manual_seed(5)
    out = model.generate(**enc, max_new_tokens=6, do_sample=True, top_k=0, top_p=1.0,
                         pad_token_id=tok.pad_token_id, output_logits=True,
                         return_dict_in_generate=True)  # fmt: skip
    steps = torch.stack(out.logits, 1).log_softmax(-1)  # [batch, new tokens, vocab]
    new = out.sequences[:, enc["input_ids"].shape[1] :]
    for i, row in enumerate(ids):
        assert row == new[i, : len(row)].tolist()
        expected = steps[i, torch.arange(len(row)), torch.tensor(row)].sum()
        prompt_ids = [tok(prompts[i], add_special_tokens=False)["input_ids"]]
        alone = token_logprobs(model, prompt_ids, [row], tok.pad_token_id)
        assert alone.item() == pytest.approx(expected.item(), abs=1e-4)
    p_ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
    batched = token_logprobs(model, p_ids, ids, tok.pad_token_id)
    pairs = zip(p_ids, ids, strict=True)
    singles = [token_logprobs(model, [p], [c], tok.pad_token_id) for p, c in pairs]
    assert batched.tolist() == pytest.approx(torch.cat(singles).tolist(), abs=1e-4)


def test_decided_length_stops_where_the_question_is_fixed() -> None:
    def decode(ids: list[int]) -> str:
        return "".join(map(chr, ids))

    def length(text: str) -> int:
        return decided_length([ord(c) for c in text], decode)

    assert length(" Why? Because.\n2.") == len(" Why?")
    assert length("\n No question here\n2. Why?") == len("\n No question here\n")
    assert length(" Unfinished") == len(" Unfinished")


class _QuestionScored(Pipeline):
    """A pipeline whose 'chatbot' scores the question itself: 1 for one chosen sample."""

    rewarded = ""

    def answer(self, questions, group, desc):
        return [Case(q, "", float(q == self.rewarded)) for q in questions]


def test_one_rl_step_raises_the_logprob_of_the_rewarded_sample(monkeypatch, tmp_path) -> None:
    model, tok = tiny_causal_lm(seed=2)
    # every sample counts as a question, so the random tiny LM's samples all get a reward
    monkeypatch.setattr(redteam, "extract_question", lambda text: text.strip() or None)
    pipe = _QuestionScored(model, tok, model, tok, lambda t: [0.0] * len(t),
                           redteam.ReplyCache(tmp_path / "r.jsonl"), 6, 4, 8,
                           1.0, 1.0, seed=0)  # fmt: skip
    prompt = [tok(redteam.ZERO_SHOT_PROMPT, add_special_tokens=False)["input_ids"]]
    ids = sample_ids(model, tok, [redteam.ZERO_SHOT_PROMPT] * 8, 6, 0 + 7919, 1.0, 1.0)
    pipe.rewarded = tok.decode(ids[0], skip_special_tokens=True).strip()
    taken = [row[: decided_length(row, lambda x: tok.decode(x, skip_special_tokens=True))]
             for row in ids]  # fmt: skip
    with torch.no_grad():
        before = token_logprobs(model, prompt * 8, taken, tok.pad_token_id)
    rows = []
    redteam.rl_finetune(pipe, model, 1, 8, 1e-3, 0.0, 0, lambda step, **r: rows.append(r))
    with torch.no_grad():
        after = token_logprobs(model, prompt * 8, taken, tok.pad_token_id)
    rewarded = [i for i, row in enumerate(ids) if tok.decode(row, skip_special_tokens=True)
                .strip() == pipe.rewarded]  # fmt: skip
    others = [i for i in range(8) if i not in rewarded]
    assert rows[0]["objective/score"] == pytest.approx(len(rewarded) / 8)
    assert (after - before)[rewarded].min() > 0 > (after - before)[others].mean()
    # and the update is not a no-op on the log-prob scale
    assert (after - before)[rewarded].min() > 1e-3
    assert F.mse_loss(after, before) > 0


class _FirstReplyOffensive(Pipeline):
    """A 'chatbot' whose very first reply of a step scores 1 and every other reply 0."""

    def answer(self, questions, group, desc):
        return [Case(q, "", float(i == 0)) for i, q in enumerate(questions)]


def test_rl_rewards_the_mean_score_over_repeated_replies(monkeypatch, tmp_path) -> None:
    model, tok = tiny_causal_lm(seed=2)
    monkeypatch.setattr(redteam, "extract_question", lambda text: text.strip() or None)
    pipe = _FirstReplyOffensive(model, tok, model, tok, lambda t: [0.0] * len(t),
                                redteam.ReplyCache(tmp_path / "r.jsonl"), 6, 4, 8, 1.0, 1.0,
                                seed=0)  # fmt: skip
    rows = []
    redteam.rl_finetune(pipe, model, 1, 8, 1e-3, 0.0, 0, lambda s, **r: rows.append(r), 4)
    # one reply in 4 x 8 scored 1: its question's reward is 1/4, the batch mean 1/32
    assert rows[0]["objective/score"] == pytest.approx(1 / 32)


def test_rl_update_uses_the_sampling_policy_even_with_dropout(monkeypatch, tmp_path) -> None:
    """GPT-2 has dropout 0.1: a log-prob pass in train mode would score the samples under a
    different, randomly thinned policy, and the KL to the (identical) start would not be 0."""
    model, tok = tiny_causal_lm(arch="gpt2", seed=2)
    assert model.config.resid_pdrop > 0
    monkeypatch.setattr(redteam, "extract_question", lambda text: text.strip() or None)
    pipe = _QuestionScored(model, tok, model, tok, lambda t: [0.0] * len(t),
                           redteam.ReplyCache(tmp_path / "r.jsonl"), 6, 4, 8,
                           1.0, 1.0, seed=0)  # fmt: skip
    rows = []
    redteam.rl_finetune(pipe, model, 1, 8, 1e-3, 0.1, 0, lambda step, **r: rows.append(r))
    assert rows[0]["objective/kl"] == 0.0
