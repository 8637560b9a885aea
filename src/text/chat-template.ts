// Chat templates: a model's Jinja template (from GGUF metadata or tokenizer_config.json) rendered with
// @huggingface/jinja the way transformers' apply_chat_template renders it (trim_blocks, lstrip_blocks, the globals
// raise_exception / strftime_now / range, special token texts as bos_token, eos_token, ...; tools and documents
// are none). The interpreter only evaluates the template's own expressions over the data we pass: no attribute
// access reaches JavaScript objects or functions beyond the globals below.

import { Environment, Interpreter, parse, tokenize } from "@huggingface/jinja";
import { ConfigError, FfnskipError, FormatError, InputError, UnsupportedError, show } from "../errors.js";
import type { GgufFile } from "../io/gguf.js";

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

export interface ChatRenderOptions {
  /** End with the header that opens the assistant's turn. Default false, as in transformers. */
  readonly addGenerationPrompt?: boolean;
}

/** Texts of the special tokens a template may print (bos_token, eos_token, pad_token, unk_token). */
export interface ChatSpecialTokens {
  readonly bos?: string;
  readonly eos?: string;
  readonly pad?: string;
  readonly unk?: string;
}

export interface ChatTemplate {
  /** The Jinja source being rendered. */
  readonly template: string;
  /** True when the model had no template and CHATML_TEMPLATE stands in. */
  readonly isFallback: boolean;
  render(messages: readonly ChatMessage[], options?: ChatRenderOptions): string;
}

/**
 * Used only when a model ships no chat template: ChatML (<|im_start|>role\ncontent<|im_end|>\n), the format of
 * transformers' former default template and of SmolLM2 and Qwen. A model not trained on it will still run, but its
 * replies may be poor; isFallback tells callers so.
 */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/** Raised by the template's raise_exception(); carries the template's own message. */
class TemplateRejection {
  constructor(readonly message: string) {}
}

// A template comes from the model file, so one render's work is bounded: a loop over range(10**9), nested loops or
// a string doubled in a loop must end in a typed error, not a hang or an allocation of gigabytes. Real templates
// take a few thousand steps and build strings the size of the conversation.
const MAX_RENDER_STEPS = 300_000;
const MAX_RENDER_LENGTH = 1 << 22; // characters of one string, or items of one list
const MAX_RANGE = 1 << 16; // numbers one range() call may produce
const MAX_INDENT = 1024; // the width of indent() and tojson(indent=...)

/** Raised when a render exceeds the bounds above. */
class RenderLimit {
  constructor(readonly message: string) {}
}

/**
 * The library's interpreter, counting work and checking the size of every value it produces. Its methods call
 * this.evaluate() for every node and this.evaluateBlock() for every loop iteration, and a for loop first walks its
 * whole iterable; wrapping those methods on the instance bounds loops (even with empty bodies or an early break),
 * macros and recursion.
 */
