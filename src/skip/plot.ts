// The calibration plot as a standalone SVG (hand-written, no dependencies): per layer, the mean FFN input/output
// similarity with its p10-p90 spread and the cold regions shaded. Two panels: every layer on the full scale, and the
// middle region zoomed in with the paper policy's threshold and the fixed baseline's layers marked.

import type { SkipProfile } from "./profile.js";

const WIDTH = 880;
const PANEL_HEIGHT = 230;
const MARGIN = { left: 72, right: 24, top: 132, gap: 78, bottom: 70 };
const COLORS = { mean: "#1f5fa8", band: "#8fb4e3", cold: "#f2d7d5", coldEdge: "#d9a3a0", threshold: "#c0392b", fixed: "#2e8b57", grid: "#e3e3e3", axis: "#333333" };

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!);
}

const fmt = (v: number) => (Math.round(v * 100) / 100).toString();

/** Tick values from lo to hi at a "nice" step giving about `count` ticks. */
function ticks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(Math.round(v / step) * step);
  return out;
}

interface Panel {
  readonly top: number;
  readonly yLo: number;
  readonly yHi: number;
  readonly title: string;
  readonly zoom: boolean;
}

/** The plot for a calibrated profile. */
export function similarityPlotSvg(profile: SkipProfile): string {
  const { mean, p10, p90 } = profile.similarity;
  const L = mean.length;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const x = (layer: number) => MARGIN.left + ((layer + 0.5) / L) * plotW;
  const all = [...p10, ...mean, ...p90];
  const fullLo = Math.min(0, Math.floor(Math.min(...all) * 10) / 10);
  const middle = Array.from({ length: profile.coldEnd - profile.coldStart }, (_, i) => profile.coldStart + i);
  const midValues = middle.flatMap((l) => [p10[l]!, p90[l]!]).concat([profile.threshold]);
  const zoomLo = Math.floor((Math.min(...midValues) - 0.004) * 50) / 50;
  const zoomHi = Math.min(1, Math.ceil(Math.max(...midValues) * 50) / 50 + 0.005);
  const panels: Panel[] = [
    { top: MARGIN.top, yLo: fullLo, yHi: 1, title: "all layers", zoom: false },
    { top: MARGIN.top + PANEL_HEIGHT + MARGIN.gap, yLo: zoomLo, yHi: zoomHi, title: `middle region (layers ${profile.coldStart}–${profile.coldEnd - 1}), zoomed`, zoom: true },
  ];
  const height = MARGIN.top + 2 * PANEL_HEIGHT + MARGIN.gap + MARGIN.bottom;
  const out: string[] = [];
  out.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<title>FFN input/output similarity per layer: ${escapeXml(profile.model.name)}</title>`);
  out.push(`<rect x="0" y="0" width="${WIDTH}" height="${height}" fill="#ffffff"/>`);
  const name = profile.model.name.split(/[\\/]/).pop() ?? profile.model.name;
  const m = profile.measured;
  const ppl = m.perplexityFull !== undefined && m.perplexitySkip !== undefined
    ? `Calibration perplexity: ${m.perplexityFull} full, ${m.perplexitySkip} with the paper policy` +
      (m.perplexityFixed !== undefined && m.perplexityRandom !== undefined
        ? `; ${profile.fixedLayers.length} layers (${(100 * (m.fixedRatio ?? profile.fixedLayers.length / L)).toFixed(1)}%) skipped: ${m.perplexityFixed} fixed, ${m.perplexityRandom} random`
        : "") + "."
    : "";
  const lines = [
    `${name}, full model: mean and p10–p90 over ${m.tokens} calibration tokens.`,
    `Calibration data: ${m.data}.`,
    `Paper policy: threshold ${profile.threshold}, k ${profile.k}, warm-up ${profile.warmup}: ${(100 * m.ratioAfterWarmup).toFixed(1)}% of FFNs skipped after warm-up (target ${(100 * profile.target).toFixed(0)}%, ${(100 * m.ratio).toFixed(1)}% with it).`,
    ppl,
  ].filter((l) => l !== "");
  out.push(`<text x="${MARGIN.left}" y="24" font-size="16" font-weight="bold">FFN input/output similarity per layer: cos(h, h + FFN(RMSNorm(h)))</text>`);
  lines.forEach((line, i) => out.push(`<text x="${MARGIN.left}" y="${44 + 17 * i}" fill="#555555">${escapeXml(line)}</text>`));
  panels.forEach((panel, index) => {
    const y = (v: number) => panel.top + ((panel.yHi - v) / (panel.yHi - panel.yLo)) * PANEL_HEIGHT;
    const clip = `clip${index}`;
    out.push(`<g class="panel" id="panel-${panel.zoom ? "zoom" : "all"}">`);
    out.push(`<defs><clipPath id="${clip}"><rect x="${MARGIN.left}" y="${panel.top}" width="${plotW}" height="${PANEL_HEIGHT}"/></clipPath></defs>`);
    out.push(`<text x="${MARGIN.left}" y="${panel.top - 8}" font-weight="bold">${escapeXml(panel.title)}</text>`);
    // Cold regions.
    const coldRanges: [number, number][] = [[0, profile.coldStart], [profile.coldEnd, L]];
    for (const [a, b] of coldRanges) {
      if (b <= a) continue;
      const x0 = MARGIN.left + (a / L) * plotW;
      const x1 = MARGIN.left + (b / L) * plotW;
      out.push(`<rect class="cold" x="${x0.toFixed(1)}" y="${panel.top}" width="${(x1 - x0).toFixed(1)}" height="${PANEL_HEIGHT}" fill="${COLORS.cold}" stroke="${COLORS.coldEdge}" stroke-width="0.5"/>`);
    }
    // Grid and y axis.
    for (const t of ticks(panel.yLo, panel.yHi, panel.zoom ? 6 : 5)) {
      out.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="${COLORS.grid}" stroke-width="1"/>`);
      out.push(`<text x="${MARGIN.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
    }
    // The p10-p90 band and the mean.
    const layersShown = Array.from({ length: L }, (_, l) => l);
    const band = [...layersShown.map((l) => `${x(l).toFixed(1)},${y(p90[l]!).toFixed(1)}`), ...layersShown.reverse().map((l) => `${x(l).toFixed(1)},${y(p10[l]!).toFixed(1)}`)].join(" ");
    out.push(`<g clip-path="url(#${clip})">`);
    out.push(`<polygon class="spread" points="${band}" fill="${COLORS.band}" fill-opacity="0.55" stroke="none"/>`);
    out.push(`<polyline class="mean" points="${Array.from({ length: L }, (_, l) => `${x(l).toFixed(1)},${y(mean[l]!).toFixed(1)}`).join(" ")}" fill="none" stroke="${COLORS.mean}" stroke-width="2"/>`);
    for (let l = 0; l < L; l++) out.push(`<circle class="point" cx="${x(l).toFixed(1)}" cy="${y(mean[l]!).toFixed(1)}" r="2.8" fill="${COLORS.mean}"><title>layer ${l}: mean ${mean[l]}, p10 ${p10[l]}, p90 ${p90[l]}</title></circle>`);
    if (panel.zoom) {
      out.push(`<line class="threshold" x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(profile.threshold).toFixed(1)}" y2="${y(profile.threshold).toFixed(1)}" stroke="${COLORS.threshold}" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    }
    out.push(`</g>`);
    if (panel.zoom) {
      out.push(`<text x="${MARGIN.left + plotW - 4}" y="${(y(profile.threshold) - 5).toFixed(1)}" text-anchor="end" fill="${COLORS.threshold}">threshold ${profile.threshold}</text>`);
      for (const l of profile.fixedLayers) {
        const bx = x(l);
        const by = panel.top + PANEL_HEIGHT;
        out.push(`<path class="fixed" d="M${bx.toFixed(1)},${(by - 9).toFixed(1)} l-5,9 h10 z" fill="${COLORS.fixed}"><title>fixed baseline skips layer ${l}</title></path>`);
      }
    }
    // Frame and x axis.
    out.push(`<rect x="${MARGIN.left}" y="${panel.top}" width="${plotW}" height="${PANEL_HEIGHT}" fill="none" stroke="${COLORS.axis}" stroke-width="1"/>`);
    const every = L <= 32 ? 1 : L <= 64 ? 2 : 5;
    for (let l = 0; l < L; l++) {
      const bottom = panel.top + PANEL_HEIGHT;
      out.push(`<line x1="${x(l).toFixed(1)}" x2="${x(l).toFixed(1)}" y1="${bottom}" y2="${bottom + 4}" stroke="${COLORS.axis}"/>`);
      if (l % every === 0) out.push(`<text x="${x(l).toFixed(1)}" y="${bottom + 17}" text-anchor="middle" font-size="11">${l}</text>`);
    }
    out.push(`<text x="${MARGIN.left + plotW / 2}" y="${panel.top + PANEL_HEIGHT + 34}" text-anchor="middle">layer</text>`);
    const cy = panel.top + PANEL_HEIGHT / 2;
    out.push(`<text x="18" y="${cy}" text-anchor="middle" transform="rotate(-90 18 ${cy})">cosine similarity</text>`);
    out.push(`</g>`);
  });

  // Legend.
  const ly = height - 22;
  let lx = MARGIN.left;
  const item = (swatch: string, label: string) => {
    out.push(`<g class="legend-item" transform="translate(${lx} ${ly})">${swatch}<text x="26" y="4">${escapeXml(label)}</text></g>`);
    lx += 44 + label.length * 7;
  };
  out.push(`<g class="legend">`);
  item(`<line x1="0" x2="20" y1="0" y2="0" stroke="${COLORS.mean}" stroke-width="2"/><circle cx="10" cy="0" r="2.8" fill="${COLORS.mean}"/>`, "mean");
  item(`<rect x="0" y="-6" width="20" height="12" fill="${COLORS.band}" fill-opacity="0.55"/>`, "p10–p90");
  item(`<rect x="0" y="-6" width="20" height="12" fill="${COLORS.cold}" stroke="${COLORS.coldEdge}" stroke-width="0.5"/>`, `cold (always run): ${coldLabel(profile.coldStart, profile.coldEnd, L)}`);
  item(`<line x1="0" x2="20" y1="0" y2="0" stroke="${COLORS.threshold}" stroke-width="1.5" stroke-dasharray="6 4"/>`, "threshold");
  item(`<path d="M10,-5 l-5,9 h10 z" fill="${COLORS.fixed}"/>`, `fixed baseline layers (${profile.fixedLayers.length})`);
  out.push(`</g>`);
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}

function coldLabel(coldStart: number, coldEnd: number, layers: number): string {
  const range = (a: number, b: number) => (b - a === 1 ? `${a}` : `${a}–${b - 1}`);
  return [coldStart > 0 ? range(0, coldStart) : "", coldEnd < layers ? range(coldEnd, layers) : ""].filter((s) => s !== "").join(", ");
}
