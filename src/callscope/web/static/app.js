// The supervisor dashboard: live calls, listen / coach / barge, live transcript with assist,
// history with replay and insights, and the admin pages for monitoring groups and
// streaming profiles. Plain ES modules, no build step; only callscope's public APIs.

import { ApiError, EventStream, Session } from "./api.js";
import { Listener, Microphone } from "./audio.js";
import { TranscriptView, clock } from "./transcript.js";

const ACC = "/restapi/v1.0/account/~";
const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

function notify(message, kind = "error") {
  const box = $("#notice");
  if (!message) { box.hidden = true; return; }
  box.textContent = message;
  box.className = `notice ${kind === "info" ? "info" : ""}`;
  box.setAttribute("role", kind === "info" ? "status" : "alert");
  box.hidden = false;
}

function explain(err) {
  if (err instanceof ApiError) return `${err.message}${err.code ? ` (${err.code})` : ""}`;
  return err && err.message ? err.message : String(err);
}

// -- state ------------------------------------------------------------------------------

const session = new Session();
const app = {
  extensions: new Map(),      // extension id -> record
  byAgent: new Map(),         // RingCX agent id -> extension record
  events: null,
  view: null,                 // the current view's cleanup
  live: [],
  selected: null,
  listener: new Listener(),
  mic: null,
  device: null,               // { ws, id, ready: Promise }
  deviceState: null,
  sup: null,                  // { callId, sessionId, target, partyId, channel, mode }
  transcript: null,
  queue: Promise.resolve(),   // supervision requests run one after another
};
window.callscope = app;       // for the curious (and the browser tests): read-only use

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
  return ext ? `${ext.name} (${ext.extensionNumber})` : agentId ? `agent ${agentId}` : "unknown agent";
}

async function loadExtensions() {
  const body = await session.get(`${ACC}/extension?perPage=1000`);
  app.extensions.clear(); app.byAgent.clear();
  for (const ext of body.records) {
    app.extensions.set(String(ext.id), ext);
    if (ext.ringcxAgentId) app.byAgent.set(String(ext.ringcxAgentId), ext);
  }
}

// -- sign in / out ----------------------------------------------------------------------

function showSignedIn(on) {
  $("#login").hidden = on;
  $("#view").hidden = !on;
  $("#nav").hidden = !on;
  $("#who").hidden = !on;
  for (const a of document.querySelectorAll("[data-admin]")) a.hidden = !(on && isAdmin());
  if (on) $("#who-name").textContent = `${session.me.name} (ext. ${session.me.extensionNumber})`;
}

async function signedIn() {
  showSignedIn(true);
  try {
    await loadExtensions();
  } catch (err) {
    notify(`Could not read the extensions: ${explain(err)}`);
  }
  app.events = new EventStream(session, [
    `${ACC}/telephony/sessions`,
    "/v2/me/devices",
  ], {
    onEvent: onEvent,
    onResync: () => { if (app.resync) app.resync(); },
    onStatus: (status, message) => {
      const conn = $("#conn");
      conn.textContent = status === "online" ? "live updates on" : status === "error" ? "updates refused" : "reconnecting…";
      conn.classList.toggle("online", status === "online");
      if (message) notify(`Live updates: ${message}`);
    },
  });
  app.events.start();
  route();
}

async function signOut() {
  if (app.view) app.view();
  app.view = null;
  if (app.events) app.events.stop();
  await stopListening().catch(() => {});
  if (app.device) app.device.ws.close();
  app.device = null;
  if (app.mic) await app.mic.close();
  app.mic = null;
  await session.signOut();
  showSignedIn(false);
  location.hash = "";
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

// -- events -----------------------------------------------------------------------------

let refreshTimer = null;
function onEvent(envelope) {
  if (envelope.event && envelope.event.includes("/telephony/sessions")) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => { if (app.resync) app.resync(); }, 250);
  } else if (envelope.body && envelope.body.messageType === "DeviceStateChangeMessage") {
    onDeviceState(envelope.body);
  }
}

// -- router -----------------------------------------------------------------------------

const VIEWS = {
  live: (arg) => liveView(arg),
  history: (arg) => historyView(arg),
  groups: () => groupsView(),
  profiles: () => profilesView(),
};

