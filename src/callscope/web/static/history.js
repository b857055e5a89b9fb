// History: search the calls (words, agent name or extension, a phone number in any common
// format, a date range), sorted as asked, with each call's sentiment and alerts. The query
// lives in the URL (#/history?q=…), so a search can be bookmarked or shared.

import { clock } from "./transcript.js";
import { $, el, explain, notify, sentimentBadge, when } from "./dom.js";

const SORTS = { newest: "Newest first", oldest: "Oldest first", longest: "Longest first", shortest: "Shortest first" };
const STATUS = {
  live: "live now", completed: "completed", abandoned: "abandoned (the stream went silent)",
  interrupted: "interrupted (cut off)",
};

function field(id, label, input) {
  return el("div", {}, el("label", { for: id, text: label }), input);
}

export function historyView(ctx, query) {
  const { session, agentName } = ctx;
  const params = new URLSearchParams(query || "");
  const root = $("#view");
  const q = el("input", { id: "search-q", type: "search", name: "q", placeholder: "words, agent, extension or number" });
  const agent = el("select", { id: "search-agent", name: "agentId" }, el("option", { value: "", text: "Any agent" }));
  for (const a of ctx.agents()) agent.append(el("option", { value: a.agentId, text: `${a.name} (ext. ${a.extensionNumber})` }));
  const number = el("input", { id: "search-number", name: "phoneNumber", type: "tel", inputmode: "tel", placeholder: "+1 650 555 0100" });
  const from = el("input", { id: "search-from", name: "dateFrom", type: "date" });
  const to = el("input", { id: "search-to", name: "dateTo", type: "date" });
  const sort = el("select", { id: "search-sort", name: "sort" },
    ...Object.entries(SORTS).map(([v, t]) => el("option", { value: v, text: t })));
  const inputs = { q, agentId: agent, phoneNumber: number, dateFrom: from, dateTo: to, sort };
  for (const [k, input] of Object.entries(inputs)) input.value = params.get(k) || (k === "sort" ? "newest" : "");
  let page = Number(params.get("page") || 1);
  const tbody = el("tbody");
  const status = el("p", { class: "muted", role: "status", "aria-live": "polite" });
  const prev = el("button", { type: "button", text: "Previous" });
  const next = el("button", { type: "button", text: "Next" });
  const form = el("form", { class: "search", role: "search", "aria-label": "Search the calls" },
    field("search-q", "Search", q), field("search-agent", "Agent", agent),
    field("search-number", "Phone number", number), field("search-from", "From", from),
    field("search-to", "To", to), field("search-sort", "Sort", sort),
    el("button", { type: "submit", class: "primary", text: "Search" }));
  const columns = ["Started", "Agent", "Customer", "Duration", "Status", "Sentiment", "Alerts", ""];
  root.append(el("section", { class: "card", "aria-labelledby": "history-title" },
    el("h1", { id: "history-title", text: "Call history" }), form,
    el("table", { class: "responsive" },
      el("thead", {}, el("tr", {}, ...columns.map((h) => el("th", { scope: "col", text: h })))), tbody),
    el("div", { class: "pager" }, prev, next, status)));

  const go = (p) => {
    const out = new URLSearchParams();
    for (const [k, input] of Object.entries(inputs)) {
      const v = input.value.trim();
      if (v && !(k === "sort" && v === "newest")) out.set(k, v);
    }
    page = Math.max(1, p);
    if (page > 1) out.set("page", String(page));
    const hash = `#/history${out.toString() ? `?${out}` : ""}`;
    // the view stays: the URL is updated without re-rendering (a re-render would replace
    // the form under the user's next keystrokes) and the results are read again
    if (location.hash !== hash) history.pushState(null, "", hash);
    load();
  };
  const row = (call) => {
    const href = call.status === "live" ? `#/live/${encodeURIComponent(call.id)}` : `#/history/${encodeURIComponent(call.id)}`;
    const alerts = call.alertCount || 0;
    return el("tr", {},
      el("td", { "data-label": "Started", text: when(call.startTime) }),
      el("td", { "data-label": "Agent", text: agentName(call.agentId) }),
      el("td", { "data-label": "Customer", text: call.ani || "" }),
      el("td", { "data-label": "Duration", text: call.durationMs != null ? clock(call.durationMs) : "" }),
      el("td", { "data-label": "Status", text: STATUS[call.status] || call.status }),
      el("td", { "data-label": "Sentiment" }, call.sentiment ? sentimentBadge(call.sentiment) : el("span", { class: "muted", text: "—" })),
      el("td", { "data-label": "Alerts" }, alerts
        ? el("span", { class: "badge alert", text: `${alerts} alert${alerts === 1 ? "" : "s"}` })
        : el("span", { class: "muted", text: "none" })),
      el("td", {}, el("a", { href, text: call.status === "live" ? "Watch live" : "Replay",
        "aria-label": `${call.status === "live" ? "Watch" : "Replay"} the call of ${when(call.startTime)} with ${call.ani || "unknown number"}` })));
  };
  let asked = 0;
  async function load() {
    const mine = ++asked;
    const api = new URLSearchParams({ page: String(page), perPage: "25" });
    for (const [k, input] of Object.entries(inputs)) if (input.value.trim()) api.set(k, input.value.trim());
    status.textContent = "Loading…";
    try {
      const body = await session.get(`/calls?${api}`);
      if (mine !== asked) return; // a newer search was sent meanwhile: its answer counts
      tbody.replaceChildren(...body.records.map(row));
      const paging = body.paging;
      const pages = Math.max(1, paging.totalPages || 1);
      status.textContent = body.records.length
        ? `Page ${paging.page} of ${pages} · ${paging.totalElements} call${paging.totalElements === 1 ? "" : "s"}`
        : "No calls match.";
      prev.disabled = page <= 1;
      next.disabled = page >= pages;
    } catch (err) {
      status.textContent = "";
      notify(`Could not search the calls: ${explain(err)}`);
    }
  }
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (from.value && to.value && from.value > to.value) { notify("The search's From date is after its To date."); return; }
    go(1);
  });
  prev.addEventListener("click", () => go(page - 1));
  next.addEventListener("click", () => go(page + 1));
  load();
  return null;
}
