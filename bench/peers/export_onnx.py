#!/usr/bin/env python3
"""Export the reference model to ONNX for the onnxruntime-web peer (bench/peers/run.mts).

Input: the f32 Hugging Face folder that `ffnskip convert` makes from the GGUF file (the Q4_1/Q8_0 weights
dequantized to f32, so the ONNX model computes with the same weight values as ours, in f32).
Output: bench/peers/onnx/model/model.onnx (+ model.onnx_data when large), a decoder with past key values
(optimum task "text-generation-with-past"), fp32. Git-ignored.

Usage (from the repository root; bench/peers/setup-onnx.sh runs all of it):
  npx tsx src/cli/main.ts convert weights/SmolLM2-135M-Instruct.Q4_1.gguf bench/peers/onnx/hf
  bench/peers/onnx/venv/bin/python bench/peers/export_onnx.py [--hf DIR] [--out DIR]

optimum-onnx pins transformers < 4.58, so it lives in its own venv (bench/peers/onnx/venv, made with
--system-site-packages to reuse the machine's torch) instead of downgrading the machine's transformers.
"""
import argparse
import json
import os
import sys
import time


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hf", default=os.path.join(here, "onnx", "hf"), help="HF folder from `ffnskip convert`")
    parser.add_argument("--out", default=os.path.join(here, "onnx", "model"), help="output folder")
    parser.add_argument("--no-q4", action="store_true", help="skip the 4-bit MatMulNBits copy (model_q4.onnx)")
    args = parser.parse_args()

    if not os.path.exists(os.path.join(args.hf, "config.json")):
        print(f"export_onnx: no config.json in {args.hf}; run `npx tsx src/cli/main.ts convert <gguf> {args.hf}` first", file=sys.stderr)
        return 2

    import torch
    import transformers
    from optimum.exporters.onnx import main_export

    start = time.time()
    # Single-threaded export keeps the shared machine usable; the export itself is not timed.
    torch.set_num_threads(1)
    main_export(
        model_name_or_path=args.hf,
        output=args.out,
        task="text-generation-with-past",
        opset=17,
        device="cpu",
        dtype="fp32",
        no_post_process=False,
        do_validation=False,
    )
    import optimum
    info = {
        "exporter": "optimum.exporters.onnx.main_export",
        "task": "text-generation-with-past",
        "opset": 17,
        "dtype": "fp32",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "optimum": getattr(optimum, "__version__", "unknown"),
        "source": os.path.relpath(args.hf),
        "seconds": round(time.time() - start, 1),
    }
    try:
        import importlib.metadata as md
        info["optimum"] = md.version("optimum")
        info["optimum-onnx"] = md.version("optimum-onnx")
    except Exception:  # noqa: BLE001 - informational only
        pass
    if not args.no_q4:
        info["q4"] = quantize_q4(args.out)
    with open(os.path.join(args.out, "export-info.json"), "w") as f:
        json.dump(info, f, indent=2)
    print(json.dumps(info))
    return 0


def quantize_q4(out: str) -> dict:
    """model_q4.onnx: every MatMul weight (layers and LM head) as MatMulNBits, 4 bits, blocks of 32, asymmetric
    (a scale and a zero point per block: the ONNX analogue of Q4_1), accuracy_level 4 (int8 activations, ORT's
    fastest CPU path). The embedding Gather stays f32. Needs onnx_ir (pip install onnx_ir)."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    start = time.time()
    model = onnx.load(os.path.join(out, "model.onnx"))
    quantizer = MatMulNBitsQuantizer(model, bits=4, block_size=32, is_symmetric=False, accuracy_level=4)
    quantizer.process()
    quantizer.model.save_model_to_file(os.path.join(out, "model_q4.onnx"), use_external_data_format=False)
    return {"file": "model_q4.onnx", "op": "MatMulNBits", "bits": 4, "block_size": 32, "symmetric": False, "accuracy_level": 4,
            "seconds": round(time.time() - start, 1)}


if __name__ == "__main__":
    sys.exit(main())
