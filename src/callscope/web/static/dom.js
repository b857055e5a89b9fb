// Small DOM helpers shared by the dashboard's views.

import { ApiError } from "./api.js";

export const $ = (sel, root = document) => root.querySelector(sel);

export function el(tag, attrs = {}, ...children) {
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

export function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

export function notify(message, kind = "error") {
  const box = $("#notice");
  if (!message) { box.hidden = true; return; }
  box.textContent = message;
  box.className = `notice ${kind === "info" ? "info" : ""}`;
  box.setAttribute("role", kind === "info" ? "status" : "alert");
  box.hidden = false;
}

export function explain(err) {
  if (err instanceof ApiError) return `${err.message}${err.code ? ` (${err.code})` : ""}`;
  return err && err.message ? err.message : String(err);
}

/** A sentiment as a badge: the word, with its colour (never the colour alone). */
export function sentimentBadge(label) {
  if (!label) return el("span", { class: "badge sentiment none", text: "sentiment: not yet" });
  return el("span", { class: `badge sentiment ${label.toLowerCase()}`, text: `${label.toLowerCase()} customer` });
}

/** "2 min 05 s" for a duration in ms. */
export function spoken(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}
