// The supervisor dashboard: the live wallboard, listen / coach / barge, live transcript with
// assist, history with replay and insights, and the admin pages for monitoring groups and
// streaming profiles. Plain ES modules, no build step; only callscope's public APIs.

import { ApiError, EventStream, Session } from "./api.js";
import { Listener } from "./audio.js";
import { TranscriptView, clock } from "./transcript.js";
import { $, el, explain, notify, sentimentBadge, when } from "./dom.js";
import { groupsView, profilesView } from "./admin.js";
import { historyView } from "./history.js";
import { replayView } from "./replay.js";
import {
  bindSupervision, escape, finishListening, onChannel, onDeviceState, renderState, talkBanner,
  talkButton, toggleListen,
} from "./supervise.js";
import {
  WallboardSocket, agentsPanel, boardControls, callItem, queueName, queuesPanel, visibleCalls,
} from "./wallboard.js";

const ACC = "/restapi/v1.0/account/~";

// -- state ------------------------------------------------------------------------------

const session = new Session();
const app = {
  extensions: new Map(),      // extension id -> record
  byAgent: new Map(),         // RingCX agent id -> extension record
  events: null,
  wallboard: null,
  links: { events: "offline", wallboard: "offline" },
  view: null,                 // the current view's cleanup
  board: { calls: [], agents: [], queues: [] },
  skew: 0,                    // server clock minus this one (ms)
  filters: { queue: "", agent: "", alerts: false, sort: "longest" },
  selected: null,
  ended: new Set(),           // calls shown as ended in the open panel
  listener: new Listener(),
  mic: null,
  device: null,               // { ws, id, ready: Promise }
  deviceState: null,
  sup: null,                  // { callId, sessionId, target, partyId, channel, mode }
  talk: null,                 // { mode, button, stop } while coaching or barging
  transcript: null,
  queue: Promise.resolve(),   // supervision requests run one after another
};
window.callscope = app;       // for the curious (and the browser tests): read-only use
bindSupervision(session, app);

function isAdmin() {
  return Boolean(session.me && session.me.permissions && session.me.permissions.admin &&
    session.me.permissions.admin.enabled);
}

function accountId() {
  const m = session.me && /\/account\/(\d+)\//.exec(session.me.uri || "");
  return m ? m[1] : "";
}

function agentName(agentId) {
  const ext = app.byAgent.get(String(agentId));
  return ext ? `${ext.name} (ext. ${ext.extensionNumber})` : agentId ? `agent ${agentId}` : "unknown agent";
}

const ctx = {
  session, app, agentName, accountId,
  agents: () => app.board.agents,   // the agents the user may see (the wallboard's scope)
};

async function loadExtensions() {
  const body = await session.get(`${ACC}/extension?perPage=1000`);
  app.extensions.clear(); app.byAgent.clear();
  for (const ext of body.records) {
    app.extensions.set(String(ext.id), ext);
    if (ext.ringcxAgentId) app.byAgent.set(String(ext.ringcxAgentId), ext);
  }
}

// -- connection state: red at once when a socket is gone --------------------------------

function linkStatus(which, status, retryMs) {
  app.links[which] = status;
  const conn = $("#conn");
  const states = Object.values(app.links);
  conn.classList.remove("online", "offline", "refused");
  if (states.includes("error")) {
    conn.textContent = "updates refused"; conn.classList.add("refused");
  } else if (states.every((s) => s === "online")) {
    conn.textContent = "live updates on"; conn.classList.add("online");
  } else {
    conn.textContent = retryMs ? `disconnected: retrying in ${Math.round(retryMs / 1000)} s` : "disconnected: reconnecting…";
    conn.classList.add("offline");
  }
}

// -- sign in / out ----------------------------------------------------------------------

function showSignedIn(on) {
  $("#login").hidden = on;
  $("#view").hidden = !on;
  $("#nav").hidden = !on;
  $("#who").hidden = !on;
  $(".skip").hidden = !on;   // before sign-in, the form is all there is
  for (const a of document.querySelectorAll("[data-admin]")) a.hidden = !(on && isAdmin());
  if (on) $("#who-name").textContent = `${session.me.name} (ext. ${session.me.extensionNumber})`;
}

async function refreshBoard() {
  const board = await session.get("/calls/wallboard");
  app.skew = Date.parse(board.serverTime) - Date.now();
  app.board = board;
  return board;
}

