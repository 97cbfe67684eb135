"""Typical single mistakes in chapter 0's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch00_mnist"
HEAD = "return self.head(self.dropout(self.features(x)))"
BATCHES = "[model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]"

MUTATIONS = [
    # cnn
    Mutation("cnn", HEAD, f"{HEAD}.softmax(dim=1)", r"return logits.*log-softmax"),
    Mutation("cnn", HEAD, f"{HEAD}.softmax(dim=0)", r"return logits.*log-softmax"),
    Mutation("cnn", HEAD, f"{HEAD}.relu()", r"no ReLU after the (last|final) layer"),
    Mutation("cnn", HEAD, HEAD.replace("return ", ""), r"returned None.*return"),
    Mutation("cnn", "            nn.Flatten(),\n", "", r"[Ff]latten"),
    Mutation("cnn", "nn.Dropout(dropout)", "nn.Dropout(0.0)", r"nn\.Dropout"),
    Mutation(
        "cnn",
        "nn.BatchNorm2d(c_out)",
        "nn.BatchNorm2d(c_out, track_running_stats=False)",
        r"running statistics",
    ),
    # train_step
    Mutation("train_step", "    optimizer.zero_grad(set_to_none=True)\n", "", r"zero_grad"),
    Mutation("train_step", "return loss.item()", "return loss", r"loss\.item\(\)"),
    Mutation(
        "train_step",
        "return loss.item()",
        "return F.cross_entropy(model(images), labels).item()",
        r"after the update",
    ),
    Mutation("train_step", "    optimizer.step()\n", "", r"call optimizer\.step\(\)"),
    Mutation("train_step", "    loss.backward()\n", "", r"call loss\.backward\(\)"),
    Mutation(
        "train_step",
        "F.cross_entropy(model(images), labels)",
        'F.cross_entropy(model(images), labels, reduction="sum")',
        r"summed",
    ),
    Mutation(
        "train_step",
        "    loss.backward()\n    optimizer.step()",
        "    loss.backward()\n    optimizer.zero_grad()\n    optimizer.step()",
        r"zero_grad.*before loss\.backward",
    ),
    # accuracy
    Mutation("accuracy", "argmax(dim=1)", "argmax(dim=0)", r"dim=1"),
    Mutation("accuracy", ".float().mean().item()", ".float().sum().item()", r"divide by the batch"),
    Mutation("accuracy", ".float().mean().item()", ".float().mean()", r"\.item\(\)"),
    Mutation("accuracy", ".float().mean()", ".mean()", r"\.float\(\)"),
    Mutation("accuracy", "logits.argmax(dim=1)", "logits.max(dim=1).values", r"index"),
    # predict
    Mutation("predict", "    model.eval()\n", "", r"call model\.eval\(\)"),
    Mutation("predict", "with torch.no_grad():", "if True:", r"torch\.no_grad\(\)"),
    Mutation("predict", "    model.train(was_training)\n", "", r"restore it"),
    Mutation("predict", "model.train(was_training)", "model.train()", r"was in eval mode"),
    Mutation(
        "predict",
        BATCHES,
        BATCHES.replace("len(images)", "len(images) - batch_size + 1"),
        r"last partial batch",
    ),
    Mutation(
        "predict",
        f"torch.cat(\n            {BATCHES}\n        )",
        "model(images)",
        r"one batch at a time",
    ),
]
