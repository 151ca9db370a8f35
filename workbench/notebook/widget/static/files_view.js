// Agent Workbench: the run's workspace and the files it wrote, below the result.
//
// The kernel sends {kind: "files", where, workspace, workspaceHome, files: [{path, size}]} once the
// run has ended (workbench/notebook/files.py); a file opened here is asked for with
// {kind: "file", path} and comes back sanitized (Markdown as HTML) or as text. In JupyterLab and
// Notebook 7 a file under the server's root also gets a link that opens it there: the page's
// config (<script id="jupyter-config-data">) names the root and the base URL.

import { h, tid, fmtInt } from "./dom.js";

function jupyterConfig() {
  const el = typeof document !== "undefined" && document.getElementById("jupyter-config-data");
  if (!el) return null;
  try {
    return JSON.parse(el.textContent);
  } catch (e) {
    return null;
  }
}

// The server's root folder: JupyterLab names it (`serverRoot`); Notebook 7 does not, but a kernel
// runs in its notebook's folder, so the kernel's folder less the notebook's folder in the URL is the root.
function serverRoot(note, config, pathname) {
  if (typeof config.serverRoot === "string") return config.serverRoot;
  const base = String(config.baseUrl || "/").replace(/\/?$/, "/");
  if (!note.cwd || !pathname.startsWith(base + "notebooks/")) return null;
  const parts = decodeURIComponent(pathname.slice(base.length + "notebooks/".length)).split("/").slice(0, -1);
  const folder = parts.join("/");
  const cwd = note.cwd.replace(/\/+$/, "");
  if (!folder) return cwd;
  return cwd.endsWith("/" + folder) ? cwd.slice(0, cwd.length - folder.length - 1) : null;
}

// The URL that opens `path` (relative to the workspace) in this Jupyter, or null when it is not under the root.
function jupyterUrl(note, path, config, pathname) {
  if (!config || note.where !== "local") return null;
  const found = serverRoot(note, config, pathname || "");
  if (found == null) return null;
  const root = found.replace(/\\/g, "/").replace(/\/+$/, "");
  for (const base of [note.workspace, note.workspaceHome]) {
    if (!base) continue;
    let rel = null;
    if (base === root) rel = "";
    else if (base.startsWith(root + "/")) rel = base.slice(root.length + 1);
    if (rel === null) continue;
    const full = (rel ? rel + "/" : "") + path;
    // Jupyter does not open hidden paths by default (ContentsManager.allow_hidden), such as the
    // default workspaces in ~/.workbench: no link rather than one that fails.
    if (full.split("/").some((part) => part.startsWith("."))) return null;
    const encoded = full.split("/").map(encodeURIComponent).join("/");
    const baseUrl = String(config.baseUrl || "/").replace(/\/?$/, "/");
    const notebook7 = /notebook/i.test(String(config.appName || ""));
    return baseUrl + (notebook7 ? "edit/" : "lab/tree/") + encoded;
  }
  return null;
}

function fmtBytes(n) {
  if (n < 1024) return `${fmtInt(n)} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const ELSEWHERE = {
  server: "on the server: this run's files are not on this machine",
  unknown: "not known here (this run was read from a file)",
};

class FilesView {
  constructor(opts) {
    this.opts = opts; // {requestFile(path) -> Promise<content>}
    this.el = tid(h("div", "wb-files"), "files");
    this.el.hidden = true;
  }

  show(note) {
    const files = note.files || [];
    if (note.where !== "local" && !files.length) return; // e.g. an agent of one's own, recorded: nothing to say
    const config = jupyterConfig();
    const head = h("div", "wb-files-head");
    head.append(h("span", "wb-label", "Workspace"));
    if (note.where === "local") head.append(tid(h("code", "wb-workspace", note.workspace), "workspace"));
    else head.append(tid(h("span", "wb-muted", ELSEWHERE[note.where] || ELSEWHERE.unknown), "workspace"));
    const list = tid(h("div", "wb-file-list"), "file-list");
    if (!files.length) list.append(h("div", "wb-muted", "This run wrote no files."));
    for (const file of files) list.append(this.fileEl(note, file, config));
    const label = h("div", "wb-label", files.length ? `Files written (${files.length})` : "Files written");
    this.el.replaceChildren(head, label, list);
    this.el.hidden = false;
  }

  fileEl(note, file, config) {
    const el = tid(h("details", "wb-file"), "file");
    el.dataset.path = file.path;
    const summary = h("summary", "wb-file-head");
    summary.append(tid(h("code", "wb-file-name", file.path), "file-name"));
    const size = file.size != null ? fmtBytes(file.size) : note.where === "local" ? "gone" : "";
    if (size) summary.append(h("span", "wb-muted wb-file-size", size));
    const url = jupyterUrl(note, file.path, config, location.pathname);
    if (url) {
      const open = tid(h("a", "wb-link wb-file-open", "Open"), "file-open");
      open.href = url;
      open.target = "_blank";
      open.rel = "noopener";
      open.title = "Open in Jupyter";
      summary.append(open);
    }
    const body = tid(h("div", "wb-file-body"), "file-content");
    el.append(summary, body);
    el.addEventListener("toggle", () => {
      if (!el.open || el.dataset.loaded) return;
      el.dataset.loaded = "1";
      body.replaceChildren(h("div", "wb-muted", "Loading…"));
      this.opts.requestFile(file.path).then((content) => fill(body, content));
    });
    return el;
  }
}

function fill(body, content) {
  const nodes = [];
  if (content.error) nodes.push(tid(h("div", "wb-muted", content.error), "file-error"));
  else if (typeof content.html === "string") {
    const md = h("div", "wb-text wb-md");
    md.innerHTML = content.html; // sanitized by nh3 in the kernel, as messages are
    nodes.push(md);
  } else nodes.push(h("pre", "wb-code", content.text || ""));
  if (content.truncated) {
    nodes.push(h("div", "wb-muted wb-file-more", `Showing the start; the file is ${fmtBytes(content.size)}. Open it to see the rest.`));
  }
  body.replaceChildren(...nodes);
}

export { FilesView, jupyterUrl };
