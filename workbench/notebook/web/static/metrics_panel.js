// Agent Workbench web view: the server's connection metrics (GET /metrics, the Prometheus text
// format), read every few seconds, a few figures shown. Only what this page needs is parsed:
// `name{label="value",…} number` lines; comments and other lines are skipped.

const POLL_MS = 2000;

const FIGURES = [
  ["streams", "Open event streams", (m) => sum(m, "workbench_event_streams_open")],
  ["subscribers", "Subscribers of running runs", (m) => sum(m, "workbench_run_subscribers")],
  ["events", "Events appended", (m) => sum(m, "workbench_events_appended_total")],
  ["frames", "Frames sent", (m) => sum(m, "workbench_sse_frames_sent_total")],
  ["bytes", "Bytes sent", (m) => sum(m, "workbench_sse_bytes_sent_total")],
  ["resumes", "Resumes", (m) => sum(m, "workbench_sse_resumes_total")],
  ["dropped", "Clients dropped", (m) => sum(m, "workbench_sse_clients_dropped_total")],
  ["retries", "Model retries", (m) => sum(m, "workbench_model_retries_total")],
];

/** The samples of a scrape: [{name, labels: {..}, value}]. */
function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    const match = line.match(/^([A-Za-z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/);
    if (!match) continue; // a comment (# HELP, # TYPE) or a blank line
    const labels = {};
    for (const [, key, value] of (match[2] || "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value.replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

const sum = (samples, name) => samples.filter((s) => s.name === name).reduce((total, s) => total + s.value, 0);
const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "?");

class MetricsPanel {
  constructor(api, section) {
    this.api = api;
    this.section = section;
    this.list = section.querySelector("dl");
    this.stopped = false;
  }

  start() {
    this.section.hidden = false;
    this.poll();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  async poll() {
    if (this.stopped) return;
    try {
      this.render(parseMetrics(await this.api.metrics()));
    } catch (error) {
      this.section.dataset.problem = error.message; // the runs list says when the server is away
    }
    if (!this.stopped) this.timer = setTimeout(() => this.poll(), POLL_MS);
  }

  render(samples) {
    delete this.section.dataset.problem;
    const rows = [];
    const row = (key, label, value) => {
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = fmt(value);
      dd.dataset.testid = `metric-${key}`;
      rows.push(dt, dd);
    };
    for (const [key, label, figure] of FIGURES) row(key, label, figure(samples));
    for (const s of samples.filter((s) => s.name === "workbench_runs")) {
      row(`runs-${s.labels.status}`, `Runs ${s.labels.status}`, s.value);
    }
    this.list.replaceChildren(...rows);
    this.section.dataset.updated = String(Date.now());
  }
}

export { MetricsPanel, parseMetrics };
