// The end-to-end suite that runs in every browser of e2e/browsers.mjs
// (Chromium and Firefox ESR; E2E_BROWSERS picks some): opening images,
// every view at phone, laptop and wide-screen sizes in light and dark
// (screenshots into e2e/screenshots), layout rules, validation with
// progress and cancel, exports streamed as downloads, and the 64 TiB
// timings printed against the command line.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, ensureScreenshotDir } from './helpers.mjs';
import { browserList, launchBrowser, openPage, dropFiles, until, goView } from './browsers.mjs';
import { makeHugeImage, cliTimes, browserTimes } from './bench-huge.mjs';
import { startServer } from '../build/serve.mjs';

const MiB = 2 ** 20;
const VIEWS = ['overview', 'structures', 'blocks', 'hex-file', 'disk', 'validation', 'export'];
const SIZES = [[390, 844], [1280, 800], [1920, 1080]];
const HAVE_QEMU = (() => { try { execFileSync('qemu-img', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const SKIP = !existsSync(join(DIST, 'vhdx.wasm.gz')) ? `${DIST}/vhdx.wasm.gz is missing: build the site first (make dist)`
  : !HAVE_QEMU ? 'qemu-img is not installed (apt-get install qemu-utils)' : false;

let server;
let TMP;
let small; // a 64 MiB dynamic image with data in three blocks
let huge; // the 64 TiB image, made on first use

function sha256File(path) {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(path).on('data', (d) => h.update(d)).on('end', () => resolve(h.digest('hex'))).on('error', reject);
  });
}

before(async () => {
  if (SKIP) return;
  server = await startServer({ root: DIST, port: 0 });
  TMP = mkdtempSync(join(tmpdir(), 'vhdx-browsers-'));
  small = join(TMP, 'small.vhdx');
  execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', small, '64M']);
  execFileSync('qemu-io', ['-c', 'write -P 0xcd 0 1M', '-c', 'write -P 0x5a 5M 4k', '-c', `write -P 0x11 ${64 * MiB - 512} 512`, small], { stdio: 'ignore' });
});

after(async () => {
  await server?.close();
  if (TMP) rmSync(TMP, { recursive: true, force: true });
});

/** Elements wider than the viewport, or past its edges, outside any box that scrolls sideways. */
function overflowing() {
  const W = document.documentElement.clientWidth;
  const bad = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || (r.right <= W + 0.5 && r.left >= -0.5)) continue;
    if (e.closest('[hidden], dialog:not([open])')) continue;
    let scrolls = false;
    for (let p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox === 'auto' || ox === 'scroll') { scrolls = true; break; }
    }
    if (!scrolls) bad.push(`${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${e.className && typeof e.className === 'string' ? `.${e.className.split(' ').join('.')}` : ''} [${Math.round(r.left)}, ${Math.round(r.right)}]`);
  }
  return { scrollWidth: document.documentElement.scrollWidth, width: W, bad: bad.slice(0, 8) };
}

/** Opens the small image at width×height in scheme; returns the page. */
async function openSmall(browser, [width, height], colorScheme = 'light') {
  const p = await openPage(browser, server.url, { width, height, colorScheme });
  await dropFiles(p.page, small);
  await until(p.page, () => document.body.dataset.counted === 'true' && document.body.dataset.checked === 'true');
  return p;
}

