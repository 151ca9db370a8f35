// Agent Workbench: the numbers a researcher looks for — time, tokens, cost, model calls, "Now:".
//
// The figures come from the run model (run_model.js: per-phase times and tokens, `modelCalls`,
// `now`, all derived from event timestamps). The cost of a finished run is the `costUsd` its
// `execution:complete` carries; until then it is estimated here from the price table the kernel
// sends (`prices` trait: workbench/core/pricing.py's `price_table()`, longest prefix first), so the
// front end has no price list of its own.

import { h, tid, fmtInt, fmtMs } from "./dom.js";

/** The prices of `model` in `table` ([[prefix, prices or null], …], longest first), as pricing.prices_for. */
function pricesFor(table, model) {
  for (const [prefix, prices] of table || []) if (model && model.startsWith(prefix)) return prices;
  return null;
}

/** What `tokens` cost on `model` in USD, or null: the same sum, in the same order, as pricing.cost_usd. */
function estimateCost(table, model, tokens) {
  const p = pricesFor(table, model);
  if (!p) return null;
  return (tokens.input * p.input + tokens.output * p.output + tokens.cacheRead * p.cacheRead
    + tokens.cacheWrite * p.cacheWrite) / 1_000_000;
}

const fmtCost = (usd) => `$${usd < 0.1 ? usd.toFixed(4) : usd.toFixed(2)}`;

function fmtTokens(t) {
  let text = `${fmtInt(t.input)} in · ${fmtInt(t.output)} out`;
  if (t.cacheRead) text += ` · ${fmtInt(t.cacheRead)} cache read`;
  if (t.cacheWrite) text += ` · ${fmtInt(t.cacheWrite)} cache write`;
  return text;
}

const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/**
 * The run's cost: what its end said, else an estimate at list prices (`estimated: true`: a live run,
 * a stopped one, a run file written before costUsd was filled in), else null (no price for its model).
 */
function runCost(state, prices, model) {
  if (state.costUsd != null) return { usd: state.costUsd, estimated: false };
  const usd = estimateCost(prices && prices.table, model, state.tokens);
  return usd == null ? null : { usd, estimated: true };
}

/** One phase's figures for its row: "1.7 s · 2,675 in · 400 out", or "" before it used anything. */
function phaseFigures(phase) {
  const parts = [];
  if (phase.duration != null) parts.push(fmtMs(phase.duration));
  const t = phase.tokens;
  if (t && (t.input || t.output || t.cacheRead || t.cacheWrite)) parts.push(fmtTokens(t));
  return parts.join(" · ");
}

// The header's detail: a "Now:" line while live, and the run's figures.
class RunNumbers {
  constructor(opts) {
    this.opts = opts; // {prices, readonly}
    this.el = tid(h("div", "wb-numbers"), "numbers");
    this.nowEl = tid(h("div", "wb-now"), "now");
    this.detailEl = tid(h("div", "wb-numbers-detail"), "numbers-detail");
    this.el.append(this.nowEl, this.detailEl);
  }

  render(state, model, elapsed) {
    const live = (state.status === "running" || state.status === "paused") && !this.opts.readonly;
    this.nowEl.hidden = !live || !state.now;
    if (live) this.nowEl.textContent = `Now: ${state.now}`;
    const parts = [];
    if (elapsed) parts.push(`time ${elapsed}`);
    const t = state.tokens;
    if (t.input || t.output || t.cacheRead || t.cacheWrite) parts.push(`tokens ${fmtTokens(t)}`);
    const cost = runCost(state, this.opts.prices, model);
    if (cost) parts.push(cost.estimated ? `cost ≈ ${fmtCost(cost.usd)}` : `cost ${fmtCost(cost.usd)}`);
    const calls = state.modelCalls;
    if (calls.length) {
      parts.push(`${fmtInt(calls.length)} model call${calls.length === 1 ? "" : "s"}`);
      const ttft = mean(calls.filter((c) => c.ttft != null).map((c) => c.ttft));
      if (ttft != null) parts.push(`mean time to first token ${fmtMs(ttft)}`);
      parts.push(`mean latency ${fmtMs(mean(calls.map((c) => c.duration)))}`);
    }
    this.detailEl.textContent = parts.join(" · ");
    this.detailEl.hidden = !parts.length;
    const checked = this.opts.prices && this.opts.prices.checked;
    // The line may be cut to one line in a steady view: its title holds it whole.
    const note = cost && checked ? `\nCost at Anthropic's list prices, checked ${checked}` : "";
    this.detailEl.title = parts.length ? parts.join(" · ") + note : "";
  }
}

export { pricesFor, estimateCost, fmtCost, fmtTokens, runCost, phaseFigures, RunNumbers };
