// The browser demo: load a GGUF model (picked by the user, or served next to the page), chat with it, and watch
// the FFN-skip map fill in live, one column per generated token (via generate()'s onTrace callback).
//
// URL parameters: ?model=<url of a .gguf> (default model.gguf), &autoload=1, &variant=simd|relaxed (kernel build),
// &maxContext=N (default: the model's context, at most 2048), &maxBatch=N (prefill tokens per step, default 64).

import { type ChatMessage, type EngineOptions, type GenerationResult, type LanguageModel, loadModel, type SkipPolicy } from "ffnskip";
import { applyDefaultSkip, FALLBACK_SKIP_POLICY } from "../../shared/skip.js";
import { renderLegend, SkipHeatmap } from "./heatmap.js";

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const ui = {
  file: $<HTMLInputElement>("file"),
  loadServed: $<HTMLButtonElement>("load-served"),
  progress: $<HTMLProgressElement>("load-progress"),
  modelStatus: $("model-status"),
  messages: $("messages"),
  form: $<HTMLFormElement>("chat-form"),
  prompt: $<HTMLTextAreaElement>("prompt"),
  send: $<HTMLButtonElement>("send"),
  stop: $<HTMLButtonElement>("stop"),
  newChat: $<HTMLButtonElement>("new-chat"),
  maxTokens: $<HTMLInputElement>("max-tokens"),
  temperature: $<HTMLInputElement>("temperature"),
  topP: $<HTMLInputElement>("top-p"),
  topK: $<HTMLInputElement>("top-k"),
  seed: $<HTMLInputElement>("seed"),
  skipMode: $<HTMLSelectElement>("skip-mode"),
  threshold: $<HTMLInputElement>("threshold"),
  k: $<HTMLInputElement>("k"),
  warmup: $<HTMLInputElement>("warmup"),
  coldStart: $<HTMLInputElement>("cold-start"),
  coldEnd: $<HTMLInputElement>("cold-end"),
  stats: $("stats"),
};
// The paper-rule fields start at the examples' policy (the one Node, Deno and the worker use when no profile ships).
if (FALLBACK_SKIP_POLICY.kind === "paper") {
  const p = FALLBACK_SKIP_POLICY;
  ui.threshold.value = String(p.threshold);
  ui.k.value = String(p.k);
  ui.warmup.value = String(p.warmup);
  ui.coldStart.value = String(p.coldStart);
  ui.coldEnd.value = String(p.coldEnd);
}
const heatmap = new SkipHeatmap($("heatmap"), $("tooltip"));
renderLegend($("legend"));

let model: LanguageModel | null = null;
let history: ChatMessage[] = [];
let abort: AbortController | null = null;
/** The shipped profile's policy for the loaded model (skip: "on"), when the package has one. */
let profilePolicy: SkipPolicy | null = null;

/** What the page exposes for scripts and tests: the model and the last reply's result. */
const demo = {
  get model() {
    return model;
  },
  lastResult: null as GenerationResult | null,
  /** The skip policy of the last reply (the heat map's explanations follow it). */
  lastPolicy: null as SkipPolicy | null,
  loadFromUrl,
};
(globalThis as { ffnskipDemo?: typeof demo }).ffnskipDemo = demo;

function setState(state: "empty" | "loading" | "ready" | "generating" | "error"): void {
  document.body.dataset.state = state;
  const ready = state === "ready";
  ui.prompt.disabled = ui.send.disabled = ui.newChat.disabled = !ready;
  ui.stop.disabled = state !== "generating";
  ui.file.disabled = ui.loadServed.disabled = state === "loading" || state === "generating";
}

async function loadFromUrl(url: string): Promise<void> {
  await loadWith(url.split("/").pop() ?? url, async (progress) => {
    const response = await fetch(url);
    if (!response.ok || response.body === null) throw new Error(`GET ${url}: ${response.status} ${response.statusText}`);
    const total = Number(response.headers.get("content-length") ?? 0);
    if (total <= 0) return new Uint8Array(await response.arrayBuffer());
    // Read straight into one buffer of the announced size: no chunk list, no second copy.
    const bytes = new Uint8Array(total);
    let offset = 0;
    const reader = response.body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      bytes.set(chunk.value, offset);
      offset += chunk.value.byteLength;
      progress(offset / total);
    }
    return bytes;
  });
}

