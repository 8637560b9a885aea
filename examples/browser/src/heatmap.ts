// The live FFN-skip map: one column per generated token, one row per layer. A cell is coloured by the cosine
// similarity the FFN left behind (log scale in 1 - similarity), dark where the FFN was skipped; outlined cells are
// the ones that triggered a skip. Hovering a cell explains, in words, why that FFN ran or was skipped.

import type { SkipPolicy, TokenTrace } from "ffnskip";

interface Column {
  readonly step: number;
  readonly label: string;
  /** null: the token was sampled but never fed through the model (generation ended right after it). */
  readonly row: TokenTrace | null;
}

/**
 * The colour scale: stops at these similarities, equally spaced on the legend, interpolated in -log10(1 - s) between
 * them. Red: the FFN changed the hidden state a lot; yellow: around the default threshold 0.97; green: it barely
 * changed anything. Most FFNs of a small model sit between 0.9 and 0.99, so that range gets most of the colours.
 */
export const SCALE: readonly [number, [number, number, number]][] = [
  [0.5, [165, 0, 38]], [0.9, [215, 48, 39]], [0.95, [244, 109, 67]], [0.97, [254, 224, 139]],
  [0.98, [166, 217, 106]], [0.99, [102, 189, 99]], [0.999, [26, 120, 66]],
];

const gap = (s: number) => -Math.log10(Math.max(1e-6, 1 - s));

/** Position of a similarity on the legend, in [0, 1]. */
export function scalePosition(similarity: number): number {
  if (!(similarity > SCALE[0]![0])) return 0;
  for (let i = 1; i < SCALE.length; i++) {
    const s0 = SCALE[i - 1]![0];
    const s1 = SCALE[i]![0];
    if (similarity <= s1) return (i - 1 + (gap(similarity) - gap(s0)) / (gap(s1) - gap(s0))) / (SCALE.length - 1);
  }
  return 1;
}

/** The colour at legend position t in [0, 1]. */
function colorAt(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (SCALE.length - 1);
  const i = Math.min(SCALE.length - 2, Math.floor(x));
  const f = x - i;
  const c0 = SCALE[i]![1];
  const c1 = SCALE[i + 1]![1];
  return `rgb(${c0.map((c, j) => Math.round(c + (c1[j]! - c) * f)).join(", ")})`;
}

export function similarityColor(similarity: number): string {
  return colorAt(scalePosition(similarity));
}

