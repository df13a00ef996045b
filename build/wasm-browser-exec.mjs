#!/usr/bin/env node
// Runs a GOOS=js GOARCH=wasm test binary inside headless Chromium and exits
// with its status, so browser-only APIs (IndexedDB) are tested for real:
//   GOOS=js GOARCH=wasm go test -exec="node build/wasm-browser-exec.mjs" ./wasm/idbcache
// It serves the binary and wasm_exec.js on 127.0.0.1, relays the test's
// console output to stdout and gives up after TIMEOUT_SECONDS (default 300).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';

const [wasmPath, ...goArgs] = process.argv.slice(2);
if (!wasmPath) {
  console.error('usage: wasm-browser-exec.mjs TEST.wasm [go test flags]');
  process.exit(2);
}
const require = createRequire(import.meta.url);
const { chromium } = require('playwright-core');
const goroot = execFileSync('go', ['env', 'GOROOT'], { encoding: 'utf8' }).trim();
const wasmExec = path.join(goroot, 'lib', 'wasm', 'wasm_exec.js');

const page = `<!doctype html><meta charset="utf-8"><script src="/wasm_exec.js"></script><script>
const go = new Go();
go.argv = ['test.wasm', ...${JSON.stringify(goArgs)}];
go.exit = (code) => window.goExit(code);
WebAssembly.instantiateStreaming(fetch('/test.wasm'), go.importObject)
  .then((r) => go.run(r.instance))
  .catch((e) => { console.log('wasm-browser-exec: ' + e); window.goExit(1); });
</script>`;

const server = http.createServer((req, res) => {
  if (req.url === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html' }).end(page);
  } else if (req.url === '/wasm_exec.js') {
    res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(fs.readFileSync(wasmExec));
  } else if (req.url === '/test.wasm') {
    res.writeHead(200, { 'Content-Type': 'application/wasm' }).end(fs.readFileSync(wasmPath));
  } else {
    res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
  }
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
let code = 1;
try {
  const context = await browser.newContext();
  const tab = await context.newPage();
  tab.on('console', (msg) => process.stdout.write(msg.text() + '\n'));
  // The binding must exist before the page runs: a fast test exits at once.
  let onExit;
  const exited = new Promise((resolve) => { onExit = resolve; });
  await tab.exposeFunction('goExit', (c) => onExit(c));
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  const timeout = Number(process.env.TIMEOUT_SECONDS || 300) * 1000;
  code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => {
    console.error(`wasm-browser-exec: no exit after ${timeout / 1000}s`);
    resolve(1);
  }, timeout))]);
} finally {
  await browser.close();
  server.close();
}
process.exit(code);
