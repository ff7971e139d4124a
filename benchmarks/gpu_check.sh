#!/usr/bin/env bash
# Issue 17, item 5: the generation benchmark on a lent GPU with a real-sized random model in bfloat16,
# batched and with the shared prompt prefix computed once. Well under 10 minutes on an H100/H200
# (each step is capped at 4 minutes). Paste the printed figures, with the date and the GPU named,
# into the README's performance section. Written in a session without a GPU: not yet run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
date -u
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
$PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
# Batched vs one call per state: 32 states x 32 beams, random Llama 2048 x 16 layers (805M parameters).
timeout 240 $PY benchmarks/generation.py --case batched --device cuda --dtype bfloat16 \
  --hidden-size 2048 --layers 16 --max-batch-size 256 --states 32 --candidates 32 --max-new-tokens 32
# Shared prefix reused vs recomputed: same model, 8 requests x (1 and 4) states x 8 beams, 32 new tokens.
timeout 240 $PY benchmarks/generation.py --case prefix --device cuda --dtype bfloat16 \
  --prefix-hidden 2048 --prefix-layers 16 --prefix-requests 8 --prefix-states 4 --prefix-beams 8 \
  --prefix-new-tokens 32 --repeats 3
