// Dedicated worker hosting the Go engine (wasm/README.md). It loads
// wasm_exec.js, fetches vhdx.wasm.gz, inflates it with DecompressionStream,
// runs the Go program and then answers {id, method, args} messages from the
// page with {id, result} or {id, error}, transferring byte buffers.
//
// Long work reports progress as {id, progress: [done, total]} and stops
// when the page sends {cancel: id}: check and scan get an options object
// {signal, onProgress} built here (posted functions and signals cannot
// cross), exportVHDX a writable the worker opens from the
// FileSystemFileHandle the page sends, and aborts on cancel.
/* eslint-env worker */
'use strict';

importScripts('./wasm_exec.js', './portwriter.js');

const METHODS = new Set([
  'open', 'openFiles', 'scan', 'check', 'fields', 'blockHistogram', 'layerHistogram', 'layerBytes', 'block',
  'readFile', 'readDisk', 'sectorOwner', 'report', 'cacheClear', 'l2', 'refcountBlock', 'snapshot', 'partitions',
]);
// Methods writing an image into a file handle or download port.
const EXPORTS = new Set(['exportVHDX', 'exportQCOW2']);
// Methods whose only argument is {signal, onProgress}.
const TASKS = new Set(['scan', 'check']);
const PROGRESS_MS = 100; // at most this often a progress message per job

const running = new Map(); // id → {cancel()} of long work under way

/** A progress callback posting {id, progress} at most every PROGRESS_MS. */
function progressOf(id) {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (now - last < PROGRESS_MS && done < total) return;
    last = now;
    self.postMessage({ id, progress: [Number(done), Number(total)] });
  };
}

/** Runs an engine task with an AbortSignal the page can fire by {cancel: id}. */
async function runTask(id, method) {
  const ctl = new AbortController();
  running.set(id, { cancel: () => ctl.abort() });
  try {
    return await self.vhdxEngine[method]({ signal: ctl.signal, onProgress: progressOf(id) });
  } finally {
    running.delete(id);
  }
}

let engineReady;
const readyPromise = new Promise((resolve) => { engineReady = resolve; });
self.vhdxReady = () => engineReady();

let exited = null; // set when the Go program has stopped

async function boot() {
  const t0 = performance.now();
  const go = new Go();
  const resp = await fetch('./vhdx.wasm.gz');
  if (!resp.ok) throw new Error(`loading the engine failed: HTTP ${resp.status} for vhdx.wasm.gz`);
  const body = resp.body.pipeThrough(new DecompressionStream('gzip'));
  const wasm = new Response(body, { headers: { 'Content-Type': 'application/wasm' } });
  const { instance } = await WebAssembly.instantiateStreaming(wasm, go.importObject);
  go.run(instance).then(
    () => { exited = 'the engine stopped'; self.postMessage({ fatal: exited }); },
    (err) => { exited = `the engine crashed: ${err && err.message}`; self.postMessage({ fatal: exited }); },
  );
  await Promise.race([
    readyPromise,
    new Promise((_, fail) => setTimeout(() => fail(new Error('the engine did not start within 30 s')), 30000)),
  ]);
  if (!self.vhdxEngine) throw new Error('the engine did not define vhdxEngine');
  return performance.now() - t0;
}

const booted = boot();
booted.then(
  (ms) => self.postMessage({
    ready: true,
    bootMs: ms,
    methods: Object.keys(self.vhdxEngine).filter((k) => typeof self.vhdxEngine[k] === 'function'),
  }),
  (err) => self.postMessage({ fatal: String(err && err.message ? err.message : err) }),
);

function transferables(value) {
  if (ArrayBuffer.isView(value)) return [value.buffer];
  return [];
}

// A typed array that does not own its whole buffer is copied so that the
// transfer moves only its bytes.
function ownBuffer(value) {
  if (ArrayBuffer.isView(value) && (value.byteOffset !== 0 || value.byteLength !== value.buffer.byteLength)) {
    return value.slice();
  }
  return value;
}

/**
 * Writes the merged disk as a standalone VHDX or qcow2 (method) into target: the file behind
 * a FileSystemFileHandle, or a download streamed through the service
 * worker (a MessagePort, see portwriter.js).
 */
async function exportImage(id, method, target, opts) {
  if (typeof self.vhdxEngine[method] !== 'function') throw new Error(`the engine has no ${method}()`);
  const toPort = typeof MessagePort === 'function' && target instanceof MessagePort;
  if (!toPort && (!target || typeof target.createWritable !== 'function')) throw new Error(`${method}: expected a FileSystemFileHandle or a MessagePort`);
  const job = { writable: null, cancelled: false };
  job.cancel = () => {
    job.cancelled = true;
    // The engine's next write then rejects, and exportVHDX with it.
    if (job.writable) job.writable.abort().catch(() => {});
  };
  running.set(id, job);
  const progress = progressOf(id);
  try {
    job.writable = toPort ? new self.PortWriter(target) : await target.createWritable({ keepExistingData: false });
    if (job.cancelled) throw new DOMException('cancelled', 'AbortError');
    const written = await self.vhdxEngine[method](job.writable, progress, opts);
    if (job.cancelled) throw new DOMException('cancelled', 'AbortError');
    await job.writable.close();
    job.writable = null;
    return written;
  } catch (err) {
    if (job.writable) {
      try { await job.writable.abort(); } catch { /* already aborted */ }
    }
    if (job.cancelled) throw new Error('cancelled');
    throw err;
  } finally {
    running.delete(id);
  }
}

function cancel(id) {
  running.get(id)?.cancel();
}

/**
 * Serves the virtual disk's bytes on port to the filesystem module's
 * worker (fsworker.js): {id, offset, length} → {id, bytes} (transferred)
 * or {id, error}.
 */
function serveDisk(port) {
  port.onmessage = async (ev) => {
    const { id, offset, length } = ev.data || {};
    try {
      await booted;
      const bytes = ownBuffer(await self.vhdxEngine.readDisk(offset, length));
      port.postMessage({ id, bytes }, [bytes.buffer]);
    } catch (err) {
      port.postMessage({ id, error: String(err && err.message !== undefined ? err.message : err) });
    }
  };
}

self.onmessage = async (ev) => {
  const { id, method, args } = ev.data || {};
  if (ev.data && typeof ev.data.cancel === 'number') {
    cancel(ev.data.cancel);
    return;
  }
  if (ev.data && ev.data.diskPort) {
    serveDisk(ev.data.diskPort);
    return;
  }
  if (typeof id !== 'number') return;
  try {
    await booted;
    if (exited) throw new Error(`${exited}; reload the page`);
    if (EXPORTS.has(method)) {
      self.postMessage({ id, result: await exportImage(id, method, (args || [])[0], (args || [])[1]) });
      return;
    }
    if (!METHODS.has(method)) throw new Error(`unknown method ${method}`);
    const fn = self.vhdxEngine[method];
    if (typeof fn !== 'function') throw new Error(`the engine has no ${method}()`);
    const result = ownBuffer(TASKS.has(method) ? await runTask(id, method) : await fn.apply(self.vhdxEngine, args || []));
    self.postMessage({ id, result }, transferables(result));
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message !== undefined ? err.message : err) });
  }
};
