// The admin pages: call monitoring groups and streaming profiles. Forms check every field
// at once before they are sent (the server checks again and its error is shown as it is).

import { $, el, explain, notify } from "./dom.js";

const ACC = "/restapi/v1.0/account/~";
// what the streaming-profile API and ingest accept: wss://host[:port], nothing else
const LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const STREAM_URL = new RegExp(`^wss://${LABEL}(?:\\.${LABEL})*(?::([0-9]{1,5}))?$`);
const MIN_SECRET = 8;  // ingest's MIN_SECRET_CHARS
const INT32 = 2 ** 31 - 1;

/** Mark each field with its error (or none); returns whether all are valid. The first
 * invalid field gets the focus; a summary lists every problem. */
function showErrors(form, fields, errors) {
  let first = null;
  for (const [k, input] of Object.entries(fields)) {
    const id = `${input.id}-error`;
    let note = document.getElementById(id);
    if (!note) {
      note = el("span", { class: "field-error", id });
      input.after(note);
    }
    note.textContent = errors[k] || "";
    if (errors[k]) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", id);
      first = first || input;
    } else {
      input.removeAttribute("aria-invalid");
    }
  }
  const summary = form.querySelector(".form-errors");
  const problems = Object.values(errors).filter(Boolean);
  summary.hidden = !problems.length;
  summary.textContent = problems.length ? `Please fix ${problems.length} field${problems.length === 1 ? "" : "s"}: ${problems.join(" ")}` : "";
  if (first) first.focus();
  return !problems.length;
}

export function validateProfile(v) {
  const errors = {};
  const digits = (x) => /^[0-9]{1,64}$/.test(x);
  if (!/^[0-9]{1,10}$/.test(v.productId) || Number(v.productId) > INT32) errors.productId = "The queue or campaign id is a number (at most 2147483647).";
  if (!digits(v.subAccountId)) errors.subAccountId = "The sub-account id is digits only.";
  if (!digits(v.mainAccountId)) errors.mainAccountId = "The main account id is digits only.";
  const m = STREAM_URL.exec(v.streamingUrl);
  if (v.streamingUrl === "") errors.streamingUrl = "The streaming URL is required, as wss://host or wss://host:port.";
  else if (!m || (m[1] && !(Number(m[1]) > 0 && Number(m[1]) < 65536))) {
    errors.streamingUrl = "The streaming URL must be wss://host[:port]: wss, not ws; no path or query.";
  }
  if (v.secret && (v.secret.length < MIN_SECRET || v.secret.length > 256)) errors.secret = `The secret has ${MIN_SECRET} to 256 characters.`;
  return errors;
}

// -- monitoring groups ------------------------------------------------------------------

export function groupsView(ctx) {
  const { session, app } = ctx;
  const root = $("#view");
  const name = el("input", { id: "group-name", required: true, maxlength: "128", autocomplete: "off" });
  const create = el("form", { class: "search", id: "group-form", novalidate: true },
    el("div", {}, el("label", { for: "group-name", text: "New group name" }), name),
    el("button", { type: "submit", class: "primary", text: "Create group" }),
    el("p", { class: "form-errors error", role: "alert", hidden: true }));
  const list = el("div", { id: "groups" });
  root.append(el("section", { class: "card", "aria-labelledby": "groups-title" },
    el("h1", { id: "groups-title", text: "Call monitoring groups" }),
    el("p", { class: "muted", text: "A supervisor marked Monitoring may listen to, coach and barge into the calls of every agent marked Monitored in the same group." }),
    create, list));
  let names = [];
  const load = async () => {
    try {
      const groups = await session.get(`${ACC}/call-monitoring-groups?perPage=1000`);
      names = groups.records.map((g) => g.name.toLowerCase());
      list.replaceChildren();
      if (!groups.records.length) list.append(el("p", { class: "empty", text: "No groups yet: create one, then tick its supervisors (Monitoring) and agents (Monitored)." }));
      for (const g of groups.records) list.append(await groupEditor(ctx, g, load, () => names));
    } catch (err) {
      notify(`Could not read the groups: ${explain(err)}`);
    }
  };
  create.addEventListener("submit", async (e) => {
    e.preventDefault();
    const wanted = name.value.trim();
    const errors = {};
    if (!wanted) errors.name = "A group needs a name.";
    else if (names.includes(wanted.toLowerCase())) errors.name = `A group named “${wanted}” exists already.`;
    if (!showErrors(create, { name }, errors)) return;
    try {
      await session.post(`${ACC}/call-monitoring-groups`, { name: wanted });
      create.reset();
      notify("Group created.", "info");
      app.monitorable = undefined;
      await load();
    } catch (err) { notify(`Could not create the group: ${explain(err)}`); }
  });
  load();
  return null;
}

