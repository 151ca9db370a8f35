// Agent Workbench web view: the caller's runs (GET /runs), newest first, kept up to date by
// asking again every couple of seconds (and backing off while the server does not answer).

const POLL_MS = 2000;
const MAX_POLL_MS = 5000; // while the server is away: it is seen back within seconds

const el = (tag, cls, text) => {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = text;
  return node;
};

function when(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? "" : new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

class RunsList {
  constructor(api, host, { onSelect, onConnection, onRefused }) {
    this.api = api;
    this.host = host;
    this.onSelect = onSelect;
    this.onConnection = onConnection; // (problem or null): whether the server answers
    this.onRefused = onRefused;
    this.rows = new Map(); // run id -> {li, summary}
    this.selected = null;
    this.stopped = false;
    this.delay = POLL_MS;
  }

  start() {
    this.poll();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  // Ask now (after a start or a cancel), then on the usual beat.
  refresh() {
    clearTimeout(this.timer);
    this.poll();
  }

  async poll() {
    if (this.stopped) return;
    try {
      const page = await this.api.runs();
      if (this.stopped) return;
      this.render(page.runs || []);
      this.delay = POLL_MS;
      this.onConnection(null);
    } catch (error) {
      if (this.stopped) return;
      if (error.refusesCredentials) return this.onRefused(error);
      this.delay = Math.min(this.delay * 2, MAX_POLL_MS);
      this.onConnection(error.status === 0 ? "The server is not answering; trying again…"
        : `The server answered ${error.status}: ${error.message}; trying again…`);
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.poll(), this.delay);
  }

  summary(runId) {
    const row = this.rows.get(runId);
    return row ? row.summary : null;
  }

  render(runs) {
    const seen = new Set();
    const items = [];
    for (const run of runs) {
      seen.add(run.id);
      let row = this.rows.get(run.id);
      if (!row) {
        const li = el("li", "wv-item");
        const button = el("button", "wv-run-button");
        button.type = "button";
        button.addEventListener("click", () => this.select(run.id));
        li.append(button);
        row = { li, button };
        this.rows.set(run.id, row);
      }
      row.summary = run;
      this.fill(row, run);
      items.push(row.li);
    }
    for (const id of [...this.rows.keys()]) if (!seen.has(id)) this.rows.delete(id);
    const empty = items.length ? [] : [el("li", "wv-empty", "No runs yet.")];
    this.host.replaceChildren(...items, ...empty);
  }

  fill(row, run) {
    const { li, button } = row;
    li.dataset.runId = run.id;
    li.dataset.status = run.status;
    li.dataset.testid = "run-item";
    li.classList.toggle("wv-selected", run.id === this.selected);
    const status = el("span", "wv-status", run.status);
    status.dataset.status = run.status;
    status.dataset.testid = "run-status";
    const task = el("span", "wv-task", run.task);
    task.dataset.testid = "run-task";
    task.title = run.task;
    const forked = run.parentId ? `fork of ${run.parentId} at event ${run.forkedAt}` : "";
    const details = [when(run.createdAt), run.model, run.owner ? `by ${run.owner}` : "", forked].filter(Boolean).join(" · ");
    button.replaceChildren(task, el("span", "wv-details", details), status);
  }

  select(runId) {
    this.selected = runId;
    for (const [id, row] of this.rows) row.li.classList.toggle("wv-selected", id === runId);
    this.onSelect(runId);
  }
}

export { RunsList };
