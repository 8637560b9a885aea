#!/usr/bin/env python3
"""Oracle for our block dequantizers: gguf-py's own dequantize (llama.cpp's reference layouts in numpy).

    python3 test/oracle/gguf_dequantize.py TYPE IN.bin OUT.f32

IN.bin holds whole blocks of ggml type TYPE (e.g. Q4_K); OUT.f32 gets their values as little-endian float32.
"""

import sys

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import dequantize

type_name, source, target = sys.argv[1:4]
blocks = np.fromfile(source, dtype=np.uint8)
dequantize(blocks, GGMLQuantizationType[type_name]).astype("<f4").tofile(target)
