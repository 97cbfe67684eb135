"""Batched generation and sequence log-probabilities for the red LM and the chatbot.

Batching is what makes a 135M-parameter model usable on a CPU: one forward pass over 16
sequences costs little more than over one. Prompts are padded on the left so every
sequence's next token sits in the last column.
"""

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from dlcurriculum.ch09_adversarial_training.prompts import DIALOGUE_PROMPT, SYSTEM_PROMPT
from dlcurriculum.core import runs


def _encode(tokenizer: Any, texts: Sequence[str], device: torch.device) -> dict[str, Tensor]:
    tokenizer.padding_side = "left"
    enc = tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
    return {k: v.to(device) for k, v in enc.items()}


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    sample: bool,
    batch_size: int,
    seed: int,
    desc: str,
    temperature: float = 1.0,
    top_p: float = 1.0,
    on_batch: Callable[[int, list[str]], None] | None = None,
    offset: int = 0,
) -> list[str]:
    """Continuations of each prompt (new text only, special tokens dropped).

    Args:
        sample: sample with temperature/top_p (the red LM, and the chatbot by default, as in
            the paper) or decode greedily.
        seed: seeds each batch, so a batch's output does not depend on earlier batches.
        on_batch: called with (index of the batch's first prompt, its continuations) as each
            batch finishes, e.g. to cache them before a long call ends.
        offset: where prompts[0] sits in a longer list whose first prompts an interrupted
            call already finished, so every batch keeps the seed it had the first time.
    """
    device = next(model.parameters()).device
    out: list[str] = []
    bar = runs.progress(len(prompts), desc)
    for start in range(0, len(prompts), batch_size):
        batch = prompts[start : start + batch_size]
        enc = _encode(tokenizer, batch, device)
        torch.manual_seed(seed * 100_003 + offset + start)
        kwargs: dict[str, Any] = {"do_sample": sample}
        if sample:
            kwargs |= {"temperature": temperature, "top_p": top_p, "top_k": 0}
        ids = model.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            pad_token_id=tokenizer.pad_token_id,
            **kwargs,
        )
        texts = tokenizer.batch_decode(
            ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True
        )
        if on_batch is not None:
            on_batch(start, texts)
        out += texts
        bar.update(len(batch))
    bar.close()
    return out


def chat_prompts(tokenizer: Any, questions: Sequence[str], template: bool = True) -> list[str]:
    """The chatbot's input for each question: the chat template if the model has one and
    `template` is set, else our written dialogue prompt (the paper's set-up for base LMs)."""
    if template and getattr(tokenizer, "chat_template", None):
        return [
            tokenizer.apply_chat_template(
                [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": q}],
                tokenize=False,
                add_generation_prompt=True,
            )
            for q in questions
        ]
    return [DIALOGUE_PROMPT.format(question=q) for q in questions]


def reply_text(raw: str) -> str:
    """The chatbot's reply, cut where a base LM would start writing the user's next turn."""
    return raw.split("\nUser:", 1)[0].strip()


def completion_logprobs(
    model: Any, tokenizer: Any, prompts: Sequence[str], completions: Sequence[str]
) -> Tensor:
    """Sum of log p(completion tokens + EOS | prompt) per pair, differentiable, shape [n].

    The prompt and completion are tokenized separately and concatenated, so the
    completion's tokens are exactly the ones the loss is taken over. For text the model
    sampled itself use `token_logprobs` on the sampled ids: re-tokenizing decoded text can
    give other tokens than the ones drawn.
    """
    p_ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
    c_ids = [
        tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        for c in completions
    ]
    return token_logprobs(model, p_ids, c_ids, tokenizer.pad_token_id)


def token_logprobs(
    model: Any, prompt_ids: Sequence[list[int]], completion_ids: Sequence[list[int]], pad_id: int
) -> Tensor:
    """Sum of log p(completion_ids | prompt_ids) per pair, differentiable, shape [n].

    Sequences are left-padded; positions count from each sequence's first real token, as in
    `generate`, so a padded sequence gets the same log-probs as alone (this matters for
    absolute position embeddings such as GPT-2's).
    """
    device = next(model.parameters()).device
    seqs = [list(p) + list(c) for p, c in zip(prompt_ids, completion_ids, strict=True)]
    width = max(map(len, seqs))
    ids = torch.tensor([[pad_id] * (width - len(s)) + s for s in seqs], device=device)
    attn = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in seqs], device=device)
    target_mask = torch.tensor(
        [[0] * (width - len(c)) + [1] * len(c) for c in completion_ids],
        device=device,
        dtype=torch.float32,
    )
    positions = (attn.cumsum(1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=attn, position_ids=positions).logits[:, :-1]
    logp = torch.gather(F.log_softmax(logits.float(), -1), 2, ids[:, 1:, None]).squeeze(2)
    return (logp * target_mask[:, 1:]).sum(1)


@torch.no_grad()
def sample_ids(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    max_new_tokens: int,
    seed: int,
    temperature: float,
    top_p: float,
) -> list[list[int]]:
    """Sampled continuation token ids of each prompt, in one batch, cut after the first EOS.

    The policy-gradient update needs the log-prob of exactly these ids (see token_logprobs).
    """
    device = next(model.parameters()).device
    enc = _encode(tokenizer, prompts, device)
    torch.manual_seed(seed)
    out = model.generate(
        **enc,
        max_new_tokens=max_new_tokens,
        do_sample=True,
        temperature=temperature,
        top_p=top_p,
        top_k=0,
        pad_token_id=tokenizer.pad_token_id,
    )
    rows = []
    for row in out[:, enc["input_ids"].shape[1] :].tolist():
        end = row.index(tokenizer.eos_token_id) + 1 if tokenizer.eos_token_id in row else len(row)
        rows.append(row[:end])
    return rows


def trainable_top(model: Any, n_layers: int) -> list[torch.nn.Parameter]:
    """Freeze all but the last n_layers transformer blocks and the final norm; return those.

    Backpropagating through the top few blocks only keeps fine-tuning a 135M model cheap on
    a CPU; n_layers <= 0 trains everything.
    """
    blocks = _blocks(model)
    keep = blocks[-n_layers:] if 0 < n_layers < len(blocks) else None
    for p in model.parameters():
        p.requires_grad_(keep is None)
    if keep is not None:
        for block in keep:
            block.requires_grad_(True)
        norm = getattr(getattr(model, "model", None), "norm", None) or getattr(
            getattr(model, "transformer", None), "ln_f", None
        )
        if norm is not None:
            norm.requires_grad_(True)
    return [p for p in model.parameters() if p.requires_grad]


def _blocks(model: Any) -> list[torch.nn.Module]:
    inner = getattr(model, "model", None)
    if inner is not None and hasattr(inner, "layers"):
        return list(inner.layers)  # Llama family (SmolLM2)
    return list(model.transformer.h)  # GPT-2 family
