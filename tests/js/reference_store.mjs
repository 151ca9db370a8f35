// A client written for the reference system, the way its README (../shared/reference/) describes
// its Zustand `agentStore` and `useAgentSSE` hook, for tests/test_reference_client.py. It knows
// nothing of this project: it reads the nine reference event types, with their fields at the top
// level of `data`, from `?profile=reference`, through the browser's EventSource API.
//
// Store: currentExecution {id, task, status: running|complete|error, startedAt, plan {goal,
// phases [{id, name, description, status: pending|active|complete}]}, currentPhase, result,
// duration, tokensUsed, error, stack}; thinkingSteps [{id, type: thinking, thought, iteration,
// phaseId, status} | {id, type: tool, toolName, params, result, duration, phaseId, status:
// running|complete}]; error (the connection's, not the run's).

export const EVENT_TYPES = [
  "execution:started", "plan:created", "phase:start", "thinking", "tool:start", "tool:complete",
  "phase:complete", "execution:complete", "execution:error",
];
const TERMINAL = new Set(["execution:complete", "execution:error"]);

export const initialState = { currentExecution: null, thinkingSteps: [], error: null, isConnected: false };

function withExecution(state, change) {
  const execution = state.currentExecution ?? {
    id: null, task: null, status: "running", startedAt: null, plan: null, currentPhase: null,
    result: null, duration: null, tokensUsed: null, error: null, stack: null,
  };
  return { ...state, currentExecution: { ...execution, ...change(execution) } };
}

function withPhase(execution, phaseId, status) {
  if (!execution.plan) return {};
  const phases = execution.plan.phases.map((p) => (p.id === phaseId ? { ...p, status } : p));
  return { plan: { ...execution.plan, phases } };
}

/** The store's next state after one reference event: a plain reducer, as the store's handlers are. */
export function reduceAgentEvent(state, type, data) {
  const phaseId = state.currentExecution?.currentPhase ?? null;
  const nextId = `step-${state.thinkingSteps.length + 1}`;
  switch (type) {
    case "execution:started":
      return {
        ...withExecution(state, () => ({
          id: data.executionId, task: data.task, startedAt: data.startedAt, status: "running",
        })),
        thinkingSteps: [],
      };
    case "plan:created":
      return withExecution(state, () => ({
        plan: { goal: data.plan.goal, phases: data.plan.phases.map((p) => ({ ...p, status: "pending" })) },
      }));
    case "phase:start":
      return withExecution(state, (e) => ({ ...withPhase(e, data.phaseId, "active"), currentPhase: data.phaseId }));
    case "phase:complete":
      return withExecution(state, (e) => ({
        ...withPhase(e, data.phaseId, "complete"),
        currentPhase: e.currentPhase === data.phaseId ? null : e.currentPhase,
      }));
    case "thinking":
      return {
        ...state,
        thinkingSteps: [...state.thinkingSteps, {
          id: nextId, type: "thinking", thought: data.thought, iteration: data.iteration, phaseId,
          timestamp: data.timestamp, status: "complete",
        }],
      };
    case "tool:start":
      return {
        ...state,
        thinkingSteps: [...state.thinkingSteps, {
          id: nextId, type: "tool", toolName: data.toolName, params: data.params, result: null, duration: null,
          phaseId, timestamp: data.timestamp, status: "running",
        }],
      };
    case "tool:complete": {
      // The reference events carry no call id: the oldest running call of that tool is the one that ended.
      const at = state.thinkingSteps.findIndex((s) => s.type === "tool" && s.status === "running" && s.toolName === data.toolName);
      if (at === -1) return state;
      const steps = [...state.thinkingSteps];
      steps[at] = { ...steps[at], result: data.result, duration: data.duration, status: "complete" };
      return { ...state, thinkingSteps: steps };
    }
    case "execution:complete":
      return withExecution(state, () => ({
        status: "complete", result: data.result, duration: data.duration, tokensUsed: data.tokensUsed,
      }));
    case "execution:error":
      return withExecution(state, () => ({ status: "error", error: data.error, stack: data.stack }));
    default:
      return state;
  }
}

/** Zustand's vanilla `create`, as small as this needs: getState, setState, subscribe. */
export function createStore(initializer) {
  let state;
  const listeners = new Set();
  const getState = () => state;
  const setState = (partial) => {
    const next = typeof partial === "function" ? partial(state) : partial;
    if (next === state) return;
    const previous = state;
    state = { ...state, ...next };
    for (const listener of listeners) listener(state, previous);
  };
  state = initializer(setState, getState);
  return { getState, setState, subscribe: (listener) => (listeners.add(listener), () => listeners.delete(listener)) };
}

export function createAgentStore() {
  return createStore((set) => ({
    ...initialState,
    handleSSEEvent: (type, data) => set((state) => reduceAgentEvent(state, type, data)),
    setConnected: (isConnected) => set({ isConnected }),
    setError: (error) => set({ error }),
    reset: () => set({ ...initialState }),
  }));
}

/**
 * useAgentSSE(executionId) as a function: opens the EventSource of the execution's reference
 * stream, feeds every event to the store, and closes on the terminal event (the README's
 * "Connection closes on completion"). The token goes in the URL: an EventSource sets no headers.
 * Returns {source, closed}: `closed` resolves once the source is CLOSED, by the hook or by the server.
 */
export function useAgentSSE(executionId, { baseUrl, token, store, EventSourceImpl, closeOnEnd = true }) {
  const url = new URL(`${baseUrl}/runs/${encodeURIComponent(executionId)}/events`);
  url.searchParams.set("profile", "reference");
  if (token) url.searchParams.set("token", token);
  const source = new EventSourceImpl(url.href);
  const { handleSSEEvent, setConnected, setError } = store.getState();
  let settle;
  const closed = new Promise((resolve) => (settle = resolve));
  const close = () => {
    source.close();
    setConnected(false);
    settle();
  };
  source.onopen = () => setConnected(true);
  source.onerror = () => {
    setConnected(false);
    if (source.readyState === EventSourceImpl.CLOSED) settle(); // the server said there is nothing more
  };
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (error) {
        setError(`bad ${type} event: ${error.message}`);
        return;
      }
      handleSSEEvent(type, data);
      if (TERMINAL.has(type) && closeOnEnd) close();
    });
  }
  return { source, closed, close };
}
