// Replay of a finished call: the recording with its transcript following the audio, the
// live alerts on a timeline, the supervision audit trail (who listened, coached, barged and
// when), and the insights with plain labels and units.

import { ApiError } from "./api.js";
import { TranscriptView, clock } from "./transcript.js";
import { $, el, explain, spoken, when } from "./dom.js";

const MODES = { Listen: "listened", Coach: "coached the agent", Barge: "barged in (heard by both)" };
const ENGINES = {
  offline: "callscope's built-in analyser (on this server, no AI service)",
  llm: "a language model",
};

function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = el("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Why a call's transcript may lack its end, in words. */
export function callOutcome(call) {
  if (call.status === "interrupted") return "interrupted: the call was cut off (the server stopped mid-call)";
  if (call.status === "abandoned") return "cut off: the stream went silent and was closed";
  return call.status;
}

function timeline(call, alerts, sessions, onSeek) {
  const total = Math.max(call.durationMs || 0, 1);
  const start = Date.parse(call.startTime);
  const bar = el("div", { class: "timeline", role: "group", "aria-label": "Timeline of the call" });
  for (const s of sessions) {
    const a = Math.max(0, Date.parse(s.startTime) - start);
    const b = s.endTime ? Math.min(total, Date.parse(s.endTime) - start) : total;
    bar.append(el("span", { class: `span ${s.mode.toLowerCase()}`, title: `${s.supervisor.name || "supervisor"} ${MODES[s.mode] || s.mode}`,
      style: null, "data-left": String(Math.round((a / total) * 1000) / 10), "data-width": String(Math.max(0.5, Math.round(((b - a) / total) * 1000) / 10)) }));
  }
  for (const item of alerts) {
    bar.append(el("button", { type: "button", class: `mark ${item.type} ${item.severity}`, "data-left": String(Math.min(100, Math.round((item.atMs / total) * 1000) / 10)),
      "aria-label": `${item.type === "alert" ? "Alert" : "Suggestion"} at ${clock(item.atMs)}: ${item.title}`, title: item.title,
      onclick: () => onSeek(item.atMs) }));
  }
  // positions without inline styles (the CSP forbids them): CSSOM is allowed
  for (const node of bar.children) {
    node.style.left = `${node.dataset.left}%`;
    if (node.dataset.width) node.style.width = `${node.dataset.width}%`;
  }
  return bar;
}

function auditList(sessions) {
  if (!sessions.length) return el("p", { class: "muted", id: "audit-empty", text: "Nobody listened to, coached or barged into this call." });
  return el("ol", { class: "audit", id: "audit-trail" }, ...sessions.map((s) => {
    const who = s.supervisor.name ? `${s.supervisor.name} (ext. ${s.supervisor.extensionNumber})` : `extension ${s.supervisor.extensionId}`;
    const length = s.endTime ? ` for ${spoken(Date.parse(s.endTime) - Date.parse(s.startTime))}` : "";
    return el("li", { "data-mode": s.mode }, `${who} ${MODES[s.mode] || s.mode} from ${new Date(s.startTime).toLocaleTimeString()}${length}.`);
  }));
}

function alertList(alerts, onSeek) {
  if (!alerts.length) return el("p", { class: "muted", text: "No alerts or suggestions were raised during the call." });
  return el("ul", { class: "assist", id: "replay-alerts" }, ...alerts.map((a) => el("li", { class: `${a.type} ${a.severity}` },
    el("b", { text: `${a.type === "alert" ? "Alert" : "Suggestion"}: ${a.title}` }),
    el("button", { type: "button", class: "link", text: `play from ${clock(a.atMs)}`, onclick: () => onSeek(a.atMs) }),
    ` ${a.text}`)));
}

export function replayView(ctx, callId) {
  const { session, agentName } = ctx;
  const root = $("#view");
  const card = el("section", { class: "card", "aria-labelledby": "replay-title" },
    el("p", {}, el("a", { href: "#/history", text: "← Back to history" })),
    el("h1", { id: "replay-title", text: "Call", tabindex: "-1" }));
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
    const tstatus = el("span", { class: "muted", id: "replay-transcript-status" });
    const trail = el("section", { "aria-labelledby": "audit-title", id: "audit" }, el("h2", { id: "audit-title", text: "Supervision" }));
    const alertsBox = el("section", { "aria-labelledby": "alerts-title" }, el("h2", { id: "alerts-title", text: "Alerts and suggestions" }));
    const timelineBox = el("div", { id: "timeline-box" });
    const seek = (ms) => { audio.currentTime = ms / 1000; audio.play().catch(() => {}); };
    const cut = call.status === "interrupted" || call.status === "abandoned";
    card.append(...[
      el("p", { class: "muted" }, `Started ${when(call.startTime)} · ${call.durationMs != null ? spoken(call.durationMs) : ""} · ${callOutcome(call)}${call.endReason ? ` (${call.endReason})` : ""}`),
      cut ? el("p", { class: "warning", id: "replay-cut", role: "note", text: "This call was cut off: its recording and transcript stop where the stream stopped." }) : null,
      audio, audioNote, timelineBox, el("div", { class: "downloads" }, wav, json),
      el("div", { class: "columns" },
        el("section", { "aria-labelledby": "rt-title" }, el("h2", { id: "rt-title" }, "Transcript ", tstatus), list),
        el("div", {}, el("section", { "aria-labelledby": "in-title" }, el("h2", { id: "in-title", text: "Insights" }), insights), alertsBox, trail)),
    ].filter(Boolean));
    const view = new TranscriptView(list, null, { seekable: true, onSeek: seek });
    let transcript = null;
    let doc = null;
    try {
      transcript = await session.get(`/calls/${encodeURIComponent(callId)}/transcript`);
      view.load(transcript.utterances);
      const status = cut && transcript.status === "complete" ? "interrupted" : transcript.status;
      tstatus.textContent = `(${status === "complete" ? "complete" : status === "incomplete" || status === "interrupted" ? "interrupted: it stops where the call was cut off" : status})`;
      if (!transcript.utterances.length) list.append(el("li", { class: "muted", text: `No transcript (${transcript.status}).` }));
    } catch (err) {
      list.append(el("li", { class: "error", text: `Transcript unavailable: ${explain(err)}` }));
    }
    let audit = { supervision: [], alerts: [] };
    try {
      audit = await session.get(`/calls/${encodeURIComponent(callId)}/audit`);
    } catch (err) {
      trail.append(el("p", { class: "error", text: `Audit trail unavailable: ${explain(err)}` }));
    }
    trail.append(auditList(audit.supervision));
    alertsBox.append(alertList(audit.alerts, seek));
    timelineBox.append(timeline(call, audit.alerts, audit.supervision, seek));
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
      [JSON.stringify({ call, transcript, insights: doc, audit }, null, 1)], { type: "application/json" })));
  })();
  return () => { if (objectUrl) URL.revokeObjectURL(objectUrl); };
}