function boundedInterpreter(env: Environment): { run(program: unknown): { value: unknown } } {
  type Node = { type?: string; iterable?: Node; lhs?: Node };
  type Value = { value?: unknown } | undefined;
  const interpreter = new Interpreter(env);
  const evaluate = interpreter.evaluate.bind(interpreter) as (statement: Node, environment: unknown) => Value;
  const evaluateBlock = interpreter.evaluateBlock.bind(interpreter) as (statements: unknown, environment: unknown) => unknown;
  const evaluateFor = interpreter.evaluateFor.bind(interpreter) as (node: Node, environment: unknown) => unknown;
  let steps = 0;
  const step = (count = 1): void => {
    steps += count;
    if (steps > MAX_RENDER_STEPS) throw new RenderLimit(`more than ${MAX_RENDER_STEPS} evaluation steps`);
  };
  // indent(width) and tojson(indent=n) repeat a string `width` times per line and nesting level: cap the width.
  type Call = { type?: string; callee?: { type?: string; value?: string }; args?: unknown };
  const applyFilter = interpreter.applyFilter.bind(interpreter) as (operand: unknown, filter: Call, environment: unknown) => unknown;
  const evaluateArguments = interpreter.evaluateArguments.bind(interpreter) as (args: unknown, environment: unknown) => [Value[], Map<string, Value>];
  interpreter.applyFilter = (operand: unknown, filter: Call, environment: unknown) => {
    const name = filter.type === "CallExpression" ? filter.callee?.value : undefined;
    if (name === "indent" || name === "tojson") {
      const [args, kwargs] = evaluateArguments(filter.args, environment);
      for (const width of [args[0], kwargs.get("width"), kwargs.get("indent")]) {
        const value = width?.value;
        if (typeof value === "number" && Math.abs(value) > MAX_INDENT) throw new RenderLimit(`${name}() with a width of ${value} (at most ${MAX_INDENT})`);
      }
    }
    return applyFilter(operand, filter, environment);
  };
  let loopIterable: Node | null = null;
  interpreter.evaluateFor = (node: Node, environment: unknown) => {
    const outer = loopIterable;
    loopIterable = (node.iterable?.type === "SelectExpression" ? node.iterable.lhs : node.iterable) ?? null;
    try {
      return evaluateFor(node, environment);
    } finally {
      loopIterable = outer;
    }
  };
  interpreter.evaluateBlock = (statements: unknown, environment: unknown) => {
    step();
    return evaluateBlock(statements, environment);
  };
  interpreter.evaluate = (statement: Node, environment: unknown) => {
    step();
    const value = evaluate(statement, environment);
    const inner = value?.value;
    if ((typeof inner === "string" || Array.isArray(inner)) && inner.length > MAX_RENDER_LENGTH) {
      throw new RenderLimit(`a value of ${inner.length} ${typeof inner === "string" ? "characters" : "items"} (at most ${MAX_RENDER_LENGTH})`);
    }
    if (statement === loopIterable) {
      // The loop is about to walk every item of this value: that walk is work too.
      loopIterable = null;
      step(Array.isArray(inner) ? inner.length : inner instanceof Map ? inner.size : 0);
    }
    return value;
  };
  return interpreter;
}

/** Compiles a chat template; `source` names it in errors. */
export function createChatTemplate(template: string, specialTokens: ChatSpecialTokens = {}, source = "chat_template"): ChatTemplate {
  return compile(template, specialTokens, source, false);
}

/** The chat template stored in a GGUF file (tokenizer.chat_template), or the ChatML fallback. */
export function chatTemplateFromGguf(gguf: GgufFile): ChatTemplate {
  const template = gguf.metadata.get("tokenizer.chat_template");
  if (template !== undefined && typeof template !== "string") {
    throw new FormatError({ file: gguf.file, field: "tokenizer.chat_template", expected: "a string", actual: show(template) });
  }
  const tokens = gguf.metadata.get("tokenizer.ggml.tokens");
  const tokenText = (key: string): string | undefined => {
    const id = gguf.metadata.get(key);
    if (id === undefined) return undefined;
    const text = Array.isArray(tokens) && typeof id === "number" ? tokens[id] : undefined;
    if (typeof text !== "string") {
      throw new FormatError({ file: gguf.file, field: key, expected: "the id of a token in tokenizer.ggml.tokens", actual: show(id) });
    }
    return text;
  };
  const specialTokens: ChatSpecialTokens = {
    bos: tokenText("tokenizer.ggml.bos_token_id"),
    eos: tokenText("tokenizer.ggml.eos_token_id"),
    pad: tokenText("tokenizer.ggml.padding_token_id"),
    unk: tokenText("tokenizer.ggml.unknown_token_id"),
  };
  if (template === undefined || template.trim() === "") return compile(CHATML_TEMPLATE, specialTokens, gguf.file, true);
  return compile(template, specialTokens, `${gguf.file}: tokenizer.chat_template`, false);
}

/**
 * The chat template of a Hugging Face model folder: a separate chat_template.jinja when given (it takes precedence,
 * as in transformers), else tokenizer_config.json's chat_template (a string, or a list of named templates of which
 * "default" is used), else the ChatML fallback. Special token texts come from tokenizer_config.json.
 */
