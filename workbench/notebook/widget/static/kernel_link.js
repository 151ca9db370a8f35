// Agent Workbench: what a view does once it has lost its kernel (a restart, a shutdown).
//
// The signals, from ipywidgets 8 in JupyterLab 4 and Notebook 7: when the kernel restarts, the
// widget manager marks every model's comm dead (`comm_live = false`, which triggers the model's
// `comm_live_update`); a view whose model has no live comm carries the class
// `jupyter-widgets-disconnected` (a notebook reopened with saved widgets); a shutdown or a change
// of kernel shows on the notebook's session (`widget_manager.context.sessionContext`).
//
// Then the view says so at once. A run in the kernel ended with it: the clock, the spinners and
// Stop stop. A run on this page's own Jupyter server goes on there: the view follows it from the
// server's event stream (server_stream.js) and stays live to its end, Stop included.

import { h, tid } from "./dom.js";
import { finished } from "./run_model.js";
import { sameServerApi, cancelOnServer, fetchEnvelopes, ServerStream } from "./server_stream.js";

const WHY = {
  restart: "The kernel was restarted",
  shutdown: "The kernel was shut down",
  change: "The notebook changed its kernel",
  dead: "The kernel stopped",
  gone: "The kernel that showed this run is gone",
};

class KernelLink {
  constructor({ model, el, view, meta, receive, applied, onLost }) {
    this.view = view;
    this.onLost = onLost;
    this.meta = meta;
    this.receive = receive;
    this.applied = applied;
    this.lost = null; // why, once the kernel is gone
    this.offs = [];
    const onLive = () => this.lose("restart"); // comm_live only ever turns false after the view exists
    model.on("comm_live_update", onLive);
    this.offs.push(() => model.off("comm_live_update", onLive));
    this.watchSession(model.widget_manager);
    if (el.classList && el.classList.contains("jupyter-widgets-disconnected")) setTimeout(() => this.lose("gone"), 0);
  }

  watchSession(manager) {
    let session = null;
    try {
      session = manager && manager.context && manager.context.sessionContext;
    } catch (e) {
      return; // another widget manager (VS Code, Colab): the comm signal above still works
    }
    if (!session || !session.statusChanged || !session.kernelChanged) return;
    const onStatus = (_, status) => {
      if (status === "restarting") this.lose("restart");
      else if (status === "dead") this.lose("dead");
    };
    const onKernel = (_, change) => {
      if (change && change.oldValue) this.lose(change.newValue ? "change" : "shutdown");
    };
    session.statusChanged.connect(onStatus);
    session.kernelChanged.connect(onKernel);
    this.offs.push(() => {
      session.statusChanged.disconnect(onStatus);
      session.kernelChanged.disconnect(onKernel);
    });
  }

  destroy() {
    this.destroyed = true;
    if (this.stream) this.stream.stop();
    for (const off of this.offs) off();
  }

  lose(why) {
    if (this.lost || this.destroyed) return;
    this.lost = why;
    if (this.onLost) this.onLost();
    const view = this.view;
    this.line = tid(h("div", "wb-kernel-line"), "kernel-line");
    view.bannerEl.before(this.line);
    const attach = `to attach again run wb.attach("${this.meta.runId}")`;
    if (!this.meta.server) {
      view.detach("interrupted");
      this.say(finished(view.state)
        ? `${WHY[why]}; this view shows the run as it ended.`
        : `${WHY[why]}; the run went on in the kernel, so it stopped with it.`);
      return;
    }
    this.api = sameServerApi(this.meta);
    if (!this.api || finished(view.state)) {
      if (!finished(view.state)) view.detach("detached");
      this.say(`${WHY[why]}; ${attach}`);
      return;
    }
    this.say(`${WHY[why]}; the view follows the run from the server. In the notebook, ${attach}`);
    view.live(() => cancelOnServer(this.api, this.meta.runId));
    this.stream = new ServerStream(this.api, this.meta.runId, {
      after: this.applied,
      onEvents: (events) => this.receive(events),
      onEnd: () => {
        if (!this.destroyed) this.say(`${WHY[why]}; the view followed the run from the server to its end. In the notebook, ${attach}`);
      },
      onProblem: (problem) => {
        if (this.destroyed) return;
        view.detach("detached");
        this.say(`${WHY[why]}, and the server cannot be followed from here (${problem}); ${attach}`);
      },
    });
  }

  say(text) {
    this.line.textContent = text;
  }

  // The inspector's raw events once the kernel cannot answer: from the server's run file, or none.
  envelopes(from, to) {
    if (!this.api) return Promise.resolve([]);
    if (!this.log || this.logUpTo < to) {
      this.logUpTo = this.applied();
      this.log = fetchEnvelopes(this.api, this.meta.runId).catch(() => []);
    }
    return this.log.then((all) => all.filter((e) => e.id >= from && e.id <= to));
  }
}

export { KernelLink };