const SPEAKERS = { agent: "agent", customer: "customer", supervisor: "supervisor" };
const percent = (x) => `${Math.round(x * 100)} %`;
const seconds = (x) => spoken(x * 1000);
const perSpeaker = (fmt) => (v) => Object.entries(v).map(([k, x]) => `${SPEAKERS[k] || k} ${fmt(x)}`).join(", ") || "none";
/** CallMetrics: label and how to write each value (units included). */
const METRICS = {
  durationSeconds: ["Call length", seconds],
  talkSeconds: ["Talk time", perSpeaker(seconds)],
  talkRatio: ["Share of the talking", perSpeaker(percent)],
  silenceSeconds: ["Silence", seconds],
  silenceRatio: ["Silence share of the call", percent],
  longestMonologue: ["Longest monologue", (v) => (v && v.speaker ? `${SPEAKERS[v.speaker] || v.speaker}, ${seconds(v.seconds)}` : "none")],
  interruptions: ["Interruptions", (v) => `${v} time${v === 1 ? "" : "s"}`],
};

export function renderInsights(box, doc) {
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
  const facts = el("dl", { id: "metrics" });
  const fact = (k, v) => { if (v !== undefined && v !== null && v !== "") facts.append(el("dt", { text: k }), el("dd", { text: String(v) })); };
  fact("Overall sentiment", (ins.Sentiment || [])[0] && ins.Sentiment[0].value);
  if (sentiment && sentiment.start !== null) fact("Customer's mood", `${sentiment.start} at the start, ${sentiment.end} at the end (${sentiment.trend})`);
  for (const [k, v] of Object.entries(metrics || {})) {
    const [label, fmt] = METRICS[k] || [k.replace(/([A-Z])/g, " $1").toLowerCase(), String];
    fact(label, fmt(v));
  }
  let warning = null;
  if (compliance) {
    if (compliance.recordingDisclosure) fact("Recording disclosure", `given at ${clock(compliance.start * 1000)}`);
    else warning = el("p", { class: "warning", id: "disclosure-warning", role: "note", text: "Warning: nobody told the customer that the call is recorded." });
  }
  const analysis = doc.callscopeAnalysis || {};
  const engine = ENGINES[analysis.engine] || analysis.engine || "callscope";
  const model = analysis.model ? ` (${analysis.model})` : "";
  box.replaceChildren(...[
    warning,
    section("Summary", ins.Summary, (x) => x.value),
    section("Highlights", ins.Highlights, (x) => `${who(x.speakerId)}: ${x.value}`),
    section("Next steps", ins.NextSteps, (x) => `${who(x.speakerId)}: ${x.value}`),
    section("Keywords", ins.Keywords, (x) => x.value),
    facts,
    el("p", { class: "muted", id: "made-by", text: `Made by ${engine}${model} on ${when(doc.creationTime)}.` }),
  ].filter(Boolean));
}
