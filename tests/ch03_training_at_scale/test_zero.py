"""ZeRO-1: the same steps as torch.optim.Adam, half the optimizer state per rank at W=2."""

import torch

from dlcurriculum.ch03_training_at_scale.comm import SingleComm
from dlcurriculum.ch03_training_at_scale.config import DPConfig
from dlcurriculum.ch03_training_at_scale.dp_train import train_dp
from dlcurriculum.ch03_training_at_scale.launch import launch_torch
from dlcurriculum.ch03_training_at_scale.zero import ZeroAdam, adam_state_bytes

LM = DPConfig(model="transformer", data="synthetic", steps=6, batch_size=8, d_model=32, n_ctx=32)


def test_zero_adam_alone_equals_torch_adam() -> None:
    torch.manual_seed(0)
    a, b = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    b.load_state_dict(a.state_dict())
    ours, theirs = (
        ZeroAdam(a.parameters(), SingleComm(), lr=0.1),
        torch.optim.Adam(b.parameters(), lr=0.1),
    )
    for _ in range(20):
        x = torch.randn(4, 5)
        for model, opt in ((a, ours), (b, theirs)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    assert torch.allclose(a.weight, b.weight, atol=1e-6)
    assert ours.state_bytes() == adam_state_bytes(theirs) == 2 * 18 * 4


def test_zero1_on_two_ranks_matches_one_process_with_half_the_state() -> None:
    single = train_dp(SingleComm(), LM)
    import dataclasses

    ranks = launch_torch(train_dp, 2, dataclasses.replace(LM, zero=True))
    assert max(abs(x - y) for x, y in zip(single["losses"], ranks[0]["losses"], strict=True)) < 1e-5
    assert ranks[0]["param_checksum"] == ranks[1]["param_checksum"]
    full = single["optimizer_state_bytes"]
    assert full == 2 * 4 * single["params"]
    for r in ranks:
        assert abs(r["optimizer_state_bytes"] - full / 2) <= 8
