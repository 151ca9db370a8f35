// Agent Workbench web view: the run view fed live by the server's event stream, with no kernel.
//
// The view (run_view.js, the notebook's own) talks to a model; here that model is the
// stand-in of stand_in_model.js, as in the exported page, answering `ready` with the events
// followRun brings (deltas of a step merged, as the kernel sends them), `envelopes` with the
// raw events it holds, and `cancel` and the controls (pause, resume, decide, say) with the server's
// routes, for those who may: the answer is the route's, a refusal's message shown by the control.
// "Fork from here" (for those who may fork the run) is POST …/fork; the page then shows the new run.
//
// Whole messages and the result are Markdown written by a model: the server renders and sanitizes
// them (GET …/markdown, the kernel's own code) and the view shows that HTML, as in the notebook.
// A batch with such an event waits for its HTML; without it (an error) the view shows the text.

import { mergedItems, envelopesOf, StandInModel } from "./stand_in_model.js";
import runView from "./run_view.js";

const MARKDOWN_TYPES = new Set(["text", "message", "execution:complete"]); // "message": version-1 runs
const CONTROLS = new Set(["pause", "resume", "decide", "say"]); // the view's controls: each a route of the run
const FORKABLE = new Set(["plan", "react"]); // strategies of an agent that can go on from an event (fork_control.py)

class LiveRun {
  constructor(api, summary, { el, limits, prices, canCancel, canFork, onProblem, onEnd, onFork }) {
    this.api = api;
    this.runId = summary.id;
    this.limits = limits;
    this.deltas = new Set(limits.deltaTypes);
    this.onProblem = onProblem;
    this.onEnd = onEnd; // the run's terminal event came (or there was nothing more to read)
    this.onFork = onFork; // (the new run's summary): a fork was made from this view
    this.events = []; // every event so far, in id order: the inspector's raw envelopes
    this.pending = [];
    this.flushing = false;
    this.closed = false;
    // standalone: the view shows no Stop; controls: Pause / Resume / Step, decisions and messages,
    // for those who may control the run (its owner, an instructor), while it goes on
    const going = summary.status === "running" || summary.status === "paused";
    const traits = { run_id: summary.id, task: summary.task, model: summary.model, strategy: summary.strategy,
                     standalone: !canCancel, controls: canCancel && going, prices,
                     forkable: !!canFork && (!summary.strategy || FORKABLE.has(summary.strategy)) };
    this.model = new StandInModel(traits, (msg) => this.answer(msg));
    this.cleanup = runView.render({ model: this.model, el });
  }

  answer(msg) {
    if (this.closed) return;
    if (msg.kind === "ready" && !this.follower) this.follow();
    else if (msg.kind === "envelopes") {
      const events = envelopesOf(this.events, msg.from, msg.to, this.limits.maxEnvelopes);
      this.model.deliver({ kind: "envelopes", requestId: msg.requestId, events });
    } else if (msg.kind === "file") {
      this.model.deliver({ kind: "file", requestId: msg.requestId, path: msg.path, error: "files are not shown here" });
    } else if (CONTROLS.has(msg.kind)) {
      this.api.control(this.runId, msg).then(
        () => this.model.deliver({ kind: "control", requestId: msg.requestId, ok: true, error: null }),
        (error) => this.model.deliver({ kind: "control", requestId: msg.requestId, ok: false, error: error.message }));
    } else if (msg.kind === "fork") {
      this.api.fork(this.runId, msg).then(
        (run) => {
          this.model.deliver({ kind: "fork", requestId: msg.requestId, ok: true, error: null, runId: run.id });
          if (!this.closed && this.onFork) this.onFork(run);
        },
        (error) => this.model.deliver({ kind: "fork", requestId: msg.requestId, ok: false, error: error.message }));
    } else if (msg.kind === "cancel") {
      this.api.cancel(this.runId).catch((error) => {
        if (error.status !== 409) this.onProblem(`Cancel was refused: ${error.message}`); // 409: it had ended
      });
    }
  }

  follow() {
    this.ended = false;
    this.follower = this.api.follow(this.runId, {
      after: this.events.length, // ids are 1..n in order: resume after the last one held
      onEvent: (event) => this.take(event),
      onEnd: () => {
        this.ended = true;
        if (!this.closed && this.onEnd) this.onEnd();
      },
      onError: (error) => this.onProblem(`The run cannot be followed: ${error.message}`),
    });
  }

  // The server answers again (after a restart): resume now rather than at the stream's next backoff.
  reconnect() {
    if (this.closed || !this.follower || this.ended) return;
    this.follower.close();
    this.follow();
  }

  take(event) {
    this.events.push(event);
    this.pending.push(event);
    if (!this.flushing) {
      this.flushing = true;
      setTimeout(() => this.flush(), 0); // what one read of the stream brought goes to the view together
    }
  }

  // One batch at a time, in order: a batch waiting for its HTML holds back those after it.
  async flush() {
    if (this.closed) return;
    const batch = this.pending;
    this.pending = [];
    let html = null;
    const marked = batch.filter((e) => MARKDOWN_TYPES.has(e.type));
    if (marked.length) {
      try {
        html = (await this.api.markdown(this.runId, marked[0].id, marked[marked.length - 1].id)).html;
      } catch (error) {
        html = null; // the text, shown as text
      }
    }
    if (this.closed) return;
    const items = mergedItems(batch, this.deltas, html);
    for (let i = 0; i < items.length; i += this.limits.maxItems) {
      this.model.deliver({ kind: "events", events: items.slice(i, i + this.limits.maxItems) });
    }
    if (this.pending.length) setTimeout(() => this.flush(), 0);
    else this.flushing = false;
  }

  close() {
    this.closed = true;
    if (this.follower) this.follower.close();
    if (this.cleanup) this.cleanup();
  }
}

export { LiveRun };
