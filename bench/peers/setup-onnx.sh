#!/usr/bin/env bash
# Makes what the onnxruntime-web peer of `npm run bench:peers` needs, all git-ignored under bench/peers/onnx/:
#   hf/      f32 Hugging Face folder converted from the GGUF by our CLI (the Q4_1/Q8_0 weights dequantized)
#   venv/    Python venv with optimum-onnx (bench/peers/requirements-onnx.txt), reusing the machine's torch
#   model/   model.onnx (f32, past key values, ~540 MB) and model_q4.onnx (MatMulNBits 4-bit, ~180 MB)
# Usage: bash bench/peers/setup-onnx.sh [GGUF]      (npm run bench:peers:setup); about 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
GGUF=${1:-weights/SmolLM2-135M-Instruct.Q4_1.gguf}
OUT=bench/peers/onnx
if [ ! -f "$OUT/hf/config.json" ]; then
  npx tsx src/cli/main.ts convert "$GGUF" "$OUT/hf"
fi
if [ ! -x "$OUT/venv/bin/python" ]; then
  python3 -m venv --system-site-packages "$OUT/venv"
fi
"$OUT/venv/bin/python" -c "import torch" 2>/dev/null || echo "setup-onnx: no torch in the machine's Python: pip will install it into the venv (large)" >&2
"$OUT/venv/bin/pip" install -q -r bench/peers/requirements-onnx.txt
"$OUT/venv/bin/python" bench/peers/export_onnx.py --hf "$OUT/hf" --out "$OUT/model"