async function signedIn() {
  showSignedIn(true);
  try {
    await loadExtensions();
    await refreshBoard();
  } catch (err) {
    notify(`Could not read the extensions: ${explain(err)}`);
  }
  app.events = new EventStream(session, [`${ACC}/telephony/sessions`, "/v2/me/devices"], {
    onEvent,
    onResync: () => { if (app.resync) app.resync(); },
    onStatus: (status, message) => {
      linkStatus("events", status);
      if (message) notify(`Live updates: ${message}`);
    },
  });
  app.events.start();
  app.wallboard = new WallboardSocket(session, {
    onEvent: onBoardEvent,
    onStatus: (status, retryMs) => {
      linkStatus("wallboard", status, retryMs);
      if (status === "online" && app.resync) app.resync();
    },
  });
  app.wallboard.start();
  route();
}

async function signOut() {
  if (app.view) app.view();
  app.view = null;
  for (const s of [app.events, app.wallboard]) if (s) s.stop();
  app.events = app.wallboard = null;
  escape();
  if (app.device) app.device.ws.close();
  app.device = null;
  if (app.mic) await app.mic.close();
  app.mic = null;
  await session.signOut();
  showSignedIn(false);
  location.hash = "";
  $("#login-user").focus();
}

session.onExpired = () => {
  notify("Your session has expired: sign in again.");
  signOut();
};

$("#login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const error = $("#login-error");
  error.hidden = true;
  const button = $("#login-form button");
  button.disabled = true;
  try {
    await session.signIn($("#login-user").value.trim(), $("#login-password").value);
    $("#login-password").value = "";
    await signedIn();
  } catch (err) {
    error.textContent = err instanceof ApiError && err.status === 400
      ? "Wrong username or password." : `Sign-in failed: ${explain(err)}`;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
$("#sign-out").addEventListener("click", () => signOut());
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && session.signedIn && escape()) e.preventDefault();
});

// -- events -----------------------------------------------------------------------------

let refreshTimer = null;
function resyncSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { if (app.resync) app.resync(); }, 250);
}

function onEvent(envelope) {
  if (envelope.event && envelope.event.includes("/telephony/sessions")) resyncSoon();
  else if (envelope.body && envelope.body.messageType === "DeviceStateChangeMessage") {
    // the web phone's own socket carries its state first and in order; the subscription's
    // copy comes later through the event outbox and would undo a newer state
    if (!(app.device && app.device.id)) onDeviceState(envelope.body);
  }
}

function onBoardEvent(event) {
  const call = app.board.calls.find((c) => c.id === event.callId);
  if (event.event === "wallboard.monitoring" || !call) { resyncSoon(); return; }
  if (event.sentiment) call.sentiment = event.sentiment;
  if (event.alerts) call.alerts = event.alerts;
  if (event.suggestions) call.suggestions = event.suggestions;
  if (app.renderBoard) app.renderBoard();
}

// -- router -----------------------------------------------------------------------------

const VIEWS = {
  live: (arg) => liveView(arg),
  history: (arg, query) => (arg ? replayView(ctx, arg) : historyView(ctx, query)),
  groups: () => groupsView(ctx),
  profiles: () => profilesView(ctx),
};

function route() {
  if (!session.signedIn) { showSignedIn(false); $("#login-user").focus(); return; }
  const [path, query = ""] = (location.hash || "#/live").split("?");
  const [, name = "live", arg = null] = path.replace(/^#\/?/, "/").split("/").map((p) => decodeURIComponent(p));
  const view = VIEWS[name === "admin" ? arg : name] ? (name === "admin" ? arg : name) : "live";
  if ((view === "groups" || view === "profiles") && !isAdmin()) {
    notify("Only an administrator can manage monitoring groups and streaming profiles.");
    location.hash = "#/live";
    return;
  }
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.view === view) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (app.view) app.view();
  app.view = null;
  app.resync = null;
  app.renderBoard = null;
  notify(null);
  $("#view").replaceChildren();
  const cleanup = VIEWS[view](name === "admin" ? null : arg, query);
  app.view = typeof cleanup === "function" ? cleanup : null;
}
window.addEventListener("hashchange", route);

// -- the live wallboard -----------------------------------------------------------------

function emptyText(empty) {
  const groups = el("a", { href: "#/admin/groups", text: "Monitoring groups" });
  if (app.monitorable === 0 && isAdmin()) {
    empty.replaceChildren("You monitor no agents yet, so you cannot listen to their calls. Open ", groups,
      ", tick yourself as Monitoring and your agents as Monitored, then save.");
  } else if (app.monitorable === 0 && app.board.agents.length === 0) {
    empty.replaceChildren("No agents are in your monitoring groups: ask an administrator to add you as Monitoring and your agents as Monitored.");
  } else {
    empty.replaceChildren("No live calls right now. New calls appear here as they start.",
      isAdmin() ? el("span", {}, " Who monitors whom is set on the ", groups, " page.") : "");
  }
}

