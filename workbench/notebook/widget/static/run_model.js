// Agent Workbench: the run model of the front end. Plain data: no DOM, no imports.
//
// The one place the front end folds events. It mirrors workbench/reducer.py: `initialState()`
// is `RunState()`, `apply(state, event)` is `_apply` (it changes `state` in place, as `fold`
// does, since copying the state per event would make a long run quadratic), and `snapshot(state)`
// has the shape of `RunState.to_dict()`. tests/test_run_model_browser.py checks in Chromium that
// `snapshot(fold(events.slice(0, k)))` equals Python's `fold(events[:k]).to_dict()`.
//
// `apply` also says what the event changed, so a renderer can patch only that. It takes raw
// envelopes (the inspector) and the items the kernel sends (workbench/notebook/widget/messages.py), where a
// run of deltas of one step is one item (`firstTs` the first delta's time): both fold to the same state.
//
// Times, tokens per phase and per model call, and `now` follow workbench/core/progress.py (its
// docstring says how a model call's start is derived): `tracking` mirrors its `Tracking`.

const ENDED = new Set(["complete", "error", "cancelled", "interrupted"]);
const ENDED_NOW = { complete: "done", error: "failed", cancelled: "cancelled", interrupted: "interrupted" };
const BOUNDARY_TYPES = new Set(["execution:started", "plan:created", "phase:start", "phase:complete", "tool:complete",
  "tool:decision", "usage", "model:retry", "execution:resumed", "run:forked", "run:resumed"]);
const OUTPUT_TYPES = new Set(["thinking:delta", "text:delta", "thinking", "message", "text"]);

function initialState() {
  return {
    runId: "", task: "", model: "", strategy: "",
    status: "pending", // pending, running, paused, complete, error, cancelled or interrupted
    startedAt: null, endedAt: null, goal: null,
    phases: new Map(), // by id, in plan order
    steps: new Map(), // thinking steps, messages and tool calls by id, in arrival order
    currentPhaseId: null,
    tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
    retries: [],
    result: null, error: null, errorStack: null, cancelReason: null,
    duration: null, // wall time in ms, once the run has ended
    costUsd: null, eventCount: 0, lastEventId: 0,
    modelCalls: [], // every model call that reached its usage event
    paused: null, // where a paused run waits: {reason, before, toolUseId, since}
    waiting: [], // toolUseIds of the tool calls waiting for a decision
    waited: 0, // ms spent waiting for a person, which duration includes
    now: "", // what the agent is doing right now
    tracking: tracking(), // the fold's bookkeeping for the two above; not in the snapshot
  };
}

const tracking = () => ({ lastTs: null, boundaryTs: null, callStart: null, callFirst: null, streaming: null, tools: new Map(), paused: false, waitingSince: null, retry: null });
const zero = () => ({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0 });
const usageOf = (d) => ({ input: d.input ?? 0, output: d.output ?? 0, cacheRead: d.cacheRead ?? 0, cacheWrite: d.cacheWrite ?? 0 });
const minus = (a, b) => ({ input: a.input - b.input, output: a.output - b.output, cacheRead: a.cacheRead - b.cacheRead, cacheWrite: a.cacheWrite - b.cacheWrite });
const plus = (a, b) => ({ input: a.input + b.input, output: a.output + b.output, cacheRead: a.cacheRead + b.cacheRead, cacheWrite: a.cacheWrite + b.cacheWrite });

/** Whether a terminal event has been folded. */
function finished(state) {
  return ENDED.has(state.status);
}

// The steps, with exactly the fields of reducer.py's dataclasses (camelCase).
const thinkingStep = (stepId, phaseId, text = "", iteration = 0, status = "streaming", redacted = false) =>
  ({ stepId, phaseId, text, iteration, status, redacted, kind: "thinking" });
const messageStep = (stepId, phaseId, text = "", status = "streaming") =>
  ({ stepId, phaseId, text, status, kind: "message" });
const toolCall = (stepId, phaseId, toolName, params) =>
  ({ stepId, phaseId, toolName, params, result: null, duration: null, isError: false, status: "running",
    decision: null, decidedParams: null, note: null, decidedBy: null, kind: "tool" });