function route() {
  if (!session.signedIn) { showSignedIn(false); $("#login-user").focus(); return; }
  const [, name = "live", arg = null] = (location.hash || "#/live").replace(/^#\/?/, "/").split("/")
    .map((p) => decodeURIComponent(p));
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
  notify(null);
  const root = $("#view");
  root.replaceChildren();
  const cleanup = VIEWS[view](name === "admin" ? null : arg);
  app.view = typeof cleanup === "function" ? cleanup : null;
}
window.addEventListener("hashchange", route);

// -- live calls -------------------------------------------------------------------------

function liveView(callId) {
  const root = $("#view");
  const list = el("ul", { class: "calls", id: "live-calls", "aria-label": "Live calls" });
  const empty = el("p", { class: "empty", id: "live-empty", hidden: true });
  const count = el("span", { class: "badge live", id: "live-count", text: "0" });
  const left = el("section", { class: "card", "aria-labelledby": "live-title" },
    el("h1", { id: "live-title" }, "Live calls ", count), list, empty);
  const panel = el("section", { class: "card", id: "call-panel", "aria-labelledby": "call-title" });
  root.append(el("div", { class: "split" }, left, panel));

  const render = () => {
    list.replaceChildren();
    count.textContent = String(app.live.length);
    for (const call of app.live) {
      const started = Date.parse(call.startTime);
      const a = el("a", { href: `#/live/${encodeURIComponent(call.id)}`,
        "aria-current": call.id === app.selected ? "true" : null },
      el("span", { class: "who", text: agentName(call.agentId) }),
      el("span", { class: "badge live", text: "live" }),
      app.sup && app.sup.callId === call.id ? el("span", { class: "badge", text: app.sup.mode }) : null,
      el("div", { class: "meta" }, `${call.ani || "unknown number"} · `,
        el("span", { "data-since": started, text: clock(Date.now() - started) })));
      list.append(el("li", {}, a));
    }
    empty.hidden = app.live.length > 0;
    empty.textContent = app.monitorable === 0
      ? "No agents are in your monitoring groups: an administrator adds you as Monitoring and the agents as Monitored on the Monitoring groups page."
      : "No live calls of the agents you monitor right now. New calls appear here as they start.";
  };

  const refresh = async () => {
    try {
      const body = await session.get("/calls?status=live&monitored=true&perPage=100");
      app.live = body.records;
      if (app.monitorable === undefined || !app.live.length) {
        // whether the groups allow anyone at all (for the empty-state message)
        app.monitorable = await monitorableCount();
      }
      render();
      if (app.selected && !app.live.some((c) => c.id === app.selected)) callEnded(app.selected);
    } catch (err) {
      notify(`Could not read the live calls: ${explain(err)}`);
    }
  };
  app.resync = refresh;
  const ticker = setInterval(() => {
    for (const span of list.querySelectorAll("[data-since]")) {
      span.textContent = clock(Date.now() - Number(span.dataset.since));
    }
  }, 1000);
  refresh().then(() => { if (callId) selectCall(callId, panel); else emptyPanel(panel); });
  return () => {
    clearInterval(ticker);
    if (app.transcript) app.transcript.close();
    app.transcript = null;
  };
}

async function monitorableCount() {
  // a cheap probe: any call at all visible as "monitored"? if not, do the groups list anyone?
  try {
    const groups = await session.get(`${ACC}/call-monitoring-groups?memberExtensionId=${session.me.id}&perPage=100`);
    let n = 0;
    for (const g of groups.records) {
      const members = await session.get(`${ACC}/call-monitoring-groups/${g.id}/members?perPage=1000`);
      const me = members.records.find((m) => String(m.id) === String(session.me.id));
      if (me && me.permissions.includes("Monitoring")) {
        n += members.records.filter((m) => m.permissions.includes("Monitored")).length;
      }
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

function selectCall(callId, panel) {
  const call = app.live.find((c) => c.id === callId);
  app.selected = callId;
  for (const a of document.querySelectorAll("#live-calls a")) {
    a.setAttribute("aria-current", a.getAttribute("href").endsWith(encodeURIComponent(callId)) ? "true" : "false");
  }
  if (!call) {
    panel.replaceChildren(el("h2", { id: "call-title", text: "This call has ended" }),
      el("p", {}, "Read it in ", el("a", { href: `#/history/${encodeURIComponent(callId)}`, text: "History" }), "."));
    return;
  }
  const channel = app.sup && app.sup.callId === callId ? app.sup.channel : "mixed";
  const radios = ["mixed", "agent", "customer"].map((c) => el("label", { class: "inline" },
    el("input", { type: "radio", name: "channel", value: c, checked: c === channel,
      onchange: () => onChannel(c) }),
    { mixed: "Both parties", agent: "Agent only", customer: "Customer only" }[c]));
  const listening = app.sup && app.sup.callId === callId;
  const listen = el("button", { type: "button", id: "listen", class: "primary", "aria-pressed": String(Boolean(listening)),
    text: listening ? "Stop listening" : "Listen", onclick: () => toggleListen(call) });
  const level = el("meter", { id: "listen-level", min: "0", max: "0.5", value: "0", "aria-label": "Call audio level" });
  const coach = talkButton("coach", "Hold to coach", "Coach", call);
  const barge = talkButton("barge", "Hold to barge in", "Barge", call);
  const transcriptList = el("ol", { class: "transcript", id: "live-transcript", "aria-live": "polite", "aria-label": "Transcript" });
  const assist = el("ul", { class: "assist", id: "live-assist", "aria-live": "polite", "aria-label": "Suggestions and alerts" });
  const tstatus = el("span", { class: "muted", id: "transcript-status" });
  panel.replaceChildren(
    el("h2", { id: "call-title", text: `${agentName(call.agentId)} with ${call.ani || "unknown number"}` }),
    el("p", { class: "muted" }, `Started ${when(call.startTime)} · call ${call.ringcxCallId || call.id}`),
    el("div", { class: "controls" },
      el("fieldset", {}, el("legend", { text: "Listen to" }), ...radios), listen, level, coach, barge),
    el("p", { class: "state", id: "monitor-state", role: "status", "aria-live": "polite" }),
    el("div", { class: "columns" },
      el("section", { "aria-labelledby": "tr-title" }, el("h3", { id: "tr-title" }, "Transcript ", tstatus), transcriptList),
      el("section", { "aria-labelledby": "as-title" }, el("h3", { id: "as-title", text: "Suggestions and alerts" }), assist)));
  if (app.transcript) app.transcript.close();
  app.transcript = new TranscriptView(transcriptList, assist, {
    onStatus: (s) => { tstatus.textContent = s ? `(${s})` : ""; },
  });
  session.socketUrl(`/calls/${encodeURIComponent(call.id)}/transcript/ws`).then((url) => app.transcript.connect(url));
  renderState();
  const meter = setInterval(() => {
    if (!document.body.contains(level)) { clearInterval(meter); return; }
    level.value = app.listener.level;
  }, 100);
}

function callEnded(callId) {
  if (app.sup && app.sup.callId === callId) {
    finishListening();
  }
  const panel = $("#call-panel");
  if (panel && app.selected === callId) {
    const title = $("#call-title");
    if (title) title.textContent += " (ended)";
    for (const b of panel.querySelectorAll(".controls button, .controls input")) b.disabled = true;
    const state = $("#monitor-state");
    if (state) {
      state.replaceChildren("The call has ended. ",
        el("a", { href: `#/history/${encodeURIComponent(callId)}`, text: "Replay it and read the insights" }), ".");
    }
  }
}

// -- supervision: the web phone, Supervise Call Session/Party, talk ----------------------

function serial(task) {
  const run = app.queue.then(task, task);
  app.queue = run.catch(() => {});
  return run;
}

function ensureDevice() {
  if (app.device && app.device.ws.readyState <= 1) return app.device.ready;
  const device = { ws: null, id: null };
  device.ready = (async () => {
    const params = { name: "Dashboard" };
    const saved = sessionStorage.getItem("callscope.deviceId");
    if (saved) params.deviceId = saved;
    const ws = new WebSocket(await session.socketUrl("/supervision/device", params));
    ws.binaryType = "arraybuffer";
    device.ws = ws;
    return new Promise((resolve, reject) => {
      ws.onmessage = (msg) => {
        if (typeof msg.data !== "string") { app.listener.push(msg.data); return; }
        const m = JSON.parse(msg.data);
        if (m.type === "DeviceConnected") {
          device.id = m.deviceId;
          sessionStorage.setItem("callscope.deviceId", m.deviceId);
          resolve(device);
        } else onDeviceMessage(m);
      };
      ws.onclose = (e) => {
        if (app.device === device) app.device = null;
        if (!device.id) {
          sessionStorage.removeItem("callscope.deviceId");
          reject(new Error(e.reason || "the web phone could not connect"));
        } else if (app.sup) {
          finishListening();
          notify(`The web phone disconnected${e.reason ? `: ${e.reason}` : ""}.`);
        }
      };
    });
  })();
  app.device = device;
  device.ready.catch(() => { if (app.device === device) app.device = null; });
  return device.ready;
}

function onDeviceMessage(m) {
  if (m.channel === "/v2/me/devices" && m.data) { onDeviceState(m.data); return; }
  switch (m.type) {
    case "StreamEnded":
      if (app.sup && m.callId === app.sup.callId && m.reason !== "supervisor left") {
        finishListening();
        if (m.reason && m.reason !== "call ended") notify(`Listening stopped: ${m.reason}.`, "info");
      }
      break;
    case "ModeChanged":
      if (app.sup && m.callId === app.sup.callId) { app.sup.mode = m.mode; renderState(); }
      break;
    case "Notice": notify(m.message, "info"); break;
    case "Error": notify(`Web phone: ${m.message}`); break;
    default: break;
  }
}

function onDeviceState(message) {
  const dev = (message.devices || []).find((d) => !app.device || String(d.id) === String(app.device.id));
  if (!dev) return;
  app.deviceState = dev;
  renderState();
}

function allowed(op) {
  const dev = app.deviceState;
  if (!dev || !app.sup) return false;
  const state = dev.supervisorMonitoringState;
  return dev.capabilities.includes(op) || Boolean(state && state.state === op);
}

function renderState() {
  const box = $("#monitor-state");
  const dev = app.deviceState;
  const mine = app.sup && app.sup.callId === app.selected;
  for (const [id, op] of [["coach", "Coach"], ["barge", "BargeIn"]]) {
    const b = document.getElementById(id);
    if (!b) continue;
    const ok = mine && allowed(op);
    b.disabled = !ok;
    b.title = !mine ? "Listen first" : ok ? "" : "This call's stream is one-way: talking needs a two-way stream";
  }
  const listen = $("#listen");
  if (listen) {
    listen.textContent = mine ? "Stop listening" : "Listen";
    listen.setAttribute("aria-pressed", String(Boolean(mine)));
  }
  if (!box) return;
  if (!dev) { box.textContent = "Web phone not connected: press Listen to connect it."; return; }
  const state = dev.supervisorMonitoringState;
  const parts = [`Web phone ${dev.id}: ${dev.deviceState === "Active" ? "online" : "offline"}`];
  if (state) {
    const mode = state.activeMode || state.state;
    parts.push(`monitoring ${state.telephonySessionId ? `call ${state.telephonySessionId}` : "armed"} — ${mode}`);
  } else {
    parts.push("not monitoring");
  }
  parts.push(`allowed: ${dev.capabilities.join(", ") || "nothing"}`);
  box.textContent = parts.join(" · ");
}

async function supervise(call, mode) {
  const device = await ensureDevice();
  const agent = app.byAgent.get(String(call.agentId));
  if (!agent) throw new Error(`agent ${call.agentId} is not an extension of this account`);
  const sup = app.sup;
  const body = { mode, supervisorDeviceId: device.id, agentExtensionId: String(agent.id) };
  let path = `${ACC}/telephony/sessions/${call.telephonySessionId}/supervise`;
  if (sup.channel !== "mixed") {
    if (!sup.partyId) {
      const s = await session.get(`${ACC}/telephony/sessions/${call.telephonySessionId}`);
      const live = s.parties.filter((p) => !["Disconnected", "Gone"].includes(p.status.code));
      const party = sup.channel === "agent"
        ? live.find((p) => String(p.extensionId) === String(agent.id))
        : live.find((p) => !p.extensionId);
      if (!party) throw new Error(`the ${sup.channel} is no longer on the call`);
      sup.partyId = party.id;
    }
    path = `${ACC}/telephony/sessions/${call.telephonySessionId}/parties/${sup.partyId}/supervise`;
  }
  const party = await session.post(path, body);
  sup.supervisorPartyId = party.id;
  sup.mode = mode;
  renderState();
}

function toggleListen(call) {
  if (app.sup && app.sup.callId === call.id) return serial(() => stopListening());
  // the audio context starts inside the click: browsers allow sound after a gesture
  const started = app.listener.start();
  return serial(async () => {
    try {
      await started;
      if (app.sup) await stopListening();
      const channel = (document.querySelector("input[name=channel]:checked") || {}).value || "mixed";
      app.sup = { callId: call.id, sessionId: call.telephonySessionId, channel, partyId: null, mode: "Listen" };
      await supervise(call, "Listen");
      notify(null);
    } catch (err) {
      app.sup = null;
      await app.listener.stop();
      renderState();
      notify(`Cannot listen: ${explain(err)}`);
    }
  });
}

function finishListening() {
  app.sup = null;
  if (app.mic) app.mic.talking = false;
  app.listener.stop();
  for (const id of ["coach", "barge"]) {
    const b = document.getElementById(id);
    if (b) b.setAttribute("aria-pressed", "false");
  }
  renderState();
}

async function stopListening() {
  const sup = app.sup;
  if (!sup) return;
  finishListening();
  if (sup.supervisorPartyId) {
    await session.del(`${ACC}/telephony/sessions/${sup.sessionId}/parties/${sup.supervisorPartyId}`)
      .catch((err) => { if (!(err instanceof ApiError && err.status === 404)) throw err; });
  }
}

function onChannel(channel) {
  const sup = app.sup;
  if (!sup || sup.channel === channel) return;
  const call = app.live.find((c) => c.id === sup.callId);
  if (!call) return;
  serial(async () => {
    try {
      await stopListening();
      await app.listener.start();
      app.sup = { callId: call.id, sessionId: call.telephonySessionId, channel, partyId: null, mode: "Listen" };
      await supervise(call, "Listen");
    } catch (err) {
      finishListening();
      notify(`Cannot switch the channel: ${explain(err)}`);
    }
  });
}

function talkButton(id, label, mode, call) {
  const button = el("button", { type: "button", id, class: "talk", "aria-pressed": "false", disabled: true,
    "aria-describedby": "monitor-state", text: label });
  let held = false;
  const press = (e) => {
    if (held || button.disabled) return;
    if (e.type === "keydown" && e.key !== " " && e.key !== "Enter") return;
    if (e.type === "keydown" && e.repeat) return;
    e.preventDefault();
    held = true;
    button.setAttribute("aria-pressed", "true");
    serial(async () => {
      try {
        if (!app.mic) app.mic = new Microphone((frame) => {
          if (app.device && app.device.ws.readyState === 1) app.device.ws.send(frame);
        });
        await app.mic.open();
        if (!held) return;
        await supervise(call, mode);
        app.mic.talking = held;
      } catch (err) {
        held = false;
        button.setAttribute("aria-pressed", "false");
        notify(`Cannot ${mode === "Coach" ? "coach" : "barge in"}: ${explain(err)}`);
      }
    });
  };
  const release = (e) => {
    if (!held) return;
    if (e.type === "keyup" && e.key !== " " && e.key !== "Enter") return;
    held = false;
    button.setAttribute("aria-pressed", "false");
    if (app.mic) app.mic.talking = false;
    serial(async () => {
      if (app.sup && app.sup.callId === call.id && app.sup.mode !== "Listen") {
        try { await supervise(call, "Listen"); } catch (err) { notify(`Back to listening failed: ${explain(err)}`); }
      }
    });
  };
  button.addEventListener("pointerdown", press);
  button.addEventListener("keydown", press);
  for (const ev of ["pointerup", "pointerleave", "pointercancel", "keyup", "blur"]) button.addEventListener(ev, release);
  return button;
}

// -- history, replay, insights ----------------------------------------------------------

function historyView(callId) {
  if (callId) return replayView(callId);
  const root = $("#view");
  const q = el("input", { id: "search-q", type: "search", name: "q", placeholder: "words, number or agent id" });
  const agent = el("select", { id: "search-agent", name: "agentId" }, el("option", { value: "", text: "Any agent" }));
  for (const [agentId, ext] of app.byAgent) agent.append(el("option", { value: agentId, text: `${ext.name} (${agentId})` }));
  const number = el("input", { id: "search-number", name: "phoneNumber", inputmode: "tel", placeholder: "+15551234567" });
  const params = new URLSearchParams(sessionStorage.getItem("callscope.history") || "");
  q.value = params.get("q") || ""; agent.value = params.get("agentId") || ""; number.value = params.get("phoneNumber") || "";
  let page = Number(params.get("page") || 1);
  const tbody = el("tbody");
  const status = el("p", { class: "muted", role: "status", "aria-live": "polite" });
  const prev = el("button", { type: "button", text: "Previous" });
  const next = el("button", { type: "button", text: "Next" });
  const form = el("form", { class: "search", role: "search" },
    el("div", {}, el("label", { for: "search-q", text: "Search" }), q),
    el("div", {}, el("label", { for: "search-agent", text: "Agent" }), agent),
    el("div", {}, el("label", { for: "search-number", text: "Phone number" }), number),
    el("button", { type: "submit", class: "primary", text: "Search" }));
  root.append(el("section", { class: "card", "aria-labelledby": "history-title" },
    el("h1", { id: "history-title", text: "Call history" }), form,
    el("table", { class: "responsive" },
      el("thead", {}, el("tr", {}, ...["Started", "Agent", "Customer", "Duration", "Status", ""].map((h) => el("th", { scope: "col", text: h })))),
      tbody),
    el("div", { class: "pager" }, prev, next, status)));

  const load = async () => {
    const query = new URLSearchParams({ page: String(page), perPage: "25" });
    if (q.value.trim()) query.set("q", q.value.trim());
    if (agent.value) query.set("agentId", agent.value);
    if (number.value.trim()) query.set("phoneNumber", number.value.trim());
    sessionStorage.setItem("callscope.history", query.toString());
    status.textContent = "Loading…";
    try {
      const body = await session.get(`/calls?${query}`);
      tbody.replaceChildren();
      for (const call of body.records) {
        const dur = call.durationMs != null ? clock(call.durationMs) : "";
        const href = call.status === "live" ? `#/live/${encodeURIComponent(call.id)}` : `#/history/${encodeURIComponent(call.id)}`;
        tbody.append(el("tr", {},
          el("td", { "data-label": "Started", text: when(call.startTime) }),
          el("td", { "data-label": "Agent", text: agentName(call.agentId) }),
          el("td", { "data-label": "Customer", text: call.ani || "" }),
          el("td", { "data-label": "Duration", text: dur }),
          el("td", { "data-label": "Status", text: call.status }),
          el("td", {}, el("a", { href, text: call.status === "live" ? "Watch live" : "Replay",
            "aria-label": `${call.status === "live" ? "Watch" : "Replay"} the call of ${when(call.startTime)} with ${call.ani || "unknown number"}` }))));
      }
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
  };
  form.addEventListener("submit", (e) => { e.preventDefault(); page = 1; load(); });
  prev.addEventListener("click", () => { page -= 1; load(); });
  next.addEventListener("click", () => { page += 1; load(); });
  load();
  return null;
}

function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

function replayView(callId) {
  const root = $("#view");
  const card = el("section", { class: "card", "aria-labelledby": "replay-title" },
    el("p", {}, el("a", { href: "#/history", text: "← Back to history" })),
    el("h1", { id: "replay-title", text: "Call" }));
  root.append(card);
  let objectUrl = null;
  (async () => {
    let call;
    try {
      call = await session.get(`/calls/${encodeURIComponent(callId)}`);
    } catch (err) {
      card.append(el("p", { class: "error", role: "alert", text: `This call cannot be shown: ${explain(err)}` }));
      return;
    }
    $("#replay-title").textContent = `${agentName(call.agentId)} with ${call.ani || "unknown number"}`;
    const audio = el("audio", { controls: true, id: "replay-audio", preload: "auto", "aria-label": "Call recording" });
    const audioNote = el("p", { class: "muted", role: "status" }, "Loading the recording…");
    const list = el("ol", { class: "transcript", id: "replay-transcript", "aria-label": "Transcript" });
    const insights = el("div", { class: "insights", id: "insights", "aria-live": "polite" }, el("p", { class: "muted", text: "Loading insights…" }));
    const wav = el("button", { type: "button", id: "download-wav", text: "Download WAV" });
    const json = el("button", { type: "button", id: "download-json", text: "Download JSON" });
    card.append(
      el("p", { class: "muted" }, `Started ${when(call.startTime)} · ${call.durationMs != null ? clock(call.durationMs) : ""} · ${call.status}${call.endReason ? ` (${call.endReason})` : ""}`),
      audio, audioNote, el("div", { class: "downloads" }, wav, json),
      el("div", { class: "columns" },
        el("section", { "aria-labelledby": "rt-title" }, el("h2", { id: "rt-title", text: "Transcript" }), list),
        el("section", { "aria-labelledby": "in-title" }, el("h2", { id: "in-title", text: "Insights" }), insights)));
    const view = new TranscriptView(list, null, {
      seekable: true,
      onSeek: (ms) => { audio.currentTime = ms / 1000; audio.play().catch(() => {}); },
    });
    let transcript = null;
    let doc = null;
    try {
      transcript = await session.get(`/calls/${encodeURIComponent(callId)}/transcript`);
      view.load(transcript.utterances);
      if (!transcript.utterances.length) list.append(el("li", { class: "muted", text: `No transcript (${transcript.status}).` }));
    } catch (err) {
      list.append(el("li", { class: "error", text: `Transcript unavailable: ${explain(err)}` }));
    }
    audio.addEventListener("timeupdate", () => {
      const current = view.highlight(audio.currentTime * 1000);
      if (current && !audio.paused) current.scrollIntoView({ block: "nearest" });
    });
    try {
      const response = await session.request("GET", `/calls/${encodeURIComponent(callId)}/recording`, undefined, { raw: true });
      const blob = await response.blob();
      objectUrl = URL.createObjectURL(blob);
      audio.src = objectUrl;
      audioNote.textContent = `Recording: ${(blob.size / 1024).toFixed(0)} KB, agent on the left, customer on the right.`;
      wav.addEventListener("click", () => download(`${call.id}.wav`, blob));
    } catch (err) {
      audioNote.textContent = `Recording unavailable: ${explain(err)}`;
      wav.disabled = true;
    }
    try {
      doc = await session.get(`/ai/ringsense/v1/public/accounts/~/domains/pbx/records/${encodeURIComponent(callId)}/insights`);
      renderInsights(insights, doc);
    } catch (err) {
      insights.replaceChildren(el("p", { class: "muted", text: err instanceof ApiError && err.status === 404
        ? "No insights yet: they are made a few seconds after the call's transcript is final."
        : `Insights unavailable: ${explain(err)}` }));
    }
    json.addEventListener("click", () => download(`${call.id}.json`, new Blob(
      [JSON.stringify({ call, transcript, insights: doc }, null, 1)], { type: "application/json" })));
  })();
  return () => { if (objectUrl) URL.revokeObjectURL(objectUrl); };
}

function renderInsights(box, doc) {
  const ins = doc.insights || {};
  const speakers = new Map((doc.speakerInfo || []).map((s) => [s.speakerId, s.name || s.speakerId]));
  const who = (id) => speakers.get(id) || id || "";
  const section = (title, items, fmt) => items && items.length
    ? el("section", { class: "insight", "data-kind": title }, el("h3", { text: title }),
      el("ul", {}, ...items.map((x) => el("li", {}, fmt(x)))))
    : null;
  const sentiment = (ins.CustomerSentiment || [])[0];
  const metrics = (ins.CallMetrics || [])[0];
  const compliance = (ins.Compliance || [])[0];
  const facts = el("dl", {});
  const fact = (k, v) => { if (v !== undefined && v !== null && v !== "") facts.append(el("dt", { text: k }), el("dd", { text: String(v) })); };
  fact("Sentiment", (ins.Sentiment || [])[0] && ins.Sentiment[0].value);
  if (sentiment) fact("Customer mood", `${sentiment.start} → ${sentiment.end} (${sentiment.trend})`);
  if (metrics) {
    for (const [k, v] of Object.entries(metrics)) {
      if (typeof v !== "object") fact(k.replace(/([A-Z])/g, " $1").toLowerCase(), v);
    }
  }
  if (compliance) fact("Recording disclosure", compliance.recordingDisclosure ? `yes, at ${clock(compliance.start * 1000)}` : "not given");
  box.replaceChildren(...[
    section("Summary", ins.Summary, (x) => x.value),
    section("Highlights", ins.Highlights, (x) => `${who(x.speakerId)}: ${x.value}`),
    section("Next steps", ins.NextSteps, (x) => `${who(x.speakerId)}: ${x.value}`),
    section("Keywords", ins.Keywords, (x) => x.value),
    facts,
    el("p", { class: "muted", text: `Made by ${(doc.callscopeAnalysis || {}).engine || "callscope"} on ${when(doc.creationTime)}.` }),
  ].filter(Boolean));
}

// -- admin: monitoring groups -----------------------------------------------------------

function groupsView() {
  const root = $("#view");
  const name = el("input", { id: "group-name", required: true, maxlength: "128" });
  const create = el("form", { class: "search" },
    el("div", {}, el("label", { for: "group-name", text: "New group name" }), name),
    el("button", { type: "submit", class: "primary", text: "Create group" }));
  const list = el("div", { id: "groups" });
  root.append(el("section", { class: "card", "aria-labelledby": "groups-title" },
    el("h1", { id: "groups-title", text: "Call monitoring groups" }),
    el("p", { class: "muted", text: "A supervisor marked Monitoring may listen to, coach and barge into the calls of every agent marked Monitored in the same group." }),
    create, list));
  const load = async () => {
    try {
      const groups = await session.get(`${ACC}/call-monitoring-groups?perPage=1000`);
      list.replaceChildren();
      if (!groups.records.length) list.append(el("p", { class: "empty", text: "No groups yet." }));
      for (const g of groups.records) list.append(await groupEditor(g, load));
    } catch (err) {
      notify(`Could not read the groups: ${explain(err)}`);
    }
  };
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      await session.post(`${ACC}/call-monitoring-groups`, { name: name.value.trim() });
      name.value = "";
      notify("Group created.", "info");
      await load();
    } catch (err) { notify(`Could not create the group: ${explain(err)}`); }
  });
  load();
  return null;
}

async function groupEditor(group, reload) {
  const members = await session.get(`${ACC}/call-monitoring-groups/${group.id}/members?perPage=1000`);
  const current = new Map(members.records.map((m) => [String(m.id), m.permissions]));
  const rows = [];
  const candidates = [...app.extensions.values()].filter((x) => ["User", "DigitalUser", "VirtualUser", "FaxUser", "Limited"].includes(x.type));
  for (const ext of candidates) {
    const perms = current.get(String(ext.id)) || [];
    const box = (perm) => el("input", { type: "checkbox", "data-ext": ext.id, "data-perm": perm, checked: perms.includes(perm),
      "aria-label": `${ext.name} ${perm}` });
    rows.push(el("tr", {},
      el("td", { "data-label": "User", text: `${ext.name} (ext. ${ext.extensionNumber})${ext.ringcxAgentId ? ` · agent ${ext.ringcxAgentId}` : ""}` }),
      el("td", { "data-label": "Monitoring (supervisor)" }, box("Monitoring")),
      el("td", { "data-label": "Monitored (agent)" }, box("Monitored"))));
  }
  const rename = el("input", { value: group.name, "aria-label": `Name of group ${group.name}`, maxlength: "128" });
  const save = el("button", { type: "button", class: "primary", text: "Save members" });
  const status = el("span", { class: "muted", role: "status" });
  const table = el("table", { class: "responsive" },
    el("thead", {}, el("tr", {}, ...["User", "Monitoring (supervisor)", "Monitored (agent)"].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, ...rows));
  const box = el("section", { class: "card", "data-group": group.id, "aria-label": `Group ${group.name}` },
    el("div", { class: "controls" }, rename,
      el("button", { type: "button", text: "Rename", onclick: async () => {
        try { await session.put(`${ACC}/call-monitoring-groups/${group.id}`, { name: rename.value.trim() }); notify("Group renamed.", "info"); await reload(); } catch (err) { notify(`Could not rename: ${explain(err)}`); }
      } }),
      el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
        if (!confirm(`Delete the group ${group.name}?`)) return;
        try { await session.del(`${ACC}/call-monitoring-groups/${group.id}`); notify("Group deleted.", "info"); await reload(); } catch (err) { notify(`Could not delete: ${explain(err)}`); }
      } })),
    table, el("div", { class: "controls" }, save, status));
  save.addEventListener("click", async () => {
    const wanted = new Map();
    for (const input of table.querySelectorAll("input[type=checkbox]:checked")) {
      const id = input.dataset.ext;
      wanted.set(id, [...(wanted.get(id) || []), input.dataset.perm]);
    }
    const added = [], updated = [], removed = [];
    for (const [id, perms] of wanted) {
      if (!current.has(id)) added.push({ id, permissions: perms });
      else if ([...perms].sort().join() !== [...current.get(id)].sort().join()) updated.push({ id, permissions: perms });
    }
    for (const id of current.keys()) if (!wanted.has(id)) removed.push({ id });
    if (!added.length && !updated.length && !removed.length) { status.textContent = "Nothing changed."; return; }
    try {
      await session.post(`${ACC}/call-monitoring-groups/${group.id}/bulk-assign`,
        { addedExtensions: added, updatedExtensions: updated, removedExtensions: removed });
      status.textContent = "Saved.";
      current.clear();
      for (const [id, perms] of wanted) current.set(id, perms);
      app.monitorable = undefined;
    } catch (err) {
      status.textContent = "";
      notify(`Could not save the members: ${explain(err)}`);
    }
  });
  return box;
}

