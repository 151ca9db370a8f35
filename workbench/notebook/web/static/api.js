// Agent Workbench web view: the requests the page makes to its own server.
//
// Standalone (`mode: "token"`): every data request carries the token the person entered, as
// `Authorization: Bearer`; the tab keeps it in sessionStorage (gone when the tab closes, never
// in a URL). In Jupyter (`mode: "jupyter"`): the page is behind Jupyter's login, so requests are
// same-origin with its cookie, and a POST sends Jupyter's XSRF header, as JupyterLab's own do.
// URLs are relative to the page: `/` standalone, `{base_url}workbench/` in Jupyter.

import { followRun } from "./follow_run.js";

const TOKEN_KEY = "workbench.webview.token";

/** A refusal or failure of a request: the contract's JSON error, with its status. */
class HttpError extends Error {
  constructor(status, type, message) {
    super(message);
    this.status = status;
    this.type = type;
  }
  // The credentials are what is wrong: ask for them again (Jupyter says 403 "unauthorized" when not logged in).
  get refusesCredentials() {
    return this.status === 401 || this.type === "unauthorized";
  }
}

function xsrfHeaders() {
  const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
  return match ? { "X-XSRFToken": decodeURIComponent(match[1]) } : {};
}

class Api {
  constructor(mode) {
    this.mode = mode;
  }

  get token() {
    return this.mode === "token" ? sessionStorage.getItem(TOKEN_KEY) : null;
  }
  setToken(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  }
  forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
  }

  url(path) {
    return new URL(path, document.baseURI).href;
  }

  headers(method) {
    const headers = {};
    const token = this.token;
    if (token) headers.Authorization = `Bearer ${token}`;
    if (method === "POST") {
      headers["Content-Type"] = "application/json";
      if (this.mode === "jupyter") Object.assign(headers, xsrfHeaders());
    }
    return headers;
  }

  // One request; the answer's body (JSON, or text with `as: "text"`), or an HttpError.
  async request(method, path, { body, as = "json" } = {}) {
    let response;
    try {
      response = await fetch(this.url(path), {
        method, headers: this.headers(method), credentials: "same-origin", cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new HttpError(0, "network", "the server is not answering");
    }
    if (!response.ok) throw await refusal(response);
    return as === "text" ? response.text() : response.json();
  }

  me() { return this.request("GET", "api/me"); }
  runs() { return this.request("GET", "api/runs?limit=100"); }
  start(body) { return this.request("POST", "api/runs", { body }); }
  cancel(runId) { return this.request("POST", `api/runs/${encodeURIComponent(runId)}/cancel`); }
  // A person's hand on a run (the view's Pause / Resume / Step, decisions and messages), as its routes take it.
  control(runId, msg) {
    const run = `api/runs/${encodeURIComponent(runId)}`;
    switch (msg.kind) {
      case "pause": return this.request("POST", `${run}/pause`, { body: {} });
      case "resume": return this.request("POST", `${run}/resume`, { body: { step: Boolean(msg.step) } });
      case "decide": {
        const body = { decision: msg.decision };
        if (msg.params != null) body.params = msg.params;
        if (msg.note) body.note = msg.note;
        return this.request("POST", `${run}/tools/${encodeURIComponent(msg.toolUseId)}/decision`, { body });
      }
      case "say": return this.request("POST", `${run}/messages`, { body: { text: msg.text } });
      default: return Promise.reject(new HttpError(0, "invalid_request", `no control ${msg.kind}`));
    }
  }
  // "Fork from here": a new run of the caller's own from event `at` of this one (contract section 7).
  fork(runId, { at, message, toolResult }) {
    const edits = {};
    if (message) edits.message = message;
    if (toolResult) edits.toolResult = toolResult;
    const body = Object.keys(edits).length ? { at, edits } : { at };
    return this.request("POST", `api/runs/${encodeURIComponent(runId)}/fork`, { body });
  }
  metrics() { return this.request("GET", "metrics", { as: "text" }); }
  // The server's sanitized HTML of the run's messages and result among events from..to, by event id.
  markdown(runId, from, to) {
    return this.request("GET", `api/runs/${encodeURIComponent(runId)}/markdown?from=${from}&to=${to}`);
  }

  // Follow a run's event stream (followRun resumes with ?after= and backs off while the server is away).
  follow(runId, options) {
    return followRun(this.url(`api/runs/${encodeURIComponent(runId)}/events`), { ...options, token: this.token || undefined });
  }
}

async function refusal(response) {
  let type = "http_error";
  let message = `the server answered ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      type = String(body.error.type || type);
      message = String(body.error.message || message);
    }
  } catch (e) {
    // not the contract's JSON (a proxy's page): the status says enough
  }
  return new HttpError(response.status, type, message);
}

export { Api, HttpError };
