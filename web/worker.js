// Dedicated worker hosting the Go engine (wasm/README.md). It loads
// wasm_exec.js, fetches vhdx.wasm.gz, inflates it with DecompressionStream,
// runs the Go program and then answers {id, method, args} messages from the
// page with {id, result} or {id, error}, transferring byte buffers.
/* eslint-env worker */
'use strict';

importScripts('./wasm_exec.js');

const METHODS = new Set([
  'open', 'check', 'fields', 'blockHistogram', 'block', 'readFile', 'readDisk',
  'sectorOwner', 'report', 'cacheClear',
]);

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
  (ms) => self.postMessage({ ready: true, bootMs: ms }),
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

self.onmessage = async (ev) => {
  const { id, method, args } = ev.data || {};
  if (typeof id !== 'number') return;
  try {
    await booted;
    if (exited) throw new Error(`${exited}; reload the page`);
    if (!METHODS.has(method)) throw new Error(`unknown method ${method}`);
    const fn = self.vhdxEngine[method];
    if (typeof fn !== 'function') throw new Error(`the engine has no ${method}()`);
    const result = ownBuffer(await fn.apply(self.vhdxEngine, args || []));
    self.postMessage({ id, result }, transferables(result));
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message !== undefined ? err.message : err) });
  }
};