/** Shows view and waits until it has drawn. */
async function showView(page, view) {
  await goView(page, `#${view}`);
  if (view === 'blocks') await until(page, () => document.getElementById('block-canvas')?.dataset.pending === '0');
  if (view === 'hex-file' || view === 'disk') await until(page, (v) => document.querySelector(`#view-${v} .hx-row .hx-off`)?.textContent !== '', view);
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

for (const { name, skip } of browserList()) {
  describe(name, { skip: SKIP || skip || false }, () => {
    let browser;
    before(async () => { browser = await launchBrowser(name, { downloads: join(TMP, `downloads-${name}`) }); });
    after(async () => { await browser?.close(); });

    test('every view at 390×844, 1280×800 and 1920×1080, light and dark: nothing cut off, no console error', async () => {
      const dir = ensureScreenshotDir();
      for (const scheme of ['light', 'dark']) {
        // Firefox takes the colour scheme from its launch, not from the page.
        const b = scheme === 'dark' ? await launchBrowser(name, { dark: true }) : browser;
        try {
          for (const size of SIZES) {
            const { page, errors, context } = await openSmall(b, size, scheme);
            assert.equal(await page.evaluate(() => matchMedia('(prefers-color-scheme: dark)').matches), scheme === 'dark');
            const label = `${name} ${scheme} ${size.join('×')}`;
            const fileName = await page.$eval('#file-info .name', (e) => { const r = e.getBoundingClientRect(); return r.width > 20 && r.right <= innerWidth ? e.textContent : ''; });
            assert.equal(fileName, 'small.vhdx', `${label}: the file name shows in the header`);
            for (const view of VIEWS) {
              // Every tab can be reached and shows its view.
              await page.click(`#tab-${view}`);
              await until(page, (v) => document.body.dataset.view === v, view);
              await showView(page, view);
              const o = await page.evaluate(overflowing);
              assert.deepEqual(o.bad, [], `${label} ${view}: elements cut off at the right edge`);
              assert.ok(o.scrollWidth <= o.width, `${label} ${view}: the page scrolls sideways (${o.scrollWidth} > ${o.width})`);
              await page.screenshot({ path: join(dir, `${name}-${scheme}-${size[0]}x${size[1]}-${view}.png`) });
            }
            // Bytes per hex row: 8 on a phone, more where they fit.
            await showView(page, 'hex-file');
            const cols = Number(await page.$eval('#view-hex-file .hex', (e) => e.dataset.cols));
            const perRow = await page.$$eval('#view-hex-file .hx-row:first-child .hx-b', (bs) => bs.length);
            assert.equal(perRow, cols);
            if (size[0] === 390) assert.equal(cols, 8, `${label}: 8 bytes a row on a phone`);
            if (size[0] === 1920) assert.equal(cols, 32, `${label}: 32 bytes a row on a wide screen`);
            assert.deepEqual(errors, [], `${label}: console errors`);
            await context.close();
          }
        } finally {
          if (b !== browser) await b.close();
        }
      }
    });

    test('validation shows its progress, can be cancelled and run again; findings worst first, then by offset', async () => {
      huge ||= makeHugeImage(TMP);
      const { page, context, errors } = await openPage(browser, server.url, { width: 1280, height: 800 });
      await dropFiles(page, huge);
      await until(page, () => document.body.dataset.counted === 'true', undefined, 120000);
      await page.waitForSelector('#view-overview .check-progress progress');
      await page.click('#view-overview .check-cancel');
      await until(page, () => document.body.dataset.checked === 'cancelled');
      assert.match(await page.$eval('#overview-validation', (e) => e.textContent), /Validation was cancelled\./);
      await page.click('#overview-validation .check-again');
      await until(page, () => document.body.dataset.checked === 'true', undefined, 120000);
      await showView(page, 'validation');
      const rows = await page.$$eval('#findings tbody tr[data-severity]', (trs) => trs.map((tr) => [tr.dataset.severity, tr.querySelector('td.mono').textContent]));
      assert.ok(rows.length >= 2, 'the 64 TiB qemu image has findings');
      const rank = { error: 0, warning: 1, info: 2 };
      const key = ([sev, off]) => [rank[sev], off === '—' ? Infinity : parseInt(off, 16)];
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [key(rows[i - 1]), key(rows[i])];
        assert.ok(a[0] < b[0] || (a[0] === b[0] && a[1] <= b[1]), `findings out of order: ${rows[i - 1]} before ${rows[i]}`);
      }
      assert.deepEqual(errors, []);
      await context.close();
    });

    test('the 64 TiB image: timings against the command line, counts as the command line counts them', async () => {
      huge ||= makeHugeImage(TMP);
      const cli = cliTimes(huge);
      const t = await browserTimes(name, huge, server.url);
      console.log(`# ${name}: 64 TiB dynamic VHDX (1 MiB blocks, 512 MiB BAT); reference vhdx info ${cli.info.toFixed(0)} ms, vhdx check ${cli.check.toFixed(0)} ms`);
      for (const [k, what, ref] of [['overview', 'drop → overview', 'info'], ['counts', 'drop → block counts complete', 'info'], ['mapFirst', 'block map, whole disk: first draw'], ['zoom', 'block map: zoom in one step'], ['validation', 'validation', 'check']]) {
        console.log(`#   ${what.padEnd(36)} ${t[k].toFixed(0).padStart(6)} ms${ref ? ` (${(t[k] / cli[ref]).toFixed(1)}× vhdx ${ref})` : ''}`);
      }
      assert.deepEqual(t.errors, []);
      const info = JSON.parse(execFileSync(join(DIST, '..', 'bin', 'vhdx'), ['info', '--json', huge], { maxBuffer: 1 << 26 }).toString());
      assert.deepEqual(t.summary.block_states, info.vhdx.block_states);
      assert.equal(t.summary.allocated_size, info.allocated_size);
    });

    test('a raw export streams through the service worker as a download: the same bytes as qemu-img convert', { skip: name !== 'firefox' && 'Chromium saves exports with showSaveFilePicker (the download path is for browsers without it)' }, async () => {
      const downloads = join(TMP, `downloads-${name}`);
      const want = join(TMP, 'small.raw');
      execFileSync('qemu-img', ['convert', '-O', 'raw', small, want]);
      const { page, context, errors } = await openPage(browser, server.url, { width: 1280, height: 800 });
      await until(page, () => !!navigator.serviceWorker.controller);
      assert.equal(await page.evaluate(() => typeof window.showSaveFilePicker), 'undefined');
      await dropFiles(page, small);
      await until(page, () => document.body.dataset.counted === 'true');
      await showView(page, 'export');
      assert.equal((await page.$eval('#export-raw', (e) => e.textContent)).trim(), 'Download small.img');
      await page.click('#export-raw');
      await until(page, () => document.getElementById('view-export').dataset.exported !== undefined, undefined, 60000);
      const file = join(downloads, 'small.img');
      const t0 = Date.now();
      while (!(existsSync(file) && statSync(file).size === 64 * MiB && !readdirSync(downloads).some((f) => f.endsWith('.part')))) {
        if (Date.now() - t0 > 30000) assert.fail(`no complete download in ${downloads}: ${readdirSync(downloads).join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await sha256File(file), await sha256File(want));
      assert.deepEqual(errors, []);
      await context.close();
    });
  });
}
