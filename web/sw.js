// Cache-first service worker: after the first visit the site works offline.
// build/dist.sh replaces VERSION with a hash of the site's files and FILES with
// their list, so that each build gets its own cache and old ones are dropped.
/* eslint-env serviceworker */
'use strict';

const VERSION = 'dev';
const FILES = ['./', './index.html', './style.css', './app.js', './engine.js', './format.js', './hexview.js', './blockmap.js', './structures.js', './views.js', './export.js', './worker.js', './wasm_exec.js', './vhdx.wasm.gz', './icon.svg'];
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

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    let hit = await cache.match(req, { ignoreSearch: true });
    if (!hit && req.mode === 'navigate') hit = await cache.match('./');
    if (hit) return hit;
    return fetch(req);
  })());
});