function liveView(callId) {
  const root = $("#view");
  const list = el("ul", { class: "calls", id: "live-calls", "aria-label": "Live calls" });
  const empty = el("p", { class: "empty", id: "live-empty", hidden: true });
  const count = el("span", { class: "badge live", id: "live-count", text: "0" });
  const controls = el("div", { id: "board-controls" });
  const floor = el("section", { class: "card floor", "aria-labelledby": "floor-title" },
    el("h2", { id: "floor-title", text: "Queues and agents" }), el("div", { class: "floor-grid" },
      el("div", { id: "queues-box" }), el("div", { id: "agents-box" })));
  const left = el("section", { class: "card", "aria-labelledby": "live-title" },
    el("h1", { id: "live-title" }, "Live calls ", count), controls, list, empty);
  const panel = el("section", { class: "card", id: "call-panel", "aria-labelledby": "call-title" });
  root.append(el("div", { class: "split" }, left, el("div", {}, panel, floor)));

  const render = () => {
    const board = app.board;
    const shown = visibleCalls(board.calls, app.filters);
    count.textContent = String(board.calls.length);
    list.replaceChildren(...shown.map((c) => callItem(c, { selected: c.id === app.selected, skew: -app.skew })));
    empty.hidden = shown.length > 0;
    if (!board.calls.length) emptyText(empty);
    else empty.replaceChildren("No live call matches the filters.");
    $("#queues-box").replaceChildren(el("h3", { text: "Queues" }), queuesPanel(board, -app.skew));
    $("#agents-box").replaceChildren(el("h3", { text: "Agents" }), agentsPanel(board));
    if (app.selected) updatePanelSummary(board.calls.find((c) => c.id === app.selected));
  };
  const drawControls = () => controls.replaceChildren(boardControls(app.filters, app.board, render));
  app.renderBoard = render;
  const refresh = async () => {
    try {
      await refreshBoard();
      if (app.monitorable === undefined || !app.board.calls.length) app.monitorable = await monitorableCount();
      drawControls();
      render();
      if (app.selected && !app.board.calls.some((c) => c.id === app.selected)) callEnded(app.selected);
    } catch (err) {
      notify(`Could not read the live calls: ${explain(err)}`);
    }
  };
  app.resync = refresh;
  const ticker = setInterval(() => {
    for (const span of root.querySelectorAll("[data-since]")) span.textContent = clock(Date.now() - Number(span.dataset.since));
    const mic = $("#mic-level");
    if (mic && app.mic) mic.value = app.mic.level;
  }, 250);
  drawControls();
  render();
  refresh().then(() => { if (callId) selectCall(callId, panel); else emptyPanel(panel); });
  return () => {
    clearInterval(ticker);
    if (app.transcript) app.transcript.close();
    app.transcript = null;
    app.selected = null;
  };
}

async function monitorableCount() {
  // whether the groups let the user monitor anyone at all (for the empty-state message)
  try {
    const groups = await session.get(`${ACC}/call-monitoring-groups?memberExtensionId=${session.me.id}&perPage=100`);
    let n = 0;
    for (const g of groups.records) {
      const members = await session.get(`${ACC}/call-monitoring-groups/${g.id}/members?perPage=1000`);
      const me = members.records.find((m) => String(m.id) === String(session.me.id));
      if (me && me.permissions.includes("Monitoring")) n += members.records.filter((m) => m.permissions.includes("Monitored")).length;
    }
    return n;
  } catch {
    return undefined;
  }
}

function emptyPanel(panel) {
  panel.replaceChildren(el("h2", { id: "call-title", text: "No call selected" }),
    el("p", { class: "muted", text: "Choose a live call to read its transcript and listen in." }));
}

function updatePanelSummary(call) {
  const box = $("#call-summary");
  if (!box || !call) return;
  const monitors = call.monitoredBy.map((m) => `${m.name} (${m.mode})`).join(", ");
  box.replaceChildren(...[sentimentBadge(call.sentiment.label),
    call.alerts.length ? el("span", { class: "badge alert", text: `${call.alerts.length} alert${call.alerts.length === 1 ? "" : "s"}` }) : null,
    el("span", { class: "muted", text: ` ${queueName(call)} · ${monitors ? `monitored by ${monitors}` : "nobody is monitoring"}` })].filter(Boolean));
}

const TRANSCRIPT_WORDS = { live: "live", pending: "finishing the last words", complete: "complete", incomplete: "interrupted: it stops where the call was cut off" };

