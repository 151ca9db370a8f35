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
// run of deltas of one step is one item: both fold to the same state.

const ENDED = new Set(["complete", "error", "cancelled", "interrupted"]);

function initialState() {
  return {
    runId: "", task: "", model: "", strategy: "",
    status: "pending", // pending, running, complete, error, cancelled or interrupted
    startedAt: null, endedAt: null, goal: null,
    phases: new Map(), // by id, in plan order
    steps: new Map(), // thinking steps, messages and tool calls by id, in arrival order
    currentPhaseId: null,
    tokens: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
    retries: [],
    result: null, error: null, errorStack: null, cancelReason: null,
    duration: null, // wall time in ms, once the run has ended
    costUsd: null, eventCount: 0, lastEventId: 0,
  };
}

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
  ({ stepId, phaseId, toolName, params, result: null, duration: null, isError: false, status: "running", kind: "tool" });
const phaseState = (id, name, description, index) =>
  ({ id, name, description, index, status: "pending", summary: "" });

/**
 * Fold one event into `state` in place. Returns what changed:
 * `{steps, phases, plan, retry, ended}`: the steps and phases it touched (as they now are), whether
 * it brought the plan, the retry note it added, and whether it ended the run. Unknown types only
 * advance the count.
 */
function apply(state, event) {
  const d = event.data || {};
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
    case "message":
      changed.steps.push(put(state, messageStep(d.stepId, d.phaseId ?? null, d.text, "complete")));
      break;
    case "tool:start":
      changed.steps.push(put(state, toolCall(d.toolUseId, d.phaseId ?? null, d.toolName, d.params)));
      break;
    case "tool:complete": {
      let call = state.steps.get(d.toolUseId);
      if (!call || call.kind !== "tool") call = put(state, toolCall(d.toolUseId, null, d.toolName, {})); // no start: keep what we know
      call.result = d.result;
      call.duration = d.duration;
      call.isError = !!d.isError;
      call.status = d.isError ? "error" : "complete";
      changed.steps.push(call);
      break;
    }
    case "usage":
      state.tokens = { input: d.input ?? 0, output: d.output ?? 0, cacheRead: d.cacheRead ?? 0, cacheWrite: d.cacheWrite ?? 0 };
      break;
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
      state.currentPhaseId = d.phaseId;
      changed.phases.push(phase);
      break;
    }
    case "phase:complete": {
      const phase = state.phases.get(d.phaseId);
      if (phase) {
        phase.status = "complete";
        phase.summary = d.summary ?? "";
        changed.phases.push(phase);
      }
      if (state.currentPhaseId === d.phaseId) state.currentPhaseId = null;
      break;
    }
    case "model:retry":
      changed.retry = { attempt: d.attempt, reason: d.reason, delayMs: d.delayMs };
      state.retries.push(changed.retry);
      interruptStreaming(state, changed);
      break;
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
      changed.phases.push(phase);
    }
  }
  state.currentPhaseId = null;
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
  return structuredClone({
    ...state,
    phases: [...state.phases.values()].map((phase) => ({ ...phase, steps: stepsOf(phase.id) })),
    steps: stepsOf(null),
  });
}

export { initialState, apply, fold, snapshot, finished };
