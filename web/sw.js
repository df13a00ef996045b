// Cache-first service worker: after the first visit the site works offline.
// build/dist.sh replaces VERSION with a hash of the site's files and FILES with
// their list, so that each build gets its own cache and old ones are dropped.
/* eslint-env serviceworker */
'use strict';

const VERSION = 'dev';
const FILES = ['./', './index.html', './style.css', './app.js', './engine.js', './format.js', './hexview.js', './blockmap.js', './structures.js', './views.js', './export.js', './worker.js', './wasm_exec.js', './vhdx.wasm.gz', './icon.svg'];
// Fetched only when first needed, then kept for offline use.
const LAZY = ['./files.wasm.gz'];
const PREFIX = 'vhdx-inspector-';
const CACHE = PREFIX + VERSION;

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // cache: 'reload' skips the HTTP cache so that a new version never mixes with old files.
    await cache.addAll(FILES.map((f) => new Request(f, { cache: 'reload' })));
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

// Streamed downloads (download.js): id → {port, name, size}, registered by
// a page just before it opens ./download/<id>/<name>.
const downloads = new Map();
const QUEUED_CHUNKS = 4; // chunks queued before the producer waits

self.addEventListener('message', (event) => {
  const d = event.data && event.data.download;
  if (!d || !event.ports[0]) return;
  downloads.set(String(d.id), { port: event.ports[0], name: String(d.name), size: d.size });
});

/** A quoted-string and an RFC 5987 form of a file name for Content-Disposition. */
function disposition(name) {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

function downloadResponse(d) {
  const { port } = d;
  let wantAck = false;
  const stream = new ReadableStream({
    start(controller) {
      port.onmessage = (e) => {
        const m = e.data || {};
        try {
          if (m.chunk) controller.enqueue(m.chunk);
          else if (m.zeros) controller.enqueue(new Uint8Array(m.zeros));
          else if (m.end) { controller.close(); return; } else if (m.error) { controller.error(new Error(m.error)); return; }
        } catch (err) {
          port.postMessage({ cancel: true, reason: String(err && err.message) });
          return;
        }
        if (controller.desiredSize > 0) port.postMessage({ ack: true });
        else wantAck = true;
      };
    },
    pull() {
      if (wantAck) {
        wantAck = false;
        port.postMessage({ ack: true });
      }
    },
    cancel(reason) {
      port.postMessage({ cancel: true, reason: String(reason || '') });
    },
  }, { highWaterMark: QUEUED_CHUNKS });
  const headers = { 'Content-Type': 'application/octet-stream', 'Content-Disposition': disposition(d.name), 'X-Content-Type-Options': 'nosniff' };
  if (Number.isSafeInteger(d.size)) headers['Content-Length'] = String(d.size);
  return new Response(stream, { headers });
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  const m = /\/download\/([^/]+)\//.exec(url.pathname);
  if (m) {
    const d = downloads.get(m[1]);
    downloads.delete(m[1]);
    event.respondWith(d ? downloadResponse(d) : new Response('This download is no longer available.', { status: 404 }));
    return;
  }
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    let hit = await cache.match(req, { ignoreSearch: true });
    if (!hit && req.mode === 'navigate') hit = await cache.match('./');
    if (hit) return hit;
    const resp = await fetch(req);
    if (resp.ok && LAZY.some((f) => new URL(f, self.location).pathname === url.pathname)) {
      cache.put(req, resp.clone()).catch(() => {});
    }
    return resp;
  })());
});