export function chatTemplateFromHf(tokenizerConfig: string | object, chatTemplateJinja?: string): ChatTemplate {
  const file = "tokenizer_config.json";
  let config: unknown = tokenizerConfig;
  if (typeof tokenizerConfig === "string") {
    try {
      config = JSON.parse(tokenizerConfig);
    } catch (error) {
      throw new FormatError({ file, expected: "JSON text", actual: "unparseable text", detail: (error as Error).message });
    }
  }
  if (!isRecord(config)) throw new FormatError({ file, expected: "a JSON object", actual: show(config) });
  const tokenText = (name: string): string | undefined => {
    const value = config[name];
    if (value === undefined || value === null) return undefined;
    if (typeof value === "string") return value;
    if (isRecord(value) && typeof value["content"] === "string") return value["content"];
    throw new ConfigError({ file, field: name, expected: "a token text or { content: string }", actual: show(value) });
  };
  const specialTokens: ChatSpecialTokens = {
    bos: tokenText("bos_token"), eos: tokenText("eos_token"), pad: tokenText("pad_token"), unk: tokenText("unk_token"),
  };
  if (chatTemplateJinja !== undefined) return compile(chatTemplateJinja, specialTokens, "chat_template.jinja", false);

  const stored = config["chat_template"];
  if (stored === undefined || stored === null) return compile(CHATML_TEMPLATE, specialTokens, file, true);
  if (typeof stored === "string") return compile(stored, specialTokens, `${file}: chat_template`, false);
  if (Array.isArray(stored)) {
    const named = stored.find((entry) => isRecord(entry) && entry["name"] === "default");
    if (!isRecord(named) || typeof named["template"] !== "string") {
      throw new ConfigError({
        file, field: "chat_template", expected: 'a string, or a list of { name, template } with one named "default"',
        actual: `templates named ${stored.map((entry) => (isRecord(entry) ? show(entry["name"]) : show(entry))).join(", ")}`,
      });
    }
    return compile(named["template"], specialTokens, `${file}: chat_template (default)`, false);
  }
  throw new FormatError({ file, field: "chat_template", expected: "a string or a list of named templates", actual: show(stored) });
}

function compile(template: string, specialTokens: ChatSpecialTokens, source: string, isFallback: boolean): ChatTemplate {
  if (typeof template !== "string") throw new InputError({ file: source, field: "template", expected: "a string", actual: show(template) });
  let program: ReturnType<typeof parse>;
  try {
    program = parse(tokenize(template, { lstrip_blocks: true, trim_blocks: true }));
  } catch (error) {
    throw new FormatError({ file: source, field: "chat_template", expected: "a Jinja template", actual: "a syntax error", detail: (error as Error).message });
  }
  const tokenVariables: Record<string, string> = {};
  for (const [name, text] of Object.entries(specialTokens)) {
    if (text !== undefined) tokenVariables[`${name}_token`] = text;
  }

  return Object.freeze({
    template,
    isFallback,
    render(messages: readonly ChatMessage[], options: ChatRenderOptions = {}): string {
      const plainMessages = validateMessages(messages);
      // The size bound is there for the template's own work; a conversation too large for it is the caller's input.
      const characters = plainMessages.reduce((sum, m) => sum + (typeof m["content"] === "string" ? m["content"].length : 0), 0);
      if (characters > MAX_RENDER_LENGTH / 2) {
        throw new InputError({ file: "chat messages", field: "messages", expected: `at most ${MAX_RENDER_LENGTH / 2} characters of content`, actual: `${characters} characters` });
      }
      const env = new Environment();
      const globals: Record<string, unknown> = {
        false: false, true: true, none: null, False: false, True: true, None: null,
        raise_exception: (message: unknown): never => {
          throw new TemplateRejection(String(message));
        },
        range,
        strftime_now: strftimeNow,
        ...tokenVariables,
        messages: plainMessages,
        tools: null,
        documents: null,
        add_generation_prompt: options.addGenerationPrompt ?? false,
      };
      for (const [name, value] of Object.entries(globals)) env.set(name, value);
      try {
        const output: unknown = boundedInterpreter(env).run(program).value;
        if (typeof output !== "string") throw new RenderLimit(`a ${typeof output} instead of text`);
        return output;
      } catch (error) {
        if (error instanceof RenderLimit) {
          throw new UnsupportedError({ file: source, field: "chat_template", expected: "a template that renders within the work and size bounds", actual: error.message });
        }
        if (error instanceof TemplateRejection) {
          throw new InputError({
            file: "chat messages", field: "messages", expected: `a conversation the chat template (${source}) accepts`, actual: error.message,
          });
        }
        if (error instanceof FfnskipError) throw error;
        throw new UnsupportedError({
          file: source, field: "chat_template", expected: "a template @huggingface/jinja can render", actual: "a rendering error",
          detail: (error as Error).message,
        });
      }
    },
  });
}

