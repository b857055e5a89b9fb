// The dashboard's client of callscope's public APIs: OAuth (public client
// "callscope-dashboard"), REST with RingCentral error bodies, and the WebSocket
// subscription gateway. Nothing here is private to the dashboard.

export const CLIENT_ID = "callscope-dashboard";
const STORE = "callscope.session";

export class ApiError extends Error {
  constructor(status, body) {
    const message = (body && (body.message || body.error_description ||
      (body.errors && body.errors[0] && body.errors[0].message) || body.statusMessage)) ||
      `HTTP ${status}`;
    super(message);
    this.status = status;
    this.body = body;
    this.code = body && (body.errorCode || body.error);
  }
}

async function readBody(response) {
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) return response.json();
  const text = await response.text();
  return text ? { message: text } : null;
}

export class Session {
  constructor() {
    this.token = null;
    this.refresh = null;
    this.expiresAt = 0;
    this.me = null;
    this.onExpired = () => {};
    this._refreshing = null;
    const saved = sessionStorage.getItem(STORE);
    if (saved) {
      try { Object.assign(this, JSON.parse(saved)); } catch { sessionStorage.removeItem(STORE); }
    }
  }

  get signedIn() { return Boolean(this.token); }

  _save() {
    sessionStorage.setItem(STORE, JSON.stringify({
      token: this.token, refresh: this.refresh, expiresAt: this.expiresAt, me: this.me,
    }));
  }

  async _grant(form) {
    form.set("client_id", CLIENT_ID);
    const response = await fetch("/restapi/oauth/token", { method: "POST", body: form });
    const body = await readBody(response);
    if (!response.ok) throw new ApiError(response.status, body);
    this.token = body.access_token;
    this.refresh = body.refresh_token;
    this.expiresAt = Date.now() + body.expires_in * 1000;
    this._save();
  }

  async signIn(username, password) {
    const form = new URLSearchParams({ grant_type: "password", username, password });
    await this._grant(form);
    this.me = await this.get("/restapi/v1.0/account/~/extension/~");
    this._save();
  }

  async signOut() {
    const token = this.token;
    this.token = this.refresh = null;
    this.me = null;
    sessionStorage.removeItem(STORE);
    if (token) {
      const form = new URLSearchParams({ client_id: CLIENT_ID, token });
      await fetch("/restapi/oauth/revoke", { method: "POST", body: form }).catch(() => {});
    }
  }

  async _renew() {
    if (!this.refresh) throw new ApiError(401, { message: "Signed out" });
    if (!this._refreshing) {
      this._refreshing = this._grant(new URLSearchParams({
        grant_type: "refresh_token", refresh_token: this.refresh,
      })).finally(() => { this._refreshing = null; });
    }
    return this._refreshing;
  }

  /** A valid access token, renewed a minute before it expires. */
  async accessToken() {
    if (this.token && Date.now() > this.expiresAt - 60_000) {
      try { await this._renew(); } catch (err) { this.onExpired(err); throw err; }
    }
    return this.token;
  }

  async request(method, path, body, { raw = false } = {}) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const headers = { Authorization: `Bearer ${await this.accessToken()}` };
      const init = { method, headers };
      if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const response = await fetch(path, init);
      if (response.status === 401 && attempt === 0 && this.refresh) {
        try { await this._renew(); continue; } catch (err) { this.onExpired(err); }
      }
      if (!response.ok) throw new ApiError(response.status, await readBody(response));
      if (raw) return response;
      if (response.status === 204) return null;
      return readBody(response);
    }
    throw new ApiError(401, { message: "Session expired: sign in again" });
  }

  get(path) { return this.request("GET", path); }
  post(path, body) { return this.request("POST", path, body); }
  put(path, body) { return this.request("PUT", path, body); }
  del(path) { return this.request("DELETE", path); }

  /** A WebSocket URL on this server, with the access token in the query (browsers cannot
   * set headers on a WebSocket). */
  async socketUrl(path, params = {}) {
    const url = new URL(path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.searchParams.set("access_token", await this.accessToken());
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    return url.toString();
  }
}

/** Push notifications over the subscription WebSocket gateway (/restapi/oauth/wstoken then
 * /ws), reconnecting with back-off; ``onResync`` runs after every (re)connection so the
 * caller can re-read what it may have missed. */
export class EventStream {
  constructor(session, filters, { onEvent, onResync, onStatus }) {
    this.session = session;
    this.filters = filters;
    this.onEvent = onEvent;
    this.onResync = onResync || (() => {});
    this.onStatus = onStatus || (() => {});
    this.ws = null;
    this.closed = false;
    this.delay = 1000;
  }

  async start() {
    if (this.closed) return;
    try {
      const ticket = await this.session.post("/restapi/oauth/wstoken");
      const url = new URL(ticket.uri);
      url.searchParams.set("access_token", ticket.ws_access_token);
      const ws = new WebSocket(url.toString());
      this.ws = ws;
      ws.onmessage = (msg) => this._message(ws, msg.data);
      ws.onclose = () => this._retry();
    } catch (err) {
      this._retry();
    }
  }

  _message(ws, data) {
    let frame;
    try { frame = JSON.parse(data); } catch { return; }
    const [meta, body] = frame;
    if (meta.type === "ConnectionDetails") {
      ws.send(JSON.stringify([
        { type: "ClientRequest", messageId: crypto.randomUUID(), method: "POST",
          path: "/restapi/v1.0/subscription" },
        { eventFilters: this.filters, deliveryMode: { transportType: "WebSocket" } },
      ]));
    } else if (meta.type === "ClientRequest") {
      if (meta.status >= 300) {
        this.onStatus("error", (body && body.message) || `subscription refused (${meta.status})`);
        return;
      }
      this.delay = 1000;
      this.onStatus("online");
      this.onResync();
    } else if (meta.type === "ServerNotification" && body) {
      this.onEvent(body);
    } else if (meta.type === "Heartbeat") {
      ws.send(data);
    }
  }

  _retry() {
    this.ws = null;
    if (this.closed) return;
    this.onStatus("offline");
    setTimeout(() => this.start(), this.delay);
    this.delay = Math.min(this.delay * 2, 30_000);
  }

  stop() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}
