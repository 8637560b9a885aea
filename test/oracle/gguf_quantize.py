#!/usr/bin/env python3
"""Oracle for our quantizers where gguf-py has one (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1: llama.cpp's reference
quantizers in numpy).

    python3 test/oracle/gguf_quantize.py TYPE IN.f32 OUT.bin

IN.f32 holds little-endian float32 values (a multiple of the block size); OUT.bin gets gguf-py's blocks.
"""

import sys

import numpy as np
from gguf import GGMLQuantizationType
from gguf.quants import quantize

type_name, source, target = sys.argv[1:4]
values = np.fromfile(source, dtype="<f4")
quantize(values.reshape(1, -1), GGMLQuantizationType[type_name]).tofile(target)