export class SkipHeatmap {
  private columns: Column[] = [];
  private layers = 0;
  private policy: SkipPolicy = { kind: "off" };
  private readonly axis: HTMLElement;
  private readonly body: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly tooltip: HTMLElement,
  ) {
    root.replaceChildren();
    this.axis = el("div", "hm-axis");
    this.body = el("div", "hm-body");
    root.append(this.axis, this.body);
    this.body.addEventListener("mousemove", (event) => this.hover(event));
    this.body.addEventListener("mouseleave", () => {
      this.tooltip.hidden = true;
    });
  }

  /** Number of token columns drawn (tests read this from the DOM too: `.hm-col`). */
  get columnCount(): number {
    return this.columns.length;
  }

  /** Clears the map for a new reply of a model with `layers` layers, generated under `policy`. */
  reset(layers: number, policy: SkipPolicy): void {
    this.columns = [];
    this.layers = layers;
    this.policy = policy;
    this.body.replaceChildren();
    this.axis.replaceChildren(el("div", "hm-axis-head"));
    const cold = coldRange(policy, layers);
    for (let l = 0; l < layers; l++) {
      const label = el("div", "hm-axis-label" + (cold !== null && (l < cold[0] || l >= cold[1]) ? " cold" : ""));
      label.textContent = l % 5 === 0 || l === layers - 1 ? String(l) : "";
      label.title = cold !== null && (l < cold[0] || l >= cold[1]) ? `layer ${l}: cold, its FFN always runs` : `layer ${l}`;
      this.axis.append(label);
    }
    this.root.dataset.columns = "0";
  }

  /** Adds the column of generated token `step` from its trace row. */
  addColumn(row: TokenTrace, step: number, label: string): void {
    this.append({ step, label, row });
  }

  /** Adds a column for a token that was sampled but not fed back (generation ended after it). */
  addPendingColumn(step: number, label: string): void {
    this.append({ step, label, row: null });
  }

  private append(column: Column): void {
    this.columns.push(column);
    const col = el("div", "hm-col" + (column.row === null ? " pending" : column.row.warmup ? " warmup" : ""));
    col.dataset.step = String(column.step);
    const head = el("div", "hm-head");
    head.textContent = column.row?.warmup ? "w" : column.step % 10 === 0 ? String(column.step) : "";
    col.append(head);
    for (let l = 0; l < this.layers; l++) {
      const cell = el("div", "hm-cell");
      cell.dataset.layer = String(l);
      if (column.row === null) {
        cell.classList.add("none");
      } else if (!column.row.ran[l]) {
        cell.classList.add("skipped");
      } else {
        const s = column.row.similarity[l]!;
        cell.style.background = similarityColor(s);
        if (this.triggers(column.row, l)) cell.classList.add("trigger");
      }
      col.append(cell);
    }
    const label = el("div", "hm-label");
    label.textContent = column.label.replace(/\s/g, "·");
    col.append(label);
    this.body.append(col);
    this.root.dataset.columns = String(this.columns.length);
    this.body.scrollLeft = this.body.scrollWidth; // follow the newest token
  }

  /** Whether layer l's similarity switched off the FFNs after it (the paper rule's trigger). */
  private triggers(row: TokenTrace, l: number): boolean {
    const p = this.policy;
    return p.kind === "paper" && !row.warmup && l >= p.coldStart && l < p.coldEnd && row.similarity[l]! >= p.threshold && l + 1 < p.coldEnd;
  }

  private hover(event: MouseEvent): void {
    const cell = (event.target as HTMLElement).closest<HTMLElement>(".hm-cell");
    const col = cell?.parentElement;
    if (!cell || !col?.dataset.step) {
      this.tooltip.hidden = true;
      return;
    }
    const column = this.columns.find((c) => c.step === Number(col.dataset.step));
    if (column === undefined) return;
    this.tooltip.replaceChildren(...this.explain(column, Number(cell.dataset.layer)));
    this.tooltip.hidden = false;
    const x = Math.min(event.clientX + 14, window.innerWidth - this.tooltip.offsetWidth - 8);
    const y = event.clientY + 16 + this.tooltip.offsetHeight > window.innerHeight ? event.clientY - this.tooltip.offsetHeight - 10 : event.clientY + 16;
    this.tooltip.style.left = `${x}px`;
    this.tooltip.style.top = `${y}px`;
  }

  /** The tooltip text for one cell: token, layer, similarity, and why the FFN ran or was skipped. */
  explain(column: Column, layer: number): HTMLElement[] {
    const title = el("div", "tt-title");
    title.textContent = `token ${column.step} ${JSON.stringify(column.label)} · layer ${layer}`;
    const body = el("div", "tt-body");
    const row = column.row;
    const p = this.policy;
    if (row === null) {
      body.textContent = "This token was sampled but never fed back through the model: generation ended right after it, so no layer ran for it.";
      return [title, body];
    }
    const s = row.similarity[layer]!;
    const simText = Number.isNaN(s) ? "" : `similarity ${s.toFixed(4)}`;
    if (!row.ran[layer]) {
      let reason = "skipped by the policy";
      if (p.kind === "paper") {
        for (let j = layer - 1; j >= Math.max(p.coldStart, layer - p.k); j--) {
          if (row.ran[j] && row.similarity[j]! >= p.threshold) {
            reason = `layer ${j}'s FFN barely changed the hidden state (similarity ${row.similarity[j]!.toFixed(4)} ≥ ${p.threshold}), so the FFNs of the next ${p.k} layer${p.k === 1 ? "" : "s"} were skipped for this token`;
            break;
          }
        }
      } else if (p.kind === "fixed") reason = "this layer is in the fixed skip set";
      else if (p.kind === "random") reason = "this layer was drawn at random for this token";
      body.textContent = `FFN skipped: ${reason}. Attention still ran, so nothing is missing from the KV cache.`;
      return [title, body];
    }
    let reason: string;
    if (p.kind === "off") reason = "skipping is off: every FFN runs.";
    else if (row.warmup) reason = `a warm-up token: the first ${"warmup" in p ? p.warmup : 0} generated tokens run every FFN.`;
    else if (p.kind === "paper" && (layer < p.coldStart || layer >= p.coldEnd)) reason = `a cold layer (outside ${p.coldStart}..${p.coldEnd - 1}): its FFN always runs.`;
    else if (this.triggers(row, layer)) reason = `≥ threshold ${p.kind === "paper" ? p.threshold : ""}: this FFN changed little, so the next ${p.kind === "paper" ? p.k : ""} FFNs are skipped.`;
    else if (p.kind === "paper") reason = `< threshold ${p.threshold}: this FFN changed the hidden state enough that nothing after it is skipped.`;
    else reason = "not in this token's skip set.";
    body.textContent = `FFN ran, ${simText}: ${reason}`;
    return [title, body];
  }
}

function coldRange(policy: SkipPolicy, layers: number): [number, number] | null {
  if (policy.kind === "paper" || policy.kind === "random") return [policy.coldStart, policy.coldEnd];
  return policy.kind === "off" ? null : [0, layers];
}

function el(tag: string, className: string): HTMLElement {
  const node = document.createElement(tag);
  node.className = className;
  return node;
}

/** The legend: the similarity colour scale with ticks, and the cell kinds. */
export function renderLegend(root: HTMLElement): void {
  root.replaceChildren();
  const scale = el("div", "lg-scale");
  const bar = el("div", "lg-bar");
  const stops = Array.from({ length: 61 }, (_, i) => `${colorAt(i / 60)} ${((i / 60) * 100).toFixed(1)}%`);
  bar.style.background = `linear-gradient(to right, ${stops.join(", ")})`;
  const ticks = el("div", "lg-ticks");
  SCALE.forEach(([s], i) => {
    const tick = el("span", "lg-tick");
    tick.style.left = `${((i / (SCALE.length - 1)) * 100).toFixed(1)}%`;
    tick.textContent = i === 0 ? `≤${s}` : String(s);
    ticks.append(tick);
  });
  const caption = el("div", "lg-caption");
  caption.textContent = "FFN ran: similarity of the hidden state before and after it (1 = unchanged)";
  scale.append(caption, bar, ticks);
  const kinds = el("div", "lg-kinds");
  for (const [cls, text] of [["skipped", "FFN skipped"], ["trigger", "reached the threshold: skips the next k"], ["none", "token not fed back"]] as const) {
    const item = el("span", "lg-item");
    const swatch = el("span", `hm-cell ${cls}`);
    if (cls === "trigger") swatch.style.background = similarityColor(0.985);
    item.append(swatch, document.createTextNode(text));
    kinds.append(item);
  }
  const warm = el("span", "lg-item");
  warm.innerHTML = "<b class=\"lg-w\">w</b>warm-up token &nbsp; <span class=\"lg-cold\"></span>cold layer";
  kinds.append(warm);
  root.append(scale, kinds);
}
