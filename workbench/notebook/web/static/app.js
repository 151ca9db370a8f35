// Agent Workbench web view: the page. It asks who the caller is (GET /api/me) and shows what
// they may do: everyone watches their runs (a workshop's participants, the instructors'
// shared runs); those who may start runs get the Start form and Stop in the run view; those
// who may read the connection metrics get their panel. The server refuses the rest anyway.

import { Api } from "./api.js";
import { RunsList } from "./runs_list.js";
import { LiveRun } from "./live_run.js";
import { MetricsPanel } from "./metrics_panel.js";

const config = JSON.parse(document.getElementById("wb-config").textContent);
const api = new Api(config.mode);
const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

let me = null;
let list = null;
let metrics = null;
let shown = null; // {runId, live}
let showing = null; // the run asked for last (its summary may still be on its way)

// --- the token (standalone): asked once, kept for the tab ---------------------------------

function askForToken(problem) {
  stopAll();
  $("main").hidden = true;
  $("who").textContent = "";
  $("change-token").hidden = true;
  const form = $("token-form");
  form.hidden = false;
  $("token-problem").textContent = problem || "";
  $("token-input").value = "";
  $("token-input").focus();
}

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const token = $("token-input").value.trim();
  if (!token) return;
  api.setToken(token);
  open();
});

$("change-token").addEventListener("click", () => {
  api.forgetToken();
  askForToken("");
});

function refused(error) {
  if (config.mode === "jupyter") {
    stopAll();
    $("main").hidden = true;
    $("token-form").hidden = true;
    setConnection(`Jupyter refused the request (${error.message}). Log in to Jupyter again, then reload this page.`);
    return;
  }
  const had = !!api.token;
  api.forgetToken();
  askForToken(had ? `The server refused that token (${error.status}): ${error.message}. Enter it again.` : "");
}

// --- opening the page ---------------------------------------------------------------------

async function open() {
  try {
    me = await api.me();
  } catch (error) {
    if (error.refusesCredentials) return refused(error);
    setConnection(error.status === 0 ? "The server is not answering; trying again…"
      : `The server answered ${error.status}: ${error.message}; trying again…`);
    setTimeout(open, 3000);
    return;
  }
  setConnection(null);
  $("token-form").hidden = true;
  $("main").hidden = false;
  $("who").textContent = me.role === "user" ? me.user : `${me.user} · ${me.role}`;
  $("change-token").hidden = config.mode !== "token" || !api.token;
  $("start-form").hidden = !me.canStart;
  stopAll();
  list = new RunsList(api, $("runs"), { onSelect: show, onConnection: setConnection, onRefused: refused });
  list.start();
  if (me.canReadMetrics) {
    metrics = new MetricsPanel(api, $("metrics"));
    metrics.start();
  } else $("metrics").hidden = true;
  selectFromAddress();
}

// `#r_…` in the address: the run to show (a link someone shared, a reload, the back button).
function selectFromAddress() {
  const wanted = location.hash.slice(1);
  if (list && /^r_[0-9a-f]{16}$/.test(wanted)) list.select(wanted);
}

window.addEventListener("hashchange", selectFromAddress);

function stopAll() {
  if (list) list.stop();
  if (metrics) metrics.stop();
  list = metrics = null;
  hideRun();
}

let away = false; // the server stopped answering, and has not answered since

function setConnection(problem) {
  const line = $("connection");
  line.hidden = !problem;
  line.textContent = problem || "";
  if (problem) away = true;
  else if (away) {
    away = false;
    if (shown) shown.live.reconnect();
  }
}

// --- the run shown ------------------------------------------------------------------------

function hideRun() {
  if (shown) shown.live.close();
  shown = showing = null;
}

async function show(runId) {
  if (shown && shown.runId === runId) return;
  hideRun();
  showing = runId;
  if (location.hash !== `#${runId}`) history.pushState(null, "", `#${runId}`);
  const pane = $("run-pane");
  const host = document.createElement("div");
  host.className = "wv-view";
  const problem = document.createElement("p");
  problem.className = "wv-problem";
  problem.dataset.testid = "run-problem";
  pane.replaceChildren(problem, host);
  // The list has the run's summary (task, model, owner); a run chosen by the URL may not be in it yet.
  let summary = list && list.summary(runId);
  if (!summary) {
    try {
      summary = await api.request("GET", `api/runs/${encodeURIComponent(runId)}`);
    } catch (error) {
      if (error.refusesCredentials) return refused(error);
      problem.textContent = `This run cannot be shown: ${error.message}`;
      return;
    }
  }
  if (showing !== runId) return; // another run was chosen meanwhile
  const canCancel = !!me && me.canStart && !summary.owner; // `owner` is only set on other people's runs
  const live = new LiveRun(api, summary, {
    el: host, limits: config.limits, prices: config.prices, canCancel,
    // Owners fork their runs; a workshop's participants fork shared runs where its file allows it.
    canFork: !!me && me.canFork,
    onProblem: (text) => { problem.textContent = text; },
    onEnd: () => { if (list) list.refresh(); }, // the list shows how it ended at once
    onFork: (run) => { // the fork is listed and shown, as a run just started is
      if (!list) return;
      list.refresh();
      list.select(run.id);
    },
  });
  shown = { runId, live };
}

// --- starting a run -----------------------------------------------------------------------

$("start-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = e.target;
  const button = $("start");
  const body = { task: form.task.value.trim(), strategy: form.strategy.value };
  if (form.model.value.trim()) body.model = form.model.value.trim();
  if (!body.task) return;
  $("start-problem").textContent = "";
  if (form.options.value.trim()) {
    try {
      body.options = JSON.parse(form.options.value);
    } catch (error) {
      $("start-problem").textContent = `Options must be a JSON object, such as {"pace": 30}: ${error.message}`;
      return;
    }
  }
  button.disabled = true;
  try {
    const run = await api.start(body);
    form.task.value = "";
    if (list) {
      list.refresh();
      list.select(run.id);
    }
  } catch (error) {
    if (error.refusesCredentials) return refused(error);
    $("start-problem").textContent = `The run was not started: ${error.message}`;
  } finally {
    button.disabled = false;
  }
});

open();
