// A call's transcript and assist items, live (from a transcript WebSocket) or replayed.

export function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, "0")}`;
}

const LABELS = { agent: "Agent", customer: "Customer", supervisor: "Supervisor" };

export class TranscriptView {
  constructor(list, assist, { onStatus = () => {}, seekable = false, onSeek = null } = {}) {
    this.list = list;
    this.assist = assist;
    this.onStatus = onStatus;
    this.seekable = seekable;
    this.onSeek = onSeek;
    this.finals = new Map();     // seq -> utterance
    this.partials = new Map();   // speaker:segment -> li
    this.items = new Set();
    this.ws = null;
    this.status = "";
  }

  clear() {
    this.list.replaceChildren();
    if (this.assist) this.assist.replaceChildren();
    this.finals.clear(); this.partials.clear(); this.items.clear();
  }

  _line(u, partial) {
    const li = document.createElement("li");
    li.className = `${u.speaker}${partial ? " partial" : ""}`;
    li.dataset.start = u.startMs;
    li.dataset.end = u.endMs;
    const body = document.createElement(this.seekable ? "button" : "span");
    if (this.seekable) {
      body.type = "button";
      body.className = "seek";
      body.addEventListener("click", () => this.onSeek && this.onSeek(u.startMs));
    }
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = clock(u.startMs);
    const spk = document.createElement("span");
    spk.className = "spk";
    spk.textContent = LABELS[u.speaker] || u.speaker;
    const text = document.createElement("span");
    text.className = "text";
    text.textContent = u.text;
    body.append(t, spk, text);
    li.append(body);
    if (partial) li.setAttribute("aria-label", `${spk.textContent} is saying: ${u.text}`);
    return li;
  }

  /** Put a line where its start time says (finals arrive in decode order). */
  _place(li) {
    const start = Number(li.dataset.start);
    let before = null;
    for (const other of this.list.children) {
      if (Number(other.dataset.start) > start) { before = other; break; }
    }
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 20;
    this.list.insertBefore(li, before);
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  final(u) {
    if (this.finals.has(u.seq)) return;
    this.finals.set(u.seq, u);
    const key = `${u.speaker}:${u.segment}`;
    const partial = this.partials.get(key);
    if (partial) { partial.remove(); this.partials.delete(key); }
    this._place(this._line(u, false));
  }

  partial(u) {
    const key = `${u.speaker}:${u.segment}`;
    const old = this.partials.get(key);
    const li = this._line(u, true);
    if (old) old.replaceWith(li); else this._place(li);
    this.partials.set(key, li);
  }

  item(a) {
    if (!this.assist || this.items.has(a.id)) return;
    this.items.add(a.id);
    const li = document.createElement("li");
    li.className = `${a.type} ${a.severity}`;
    const title = document.createElement("b");
    title.textContent = `${a.type === "alert" ? "Alert" : "Suggestion"}: ${a.title}`;
    const text = document.createElement("span");
    text.textContent = ` ${a.text} (${clock(a.atMs)})`;
    li.append(title, text);
    this.assist.prepend(li);
  }

  load(utterances) {
    for (const u of [...utterances].sort((a, b) => a.startMs - b.startMs)) this.final(u);
  }

  handle(event) {
    switch (event.event) {
      case "transcript.snapshot":
        this.load(event.utterances || []);
        for (const a of event.assist || []) this.item(a);
        this._status(event.status);
        break;
      case "transcript.final": this.final(event); break;
      case "transcript.partial": this.partial(event); break;
      case "assist.alert": case "assist.suggestion": this.item(event); break;
      case "transcript.completed":
        for (const li of this.partials.values()) li.remove();
        this.partials.clear();
        this._status(event.status || "complete");
        break;
      case "client.waiting": this._status("waiting for the call to start"); break;
      default: break;
    }
  }

  _status(status) { this.status = status; this.onStatus(status); }

  connect(url) {
    this.close();
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onmessage = (msg) => {
      try { this.handle(JSON.parse(msg.data)); } catch (err) { console.error(err); }
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (e.code === 1013) this._status("too slow to follow: reload to catch up");
      else if (e.code !== 1000) this._status(e.reason || `disconnected (${e.code})`);
    };
    return ws;
  }

  close() {
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
  }

  /** Replay: mark the utterance under ``ms`` as current; returns it. */
  highlight(ms) {
    let current = null;
    for (const li of this.list.children) {
      const on = Number(li.dataset.start) <= ms && ms < Math.max(Number(li.dataset.end), Number(li.dataset.start) + 300);
      if (on) current = li;
      if (on) li.setAttribute("aria-current", "true"); else li.removeAttribute("aria-current");
    }
    return current;
  }
}