const userStep = (stepId, phaseId, text, by) => ({ stepId, phaseId, text, by, status: "complete", kind: "user" });
const phaseState = (id, name, description, index) =>
  ({ id, name, description, index, status: "pending", summary: "", startedAt: null, endedAt: null, duration: null, tokens: zero(),
     forkedGap: 0 });

/**
 * Fold one event into `state` in place. Returns what changed:
 * `{steps, phases, plan, retry, ended}`: the steps and phases it touched (as they now are), whether
 * it brought the plan, the retry note it added, and whether it ended the run. Unknown types only
 * advance the count.
 */
function apply(state, event) {
  const changed = foldEvent(state, event);
  state.tracking.lastTs = event.ts;
  if (finished(state)) state.now = ENDED_NOW[state.status];
  else {
    if (BOUNDARY_TYPES.has(event.type)) state.tracking.boundaryTs = event.ts;
    state.now = state.status === "running" ? nowOf(state) : state.status === "paused" ? waitingNow(state) : "starting";
  }
  return changed;
}

// progress.Tracking.before: a call's first output fixes its start; deltas say thinking or writing.
function trackBefore(t, event) {
  const kind = event.type;
  if (OUTPUT_TYPES.has(kind) && t.callStart == null) {
    t.callStart = t.boundaryTs || event.ts;
    t.callFirst = event.firstTs || event.ts; // a merged item's first delta
    t.retry = null;
  }
  if (kind === "thinking:delta") t.streaming = "thinking";
  else if (kind === "text:delta") t.streaming = "writing";
  else if (OUTPUT_TYPES.has(kind)) t.streaming = null;
  else if (kind === "execution:paused") t.paused = true;
  else if (kind === "execution:resumed") t.paused = false;
}

// progress.Tracking.now
function nowOf(state) {
  const t = state.tracking;
  if (t.paused) return "paused";
  if (t.tools.size) return "calling " + [...new Set(t.tools.values())].join(", ");
  if (t.retry != null) return "retrying the model";
  if (state.strategy === "plan" && state.goal == null) return "planning";
  return t.streaming || "waiting for the model";
}

// reducer._waiting_now: what a paused run waits for.
function waitingNow(state) {
  if (state.waiting.length) {
    const names = state.waiting.map((id) => state.steps.get(id)).filter((s) => s && s.kind === "tool").map((s) => s.toolName);
    return "waiting for your decision on " + [...new Set(names)].join(", ");
  }
  const pause = state.paused;
  if (pause && pause.before === "tool") {
    const call = state.steps.get(pause.toolUseId || "");
    return `paused before calling ${call && call.kind === "tool" ? call.toolName : "a tool"}`;
  }
  return "paused before the next model call";
}

// reducer._start_waiting / _stop_waiting: time spent waiting for a person goes to `waited`.
function startWaiting(state, ts) {
  state.status = "paused";
  if (state.tracking.waitingSince == null) state.tracking.waitingSince = ts;
}

function stopWaiting(state, ts) {
  const since = state.tracking.waitingSince;
  if (since != null) {
    state.waited += Math.max(0, Date.parse(ts) - Date.parse(since));
    state.tracking.waitingSince = null;
  }
}

// progress.Tracking.end_call: the model call a usage event ends.
function endCall(t, ts, phaseId, index, tokens) {
  const start = t.callStart || t.boundaryTs || ts;
  const ttft = t.callFirst ? Date.parse(t.callFirst) - Date.parse(start) : null;
  t.callStart = t.callFirst = t.streaming = t.retry = null;
  return { phaseId, index, startedAt: start, ttft, duration: Date.parse(ts) - Date.parse(start), tokens };
}

function phaseEnded(phase, ts) {
  phase.endedAt = ts;
  phase.duration = phase.startedAt ? Date.parse(ts) - Date.parse(phase.startedAt) - phase.forkedGap : null;
}

