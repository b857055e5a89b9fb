// Supervision from the dashboard: the web phone (/supervision/device), Supervise Call
// Session/Party (listen on both parties or one), and talking: Coach (the agent hears you)
// and Barge (both hear you), each a toggle (click to start, click or Esc to stop) or
// hold-to-talk (hold the button; release stops).

import { ApiError } from "./api.js";
import { Microphone } from "./audio.js";
import { $, el, explain, notify } from "./dom.js";

const ACC = "/restapi/v1.0/account/~";
const HOLD_MS = 400;   // pressed longer than this: hold-to-talk (release stops)
const CHANNELS = { mixed: "both parties", agent: "the agent only", customer: "the customer only" };
export const ONE_WAY = "Coach and Barge are unavailable on this call: its stream is one-way " +
  "(RingCX sends callscope the call's audio but takes none back), so you can only listen.";

let session = null;
let app = null;

export function bindSupervision(s, a) { session = s; app = a; }

export function serial(task) {
  const run = app.queue.then(task, task);
  app.queue = run.catch(() => {});
  return run;
}

export function ensureDevice() {
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

export function onDeviceState(message) {
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

/** The status line, in words: what you hear, whom you talk to, and why talking is off. */
function stateWords() {
  const dev = app.deviceState;
  const mine = app.sup && app.sup.callId === app.selected;
  if (!mine) return app.sup ? "You are listening to another call." : "Not listening. Press Listen to hear this call.";
  if (!dev || dev.deviceState !== "Active") return "Connecting your web phone…";
  const state = dev.supervisorMonitoringState;
  const mode = (state && state.activeMode) || app.sup.mode;
  const hear = `Listening to ${CHANNELS[app.sup.channel] || "the call"}`;
  if (mode === "Coach") return `${hear} · Coaching: the agent hears you, the customer does not.`;
  if (mode === "Barge") return `${hear} · Barged in: the agent and the customer hear you.`;
  return `${hear} · Only you hear this; nobody hears you.`;
}

export function renderState() {
  const mine = app.sup && app.sup.callId === app.selected;
  const oneWay = mine && app.deviceState && !allowed("Coach") && !allowed("BargeIn");
  for (const [id, op] of [["coach", "Coach"], ["barge", "BargeIn"]]) {
    const b = document.getElementById(id);
    if (!b) continue;
    b.disabled = !(mine && allowed(op));
  }
  const why = $("#talk-why");
  if (why) {
    why.textContent = !mine ? "Listen first to coach or barge in." : oneWay ? ONE_WAY : "";
    why.hidden = !why.textContent;
  }
  const listen = $("#listen");
  if (listen) {
    listen.textContent = mine ? "Stop listening" : "Listen";
    listen.setAttribute("aria-pressed", String(Boolean(mine)));
  }
  const box = $("#monitor-state");
  if (box) box.textContent = stateWords();
  renderBanner();
}

function renderBanner() {
  const banner = $("#talk-banner");
  if (!banner) return;
  const talk = app.talk;
  banner.hidden = !talk;
  if (!talk) return;
  $("#talk-banner-text").textContent = talk.mode === "Barge"
    ? "You are live to both: the agent and the customer hear you."
    : "You are live to the agent: the customer does not hear you.";
}

export async function supervise(call, mode) {
  const device = await ensureDevice();
  const agentExt = call.agent && call.agent.extensionId;
  if (!agentExt) throw new Error(`agent ${call.agentId} is not an extension of this account`);
  const sup = app.sup;
  const body = { mode, supervisorDeviceId: device.id, agentExtensionId: String(agentExt) };
  let path = `${ACC}/telephony/sessions/${call.telephonySessionId}/supervise`;
  if (sup.channel !== "mixed") {
    if (!sup.partyId) {
      const s = await session.get(`${ACC}/telephony/sessions/${call.telephonySessionId}`);
      const live = s.parties.filter((p) => !["Disconnected", "Gone"].includes(p.status.code));
      const party = sup.channel === "agent"
        ? live.find((p) => String(p.extensionId) === String(agentExt))
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

export function toggleListen(call) {
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

export function finishListening() {
  app.sup = null;
  if (app.talk) { app.talk.reset(); app.talk = null; }
  if (app.mic) app.mic.talking = false;
  app.listener.stop();
  renderState();
}

export async function stopListening() {
  const sup = app.sup;
  if (!sup) return;
  finishListening();
  if (sup.supervisorPartyId) {
    await session.del(`${ACC}/telephony/sessions/${sup.sessionId}/parties/${sup.supervisorPartyId}`)
      .catch((err) => { if (!(err instanceof ApiError && err.status === 404)) throw err; });
  }
}

export function onChannel(channel) {
  const sup = app.sup;
  if (!sup || sup.channel === channel) return;
  const call = app.board.calls.find((c) => c.id === sup.callId);
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

/** Esc: stop talking if you talk, else stop listening. */
export function escape() {
  if (app.talk) { app.talk.stop(); return true; }
  if (app.sup) { serial(() => stopListening()); return true; }
  return false;
}

export function talkBanner() {
  return el("div", { class: "talk-banner", id: "talk-banner", role: "alert", hidden: true },
    el("span", { id: "talk-banner-text" }),
    el("meter", { id: "mic-level", min: "0", max: "0.3", value: "0", "aria-label": "Your microphone level" }),
    el("span", { class: "muted", text: " Click the button again or press Esc to stop." }));
}

export function talkButton(id, label, mode, call) {
  const button = el("button", { type: "button", id, class: "talk", "aria-pressed": "false", disabled: true,
    "aria-describedby": "talk-why", text: label });
  let active = false;
  let pressedAt = 0;
  let ignoreRelease = false;
  const reset = () => { active = false; button.setAttribute("aria-pressed", "false"); };
  const stop = () => {
    if (!active) return;
    reset();
    if (app.mic) app.mic.talking = false;
    if (app.talk && app.talk.button === button) app.talk = null;
    renderBanner();
    serial(async () => {
      if (app.sup && app.sup.callId === call.id && app.sup.mode !== "Listen") {
        try { await supervise(call, "Listen"); } catch (err) { notify(`Back to listening failed: ${explain(err)}`); }
      }
    });
  };
  const start = () => {
    if (app.talk) app.talk.stop();
    active = true;
    pressedAt = performance.now();
    button.setAttribute("aria-pressed", "true");
    app.talk = { mode, button, stop, reset };
    renderBanner();
    serial(async () => {
      try {
        if (!app.mic) app.mic = new Microphone((frame) => {
          if (app.device && app.device.ws.readyState === 1) app.device.ws.send(frame);
        });
        await app.mic.open();
        if (!active) return;
        await supervise(call, mode);
        app.mic.talking = active;
      } catch (err) {
        reset();
        if (app.talk && app.talk.button === button) app.talk = null;
        renderBanner();
        notify(`Cannot ${mode === "Coach" ? "coach" : "barge in"}: ${explain(err)}`);
      }
    });
  };
  const press = (e) => {
    if (button.disabled) return;
    if (e.type === "keydown" && ((e.key !== " " && e.key !== "Enter") || e.repeat)) return;
    e.preventDefault();
    if (active) { ignoreRelease = true; stop(); return; }
    start();
  };
  const release = (e) => {
    if (e.type === "keyup" && e.key !== " " && e.key !== "Enter") return;
    if (ignoreRelease) { ignoreRelease = false; return; }
    // a short press toggles talking on; a long one was hold-to-talk: releasing stops
    if (active && performance.now() - pressedAt > HOLD_MS) stop();
  };
  button.addEventListener("pointerdown", press);
  button.addEventListener("keydown", press);
  button.addEventListener("pointerup", release);
  button.addEventListener("keyup", release);
  button.addEventListener("click", (e) => e.preventDefault());
  return button;
}