async function loadFromFile(file: File): Promise<void> {
  await loadWith(file.name, async (progress) => {
    progress(0.5);
    return new Uint8Array(await file.arrayBuffer());
  });
}

async function loadWith(name: string, read: (progress: (fraction: number) => void) => Promise<Uint8Array>): Promise<void> {
  setState("loading");
  ui.progress.hidden = false;
  ui.progress.value = 0;
  ui.modelStatus.textContent = `Reading ${name}…`;
  try {
    model = null;
    const started = performance.now();
    const bytes = await read((fraction) => {
      ui.progress.value = fraction;
    });
    ui.modelStatus.textContent = `Loading ${name} into WebAssembly memory…`;
    await new Promise((resolve) => setTimeout(resolve, 0)); // let the status paint
    const variant = params.get("variant") as EngineOptions["variant"] | null;
    const loaded = await loadModel({ gguf: bytes, name }, {
      ...(params.has("maxContext") ? { maxContext: Number(params.get("maxContext")) } : {}),
      ...(params.has("maxBatch") ? { maxBatch: Number(params.get("maxBatch")) } : {}),
      ...(variant !== null ? { variant } : {}),
    });
    const skip = applyDefaultSkip(loaded);
    profilePolicy = skip === "on" ? loaded.skip : null;
    const profileOption = ui.skipMode.querySelector<HTMLOptionElement>('option[value="on"]')!;
    profileOption.hidden = skip !== "on";
    ui.skipMode.value = skip === "on" ? "on" : "paper";
    syncSkipFields();
    const c = loaded.config;
    ui.coldEnd.value = String(Math.min(Number(ui.coldEnd.value), c.numLayers));
    model = loaded;
    history = [];
    ui.messages.replaceChildren();
    const mib = (loaded.transformer.arena.memory.buffer.byteLength / 2 ** 20).toFixed(0);
    ui.modelStatus.textContent = `${name}: ${c.numLayers} layers, hidden size ${c.hiddenSize}, FFN size ${c.ffnSize}, ` +
      `vocabulary ${c.vocabSize}; context ${loaded.maxContext} tokens; ${mib} MiB of WASM memory; loaded in ${((performance.now() - started) / 1000).toFixed(1)} s. ` +
      (skip === "on" ? "Skipping with the shipped calibrated profile." : "Skipping with the FFN-SkipLLM rule below.");
    heatmap.reset(c.numLayers, currentPolicy());
    setState("ready");
    ui.prompt.focus();
  } catch (error) {
    ui.modelStatus.textContent = `Could not load ${name}: ${error instanceof Error ? error.message : String(error)}`;
    setState("error");
  } finally {
    ui.progress.hidden = true;
  }
}

/** The policy the form asks for: the shipped profile's, the paper rule with the form's parameters, or off. */
function currentPolicy(): SkipPolicy {
  if (ui.skipMode.value === "on" && profilePolicy !== null) return profilePolicy;
  if (ui.skipMode.value === "off") return { kind: "off" };
  return {
    kind: "paper",
    threshold: Number(ui.threshold.value),
    k: Number(ui.k.value),
    warmup: Number(ui.warmup.value),
    coldStart: Number(ui.coldStart.value),
    coldEnd: Number(ui.coldEnd.value),
  };
}

function bubble(role: string, text: string): HTMLElement {
  const node = document.createElement("div");
  node.className = `msg ${role}`;
  node.textContent = text;
  ui.messages.append(node);
  ui.messages.scrollTop = ui.messages.scrollHeight;
  return node;
}

