// Shared helpers of the end-to-end tests: the server, the browser, dropping
// files on the page, and the corpus.
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync, readFileSync, writeFileSync, createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { startServer } from '../build/serve.mjs';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = process.env.DIST || join(ROOT, 'dist');
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'e2e', 'screenshots');
export const CORPUS = process.env.VHDX_CORPUS || join(ROOT, '..', 'shared', 'corpus');

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
];

/** Why the browser tests cannot run here, or null. */
export function skipReason() {
  if (!existsSync(join(DIST, 'vhdx.wasm.gz'))) return `${join(DIST, 'vhdx.wasm.gz')} is missing: build the site first (bash build/dist.sh)`;
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install -y chromium)`;
  return null;
}

export async function launch() {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export async function serve() {
  return startServer({ root: DIST, port: 0 });
}

/**
 * A page that records every request URL and console error.
 * @returns {{context, page, requests: string[], errors: string[]}}
 */
export async function newPage(browser, { width = 1280, height = 720, colorScheme = 'light', context: ctxOpts = {} } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme, ...ctxOpts });
  const requests = [];
  const errors = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = await context.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  return { context, page, requests, errors };
}

/**
 * Drops the file at path (or the files of an array of paths, in one drop) on
 * the page: the files go into a hidden staged <input type=file multiple>,
 * then a DataTransfer holding them is dispatched as a drop.
 */
export async function dropFile(page, path) {
  await page.evaluate(() => {
    let input = document.getElementById('e2e-stage');
    if (!input) {
      input = document.createElement('input');
      input.type = 'file';
      input.multiple = true;
      input.id = 'e2e-stage';
      input.hidden = true;
      document.documentElement.append(input);
    }
  });
  await page.setInputFiles('#e2e-stage', path);
  await page.evaluate(() => {
    const input = document.getElementById('e2e-stage');
    const dt = new DataTransfer();
    for (const f of input.files) dt.items.add(f);
    const target = document.querySelector('main') || document.body;
    target.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
}

/** Waits until the page shows an opened image; resolves to the elapsed ms. */
export async function waitOpen(page, name, timeout = 60000) {
  await page.waitForFunction((n) => document.body.dataset.state === 'open'
    && document.querySelector('#file-info .name')?.textContent === n
    && document.querySelector('#overview-disk') !== null, name, { timeout });
}

/**
 * Opens the file by dropping it and waits for the overview. Returns the
 * page's own drop-to-overview time (from the drop event to the first frame
 * with the overview drawn), which leaves out the test's staging of the file.
 */
export async function dropAndWait(page, path) {
  await page.evaluate(() => { delete document.body.dataset.openMs; });
  await dropFile(page, path);
  await waitOpen(page, basename(path));
  await page.waitForFunction(() => document.body.dataset.openMs !== undefined);
  return Number(await page.evaluate(() => document.body.dataset.openMs));
}

/** Gunzips every *.vhdx.gz of the corpus into a temp dir; null when absent. */
export async function corpusImages() {
  const manifestPath = join(CORPUS, 'MANIFEST.json');
  if (!existsSync(manifestPath)) return null;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const dir = await mkdtemp(join(tmpdir(), 'vhdx-e2e-'));
  const out = [];
  for (const [gzName, facts] of Object.entries(manifest.images)) {
    const src = join(CORPUS, gzName);
    if (!existsSync(src)) continue;
    const name = gzName.replace(/\.gz$/, '');
    const dst = join(dir, name);
    await pipeline(createReadStream(src), createGunzip(), createWriteStream(dst));
    out.push({ name, path: dst, facts });
  }
  return { dir, images: out };
}

export function ensureScreenshotDir() {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const ignore = join(SCREENSHOTS, '.gitignore');
  if (!existsSync(ignore)) writeFileSync(ignore, '*\n');
  return SCREENSHOTS;
}

/** Parses "#rrggbb" to [r, g, b]. */
export function rgbOf(hexColor) {
  const v = parseInt(hexColor.trim().replace('#', ''), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Switches the page to the view of a URL fragment and waits until it shows. */
export async function go(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  const view = hash.replace(/^#/, '').split(':')[0];
  await page.waitForFunction((v) => document.body.dataset.view === v, view);
}

export { readdir };