async function groupEditor(ctx, group, reload, names) {
  const { session, app } = ctx;
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
  const doRename = async () => {
    const wanted = rename.value.trim();
    if (!wanted) { notify("A group needs a name."); return; }
    if (wanted.toLowerCase() !== group.name.toLowerCase() && names().includes(wanted.toLowerCase())) {
      notify(`A group named “${wanted}” exists already.`); return;
    }
    try { await session.put(`${ACC}/call-monitoring-groups/${group.id}`, { name: wanted }); notify("Group renamed.", "info"); await reload(); } catch (err) { notify(`Could not rename: ${explain(err)}`); }
  };
  const box = el("section", { class: "card", "data-group": group.id, "aria-label": `Group ${group.name}` },
    el("div", { class: "controls" }, rename,
      el("button", { type: "button", text: "Rename", onclick: doRename }),
      el("button", { type: "button", class: "danger", text: "Delete", onclick: async () => {
        if (!confirm(`Delete the group ${group.name}?`)) return;
        try { await session.del(`${ACC}/call-monitoring-groups/${group.id}`); notify("Group deleted.", "info"); app.monitorable = undefined; await reload(); } catch (err) { notify(`Could not delete: ${explain(err)}`); }
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

// -- streaming profiles -----------------------------------------------------------------

export function profilesView(ctx) {
  const { session, accountId } = ctx;
  const root = $("#view");
  const f = {
    productType: el("select", { id: "p-type" }, el("option", { value: "QUEUE", text: "Queue" }), el("option", { value: "CAMPAIGN", text: "Campaign" })),
    productId: el("input", { id: "p-id", inputmode: "numeric", required: true, autocomplete: "off" }),
    subAccountId: el("input", { id: "p-sub", inputmode: "numeric", required: true, autocomplete: "off" }),
    mainAccountId: el("input", { id: "p-main", inputmode: "numeric", required: true, autocomplete: "off" }),
    streamingUrl: el("input", { id: "p-url", placeholder: "wss://callscope.example.com", required: true, autocomplete: "off" }),
    // write-only: never filled from the server (it never sends a secret back)
    secret: el("input", { id: "p-secret", type: "password", autocomplete: "new-password", placeholder: "unchanged unless typed" }),
  };
  const labels = { productType: "Product type", productId: "Queue or campaign id", subAccountId: "RingCX sub-account id",
    mainAccountId: "RingCX main account id", streamingUrl: "Streaming URL (wss://host[:port])", secret: "Shared secret (write-only)" };
  const form = el("form", { class: "search", id: "profile-form", novalidate: true },
    ...Object.entries(f).map(([k, input]) => el("div", {}, el("label", { for: input.id, text: labels[k] }), input)),
    el("button", { type: "submit", class: "primary", text: "Save profile" }),
    el("p", { class: "form-errors error", role: "alert", hidden: true }));
  const tbody = el("tbody");
  root.append(el("section", { class: "card", "aria-labelledby": "profiles-title" },
    el("h1", { id: "profiles-title", text: "Streaming profiles" }),
    el("p", { class: "muted", text: "A profile tells RingCX where to stream a queue's or campaign's calls, and the secret it sends. Saving an existing queue/campaign updates it; the secret is never shown again once saved." }),
    form,
    el("table", { class: "responsive" },
      el("thead", {}, el("tr", {}, ...["Product", "Sub-account", "Streaming URL", "Secret", "Actions"].map((h) => el("th", { scope: "col", text: h })))),
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
          el("td", { "data-label": "Secret", text: p.secretSet ? "set (hidden)" : "none" }),
          el("td", { "data-label": "Actions" },
            el("button", { type: "button", text: "Edit", "aria-label": `Edit the ${p.productType} ${p.productId} profile`, onclick: () => {
              for (const k of Object.keys(f)) f[k].value = k !== "secret" && p[k] != null ? String(p[k]) : "";
              f.productId.focus();
            } }),
            el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete the ${p.productType} ${p.productId} profile`, onclick: async () => {
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
    if (!showErrors(form, f, validateProfile(body))) return;
    body.productId = Number(body.productId);
    body.rcAccountId = accountId();
    if (!body.secret) delete body.secret;
    const exists = existing.some((p) => p.productType === body.productType && String(p.productId) === String(body.productId) && String(p.subAccountId) === body.subAccountId);
    try {
      if (exists) await session.put("/platform/api/media/product", body);
      else await session.post("/platform/api/media/product", body);
      notify(exists ? "Profile updated." : "Profile created.", "info");
      form.reset();
      await load();
    } catch (err) { notify(`Could not save the profile: ${explain(err)}`); }
  });
  load();
  return null;
}
