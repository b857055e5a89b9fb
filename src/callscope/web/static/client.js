// The embeddable per-call page (/client?callId=…&account=…&call=…&issued=…&expires=…&signature=…): the
// call's live transcript and assist items, for RingCX's agent-script iFrame.
import { TranscriptView } from "./transcript.js";

const params = new URLSearchParams(location.search);
const status = document.getElementById("client-status");
document.getElementById("client-call").textContent = params.get("callId") || "";
const view = new TranscriptView(
  document.getElementById("client-transcript"),
  document.getElementById("client-assist"),
  { onStatus: (s) => { status.textContent = s === "live" ? "Live" : s; } },
);
const url = new URL("/client/ws", location.href);
url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
// every signed parameter of the link goes on to its socket ("call" is absent from a link
// made before its call started)
for (const k of ["callId", "account", "call", "issued", "expires", "signature"]) {
  if (params.has(k)) url.searchParams.set(k, params.get(k));
}
const ws = view.connect(url.toString());
ws.addEventListener("open", () => { status.textContent = "Connected"; });
ws.addEventListener("close", (e) => {
  if (e.code === 4404) status.textContent = "This call has not started: reload the page to wait again.";
  else if (e.code === 1006) status.textContent = "Disconnected (the link may have expired).";
});
