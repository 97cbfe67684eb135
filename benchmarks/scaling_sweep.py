"""Seconds to train a small scaling grid: our pool of single-threaded processes vs one process.

The peer is the obvious loop: train every cell one after the other in this process, with
torch using every core for each cell's ops (its default). Ours is `core.sweep.run_sweep`:
one single-threaded process per core, each training whole cells. The cells, seeds and
results are the same up to float summation order (one thread vs several), which the
last line shows.

    python benchmarks/scaling_sweep.py [--min-width 4] [--widths 3] [--fractions 3] [--seeds 2]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from dlcurriculum.ch02_scaling_laws import experiments
from dlcurriculum.ch02_scaling_laws.config import ScalingConfig
from dlcurriculum.ch02_scaling_laws.train import train_cell
from dlcurriculum.core import sweep


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-width", type=int, default=4)
    parser.add_argument("--widths", type=int, default=3, help="number of widths")
    parser.add_argument("--fractions", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=0, help="0: one per core")
    args = parser.parse_args()
    cfg = ScalingConfig(
        min_width=args.min_width,
        n_widths=args.widths,
        n_fractions=args.fractions,
        pool_size=12_500,
        seeds=args.seeds,
        dropouts=(0.0,),
        workers=args.workers,
    )
    cells = experiments.grid_cells(cfg)
    workers = args.workers or sweep.default_workers()
    print(f"{len(cells)} cells: widths {cfg.widths}, sizes {cfg.train_sizes}, {workers} cores")

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "grid"
        sweep.prepare(folder, experiments.WORKER, cells, {"device": "cpu"})
        start = time.perf_counter()
        rows = sweep.run_sweep(folder, workers=workers, threads=1)
        pool_s = time.perf_counter() - start

        torch.set_num_threads(workers)
        start = time.perf_counter()
        loop = [train_cell({**cell, "device": "cpu"}, folder) for cell in cells]
        loop_s = time.perf_counter() - start

    diff = max(abs(a["val_loss"] - b["val_loss"]) for a, b in zip(rows, loop, strict=True))
    print(f"{'runner':<44} {'seconds':>8}")
    print(f"{f'core.sweep pool: {workers} processes x 1 thread':<44} {pool_s:>8.1f}")
    print(f"{f'one process, cells in turn, {workers} threads':<44} {loop_s:>8.1f}")
    print(f"speed-up {loop_s / pool_s:.2f}x; largest validation-loss difference {diff:.2g}")


if __name__ == "__main__":
    main()
