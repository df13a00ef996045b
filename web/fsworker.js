// Dedicated worker hosting the filesystem module (wasm/fsmodule, files.wasm.gz),
// started by the page the first time the Files view opens. It reads the
// virtual disk from the core engine's worker over a MessagePort the page
// hands to both ({diskPort}), and answers {id, method, args} messages like
// worker.js: {id, result} or {id, error}, {id, progress: [done, total]}
// for long work, which stops on {cancel: id}. A library that loops or
// crashes here leaves the core engine and the page untouched: the page
// terminates this worker and starts another.
/* eslint-env worker */
'use strict';

importScripts('./wasm_exec.js', './portwriter.js');

// Methods whose last argument is {signal, onProgress}.
const TASKS = new Set(['find', 'hash', 'bodyfile']);
const SAVES = new Set(['saveFile', 'saveZip']);
const METHODS = new Set(['volumes', 'readDir', 'stat', 'extents', 'read', ...TASKS, ...SAVES]);
const PROGRESS_MS = 100;

const running = new Map(); // id → {cancel()}

// ---- the disk, read from the core worker -----------------------------------

let diskPort = null;
let nextRead = 1;
const reads = new Map(); // id → {resolve, reject}

function setDiskPort(port) {
  diskPort = port;
  port.onmessage = (ev) => {
    const { id, bytes, error } = ev.data || {};
    const r = reads.get(id);
    if (!r) return;
    reads.delete(id);
    if (error !== undefined) r.reject(new Error(error));
    else r.resolve(bytes);
  };
}

/** Reads length bytes of the virtual disk at offset: a Promise of a Uint8Array. */
function readDisk(offset, length) {
  if (!diskPort) return Promise.reject(new Error('no disk is connected'));
  const id = nextRead++;
  return new Promise((resolve, reject) => {
    reads.set(id, { resolve, reject });
    diskPort.postMessage({ id, offset, length });
  });
}

// ---- the module --------------------------------------------------------------

let moduleReady;
const readyPromise = new Promise((resolve) => { moduleReady = resolve; });
self.vhdxFilesReady = () => moduleReady();
let exited = null;

async function boot() {
  const t0 = performance.now();
  const go = new Go();
  const resp = await fetch('./files.wasm.gz');
  if (!resp.ok) throw new Error(`loading the filesystem module failed: HTTP ${resp.status} for files.wasm.gz`);
  const body = resp.body.pipeThrough(new DecompressionStream('gzip'));
  const wasm = new Response(body, { headers: { 'Content-Type': 'application/wasm' } });
  const { instance } = await WebAssembly.instantiateStreaming(wasm, go.importObject);
  go.run(instance).then(
    () => { exited = 'the filesystem module stopped'; self.postMessage({ fatal: exited }); },
    (err) => { exited = `the filesystem module crashed: ${err && err.message}`; self.postMessage({ fatal: exited }); },
  );
  await readyPromise;
  return performance.now() - t0;
}

const booted = boot();
booted.then(
  (ms) => self.postMessage({ ready: true, bootMs: ms }),
  (err) => self.postMessage({ fatal: String(err && err.message ? err.message : err) }),
);

function progressOf(id) {
  let last = 0;
  return (done, total) => {
    const now = performance.now();
    if (now - last < PROGRESS_MS) return;
    last = now;
    self.postMessage({ id, progress: [Number(done), Number(total)] });
  };
}

/** Runs a task with an AbortSignal that {cancel: id} fires. */
async function runTask(id, method, args) {
  const ctl = new AbortController();
  running.set(id, { cancel: () => ctl.abort() });
  try {
    return await self.vhdxFiles[method](...args, { signal: ctl.signal, onProgress: progressOf(id) });
  } finally {
    running.delete(id);
  }
}

/**
 * Saves a file or a folder (as a ZIP) into target: a FileSystemFileHandle,
 * or the MessagePort of a download streamed through the service worker.
 * args are (part, path, target).
 */
async function runSave(id, method, [part, path, target]) {
  const toPort = typeof MessagePort === 'function' && target instanceof MessagePort;
  if (!toPort && (!target || typeof target.createWritable !== 'function')) throw new Error(`${method}: expected a FileSystemFileHandle or a MessagePort`);
  const ctl = new AbortController();
  const job = { writable: null };
  job.cancel = () => {
    ctl.abort();
    if (job.writable) job.writable.abort().catch(() => {});
  };
  running.set(id, job);
  try {
    job.writable = toPort ? new self.PortWriter(target) : await target.createWritable({ keepExistingData: false });
    const result = await self.vhdxFiles[method](part, path, job.writable, { signal: ctl.signal, onProgress: progressOf(id) });
    await job.writable.close();
    job.writable = null;
    return result;
  } catch (err) {
    if (job.writable) {
      try { await job.writable.abort(); } catch { /* already aborted */ }
    }
    throw ctl.signal.aborted ? new Error('cancelled') : err;
  } finally {
    running.delete(id);
  }
}

function errorText(err) {
  return String(err && err.message !== undefined ? err.message : err);
}

self.onmessage = async (ev) => {
  const msg = ev.data || {};
  if (typeof msg.cancel === 'number') {
    running.get(msg.cancel)?.cancel();
    return;
  }
  if (msg.diskPort) {
    setDiskPort(msg.diskPort);
    return;
  }
  const { id, method, args = [] } = msg;
  if (typeof id !== 'number') return;
  try {
    await booted;
    if (exited) throw new Error(exited);
    let result;
    if (method === 'attach') result = await self.vhdxFiles.attach(readDisk, args[0], args[1]);
    else if (!METHODS.has(method)) throw new Error(`unknown method ${method}`);
    else if (TASKS.has(method)) result = await runTask(id, method, args);
    else if (SAVES.has(method)) result = await runSave(id, method, args);
    else result = await self.vhdxFiles[method](...args);
    const transfer = ArrayBuffer.isView(result) ? [result.buffer] : [];
    self.postMessage({ id, result }, transfer);
  } catch (err) {
    self.postMessage({ id, error: errorText(err) });
  }
};
