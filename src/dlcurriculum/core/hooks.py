"""Context-managed forward hooks: read or edit a module's output, never leaking a handle.

Ref: TransformerLens `hook_points.py` (the idea) and its hook-leak issues #113, #156, #1323,
#1636 (what we avoid): every handle is removed in `finally`, even when the forward pass or a
hook raises, so no hook outlives its `with` block.

    with capture(model, ["blocks.0.attn.hook_pattern"]) as cache:
        model(tokens)
    pattern = cache["blocks.0.attn.hook_pattern"]

    with patch(model, {"blocks.1.attn.hook_z": zero_head(3)}):
        logits = model(tokens)
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from dlcurriculum.core.errors import DlcError

PatchFn = Callable[[Tensor], Tensor]


def _modules(model: nn.Module, names: Sequence[str]) -> dict[str, nn.Module]:
    """The named submodules, or a DlcError listing close names when one does not exist."""
    available = dict(model.named_modules())
    found = {}
    for name in names:
        if name not in available:
            last = name.rsplit(".", 1)[-1]
            similar = [n for n in available if n.endswith(last)][:6]
            raise DlcError(
                f"{type(model).__name__} has no module {name!r}"
                + (f"; similar names: {', '.join(similar)}" if similar else "")
            )
        found[name] = available[name]
    return found


def _output(output: Any) -> Tensor:
    # HF attention modules return tuples; the first element is the activation itself.
    return output[0] if isinstance(output, tuple) else output


@contextmanager
def capture(
    model: nn.Module, names: Sequence[str], detach: bool = True
) -> Iterator[dict[str, Tensor]]:
    """Record the outputs of the named modules during forward passes inside the block.

    Args:
        model: any module; names are those of `model.named_modules()`.
        names: modules to record (e.g. HookPoints such as "blocks.0.attn.hook_pattern").
        detach: store detached tensors (False keeps the graph, for gradients w.r.t. them).

    Yields:
        A dict filled as the model runs: name -> the output of the latest forward pass.

    Raises:
        DlcError: a name is not a module of `model`.
    """
    cache: dict[str, Tensor] = {}
    handles: list[RemovableHandle] = []

    def recorder(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            out = _output(output)
            cache[name] = out.detach() if detach else out

        return hook

    try:
        for name, module in _modules(model, names).items():
            handles.append(module.register_forward_hook(recorder(name)))
        yield cache
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def patch(model: nn.Module, edits: Mapping[str, PatchFn]) -> Iterator[None]:
    """Replace the outputs of the named modules by `fn(output)` for forward passes in the block.

    Args:
        model: any module.
        edits: module name -> function from its output tensor to the replacement (same shape).

    Raises:
        DlcError: a name is not a module of `model`.
    """
    handles: list[RemovableHandle] = []

    def editor(fn: PatchFn) -> Callable[..., Any]:
        def hook(module: nn.Module, inputs: Any, output: Any) -> Any:
            if isinstance(output, tuple):
                return (fn(output[0]), *output[1:])
            return fn(output)

        return hook

    try:
        for name, module in _modules(model, list(edits)).items():
            handles.append(module.register_forward_hook(editor(edits[name])))
        yield
    finally:
        for handle in handles:
            handle.remove()


def hook_count(model: nn.Module) -> int:
    """Forward hooks still registered anywhere in `model` (0 after every `with` block)."""
    return sum(len(m._forward_hooks) for m in model.modules())
