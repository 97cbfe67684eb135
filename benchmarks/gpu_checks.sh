#!/usr/bin/env bash
# Every GPU check of the project in one script, for a short lease of one CUDA machine.
#
#   bash benchmarks/gpu_checks.sh [OUT_DIR]
#
# Runs from the repository root with the package on PYTHONPATH (no install: a lent machine
# has torch, triton and the common libraries but no network). Optional inputs, if present:
#   .whl/      wheels of what the machine lacks (procgen-mirror, gym, gym3, beartype ...)
#   .devdata/  a copy of the data cache ($DLC_DATA_DIR), e.g. the Shakespeare text
# Each section has its own time limit, so one slow part cannot starve the others; the
# whole script stays under 8 minutes. Results go to OUT_DIR (default $OUT or ./gpu-out).
set -uo pipefail
out=${1:-${OUT:-gpu-out}}
mkdir -p "$out"
export PYTHONPATH=src PYTHONUNBUFFERED=1 DLC_OFFLINE=1
[ -d .devdata ] && export DLC_DATA_DIR=$PWD/.devdata
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=src:/tmp/site
fi

section() { echo; echo "=== $1 ($(date +%T))"; }

section "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"

section "ch01: Shakespeare transformer, full preset, bf16 autocast"
timeout 120 python3 -m dlcurriculum run shakespeare --preset full --device cuda \
  --out "$out/runs" 2>&1 | tail -n 25

section "ch01: transformer throughput, ours vs torch's fused attention"
timeout 60 python3 benchmarks/transformer_throughput.py --device cuda --d-model 768 \
  --n-layers 12 --n-heads 12 --n-ctx 1024 --batch 16 2>&1 | tail -n 15

section "ch06: PPO on Procgen starpilot, full preset (Procgen paper settings) for 1M steps"
timeout 150 python3 -m dlcurriculum run ppo-procgen --preset full --device cuda \
  --set total_timesteps=1048576 --set eval_episodes=64 --set random_episodes=128 \
  --out "$out/runs" 2>&1 | tail -n 25

if [ -f benchmarks/fused_adam.py ]; then
  section "ch03: fused Adam in Triton vs torch's Adam"
  timeout 60 python3 benchmarks/fused_adam.py 2>&1 | tail -n 25
  section "ch03: Triton Adam and mixed-precision tests on the GPU"
  timeout 60 python3 -m pytest -q -x -p no:cacheprovider tests/ch03_training_at_scale \
    -k "adam or precision or scaler" 2>&1 | tail -n 15
fi

section "summaries"
for f in "$out"/runs/*/*/summary.json; do echo "$f"; head -c 1500 "$f"; echo; done
for f in "$out"/runs/*/*/metrics.jsonl "$out"/runs/*/*/seed_*/metrics.jsonl; do
  [ -f "$f" ] && { echo "$f (last row)"; tail -n 1 "$f" | head -c 1200; echo; }
done
