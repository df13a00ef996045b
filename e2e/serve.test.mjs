// The static server: MIME types, headers, paths. No browser needed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, CSP } from '../build/serve.mjs';

let srv;
let dir;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vhdx-serve-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'app.js'), 'export {};');
  writeFileSync(join(dir, 'style.css'), 'body{}');
  writeFileSync(join(dir, 'vhdx.wasm.gz'), Buffer.from([0x1f, 0x8b, 8, 0]));
  writeFileSync(join(dir, 'x.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d]));
  writeFileSync(join(dir, 'icon.svg'), '<svg/>');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'index.html'), 'sub');
  writeFileSync(join(tmpdir(), 'vhdx-serve-secret.txt'), 'secret');
  srv = await startServer({ root: dir, port: 0 });
});

after(async () => {
  await srv.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(join(tmpdir(), 'vhdx-serve-secret.txt'), { force: true });
});

test('listens on 127.0.0.1 on the port asked for (0: any free one)', () => {
  assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  assert.ok(srv.port > 0);
});

test('MIME types, CSP and no-cache', async () => {
  const want = {
    '/': 'text/html; charset=utf-8',
    '/index.html': 'text/html; charset=utf-8',
    '/app.js': 'text/javascript; charset=utf-8',
    '/style.css': 'text/css; charset=utf-8',
    '/vhdx.wasm.gz': 'application/gzip',
    '/x.wasm': 'application/wasm',
    '/icon.svg': 'image/svg+xml',
  };
  for (const [path, type] of Object.entries(want)) {
    const r = await fetch(new URL(path, srv.url));
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('content-type'), type, path);
    assert.equal(r.headers.get('content-security-policy'), CSP, path);
    assert.equal(r.headers.get('cache-control'), 'no-cache', path);
    assert.equal(r.headers.get('content-encoding'), null, `${path} is sent as stored`);
  }
  const gz = new Uint8Array(await (await fetch(new URL('/vhdx.wasm.gz', srv.url))).arrayBuffer());
  assert.deepEqual([...gz], [0x1f, 0x8b, 8, 0]);
});

test('the CSP allows only the page origin, plus wasm compilation', () => {
  assert.match(CSP, /default-src 'self'/);
  assert.match(CSP, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.doesNotMatch(CSP, /unsafe-inline|https?:|\*/);
});

test('directories, missing files, traversal, methods', async () => {
  assert.equal(await (await fetch(new URL('/sub/', srv.url))).text(), 'sub');
  assert.equal((await fetch(new URL('/nope.js', srv.url))).status, 404);
  for (const p of ['/../vhdx-serve-secret.txt', '/%2e%2e/vhdx-serve-secret.txt', '/..%2fvhdx-serve-secret.txt']) {
    const r = await fetch(new URL(p, srv.url));
    assert.ok(r.status === 403 || r.status === 404, `${p}: ${r.status}`);
    assert.notEqual(await r.text(), 'secret');
  }
  assert.equal((await fetch(new URL('/', srv.url), { method: 'POST' })).status, 405);
  const head = await fetch(new URL('/app.js', srv.url), { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), '10');
});

test('ETag revalidation answers 304', async () => {
  const r = await fetch(new URL('/app.js', srv.url));
  const etag = r.headers.get('etag');
  assert.ok(etag);
  const again = await fetch(new URL('/app.js', srv.url), { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
});
