// The browser's EventSource, for Node (20 has none; 22 only behind --experimental-eventsource), built
// on fetch as the WHATWG HTML standard ("Server-sent events") describes it, so a client written for
// browsers runs here unchanged: `event:` names dispatched to addEventListener listeners (`message`
// when none), comments ignored, `retry:` taken, `Last-Event-ID` sent on every reconnect, reconnection
// after a network error or the end of a stream, and no reconnection after an answer that is not a 200
// event stream (a 204 among them): readyState CLOSED and one `error` event.
//
// For the tests it also counts its requests (`requests`), which a browser's EventSource would not.

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;

export class EventSource extends EventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSED = CLOSED;

  constructor(url, { fetchImpl = fetch, reconnectMs = 3000 } = {}) {
    super();
    this.url = new URL(url).href;
    this.readyState = CONNECTING;
    this.onopen = this.onmessage = this.onerror = null;
    this.requests = 0;
    this._fetch = fetchImpl;
    this._reconnectMs = reconnectMs; // until the stream's `retry:` says otherwise
    this._lastEventId = "";
    this._abort = new AbortController();
    this._run();
  }

  close() {
    this.readyState = CLOSED;
    this._abort.abort();
  }

  _fire(event) {
    this.dispatchEvent(event);
    const handler = this[`on${event.type}`];
    if (["open", "message", "error"].includes(event.type) && typeof handler === "function") handler.call(this, event);
  }

  async _run() {
    while (this.readyState !== CLOSED) {
      const ended = await this._connect();
      if (this.readyState === CLOSED) return;
      if (ended === "fail") {
        this.readyState = CLOSED;
        this._fire(new Event("error"));
        return;
      }
      // "reestablish the connection": CONNECTING, an error event, the reconnection time, then again
      this.readyState = CONNECTING;
      this._fire(new Event("error"));
      await new Promise((resolve) => setTimeout(resolve, this._reconnectMs));
    }
  }

  async _connect() {
    const headers = { Accept: "text/event-stream", "Cache-Control": "no-store" };
    if (this._lastEventId !== "") headers["Last-Event-ID"] = this._lastEventId;
    let answer;
    this.requests += 1;
    try {
      answer = await this._fetch(this.url, { headers, signal: this._abort.signal, cache: "no-store" });
    } catch {
      return "retry"; // a network error: connection refused, or cut inside the headers
    }
    const type = (answer.headers.get("content-type") || "").split(";")[0].trim().toLowerCase();
    if (answer.status !== 200 || type !== "text/event-stream") {
      answer.body?.cancel().catch(() => {});
      return "fail";
    }
    if (this.readyState === CLOSED) return "closed";
    this.readyState = OPEN;
    this._fire(new Event("open"));
    try {
      await this._read(answer.body, new URL(answer.url || this.url).origin);
    } catch {
      // cut in the middle: whatever event was incomplete is dropped, as at the end of a stream
    }
    return "retry";
  }

  async _read(body, origin) {
    const decoder = new TextDecoder("utf-8"); // always UTF-8; a leading BOM is dropped by the decoder
    let pending = "";
    let data = "";
    let type = "";
    let idBuffer = this._lastEventId;
    const reader = body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      pending += decoder.decode(value, { stream: true });
      // Lines end in CRLF, LF or CR; a CR last in the buffer may be the start of a CRLF, so it waits.
      let match;
      while ((match = /\r\n|\n|\r(?=[^\n])/.exec(pending)) !== null) {
        const line = pending.slice(0, match.index);
        pending = pending.slice(match.index + match[0].length);
        if (this.readyState === CLOSED) return;
        if (line === "") {
          // dispatch: the last event id is taken even when there is no data
          this._lastEventId = idBuffer;
          if (data !== "") {
            const event = new MessageEvent(type || "message", {
              data: data.endsWith("\n") ? data.slice(0, -1) : data, origin, lastEventId: this._lastEventId,
            });
            this._fire(event);
          }
          data = type = "";
          continue;
        }
        if (line.startsWith(":")) continue; // a comment, such as a keep-alive
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let fieldValue = colon === -1 ? "" : line.slice(colon + 1);
        if (fieldValue.startsWith(" ")) fieldValue = fieldValue.slice(1);
        if (field === "event") type = fieldValue;
        else if (field === "data") data += fieldValue + "\n";
        else if (field === "id") { if (!fieldValue.includes("\0")) idBuffer = fieldValue; }
        else if (field === "retry") { if (/^[0-9]+$/.test(fieldValue)) this._reconnectMs = Number(fieldValue); }
      }
    }
  }
}