function foldEvent(state, event) {
  const d = event.data || {};
  trackBefore(state.tracking, event);
  const changed = { steps: [], phases: [], plan: false, retry: null, ended: false };
  // An item the kernel sends may be several deltas of one step merged (ids firstId..id).
  state.eventCount += event.firstId ? event.id - event.firstId + 1 : 1;
  state.lastEventId = event.id;
  switch (event.type) {
    case "thinking:delta":
    case "text:delta": {
      const phaseId = d.phaseId ?? null;
      let step = state.steps.get(d.stepId);
      if (!step) {
        step = event.type === "thinking:delta" ? thinkingStep(d.stepId, phaseId) : messageStep(d.stepId, phaseId);
        state.steps.set(d.stepId, step);
      }
      step.text += d.delta ?? "";
      changed.steps.push(step);
      break;
    }
    case "thinking":
      changed.steps.push(put(state, thinkingStep(d.stepId, d.phaseId ?? null, d.thought, d.iteration, "complete", !!d.redacted)));
      break;
    case "message": // version 1's name of "text" (contract section 2)
    case "text":
      changed.steps.push(put(state, messageStep(d.stepId, d.phaseId ?? null, d.text, "complete")));
      break;
    case "tool:start":
      changed.steps.push(put(state, toolCall(d.toolUseId, d.phaseId ?? null, d.toolName, d.params)));
      state.tracking.tools.set(d.toolUseId, d.toolName);
      break;
    case "tool:complete": {
      state.tracking.tools.delete(d.toolUseId);
      let call = state.steps.get(d.toolUseId);
      if (!call || call.kind !== "tool") call = put(state, toolCall(d.toolUseId, null, d.toolName, {})); // no start: keep what we know
      call.result = d.result;
      call.duration = d.duration;
      call.isError = !!d.isError;
      call.status = call.decision === "deny" ? "denied" : d.isError ? "error" : "complete";
      changed.steps.push(call);
      break;
    }
    case "usage": {
      const totals = usageOf(d);
      const charged = state.currentPhaseId ? state.phases.get(state.currentPhaseId) : null;
      const call = endCall(state.tracking, event.ts, state.currentPhaseId, state.modelCalls.length, minus(totals, state.tokens));
      state.modelCalls.push(call);
      if (charged) {
        charged.tokens = plus(charged.tokens, call.tokens);
        changed.phases.push(charged);
      }
      state.tokens = totals;
      break;
    }
    case "execution:started":
      state.runId = event.runId;
      state.task = d.task;
      state.model = d.model;
      state.strategy = d.strategy;
      state.status = "running";
      state.startedAt = d.startedAt;
      break;
    case "plan:created": {
      const plan = d.plan || {};
      state.goal = plan.goal;
      state.phases = new Map((plan.phases || []).map((p, i) => [p.id, phaseState(p.id, p.name, p.description ?? "", i)]));
      changed.plan = true;
      changed.phases.push(...state.phases.values());
      break;
    }
    case "phase:start": {
      let phase = state.phases.get(d.phaseId);
      if (!phase) { // a phase the plan did not name (an agent of one's own may do this)
        phase = phaseState(d.phaseId, d.phaseName, "", d.phaseIndex);
        state.phases.set(d.phaseId, phase);
      }
      phase.status = "running";
      phase.startedAt = event.ts;
      phase.endedAt = phase.duration = null;
      state.currentPhaseId = d.phaseId;
      changed.phases.push(phase);
      break;
    }
    case "phase:complete": {
      const phase = state.phases.get(d.phaseId);
      if (phase) {
        phase.status = "complete";
        phase.summary = d.summary ?? "";
        phaseEnded(phase, event.ts);
        changed.phases.push(phase);
      }
      if (state.currentPhaseId === d.phaseId) state.currentPhaseId = null;
      break;
    }
    case "run:resumed": // another worker took the run over: the half-done turn's steps end here
      interruptStreaming(state, changed);
      break;
    case "model:retry":
      changed.retry = { attempt: d.attempt, reason: d.reason, delayMs: d.delayMs };
      state.retries.push(changed.retry);
      interruptStreaming(state, changed);
      Object.assign(state.tracking, { callStart: null, callFirst: null, streaming: null, retry: d.attempt });
      break;
    case "execution:paused":
      state.paused = { reason: d.reason, before: d.before, toolUseId: d.toolUseId ?? null, since: event.ts };
      startWaiting(state, event.ts);
      break;
    case "execution:resumed":
      state.paused = null;
      if (!state.waiting.length) {
        stopWaiting(state, event.ts);
        state.status = "running";
      }
      break;
    case "tool:approval": {
      const call = state.steps.get(d.toolUseId);
      if (call && call.kind === "tool") {
        call.status = "waiting";
        changed.steps.push(call);
      }
      if (!state.waiting.includes(d.toolUseId)) state.waiting.push(d.toolUseId);
      startWaiting(state, event.ts);
      break;
    }
    case "tool:decision": {
      const call = state.steps.get(d.toolUseId);
      if (call && call.kind === "tool") {
        Object.assign(call, { decision: d.decision, decidedParams: d.params ?? null, note: d.note ?? null, decidedBy: d.by ?? null });
        call.status = "running"; // a denied call's tool:complete follows and says so
        changed.steps.push(call);
      }
      state.waiting = state.waiting.filter((id) => id !== d.toolUseId);
      if (!state.waiting.length && state.paused == null) {
        stopWaiting(state, event.ts);
        state.status = "running";
      }
      break;
    }
    case "run:forked": { // reducer.py: a phase the fork point falls in did not spend the time between
      const phase = state.phases.get(state.currentPhaseId);
      if (phase && phase.status === "running" && state.tracking.lastTs) {
        phase.forkedGap += Date.parse(event.ts) - Date.parse(state.tracking.lastTs);
        changed.phases.push(phase);
      }
      break;
    }
    case "user:message": {
      const stepId = `u${event.id}`;
      changed.steps.push(put(state, userStep(stepId, d.phaseId ?? null, d.text, d.by ?? null)));
      break;
    }
    case "execution:complete":
      end(state, event, "complete", changed);
      state.result = d.result;
      state.duration = d.duration;
      state.tokens = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, ...d.tokensUsed };
      state.costUsd = d.costUsd ?? null;
      break;
    case "execution:error": {
      // An interrupted run ends with an error event of its own type (the server stopped).
      const error = { ...d.error };
      end(state, event, error.type === "interrupted" ? "interrupted" : "error", changed);
      state.error = error;
      state.errorStack = d.stack ?? null;
      break;
    }
    case "execution:cancelled":
      end(state, event, "cancelled", changed);
      state.cancelReason = d.reason;
      state.duration = d.duration;
      break;
    default:
      break; // unknown types are ignored (forward compatibility)
  }
  return changed;
}

