"""Data-parallel throughput: our hand-written DP vs PyTorch DistributedDataParallel.

Both train the same model on the same batches with the same number of processes, and the
script checks that their loss curves agree before it reports speed. Runs alternate
(ours, DDP, ours, DDP ...) so that machine load affects both alike; the median of the
rounds is reported.

    python benchmarks/data_parallel.py                              # transformer, 2 CPU processes
    python benchmarks/data_parallel.py --model cnn --steps 60
    python benchmarks/data_parallel.py --grad-sync simple           # no buckets, no overlap

On CPU the processes share cores, so neither approaches 2x a single process; the ratio
ours / DDP is the figure of interest. Never part of CI.
"""

import argparse
import os
import statistics

from dlcurriculum.ch03_training_at_scale.config import DPConfig
from dlcurriculum.ch03_training_at_scale.dp_train import train_dp
from dlcurriculum.ch03_training_at_scale.launch import launch_torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=["transformer", "cnn"], default="transformer")
    parser.add_argument("--world-size", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--grad-sync", choices=["buckets", "simple"], default="buckets")
    parser.add_argument("--bucket-mb", type=float, default=25.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", choices=["real", "synthetic"], default="synthetic")
    args = parser.parse_args()

    # batch norm synced across ranks needs CUDA in torch's DDP, so both run local BN here
    cfg = DPConfig(
        model=args.model,
        world_size=args.world_size,
        steps=args.steps,
        batch_size=args.batch_size,
        d_model=args.d_model,
        n_heads=4,
        n_ctx=64,
        width=32,
        grad_sync=args.grad_sync,
        bucket_mb=args.bucket_mb,
        sync_bn=False,
        data=args.data,
        device="cpu",
    )
    ours_sps, ddp_sps, diffs = [], [], []
    for _ in range(args.rounds):
        ours = launch_torch(train_dp, cfg.world_size, cfg, "ours")
        ddp = launch_torch(train_dp, cfg.world_size, cfg, "ddp")
        ours_sps.append(min(r["samples_per_s"] for r in ours))
        ddp_sps.append(min(r["samples_per_s"] for r in ddp))
        diffs.append(
            max(abs(a - b) for a, b in zip(ours[0]["losses"], ddp[0]["losses"], strict=True))
        )
    o, d = statistics.median(ours_sps), statistics.median(ddp_sps)
    print(
        f"model={args.model} params={ours[0]['params']:,} world_size={cfg.world_size} "
        f"global batch={cfg.batch_size} grad_sync={cfg.grad_sync} "
        f"1 torch thread per process, {os.cpu_count()} cores"
    )
    print(f"max |loss ours - loss DDP| over {cfg.steps} steps: {max(diffs):.2e}")
    print(f"ours: {o:8.1f} samples/s   (rounds: {', '.join(f'{x:.0f}' for x in ours_sps)})")
    print(f"DDP:  {d:8.1f} samples/s   (rounds: {', '.join(f'{x:.0f}' for x in ddp_sps)})")
    print(f"ratio ours / DDP: {o / d:.2f}")


if __name__ == "__main__":
    main()
