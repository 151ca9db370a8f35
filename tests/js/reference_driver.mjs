// The Node side of tests/test_reference_client.py: `node reference_driver.mjs '<spec JSON>'` follows
// each run with the reference store and its hook, and prints what each store ended with.
//
// spec: {baseUrl, token, closeOnEnd, settleMs, timeoutMs, runs: [{name, executionId}]}. For each run:
// `state` (the store's data), `requests` (the EventSource's requests in all), `requestsAtEnd` (when
// the run's terminal event reached the store), `readyState` at the end, `timedOut`.
import { EventSource } from "./event_source.mjs";
import { createAgentStore, useAgentSSE } from "./reference_store.mjs";

const spec = JSON.parse(process.argv[2]);
const results = {};
await Promise.all(spec.runs.map(async (run) => {
  const store = createAgentStore();
  const out = (results[run.name] = { requestsAtEnd: null, timedOut: false });
  const hook = useAgentSSE(run.executionId, {
    baseUrl: spec.baseUrl, token: spec.token, store, EventSourceImpl: EventSource, closeOnEnd: spec.closeOnEnd,
  });
  store.subscribe((state, previous) => {
    if (state.currentExecution?.status !== "running" && previous.currentExecution?.status === "running") {
      out.requestsAtEnd = hook.source.requests;
    }
  });
  let timer;
  const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve("timeout"), spec.timeoutMs)));
  if ((await Promise.race([hook.closed, timeout])) === "timeout") {
    out.timedOut = true;
    hook.close();
  }
  clearTimeout(timer);
  // Long enough for any reconnect (the proxy makes `retry:` 150 ms) to show itself.
  await new Promise((resolve) => setTimeout(resolve, spec.settleMs));
  const { handleSSEEvent, setConnected, setError, reset, ...state } = store.getState();
  Object.assign(out, { state, requests: hook.source.requests, readyState: hook.source.readyState });
}));
process.stdout.write(JSON.stringify(results));