// A whole step replaces the one of its id, in the place that id first took (as a dict does).
function put(state, step) {
  state.steps.set(step.stepId, step);
  return step;
}

// Steps left streaming when a model call fails will never complete.
function interruptStreaming(state, changed) {
  for (const step of state.steps.values()) {
    if (step.status === "streaming") {
      step.status = "interrupted";
      changed.steps.push(step);
    }
  }
}

function end(state, event, status, changed) {
  stopWaiting(state, event.ts);
  for (const id of state.waiting) {
    const call = state.steps.get(id);
    if (call && call.kind === "tool") call.status = "running"; // marked interrupted below, as every call left open
  }
  state.waiting = [];
  state.status = status;
  state.endedAt = event.ts;
  interruptStreaming(state, changed);
  for (const step of state.steps.values()) {
    if (step.kind === "tool" && step.status === "running") {
      step.status = "interrupted";
      changed.steps.push(step);
    }
  }
  for (const phase of state.phases.values()) {
    if (phase.status === "running") {
      // As reducer.py: a phase the person stopped is "cancelled", apart from one that broke ("failed").
      phase.status = status === "complete" ? "complete" : status === "cancelled" ? "cancelled" : "failed";
      phaseEnded(phase, event.ts);
      changed.phases.push(phase);
    }
  }
  state.currentPhaseId = null;
  state.tracking = tracking();
  changed.ended = true;
}

/** A fresh state with `events` folded in. */
function fold(events) {
  const state = initialState();
  for (const event of events) apply(state, event);
  return state;
}

/** The state as plain JSON, shaped as `RunState.to_dict()`: phases in order with their steps nested. */
function snapshot(state) {
  const steps = [...state.steps.values()];
  const stepsOf = (phaseId) => steps.filter((step) => step.phaseId === phaseId);
  const { tracking: _bookkeeping, ...shown } = state;
  return structuredClone({
    ...shown,
    phases: [...state.phases.values()].map((phase) => ({ ...phase, steps: stepsOf(phase.id) })),
    steps: stepsOf(null),
  });
}

export { initialState, apply, fold, snapshot, finished };
