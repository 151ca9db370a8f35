// followRun: follow a workbench run's event stream (GET .../runs/{id}/events) from a browser or
// from Node >= 18. One ES module, no dependencies, no build step; both servers serve it
// (standalone: /client/follow_run.js; Jupyter: {base_url}workbench/client/follow_run.js).
//
//   import { followRun } from "http://127.0.0.1:8765/client/follow_run.js";
//   const follower = followRun(url, { token, onEvent: (event) => console.log(event.type) });
//   const terminal = await follower.done;  // the run's last event; follower.close() stops early
//
// Why not EventSource: it cannot send `Authorization`, and it resumes with a `Last-Event-ID`
// header that some proxies and runtimes drop. This reads the stream with fetch, resumes with
// `?after=<last id>`, drops ids it already has, ignores comments (keep-alives), waits as the
// server's `retry:` says (doubling while it gets nothing new), and stops at the terminal event
// or at `204 No Content` (the run ended before the resume point).

const TERMINAL = new Set(["execution:complete", "execution:error", "execution:cancelled"]);
const DEFAULT_RETRY_MS = 2000; // the contract's retry: until the server says otherwise
const MAX_BACKOFF_MS = 30000;

/** An answer that retrying cannot fix (bad token, unknown run, bad request). */
export class FollowError extends Error {
  constructor(status, type, message) {
    super(message);
    this.name = "FollowError";
    this.status = status;
    this.type = type;
  }
}

/**
 * Follow the run whose event stream is at `url`.
 *
 * Options: `after` (resume after this event id; default 0, the whole run), `token` (sent as
 * `Authorization: Bearer`, or as `?token=` with `tokenIn: "query"`, for servers behind
 * something that strips headers), `onEvent(data, {id, type})` once per event in id order
 * (`data` is the event's JSON: the envelope, or the reference profile's fields), `onEnd(terminal)`
 * once: the terminal event's data, or null when the server answered 204 (nothing after `after`),
 * `onError(error)` once on an answer retrying cannot fix (then it stops), `fetch` (default the
 * global one), `signal` (an AbortSignal that stops it, as close() does).
 *
 * Returns `{close(), done}`: `done` resolves with what onEnd got (null after close()), rejects
 * with a FollowError. An exception in onEvent is reported (uncaught) and does not stop the stream.
 */
export function followRun(url, options = {}) {
  const { token, onEvent, onEnd, onError, signal, tokenIn = "header" } = options;
  const fetchImpl = options.fetch || globalThis.fetch.bind(globalThis);
  // Resolved now, so a bad URL throws here rather than being retried forever.
  const target = new URL(url, typeof location === "undefined" ? undefined : location.href);
  const state = { lastId: Number(options.after || 0), retryMs: DEFAULT_RETRY_MS, closed: false };
  const controller = new AbortController();
  let resolveDone, rejectDone;
  const done = new Promise((resolve, reject) => { resolveDone = resolve; rejectDone = reject; });
  done.catch(() => {}); // a caller that never looks at `done` must not get an unhandled rejection

  const stop = () => {
    state.closed = true;
    controller.abort();
  };
  const close = () => {
    if (state.closed) return;
    stop();
    resolveDone(null);
  };
  if (signal) {
    if (signal.aborted) close();
    else signal.addEventListener("abort", close, { once: true });
  }

  const finish = (terminal) => {
    if (state.closed) return;
    stop();
    if (onEnd) onEnd(terminal);
    resolveDone(terminal);
  };
  const fail = (error) => {
    if (state.closed) return;
    stop();
    if (onError) onError(error);
    rejectDone(error);
  };
  const deliver = (frame) => {
    if (state.closed) return false; // close() from onEvent: nothing more, even from this chunk
    const id = Number(frame.id);
    if (frame.id === "" || !Number.isSafeInteger(id)) return false; // not an event of the run's log
    if (id <= state.lastId) return false; // already delivered (a replay after a resume)
    let data;
    try {
      data = JSON.parse(frame.data);
    } catch {
      return false; // not ours to read; the contract says unknown things are skipped
    }
    state.lastId = id;
    if (onEvent) {
      try {
        onEvent(data, { id, type: frame.type });
      } catch (error) {
        setTimeout(() => { throw error; }); // the caller's bug is reported; the stream goes on, as EventSource's would
      }
    }
    if (TERMINAL.has(frame.type)) finish(data);
    return true;
  };

  (async () => {
    let failures = 0; // connections in a row that brought nothing new
    while (!state.closed) {
      const before = state.lastId;
      try {
        const outcome = await connect(fetchImpl, target, token, tokenIn, state, controller.signal, deliver);
        if (outcome === "nothing-more") return finish(null);
      } catch (error) {
        if (state.closed) return;
        if (error instanceof FollowError) return fail(error);
        // a network error or a cut connection: resume below
      }
      if (state.closed) return;
      failures = state.lastId > before ? 0 : failures + 1;
      const wait = Math.min(state.retryMs * 2 ** failures, Math.max(MAX_BACKOFF_MS, state.retryMs));
      await sleep(wait * (1 + Math.random() * 0.1), controller.signal); // a little jitter: not all at once
    }
  })();

  return { close, done };
}