function selectCall(callId, panel) {
  const call = app.board.calls.find((c) => c.id === callId);
  app.selected = callId;
  app.cut = false;
  for (const a of document.querySelectorAll("#live-calls a")) a.setAttribute("aria-current", a.dataset.call === callId ? "true" : "false");
  if (!call) {
    panel.replaceChildren(el("h2", { id: "call-title", tabindex: "-1", text: "This call has ended" }),
      el("p", {}, "Read it in ", el("a", { href: `#/history/${encodeURIComponent(callId)}`, text: "History" }), "."));
    $("#call-title").focus();
    return;
  }
  const own = String(call.agent.extensionId) === String(session.me.id);
  const channel = app.sup && app.sup.callId === callId ? app.sup.channel : "mixed";
  const radios = ["mixed", "agent", "customer"].map((c) => el("label", { class: "inline" },
    el("input", { type: "radio", name: "channel", value: c, checked: c === channel, onchange: () => onChannel(c) }),
    { mixed: "Both parties", agent: "Agent only", customer: "Customer only" }[c]));
  const listen = el("button", { type: "button", id: "listen", class: "primary", "aria-pressed": "false", text: "Listen", onclick: () => toggleListen(call) });
  const level = el("meter", { id: "listen-level", min: "0", max: "0.5", value: "0", "aria-label": "Call audio level" });
  const coach = talkButton("coach", "Coach", "Coach", call);
  const barge = talkButton("barge", "Barge in", "Barge", call);
  const transcriptList = el("ol", { class: "transcript", id: "live-transcript", "aria-live": "polite", "aria-label": "Transcript" });
  const assist = el("ul", { class: "assist", id: "live-assist", "aria-live": "polite", "aria-label": "Suggestions and alerts" });
  const tstatus = el("span", { class: "muted", id: "transcript-status" });
  const controls = own
    ? el("p", { class: "muted", text: "This is your own call: its transcript and suggestions follow it live." })
    : el("div", {},
      el("div", { class: "controls" }, el("fieldset", {}, el("legend", { text: "Listen to" }), ...radios), listen, level),
      el("div", { class: "controls" }, coach, barge,
        el("span", { class: "why", id: "talk-why", text: "Listen first to coach or barge in." })),
      talkBanner(),
      el("p", { class: "state", id: "monitor-state", role: "status", "aria-live": "polite" }));
  panel.replaceChildren(
    el("h2", { id: "call-title", tabindex: "-1" }, `${call.agent.name || agentName(call.agentId)} with ${call.ani || "unknown number"} `,
      el("span", { class: "badge live", id: "call-state", text: "live" })),
    el("p", { class: "muted" }, `Started ${when(call.startTime)} · call ${call.ringcxCallId || call.id}`),
    el("p", { id: "call-summary" }),
    controls,
    el("div", { class: "columns" },
      el("section", { "aria-labelledby": "tr-title" }, el("h3", { id: "tr-title" }, "Transcript ", tstatus), transcriptList),
      el("section", { "aria-labelledby": "as-title" }, el("h3", { id: "as-title", text: "Suggestions and alerts" }), assist)));
  updatePanelSummary(call);
  if (app.transcript) app.transcript.close();
  app.transcript = new TranscriptView(transcriptList, assist, {
    onStatus: (s) => {
      // a call cut off never reads as complete
      const word = app.ended.has(callId) && app.cut && s === "complete" ? "incomplete" : s;
      tstatus.textContent = word ? `(${TRANSCRIPT_WORDS[word] || word})` : "";
    },
  });
  session.socketUrl(`/calls/${encodeURIComponent(call.id)}/transcript/ws`).then((url) => app.transcript.connect(url));
  renderState();
  $("#call-title").focus();
  const meter = setInterval(() => {
    if (!document.body.contains(level)) { clearInterval(meter); return; }
    level.value = app.listener.level;
  }, 100);
}

async function callEnded(callId) {
  if (app.ended.has(callId)) return;   // once: no "(ended) (ended)"
  app.ended.add(callId);
  if (app.sup && app.sup.callId === callId) finishListening();
  const panel = $("#call-panel");
  if (!panel || app.selected !== callId) return;
  for (const b of panel.querySelectorAll(".controls button, .controls input")) b.disabled = true;
  const why = $("#talk-why");
  if (why) why.hidden = true;   // nothing to coach or barge into any more
  let call = null;
  try { call = await session.get(`/calls/${encodeURIComponent(callId)}`); } catch { /* shown as ended */ }
  app.cut = Boolean(call && (call.status === "interrupted" || call.status === "abandoned"));
  const badge = $("#call-state");
  if (badge) {
    badge.textContent = app.cut ? "interrupted" : "ended";
    badge.className = `badge ${app.cut ? "alert" : ""}`;
  }
  if (app.cut) $("#transcript-status").textContent = `(${TRANSCRIPT_WORDS.incomplete})`;
  const state = $("#monitor-state") || $("#call-summary");
  if (state) {
    state.replaceChildren(app.cut ? "The call was cut off. " : "The call has ended. ",
      el("a", { href: `#/history/${encodeURIComponent(callId)}`, text: "Replay it and read the insights" }), ".");
  }
}

// -- start ------------------------------------------------------------------------------

if (session.signedIn && session.me) signedIn(); else showSignedIn(false);
