// The page's end of the filesystem module's worker (fsworker.js): started
// on first use, connected to the core engine's worker by a MessageChannel
// (the module reads the virtual disk there), restarted after a crash or
// when a cancelled call does not stop.

const CANCEL_GRACE_MS = 3000; // a cancelled call answering later is stuck: restart

export class FilesClient extends EventTarget {
  /** engine: the core Engine (engine.js), whose worker serves the disk. */
  constructor(engine) {
    super();
    this.engine = engine;
    this.worker = null;
    this.nextId = 1;
    this.pending = new Map();
  }

  /** Starts the worker if needed; resolves when the module is ready, with its start time in ms. */
  start() {
    if (this.ready) return this.ready;
    this.worker = new Worker('./fsworker.js', { name: 'vhdx-files' });
    this.ready = new Promise((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => {});
    this.worker.onmessage = (ev) => this.onMessage(ev.data || {});
    this.worker.onerror = (ev) => {
      ev.preventDefault?.();
      this.fail(`the filesystem module failed: ${ev.message || 'unknown error'}`);
    };
    return this.ready;
  }

  onMessage(msg) {
    if (msg.ready) {
      this.readyResolve(msg.bootMs);
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
    if ('error' in msg) p.reject(new Error(msg.error));
    else p.resolve(msg.result);
  }

  /** Drops the worker: every pending call rejects with message. */
  fail(message) {
    this.worker?.terminate();
    this.worker = null;
    this.readyReject?.(new Error(message));
    this.ready = null;
    for (const [, p] of this.pending) p.reject(new Error(message));
    this.pending.clear();
    this.dispatchEvent(new CustomEvent('fatal', { detail: message }));
  }

  /**
   * Connects the module to the disk the core engine has open (size bytes,
   * sectors of sectorSize): resolves to {partitions, types} (see
   * wasm/README.md).
   */
  async attach(size, sectorSize) {
    await this.start();
    const ch = new MessageChannel();
    this.engine.worker.postMessage({ diskPort: ch.port1 }, [ch.port1]);
    this.worker.postMessage({ diskPort: ch.port2 }, [ch.port2]);
    return JSON.parse(await this.call('attach', [size, sectorSize]).promise);
  }

  /**
   * Calls a module method: {promise, cancel()}. transfer lists what moves
   * with the arguments (a MessagePort).
   */
  call(method, args = [], { onProgress = null, transfer = [] } = {}) {
    const id = this.nextId++;
    const promise = (async () => {
      await this.start();
      return new Promise((resolve, reject) => {
        this.pending.set(id, { resolve, reject, onProgress });
        this.worker.postMessage({ id, method, args }, transfer);
      });
    })();
    const cancel = () => {
      if (!this.pending.has(id) || !this.worker) return;
      this.worker.postMessage({ cancel: id });
      setTimeout(() => {
        if (this.pending.has(id)) this.fail('the filesystem module did not stop: it was restarted');
      }, CANCEL_GRACE_MS);
    };
    return { promise, cancel };
  }

  /** Calls a method whose result is JSON. */
  async json(method, ...args) {
    return JSON.parse(await this.call(method, args).promise);
  }
}
