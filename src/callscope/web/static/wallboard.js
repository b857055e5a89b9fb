// The live wallboard: every call the user may see with its agent, queue, duration, live
// customer sentiment, alerts and who monitors it; the agents' presence; per-queue figures.
// Read from GET /calls/wallboard; kept current by the one wallboard socket (sentiment,
// alerts, monitoring of every call) and the telephony events (calls starting and ending).

import { clock } from "./transcript.js";
import { el, sentimentBadge } from "./dom.js";

const PRESENCE = { OnCall: "on a call", Available: "available", Offline: "offline" };
const MODES = { Listen: "listening", Coach: "coaching", Barge: "barged in" };
const SORTS = {
  longest: ["Longest first", (a, b) => Date.parse(a.startTime) - Date.parse(b.startTime)],
  newest: ["Newest first", (a, b) => Date.parse(b.startTime) - Date.parse(a.startTime)],
  agent: ["Agent name", (a, b) => (a.agent.name || "").localeCompare(b.agent.name || "")],
  alerts: ["Most alerts", (a, b) => b.alerts.length - a.alerts.length],
  sentiment: ["Unhappiest customer", (a, b) => (a.sentiment.score ?? 0) - (b.sentiment.score ?? 0)],
};

export function queueName(call) {
  if (!call.productType || !call.productId) return "no queue";
  return `${call.productType === "Campaign" || call.productType === "CAMPAIGN" ? "Campaign" : "Queue"} ${call.productId}`;
}

/** One socket for every call's wallboard changes, reconnecting with back-off. */
export class WallboardSocket {
  constructor(session, { onEvent, onStatus }) {
    this.session = session;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.ws = null;
    this.closed = false;
    this.delay = 1000;
    this.timer = null;
  }

  async start() {
    if (this.closed) return;
    try {
      const ws = new WebSocket(await this.session.socketUrl("/calls/wallboard/ws"));
      this.ws = ws;
      ws.onmessage = (msg) => {
        let event;
        try { event = JSON.parse(msg.data); } catch { return; }
        if (event.event === "wallboard.ready") { this.delay = 1000; this.onStatus("online"); }
        this.onEvent(event);
      };
      ws.onclose = () => { if (this.ws === ws) this._retry(); };
    } catch {
      this._retry();
    }
  }

  _retry() {
    this.ws = null;
    if (this.closed) return;
    this.onStatus("offline", this.delay);
    this.timer = setTimeout(() => this.start(), this.delay);
    this.delay = Math.min(this.delay * 2, 30_000);
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
  }
}

/** The filter and sort controls; ``onChange`` runs when any changes. */
export function boardControls(filters, board, onChange) {
  const queue = el("select", { id: "filter-queue" }, el("option", { value: "", text: "All queues" }));
  const agent = el("select", { id: "filter-agent" }, el("option", { value: "", text: "All agents" }));
  const queues = new Set(board.calls.map(queueName));
  for (const q of board.queues) queues.add(queueName(q));
  for (const q of [...queues].sort()) queue.append(el("option", { value: q, text: q }));
  for (const a of board.agents) agent.append(el("option", { value: a.agentId, text: `${a.name} (ext. ${a.extensionNumber})` }));
  const alerts = el("input", { type: "checkbox", id: "filter-alerts", checked: filters.alerts });
  const sort = el("select", { id: "sort-calls" }, ...Object.entries(SORTS).map(([v, [t]]) => el("option", { value: v, text: t })));
  queue.value = filters.queue; agent.value = filters.agent; sort.value = filters.sort;
  const changed = () => {
    Object.assign(filters, { queue: queue.value, agent: agent.value, alerts: alerts.checked, sort: sort.value });
    onChange();
  };
  for (const c of [queue, agent, alerts, sort]) c.addEventListener("change", changed);
  return el("div", { class: "filters", role: "group", "aria-label": "Filter and sort the calls" },
    el("div", {}, el("label", { for: "filter-queue", text: "Queue" }), queue),
    el("div", {}, el("label", { for: "filter-agent", text: "Agent" }), agent),
    el("div", {}, el("label", { for: "sort-calls", text: "Sort" }), sort),
    el("label", { class: "inline check", for: "filter-alerts" }, alerts, "Only calls with alerts"));
}

export function visibleCalls(calls, filters) {
  return calls.filter((c) => (!filters.queue || queueName(c) === filters.queue)
    && (!filters.agent || c.agent.id === filters.agent)
    && (!filters.alerts || c.alerts.length > 0))
    .sort(SORTS[filters.sort] ? SORTS[filters.sort][1] : SORTS.longest[1]);
}

export function callItem(call, { selected, skew }) {
  const started = Date.parse(call.startTime) + skew;
  const monitors = call.monitoredBy.map((m) => `${m.name} (${MODES[m.mode] || m.mode})`).join(", ");
  const alerts = call.alerts.length;
  const a = el("a", { href: `#/live/${encodeURIComponent(call.id)}`, "aria-current": selected ? "true" : null, "data-call": call.id },
    el("span", { class: "agent-name", text: call.agent.name ? `${call.agent.name} (ext. ${call.agent.extensionNumber})` : `agent ${call.agentId}` }),
    el("span", { class: "badge live", text: "on call" }),
    alerts ? el("span", { class: "badge alert", text: `${alerts} alert${alerts === 1 ? "" : "s"}` }) : null,
    el("div", { class: "meta" }, `${queueName(call)} · ${call.ani || "unknown number"} · `,
      el("span", { "data-since": started, "aria-label": "duration", text: clock(Date.now() - started) })),
    el("div", { class: "meta" }, sentimentBadge(call.sentiment.label),
      el("span", { class: "monitors", text: monitors ? ` Monitored by ${monitors}` : " Nobody is monitoring" })));
  return el("li", {}, a);
}

export function agentsPanel(board) {
  if (!board.agents.length) return el("p", { class: "muted", text: "No agents to show." });
  return el("ul", { class: "agents", id: "agents", "aria-label": "Agents" }, ...board.agents.map((a) => el("li", { "data-presence": a.presence },
    el("span", { class: `dot ${a.presence.toLowerCase()}`, "aria-hidden": "true" }),
    `${a.name} (ext. ${a.extensionNumber}): `, el("b", { text: PRESENCE[a.presence] || a.presence }))));
}

export function queuesPanel(board, skew) {
  if (!board.queues.length) return el("p", { class: "muted", id: "queues-empty", text: "No queue has a live call." });
  return el("table", { id: "queues", class: "compact" },
    el("thead", {}, el("tr", {}, ...["Queue", "Live calls", "Longest call"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...board.queues.map((q) => {
      const oldest = board.calls.filter((c) => queueName(c) === queueName(q))
        .reduce((m, c) => Math.min(m, Date.parse(c.startTime)), Infinity);
      return el("tr", {}, el("td", { text: queueName(q) }), el("td", { text: String(q.liveCalls) }),
        el("td", {}, el("span", { "data-since": oldest + skew, text: clock(q.longestCallMs) })));
    })));
}