function validateMessages(messages: readonly ChatMessage[]): Record<string, unknown>[] {
  const file = "chat messages";
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new InputError({ file, field: "messages", expected: "a non-empty array of { role, content }", actual: show(messages) });
  }
  return messages.map((message: unknown, i) => {
    if (!isRecord(message)) throw new InputError({ file, field: `messages[${i}]`, expected: "an object { role, content }", actual: show(message) });
    if (typeof message["role"] !== "string" || message["role"] === "") {
      throw new InputError({ file, field: `messages[${i}].role`, expected: "a non-empty string", actual: show(message["role"]) });
    }
    if (typeof message["content"] !== "string") {
      throw new InputError({ file, field: `messages[${i}].content`, expected: "a string", actual: show(message["content"]) });
    }
    for (const text of [message["role"], message["content"]]) {
      if (/\p{Cs}/u.test(text)) {
        throw new InputError({ file, field: `messages[${i}]`, expected: "well-formed UTF-16 (no unpaired surrogates)", actual: show(text) });
      }
    }
    return { role: message["role"], content: message["content"] };
  });
}

/** Jinja's range(): range(stop) or range(start, stop[, step]). */
function range(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) return range(0, start, step);
  for (const [name, value] of [["start", start], ["stop", stop], ["step", step]] as const) {
    if (!Number.isSafeInteger(value)) throw new UnsupportedError({ file: "chat template", field: `range() ${name}`, expected: "an integer", actual: show(value) });
  }
  if (step === 0) throw new UnsupportedError({ file: "chat template", field: "range()", expected: "a non-zero step", actual: "0" });
  const count = Math.max(0, Math.ceil((stop - start) / step));
  if (count > MAX_RANGE) throw new RenderLimit(`range() of ${count} numbers (at most ${MAX_RANGE})`);
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/** transformers' strftime_now: the local time formatted like Python's strftime in the C locale. */
function strftimeNow(format: unknown): string {
  const now = new Date();
  const pad = (n: number, width = 2): string => String(n).padStart(width, "0");
  return String(format).replace(/%([%YmdbBHMSyaAjpIe])/g, (_, code: string) => {
    switch (code) {
      case "Y": return String(now.getFullYear());
      case "y": return pad(now.getFullYear() % 100);
      case "m": return pad(now.getMonth() + 1);
      case "d": return pad(now.getDate());
      case "e": return String(now.getDate()).padStart(2, " ");
      case "b": return MONTHS[now.getMonth()]!.slice(0, 3);
      case "B": return MONTHS[now.getMonth()]!;
      case "a": return WEEKDAYS[now.getDay()]!.slice(0, 3);
      case "A": return WEEKDAYS[now.getDay()]!;
      case "H": return pad(now.getHours());
      case "I": return pad(((now.getHours() + 11) % 12) + 1);
      case "p": return now.getHours() < 12 ? "AM" : "PM";
      case "M": return pad(now.getMinutes());
      case "S": return pad(now.getSeconds());
      case "j": {
        const dayOfYear = Math.floor((Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()) - Date.UTC(now.getFullYear(), 0, 1)) / 86_400_000) + 1;
        return pad(dayOfYear, 3);
      }
      default: return "%";
    }
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
