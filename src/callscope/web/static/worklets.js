// AudioWorklet processors of the dashboard (loaded with audioWorklet.addModule).

// Plays 8 kHz call audio through a jitter buffer: playback starts once `target` samples
// are queued, an underrun goes back to buffering (silence meanwhile), and a queue past
// `limit` drops its oldest audio so the delay never grows.
class CallPlayer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = (options && options.processorOptions) || {};
    this.target = o.target || 960;    // 120 ms at 8 kHz
    this.limit = o.limit || 4000;     // 500 ms
    this.queue = [];
    this.head = 0;                    // read offset into queue[0]
    this.buffered = 0;
    this.playing = false;
    this.underruns = 0;
    this.dropped = 0;
    this.played = 0;
    this.port.onmessage = (e) => {
      if (e.data === "reset") { this.queue = []; this.head = 0; this.buffered = 0; this.playing = false; return; }
      const block = e.data;
      this.queue.push(block);
      this.buffered += block.length;
      while (this.buffered > this.limit && this.queue.length > 1) {
        const old = this.queue.shift();
        this.buffered -= old.length - this.head;
        this.dropped += old.length - this.head;
        this.head = 0;
      }
    };
    this.reportAt = 0;
  }

  process(_inputs, outputs) {
    const out = outputs[0][0];
    if (!this.playing && this.buffered >= this.target) this.playing = true;
    let i = 0;
    if (this.playing) {
      while (i < out.length && this.queue.length) {
        const block = this.queue[0];
        const n = Math.min(out.length - i, block.length - this.head);
        out.set(block.subarray(this.head, this.head + n), i);
        i += n; this.head += n; this.buffered -= n; this.played += n;
        if (this.head >= block.length) { this.queue.shift(); this.head = 0; }
      }
      if (i < out.length) { this.playing = false; this.underruns++; }
    }
    out.fill(0, i);
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    if (currentTime >= this.reportAt) {
      this.reportAt = currentTime + 0.5;
      this.port.postMessage({
        bufferedMs: this.buffered / 8, underruns: this.underruns,
        droppedMs: this.dropped / 8, playedMs: this.played / 8,
      });
    }
    return true;
  }
}
registerProcessor("callscope-player", CallPlayer);

// Microphone capture: the context's rate down to 8 kHz (a box filter over each output
// sample's span, enough for speech) and out as 160-sample (20 ms) Int16 frames.
class MicCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / 8000;
    this.pos = 0;          // input position of the next output sample
    this.acc = 0; this.count = 0;
    this.frame = new Int16Array(160);
    this.fill = 0;
  }

  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    for (let k = 0; k < input.length; k++) {
      this.acc += input[k]; this.count++;
      this.pos += 1;
      if (this.pos >= this.ratio) {
        this.pos -= this.ratio;
        const v = Math.max(-1, Math.min(1, this.acc / this.count));
        this.acc = 0; this.count = 0;
        this.frame[this.fill++] = Math.round(v * 32767);
        if (this.fill === 160) {
          this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
          this.frame = new Int16Array(160);
          this.fill = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("callscope-mic", MicCapture);