async function send(text: string): Promise<void> {
  if (model === null || text.trim() === "") return;
  const m = model;
  const policy = currentPolicy();
  demo.lastPolicy = policy;
  history.push({ role: "user", content: text });
  bubble("user", text);
  const reply = bubble("assistant", "");
  reply.classList.add("streaming");
  heatmap.reset(m.config.numLayers, policy);
  setState("generating");
  abort = new AbortController();
  const started = performance.now();
  let firstStep = 0;
  let steps = 0;
  let skipped = 0;
  let afterWarmup = 0;
  let skippedAfterWarmup = 0;
  try {
    const stream = m.generate(history, {
      maxTokens: Number(ui.maxTokens.value),
      temperature: Number(ui.temperature.value),
      topP: Number(ui.topP.value),
      topK: Number(ui.topK.value),
      seed: Number(ui.seed.value),
      skip: policy,
      signal: abort.signal,
      onTrace(row, step, token) {
        heatmap.addColumn(row, step, m.decode([token]));
        const now = performance.now();
        if (steps === 0) firstStep = now;
        steps++;
        const off = row.ran.reduce((sum, ran) => sum + (ran ? 0 : 1), 0);
        skipped += off;
        if (!row.warmup) {
          afterWarmup++;
          skippedAfterWarmup += off;
        }
        const rate = steps > 1 ? ((steps - 1) * 1000) / (now - firstStep) : 0;
        ui.stats.textContent = `${steps} tokens · ${rate.toFixed(1)} tok/s · ${skipped} of ${steps * m.config.numLayers} FFNs skipped` +
          (afterWarmup > 0 ? ` (${((100 * skippedAfterWarmup) / (afterWarmup * m.config.numLayers)).toFixed(1)}% after warm-up)` : "");
      },
    });
    for await (const piece of stream) {
      reply.textContent += piece.text;
      ui.messages.scrollTop = ui.messages.scrollHeight;
    }
    const result = await stream.result;
    // A token sampled last is not fed back (no decode step): it gets a pale column of its own.
    for (let step = result.trace.length; step < result.tokens.length; step++) heatmap.addPendingColumn(step, m.decode([result.tokens[step]!]));
    history.push({ role: "assistant", content: result.text });
    const s = result.stats;
    ui.stats.textContent = `${s.generatedTokens} tokens · decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s · prefill ${s.prefillTokensPerSecond.toFixed(0)} tok/s ` +
      `(${s.promptTokens - s.cachedPromptTokens} of ${s.promptTokens} prompt tokens computed) · ${s.skip.skipped} FFNs skipped: ` +
      `${(100 * s.skip.ratio).toFixed(1)}% (${(100 * s.skip.ratioAfterWarmup).toFixed(1)}% after warm-up) · ${result.finishReason} · ${((performance.now() - started) / 1000).toFixed(1)} s`;
    demo.lastResult = result;
  } catch (error) {
    reply.textContent += `\n[error: ${error instanceof Error ? error.message : String(error)}]`;
    history.pop();
  } finally {
    reply.classList.remove("streaming");
    abort = null;
    setState("ready");
  }
}

ui.file.addEventListener("change", () => {
  const file = ui.file.files?.[0];
  if (file !== undefined) void loadFromFile(file);
});
ui.loadServed.addEventListener("click", () => void loadFromUrl(params.get("model") ?? "model.gguf"));
ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.prompt.value;
  ui.prompt.value = "";
  void send(text);
});
ui.prompt.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    ui.form.requestSubmit();
  }
});
ui.stop.addEventListener("click", () => abort?.abort());
ui.newChat.addEventListener("click", () => {
  history = [];
  ui.messages.replaceChildren();
  if (model !== null) heatmap.reset(model.config.numLayers, currentPolicy());
  ui.stats.textContent = "";
});
/** The rule's fields are editable for "paper rule"; with the profile they show its values, read-only. */
function syncSkipFields(): void {
  const fields = [ui.threshold, ui.k, ui.warmup, ui.coldStart, ui.coldEnd];
  if (ui.skipMode.value === "on" && profilePolicy?.kind === "paper") {
    const p = profilePolicy;
    [ui.threshold.value, ui.k.value, ui.warmup.value, ui.coldStart.value, ui.coldEnd.value] = [p.threshold, p.k, p.warmup, p.coldStart, p.coldEnd].map(String) as [string, string, string, string, string];
  }
  for (const field of fields) field.disabled = ui.skipMode.value !== "paper";
}
ui.skipMode.addEventListener("change", syncSkipFields);
setState("empty");
if (params.get("autoload") === "1") void loadFromUrl(params.get("model") ?? "model.gguf");
