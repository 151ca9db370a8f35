// Agent Workbench: a run followed from the page's own Jupyter server, by the browser itself.
//
// Used once the view has lost its kernel (kernel_link.js). The page is already logged into
// its Jupyter server (a cookie), so the requests are same-origin and carry no token: nothing
// secret ever goes into widget state, which is saved into the notebook. POST sends Jupyter's
// XSRF header, as JupyterLab's own requests do.

const TERMINAL = new Set(["execution:complete", "execution:error", "execution:cancelled"]);

function pageBaseUrl() {
  const config = document.getElementById("jupyter-config-data"); // JupyterLab and Notebook 7 pages
  if (!config) return null;
  try {
    const base = JSON.parse(config.textContent).baseUrl;
    return typeof base === "string" ? base : null;
  } catch (e) {
    return null;
  }
}

// The workbench API of this page's server when the run is on that very server, else null.
// The kernel names its server's path only (an origin can differ behind a proxy; a path does not).
function sameServerApi(meta) {
  if (meta.server !== "jupyter" || !meta.serverPath) return null;
  const base = pageBaseUrl();
  if (base == null) return null;
  const api = (base.endsWith("/") ? base : base + "/") + "workbench/api";
  return api === meta.serverPath.replace(/\/+$/, "") ? api : null;
}

function xsrfHeaders() {
  const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return match ? { "X-XSRFToken": match[1] } : {};
}

const runUrl = (api, runId, tail) => `${api}/runs/${encodeURIComponent(runId)}${tail}`;

function cancelOnServer(api, runId) {
  return fetch(runUrl(api, runId, "/cancel"), {
    method: "POST", credentials: "same-origin", headers: xsrfHeaders(),
  }).then((r) => r.ok || r.status === 409); // 409: it had ended already
}

// The run's raw envelopes from its run file (for the inspector once the kernel cannot answer).
async function fetchEnvelopes(api, runId) {
  const r = await fetch(runUrl(api, runId, "/log"), { credentials: "same-origin", cache: "no-store" });
  if (!r.ok) throw new Error(`the server answered ${r.status}`);
  const out = [];
  for (const line of (await r.text()).split("\n")) {
    if (!line.trim()) continue;
    const item = JSON.parse(line);
    if (typeof item.id === "number") out.push(item); // the first line is the file's header
  }
  return out;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Reads the run's SSE route from the event after `after()`, reconnecting with backoff, until
// the terminal event (or a 204: nothing more), a refusal (4xx), or stop().
class ServerStream {
  constructor(api, runId, { after, onEvents, onEnd, onProblem }) {
    this.url = runUrl(api, runId, "/events");
    this.after = after;
    this.onEvents = onEvents;
    this.onEnd = onEnd;
    this.onProblem = onProblem;
    this.controller = new AbortController();
    this.stopped = false;
    this.done = this.loop().catch((e) => { if (!this.stopped) this.onProblem(String(e)); });
  }

  stop() {
    this.stopped = true;
    this.controller.abort();
  }

  async loop() {
    let delay = 500;
    while (!this.stopped) {
      let response = null;
      try {
        response = await fetch(`${this.url}?after=${this.after()}`, {
          credentials: "same-origin", cache: "no-store", headers: { Accept: "text/event-stream" },
          signal: this.controller.signal,
        });
      } catch (e) {
        response = null; // the network, or stop()
      }
      if (this.stopped) return;
      if (response && response.status === 204) return this.onEnd();
      if (response && response.status >= 400 && response.status < 500) {
        return this.onProblem(`the server answered ${response.status}`);
      }
      if (response && response.ok && (await this.read(response))) return this.onEnd();
      if (this.stopped) return;
      await sleep(delay);
      delay = Math.min(delay * 2, 15000);
    }
  }

  // Frames of one response; true once the terminal event came.
  async read(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    try {
      while (!this.stopped) {
        const { value, done } = await reader.read();
        if (done) return false;
        buffer += value.replace(/\r\n?/g, "\n");
        const frames = buffer.split("\n\n");
        buffer = frames.pop();
        const events = [];
        for (const frame of frames) {
          const data = frame.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).replace(/^ /, ""));
          if (data.length) events.push(JSON.parse(data.join("\n")));
        }
        if (events.length) this.onEvents(events);
        if (events.some((e) => TERMINAL.has(e.type))) return true;
      }
      return false;
    } catch (e) {
      return false; // a dropped connection: resume from the last event applied
    } finally {
      reader.cancel().catch(() => {});
    }
  }
}

export { sameServerApi, cancelOnServer, fetchEnvelopes, ServerStream };
