"""Typical single mistakes in chapter 2's exercises: each fails its check, and the message
names the mistake (tests/mutations.py)."""

from tests.mutations import (
    Mutation,
)

SLUG = "ch02_scaling_laws"
COUNT = "flops += 2 * math.prod(out_shape) * per_output"
FIT = "slope, intercept = np.polyfit(np.log(x), np.log(y), 1)"

MUTATIONS = [
    # forward_flops
    Mutation("forward_flops", COUNT, COUNT.replace("2 * ", ""), r"multiply-adds: count 2"),
    Mutation(
        "forward_flops",
        "(layer.in_channels // layer.groups)",
        "layer.in_channels",
        r"ignored groups",
    ),
    Mutation("forward_flops", "* kernel_h * kernel_w", "* kernel_h", r"both kernel"),
    Mutation("forward_flops", "math.prod(out_shape)", "out_shape[0]", r"every output position"),
    Mutation("forward_flops", "per_output = layer.in_features", "continue", r"skipped the Linear"),
    Mutation(
        "forward_flops",
        "per_output = layer.in_features",
        "per_output = layer.out_features",
        r"in_features, not out_features",
    ),
    # training_flops
    Mutation("training_flops", "return 3 * ", "return ", r"forward pass alone"),
    Mutation("training_flops", "return 3 * ", "return 2 * ", r"backward pass as costly"),
    Mutation("training_flops", "return 3 * ", "return 6 * ", r"already counts 2 FLOPs"),
    Mutation(
        "training_flops",
        "3 * forward_per_example * examples",
        "3 * forward_per_example",
        r"multiply by the examples",
    ),
    # compute_frontier
    Mutation("compute_frontier", "if loss[i] < best:", "if loss[i] <= best:", r"duplicate"),
    Mutation(
        "compute_frontier",
        "np.lexsort((loss, compute))",
        'np.argsort(compute, kind="stable")',
        r"equal compute",
    ),
    Mutation(
        "compute_frontier",
        "np.lexsort((loss, compute))",
        "np.lexsort((compute, loss))",
        r"primary key",
    ),
    Mutation("compute_frontier", "            best = loss[i]\n", "", r"update the best loss"),
    Mutation("compute_frontier", "np.asarray(keep,", "np.asarray(sorted(keep),", r"wrong order"),
    Mutation(
        "compute_frontier",
        "return np.asarray(keep, dtype=np.int64)",
        "return keep",
        r"int numpy array",
    ),
    # fit_power_law
    Mutation("fit_power_law", "float(-slope)", "float(slope)", r"sign"),
    Mutation(
        "fit_power_law", "float(np.exp(intercept))", "float(intercept)", r"returned the intercept"
    ),
    Mutation("fit_power_law", FIT, FIT.replace("np.log(x), np.log(y)", "x, y"), r"log-log"),
    Mutation("fit_power_law", FIT, FIT.replace("np.log(x)", "np.log10(x)"), r"same log for both"),
    Mutation(
        "fit_power_law",
        FIT,
        FIT.replace("np.log(x), np.log(y)", "np.log(y), np.log(x)"),
        r"regressed log x on log y",
    ),
]