// -- admin: streaming profiles ----------------------------------------------------------

function profilesView() {
  const root = $("#view");
  const f = {
    productType: el("select", { id: "p-type" }, el("option", { value: "QUEUE", text: "Queue" }), el("option", { value: "CAMPAIGN", text: "Campaign" })),
    productId: el("input", { id: "p-id", inputmode: "numeric", required: true }),
    subAccountId: el("input", { id: "p-sub", inputmode: "numeric", required: true }),
    mainAccountId: el("input", { id: "p-main", inputmode: "numeric", required: true }),
    streamingUrl: el("input", { id: "p-url", placeholder: "wss://callscope.example.com", required: true }),
    secret: el("input", { id: "p-secret", type: "password", autocomplete: "new-password" }),
  };
  const labels = { productType: "Product type", productId: "Queue or campaign id", subAccountId: "RingCX sub-account id",
    mainAccountId: "RingCX main account id", streamingUrl: "Streaming URL (wss://)", secret: "Shared secret" };
  const form = el("form", { class: "search", id: "profile-form" },
    ...Object.entries(f).map(([k, input]) => el("div", {}, el("label", { for: input.id, text: labels[k] }), input)),
    el("button", { type: "submit", class: "primary", text: "Save profile" }));
  const tbody = el("tbody");
  root.append(el("section", { class: "card", "aria-labelledby": "profiles-title" },
    el("h1", { id: "profiles-title", text: "Streaming profiles" }),
    el("p", { class: "muted", text: "A profile tells RingCX where to stream a queue's or campaign's calls, and the secret it sends. Saving an existing queue/campaign updates it." }),
    form,
    el("table", { class: "responsive" },
      el("thead", {}, el("tr", {}, ...["Product", "Sub-account", "Streaming URL", "Secret", ""].map((h) => el("th", { scope: "col", text: h })))),
      tbody)));
  let existing = [];
  const load = async () => {
    try {
      existing = (await session.get("/platform/api/media/product")).records;
      tbody.replaceChildren();
      if (!existing.length) tbody.append(el("tr", {}, el("td", { colspan: "5", class: "empty", text: "No streaming profiles yet." })));
      for (const p of existing) {
        const path = `/platform/api/media/product/account/${p.subAccountId}/type/${p.productType}/id/${p.productId}`;
        tbody.append(el("tr", {},
          el("td", { "data-label": "Product", text: `${p.productType} ${p.productId}` }),
          el("td", { "data-label": "Sub-account", text: p.subAccountId }),
          el("td", { "data-label": "Streaming URL", text: p.streamingUrl || "(streaming off)" }),
          el("td", { "data-label": "Secret", text: p.secretSet ? "set" : "none" }),
          el("td", {},
            el("button", { type: "button", text: "Edit", onclick: () => {
              for (const k of Object.keys(f)) f[k].value = p[k] != null ? String(p[k]) : "";
              f.productId.focus();
            } }),
            el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
              if (!confirm(`Delete the ${p.productType} ${p.productId} profile?`)) return;
              try { await session.del(path); notify("Profile deleted.", "info"); await load(); } catch (err) { notify(`Could not delete: ${explain(err)}`); }
            } }))));
      }
    } catch (err) {
      notify(`Could not read the profiles: ${explain(err)}`);
    }
  };
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = Object.fromEntries(Object.entries(f).map(([k, input]) => [k, input.value.trim()]));
    body.productId = Number(body.productId);
    body.rcAccountId = accountId();
    if (!body.secret) delete body.secret;
    const exists = existing.some((p) => p.productType === body.productType && String(p.productId) === String(body.productId) && String(p.subAccountId) === body.subAccountId);
    try {
      if (exists) await session.put("/platform/api/media/product", body);
      else await session.post("/platform/api/media/product", body);
      notify(exists ? "Profile updated." : "Profile created.", "info");
      f.secret.value = "";
      await load();
    } catch (err) { notify(`Could not save the profile: ${explain(err)}`); }
  });
  load();
  return null;
}

// -- start ------------------------------------------------------------------------------

if (session.signedIn && session.me) signedIn(); else showSignedIn(false);
