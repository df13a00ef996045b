// The page's side of the worker RPC: engine.call('readFile', offset, length).
// JSON results are parsed here. Busy state is published for the progress bar.

export class Engine extends EventTarget {
  constructor(url = './worker.js') {
    super();
    this.url = url;
    this.nextId = 1;
    this.pending = new Map();
    this.busy = 0;
    this.fatal = null;
    this.start();
  }

  start() {
    this.fatal = null;
    this.worker = new Worker(this.url, { name: 'vhdx-engine' });
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => {});
    this.worker.onmessage = (ev) => this.onMessage(ev.data);
    this.worker.onerror = (ev) => {
      ev.preventDefault?.();
      this.fail(`the engine worker failed: ${ev.message || 'unknown error'}`);
    };
  }

  /** Drops the worker (after a crash) and starts a fresh one. */
  restart() {
    this.worker.terminate();
    this.fail('the engine was restarted', false);
    this.start();
  }

  fail(message, notify = true) {
    const wasReady = this.isReady;
    this.isReady = false;
    this.fatal = message;
    this.readyReject(new Error(message));
    for (const [, p] of this.pending) p.reject(new Error(message));
    this.pending.clear();
    this.setBusy(0);
    if (notify) this.dispatchEvent(new CustomEvent('fatal', { detail: { message, wasReady } }));
  }

  onMessage(msg) {
    if (msg.ready) {
      this.bootMs = msg.bootMs;
      this.methods = new Set(msg.methods || []);
      this.isReady = true;
      this.readyResolve();
      return;
    }
    if (msg.fatal) {
      this.fail(msg.fatal);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (msg.progress) {
      p.onProgress?.(...msg.progress);
      return;
    }
    this.pending.delete(msg.id);
    this.setBusy(this.busy - (p.quiet ? 0 : 1));
    if ('error' in msg) p.reject(new Error(msg.error));
    else p.resolve(msg.result);
  }

  setBusy(n) {
    this.busy = Math.max(0, n);
    this.dispatchEvent(new CustomEvent('busy', { detail: this.busy }));
  }

  /** Whether the engine defines method (known once it is ready). */
  has(method) {
    return !!this.methods && this.methods.has(method);
  }

  /** Calls an engine method; quiet calls (hex page reads) do not count as busy. */
  call(method, args = [], { quiet = false, onProgress = null, onId = null, transfer = [] } = {}) {
    if (this.fatal) return Promise.reject(new Error(this.fatal));
    const id = this.nextId++;
    onId?.(id);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, quiet, onProgress });
      if (!quiet) this.setBusy(this.busy + 1);
      this.worker.postMessage({ id, method, args }, transfer);
    });
  }

  async json(method, ...args) {
    const r = await this.call(method, args);
    return typeof r === 'string' ? JSON.parse(r) : r;
  }

  open(file) { return this.json('open', file); }
  /** opts: {format: 'raw'} opens files of no known format as raw images. */
  openFiles(files, add = false, opts = undefined) { return this.json('openFiles', Array.from(files), !!add, opts); }
  /** Reads the disk of a qcow2 internal snapshot (its ID or name; '' for the current disk). */
  snapshot(name) { return this.json('snapshot', name); }
  l2(index, start = 0, count = 0) { return this.json('l2', index, start, count); }
  refcountBlock(index, start = 0, count = 0) { return this.json('refcountBlock', index, start, count); }
  layerHistogram(first, count, buckets) { return this.call('layerHistogram', [first, count, buckets]); }
  layerBytes(first, count) { return this.call('layerBytes', [first, count]); }

  /**
   * Writes the merged virtual disk as a standalone dynamic VHDX into target:
   * the file behind a FileSystemFileHandle (the worker opens the writable),
   * or the MessagePort of a streamed download (download.js). Returns
   * {promise (bytes written), cancel()}.
   */
  exportVHDX(target, onProgress) { return this.exportImage('exportVHDX', target, onProgress); }

  /** As exportVHDX, as a qcow2 image; opts: {compress: 'zlib' | 'zstd'}. */
  exportQCOW2(target, onProgress, opts = undefined) { return this.exportImage('exportQCOW2', target, onProgress, opts); }

  exportImage(method, target, onProgress, opts = undefined) {
    let id = 0;
    const transfer = typeof MessagePort === 'function' && target instanceof MessagePort ? [target] : [];
    const promise = this.call(method, opts ? [target, opts] : [target], { quiet: true, onProgress, onId: (x) => { id = x; }, transfer });
    return { promise, cancel: () => { if (id) this.worker.postMessage({ cancel: id }); } };
  }
  /**
   * Starts long work (scan or check): returns {promise (the parsed JSON
   * result), cancel()}; onProgress(done, total) follows it.
   */
  task(method, onProgress = null) {
    let id = 0;
    const promise = this.call(method, [], { onProgress, onId: (x) => { id = x; } })
      .then((r) => (typeof r === 'string' ? JSON.parse(r) : r));
    return { promise, cancel: () => { if (id) this.worker.postMessage({ cancel: id }); } };
  }

  check(onProgress = null) { return this.task('check', onProgress); }
  scan(onProgress = null) { return this.task('scan', onProgress); }
  fields() { return this.json('fields'); }
  block(n) { return this.json('block', n); }
  sectorOwner(offset) { return this.json('sectorOwner', offset); }
  report() { return this.call('report', []); }
  cacheClear() { return this.call('cacheClear', []); }
  blockHistogram(first, count, buckets) { return this.call('blockHistogram', [first, count, buckets]); }
  readFile(offset, length, quiet = false) { return this.call('readFile', [offset, length], { quiet }); }
  readDisk(offset, length, quiet = false) { return this.call('readDisk', [offset, length], { quiet }); }
}
