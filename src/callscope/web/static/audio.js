// Web-phone audio: the /supervision/device socket's frames (8-byte header <BBHI kind,
// channel, stream, frame + 20 ms of 8 kHz PCM16) played through a jitter buffer, and the
// microphone sent back as kind-2 frames while the supervisor talks.

const KIND_LISTEN = 1;
const KIND_MIC = 2;
const HEADER = 8;

export class Listener {
  constructor() {
    this.ctx = null;
    this.node = null;
    this.analyser = null;
    this.level = 0;        // RMS of the last 50 ms played, 0..1
    this.peak = 0;         // highest level since start
    this.frames = 0;
    this.stats = {};
    this._timer = null;
    this._probe = null;
  }

  async start() {
    if (this.ctx) return;
    // 8 kHz: the call's own rate, so frames are played as they come
    this.ctx = new AudioContext({ sampleRate: 8000, latencyHint: "interactive" });
    await this.ctx.audioWorklet.addModule("/static/worklets.js");
    this.node = new AudioWorkletNode(this.ctx, "callscope-player", {
      numberOfInputs: 0, outputChannelCount: [1],
      processorOptions: { target: 960, limit: 4000 },
    });
    this.node.port.onmessage = (e) => { this.stats = e.data; };
    this.analyser = this.ctx.createAnalyser();
    this.analyser.fftSize = 512;
    this.node.connect(this.analyser);
    this.analyser.connect(this.ctx.destination);
    this._probe = new Float32Array(this.analyser.fftSize);
    this._timer = setInterval(() => this._measure(), 50);
    if (this.ctx.state !== "running") await this.ctx.resume();
  }

  _measure() {
    this.analyser.getFloatTimeDomainData(this._probe);
    let sum = 0;
    for (const v of this._probe) sum += v * v;
    this.level = Math.sqrt(sum / this._probe.length);
    this.peak = Math.max(this.peak, this.level);
  }

  /** One binary frame from the device socket; returns its header. */
  push(buffer) {
    const view = new DataView(buffer);
    const kind = view.getUint8(0);
    if (kind !== KIND_LISTEN || buffer.byteLength <= HEADER || !this.node) return null;
    const pcm = new Int16Array(buffer, HEADER, (buffer.byteLength - HEADER) >> 1);
    const block = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) block[i] = pcm[i] / 32768;
    this.node.port.postMessage(block, [block.buffer]);
    this.frames++;
    return { channel: view.getUint8(1), stream: view.getUint16(2, true), frame: view.getUint32(4, true) };
  }

  reset() { if (this.node) this.node.port.postMessage("reset"); }

  async stop() {
    clearInterval(this._timer);
    if (this.ctx) await this.ctx.close();
    this.ctx = this.node = this.analyser = null;
    this.level = 0;
  }
}

export class Microphone {
  constructor(send) {
    this.send = send;      // (ArrayBuffer) => void
    this.ctx = null;
    this.stream = null;
    this.talking = false;
    this.counter = 0;
    this.sent = 0;
    this.level = 0;
  }

  async open() {
    if (this.ctx) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("This browser gives no microphone here (a secure origin is needed)");
    }
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 },
    });
    this.ctx = new AudioContext();
    await this.ctx.audioWorklet.addModule("/static/worklets.js");
    const source = this.ctx.createMediaStreamSource(this.stream);
    const node = new AudioWorkletNode(this.ctx, "callscope-mic", { numberOfOutputs: 0 });
    node.port.onmessage = (e) => this._frame(e.data);
    source.connect(node);
    if (this.ctx.state !== "running") await this.ctx.resume();
  }

  _frame(pcmBuffer) {
    const pcm = new Int16Array(pcmBuffer);
    let sum = 0;
    for (let i = 0; i < pcm.length; i++) sum += (pcm[i] / 32768) ** 2;
    this.level = pcm.length ? Math.sqrt(sum / pcm.length) : 0;  // RMS of the last frame, 0..1
    if (!this.talking) return;
    const out = new ArrayBuffer(HEADER + pcmBuffer.byteLength);
    const view = new DataView(out);
    view.setUint8(0, KIND_MIC);
    view.setUint8(1, 0);
    view.setUint16(2, 0, true);           // 0: every call this device coaches or barges into
    view.setUint32(4, this.counter++, true);
    new Uint8Array(out, HEADER).set(new Uint8Array(pcmBuffer));
    this.send(out);
    this.sent++;
  }

  async close() {
    this.talking = false;
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    if (this.ctx) await this.ctx.close();
    this.ctx = this.stream = null;
  }
}
