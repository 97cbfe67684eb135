"""The noisy quadratic model's two exercises: SGD's exact expected loss, and one Adam step.

The loss is L(θ) = ½ Σ_i h_i θ_i², and a minibatch gradient of size B is H θ + ε with
ε ~ N(0, C / B), H and C diagonal. Every coordinate evolves on its own, so the second
moment of the iterate follows a small linear recursion that gives the expected loss after
any schedule without sampling. Adam has no such recursion; `dynamics.simulate` runs it.

Ref: Zhang et al. 2019, "Which Algorithmic Choices Matter at Which Batch Sizes?", sec. 3;
Kingma & Ba 2015, "Adam: A Method for Stochastic Optimization", algorithm 1.
"""

import torch
from torch import Tensor


def nqm_expected_loss(
    h: Tensor, c: Tensor, theta0: Tensor, lrs: Tensor, batch_size: float
) -> Tensor:
    """Expected loss of plain SGD on the NQM after each step of a learning-rate schedule.

    Ref: Zhang et al. 2019, eq. 4-5 (with momentum 0 and P = I).

    The iterate starts at the deterministic θ_0. Step t uses θ ← θ - lrs[t] (Hθ + ε) with
    ε ~ N(0, C / batch_size): the noise variance is divided by the batch size exactly once.
    Track the second moment s_i = E[θ_i²] per coordinate; the expected loss is ½ Σ h_i s_i.

    Args:
        h: Hessian diagonal, shape [d].
        c: gradient-noise covariance diagonal for batch size 1, shape [d].
        theta0: starting point, shape [d].
        lrs: learning rate of each step, shape [steps].
        batch_size: examples per gradient (may be fractional: it only scales the noise).

    Returns:
        Expected loss before the first step and after each step, shape [steps + 1], float64.
    """
    # BEGIN SOLUTION
    # HINT: E[(aθ + b)²] = a² E[θ²] + b² Var(ε) when ε is zero-mean and independent of θ
    h, c = h.double(), c.double()
    s = theta0.double() ** 2
    losses = [0.5 * (h * s).sum()]
    for lr in lrs.double():
        s = (1 - lr * h) ** 2 * s + lr**2 * c / batch_size
        losses.append(0.5 * (h * s).sum())
    return torch.stack(losses)
    # END SOLUTION


def adam_step(
    theta: Tensor,
    grad: Tensor,
    m: Tensor,
    v: Tensor,
    step: int,
    lr: Tensor | float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> tuple[Tensor, Tensor, Tensor]:
    """One Adam update, elementwise, as `torch.optim.Adam` does it (no weight decay).

    Ref: Kingma & Ba 2015, algorithm 1.

    Args:
        theta: parameters, any shape.
        grad: gradient at theta, same shape.
        m, v: first and second moment estimates before this step (zeros at step 1).
        step: the 1-based index of this step, for bias correction.
        lr: learning rate, a float or a tensor broadcastable to theta.
        betas: (β1, β2) decay rates of m and v.
        eps: added to the bias-corrected sqrt(v), outside the square root.

    Returns:
        (new theta, new m, new v); the inputs are not modified.
    """
    # BEGIN SOLUTION
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    # HINT: correct m by 1 - β1^step and v by 1 - β2^step before dividing
    m_hat = m / (1 - beta1**step)
    v_hat = v / (1 - beta2**step)
    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v
    # END SOLUTION
