// Renders an FFN-skip trace (one row per decode step, one column per layer) for a terminal, and as JSON.
//
// Row t is decode step t: it fed generated token t back through the model and its logits chose generated token
// t + 1, so rows are labelled with the token they produced (traceLabels). The first generated token comes from the
// prompt's prefill (always the full model) and has no row; the last row of a reply that ended on EOS produced the EOS.
import type { FinishReason } from "../generate.js";
import type { TokenTrace } from "../skip/controller.js";

/** Row labels: the text of the token each decode step produced ("<eos>" for a final EOS). */
export function traceLabels(result: { readonly tokens: readonly number[]; readonly trace: readonly TokenTrace[]; readonly finishReason: FinishReason }, decode: (ids: number[]) => string): string[] {
  return result.trace.map((_, t) => {
    const produced = result.tokens[t + 1];
    if (produced !== undefined) return decode([produced]);
    return result.finishReason === "eos" && t === result.trace.length - 1 ? "<eos>" : "";
  });
}

/**
 * One line per decode step: the text of the token it produced (labels), then one cell per layer: "·" skipped, a
 * shaded block for an FFN that ran,
 * coloured by its similarity (green = redundant-looking, red = the FFN changed the residual a lot). Warm-up rows are
 * marked "w".
 */
export function renderTrace(trace: readonly TokenTrace[], labels: readonly string[], color: boolean): string {
  if (trace.length === 0) return "(no decode steps traced)\n";
  const layers = trace[0]!.ran.length;
  const header = `${"token".padEnd(14)}  ${Array.from({ length: layers }, (_, l) => (l % 10 === 0 ? String(l / 10) : " ")).join("")}\n${" ".repeat(16)}${Array.from({ length: layers }, (_, l) => String(l % 10)).join("")}\n`;
  const lines = trace.map((row, t) => {
    const label = JSON.stringify(labels[t] ?? "").slice(0, 12).padEnd(12);
    const cells = Array.from(row.ran, (ran, l) => {
      if (!ran) return color ? "\x1b[2m·\x1b[0m" : "·";
      const s = row.similarity[l]!;
      const glyph = s >= 0.99 ? "█" : s >= 0.97 ? "▓" : s >= 0.9 ? "▒" : "░";
      if (!color) return glyph;
      const code = s >= 0.97 ? 32 : s >= 0.9 ? 33 : 31;
      return `\x1b[${code}m${glyph}\x1b[0m`;
    }).join("");
    return `${row.warmup ? "w" : " "} ${label}  ${cells}`;
  });
  const skipped = trace.reduce((sum, row) => sum + row.ran.reduce((s, r) => s + (r ? 0 : 1), 0), 0);
  const legend = `· skipped  █ sim>=0.99  ▓ >=0.97  ▒ >=0.90  ░ <0.90  w warm-up   ${skipped} of ${trace.length * layers} FFNs skipped\n`;
  return header + lines.join("\n") + "\n" + legend;
}

/**
 * The trace as plain JSON: per decode step, the text of the token it produced, whether it was in the warm-up, and
 * per layer ran (0/1) and similarity (null where skipped).
 */
export function traceJson(trace: readonly TokenTrace[], labels: readonly string[]): TraceJson {
  return {
    layers: trace[0]?.ran.length ?? 0,
    tokens: trace.map((row, t) => ({
      text: labels[t] ?? "",
      warmup: row.warmup,
      ran: Array.from(row.ran),
      similarity: Array.from(row.similarity, (s) => (Number.isNaN(s) ? null : Number(s.toFixed(6)))),
    })),
  };
}

export interface TraceJson {
  readonly layers: number;
  readonly tokens: readonly { readonly text: string; readonly warmup: boolean; readonly ran: readonly number[]; readonly similarity: readonly (number | null)[] }[];
}