async function connect(fetchImpl, base, token, tokenIn, state, signal, deliver) {
  const target = new URL(base.href);
  target.searchParams.set("after", String(state.lastId));
  const headers = { Accept: "text/event-stream" }; // nothing more: a cross-origin page may send these two
  if (token && tokenIn === "query") target.searchParams.set("token", token);
  else if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetchImpl(target.href, { headers, signal });
  if (response.status === 204) return "nothing-more";
  if (response.status !== 200) {
    const error = await refusal(response);
    if (response.status >= 500 || response.status === 408 || response.status === 429) throw new Error(error.message);
    throw error;
  }
  const type = response.headers.get("Content-Type") || "";
  if (!type.startsWith("text/event-stream")) {
    // A connection cut inside the headers leaves a 200 with no type or half of one ("text/even") and no
    // body: resume. A 200 of another type with a body (a proxy's login page) is a real answer: stop.
    if (!(await hasBody(response))) throw new Error("the connection was cut inside the stream's headers");
    throw new FollowError(200, "not_an_event_stream", `expected an event stream, got ${type || "no Content-Type"}`);
  }
  const reader = response.body.getReader();
  const parser = new SseParser((frame) => deliver(frame), (ms) => { state.retryMs = ms; });
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (state.closed) break;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return "ended"; // closed by the server before the terminal event (a restart): resume
}

async function hasBody(response) {
  try {
    return (await response.text()).length > 0;
  } catch {
    return false; // the body broke off with the connection
  }
}

async function refusal(response) {
  let type = "http_error";
  let message = `the server answered ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      type = String(body.error.type || type);
      message = `${message}: ${body.error.message}`;
    }
  } catch {
    // not the contract's JSON error (a proxy's page): the status says enough
  }
  return new FollowError(response.status, type, message);
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/** The event-stream format as the HTML standard parses it: lines, fields, a blank line ends a frame. */
export class SseParser {
  constructor(onFrame, onRetry) {
    this.onFrame = onFrame;
    this.onRetry = onRetry;
    this.buffer = "";
    this.skipLf = false; // the last chunk ended in \r: a \n starting the next one belongs to it
    this.reset();
  }

  reset() {
    this.data = [];
    this.type = "";
    this.id = "";
  }

  feed(text) {
    if (this.skipLf && text.startsWith("\n")) text = text.slice(1);
    this.skipLf = false;
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop(); // the unfinished line
    if (this.buffer === "" && text.endsWith("\r")) this.skipLf = true;
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onFrame({ id: this.id, type: this.type || "message", data: this.data.join("\n") });
      this.reset();
      return;
    }
    if (line.startsWith(":")) return; // a comment: the keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.type = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) this.onRetry(Number(value));
  }
}
