# workerd config: runs the edge worker locally, as Cloudflare would run it (no fs, no threads, kernels compiled
# from a .wasm module at startup, 128 MB-style settings). Build first, then serve:
#
#   node scripts/bundle-examples.mjs                          # -> examples/edge-worker/dist/{worker.js,kernels.wasm}
#   npx workerd serve examples/edge-worker/workerd.capnp      # listens on 127.0.0.1:8787
#   npx workerd serve examples/edge-worker/workerd.capnp --socket-addr http=127.0.0.1:9000 \
#       --directory-path weights=/abs/path/to/weights       # other port / weights folder
#
# Run it from the repository root (the weights folder path is relative to the working directory).
# The model reaches the worker through a binding, as it would from R2 when hosted: MODEL_STORE is a `disk` service
# over the weights folder and the worker fetches MODEL_KEY from it. (A `data` binding named MODEL, e.g.
# `(name = "MODEL", data = embed "../../weights/SmolLM2-135M-Instruct.Q4_1.gguf")`, works too.)

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .ffnskipWorker),
    (name = "weights", disk = (path = "weights", writable = false)),   # relative to the working directory
  ],
  sockets = [
    (name = "http", address = "127.0.0.1:8787", http = (), service = "main"),
  ],
);

const ffnskipWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "dist/worker.js"),
    # The SIMD kernels as a compiled-at-startup module: Workers refuse WebAssembly.compile() on bytes at run time.
    (name = "kernels.wasm", wasm = embed "dist/kernels.wasm"),
  ],
  bindings = [
    (name = "MODEL_STORE", service = "weights"),
    (name = "MODEL_KEY", text = "SmolLM2-135M-Instruct.Q4_1.gguf"),
    (name = "MODEL_NAME", text = "SmolLM2-135M-Instruct"),
    (name = "MAX_CONTEXT", text = "1024"),
    (name = "MAX_BATCH", text = "16"),
    (name = "MAX_TOKENS", text = "512"),
  ],
  compatibilityDate = "2025-09-01",
  # request.signal aborts when the client disconnects: generation stops instead of running to max_tokens.
  compatibilityFlags = ["enable_request_signal"],
);
