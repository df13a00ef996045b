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
import { copyFileSync, createReadStream, existsSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync, closeSync } from 'node:fs';
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
            // Tab order follows the visual order: a stop never goes back up unless it moves right (the next card of a row).
            await showView(page, 'overview');
            await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
            const stops = [];
            for (let i = 0; i < 14; i++) {
              await page.keyboard.press('Tab');
              const r = await page.evaluate(() => { const e = document.activeElement; if (!e || e === document.body) return null; const b = e.getBoundingClientRect(); return { id: e.id || e.textContent.trim().slice(0, 24), top: b.top + (document.getElementById('view-overview').scrollTop || 0) + window.scrollY, left: b.left }; });
              if (!r || stops.some((x) => x.id === r.id)) break; // round the page once
              stops.push(r);
            }
            for (let i = 1; i < stops.length; i++) {
              const [a, b] = [stops[i - 1], stops[i]];
              assert.ok(b.top >= a.top - 2 || b.left > a.left + 2, `${label}: tab goes from “${a.id}” back up to “${b.id}”`);
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

    test('says what is true, plainly: disk types, exact sizes, one range wording, escaped strings, the file to drop after a reload, layer colours apart from states', async () => {
      // Disk types as qemu made them: a dynamic disk with every block written stays dynamic.
      const full = join(TMP, `full-${name}.vhdx`);
      const fixed = join(TMP, `fixed-${name}.vhdx`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'subformat=dynamic,block_size=1M', full, '4M']);
      execFileSync('qemu-io', ['-c', 'write -P 0x77 0 4M', full], { stdio: 'ignore' });
      execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'subformat=fixed,block_size=1M', fixed, '4M']);
      // A creator with an escape sequence in it.
      const evil = join(TMP, `evil-${name}.vhdx`);
      copyFileSync(small, evil);
      const fd = openSync(evil, 'r+');
      writeSync(fd, Buffer.from('QEMU\u001b[31m\u202eX\0', 'utf16le'), 0, undefined, 8);
      closeSync(fd);

      const { page, context, errors } = await openPage(browser, server.url, { width: 1280, height: 800 });
      const dd = (key) => page.$eval(`#overview-disk [data-field=${key}]`, (e) => e.textContent.trim());
      // (qemu's fixed disk leaves its blocks allocated but marks them zero.)
      for (const [path, type, present] of [[full, 'dynamic', '4'], [fixed, 'fixed', '0']]) {
        await dropFiles(page, path);
        await until(page, (n) => document.querySelector('#file-info .name')?.textContent === n && document.body.dataset.counted === 'true', path.split('/').pop());
        assert.equal(await dd('disk_type'), type, `${path}: disk type`);
        assert.equal(await page.$eval('#overview-blocks tr[data-state=fully_present] td.num', (e) => e.textContent), present);
      }
      await dropFiles(page, evil);
      await until(page, () => document.querySelector('#file-info .name')?.textContent.startsWith('evil') && document.body.dataset.checked === 'true');
      const creator = await dd('creator');
      assert.equal(creator, 'QEMU\\x1b[31m\\u202eX', 'control characters are shown as escapes');
      assert.equal(await dd('virtual_size'), '64 MiB (67,108,864 bytes)');

      // The hex toolbar: sizes exactly, a selection's last byte included and said so.
      await showView(page, 'hex-file');
      const size = statSync(evil).size;
      assert.match(await page.$eval('#view-hex-file .sel-info', (e) => e.textContent), new RegExp(`file of .* \\(${size.toLocaleString('en-US')} bytes\\)$`));
      await page.focus('#view-hex-file .hex');
      await page.keyboard.down('Shift');
      for (let i = 1; i <= 3; i++) {
        await page.keyboard.press('ArrowRight');
        await until(page, (n) => document.querySelector('#view-hex-file .sel-info').textContent.includes(`(${n} bytes)`), i + 1);
      }
      await page.keyboard.up('Shift');
      assert.equal(await page.$eval('#view-hex-file .sel-info', (e) => e.textContent), 'selected 0x0–0x3 inclusive (4 bytes)');

      // A reload keeps the place and says which file to drop to get back.
      await page.evaluate(() => { location.hash = '#disk:lba=2048'; });
      await page.reload();
      await page.waitForSelector('#return-hint:not([hidden])');
      assert.match(await page.$eval('#return-hint', (e) => e.textContent), /^Drop evil-.*\.vhdx again to return to disk:lba=2048/);

      // Layer colours: far from every state colour; neighbouring layers differ in lightness.
      const colours = await page.evaluate(() => {
        const v = (n) => getComputedStyle(document.documentElement).getPropertyValue(n).trim();
        return {
          layers: Array.from({ length: 8 }, (_, i) => v(`--layer-${i}`)),
          states: ['fully-present', 'partially-present', 'zero', 'unmapped', 'undefined', 'not-present', 'invalid', 'pending'].map((s) => v(`--st-${s}`)),
        };
      });
      const rgb = (c) => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16));
      const lum = (c) => rgb(c).reduce((s, x, i) => s + [0.2126, 0.7152, 0.0722][i] * (x / 255) ** 2.2, 0);
      for (const l of colours.layers) {
        for (const st of colours.states) {
          const d = Math.hypot(...rgb(l).map((x, i) => x - rgb(st)[i]));
          assert.ok(d >= 60, `layer colour ${l} is too near the state colour ${st} (${d.toFixed(0)})`);
        }
      }
      for (let i = 1; i < colours.layers.length; i++) {
        assert.ok(Math.abs(lum(colours.layers[i]) - lum(colours.layers[i - 1])) >= 0.08, `layers ${i - 1} and ${i} differ too little in lightness`);
      }
      assert.deepEqual(errors, []);
      await context.close();
    });

    test('a damaged header: the page header says so and names the copy in use; the copies compare field by field and byte by byte', async () => {
      const dmg = join(TMP, `damaged-${name}.vhdx`);
      copyFileSync(small, dmg);
      const fd = openSync(dmg, 'r+');
      writeSync(fd, Buffer.from([0xff]), 0, 1, 0x10000 + 8); // header 1's sequence number: its checksum then fails
      closeSync(fd);
      const { page, context, errors } = await openPage(browser, server.url, { width: 1280, height: 800 });
      await dropFiles(page, dmg);
      await until(page, () => document.body.dataset.checked === 'true');
      // Which copy qemu-img itself reads is not asked: it must still read the disk, and we say it is not affected.
      execFileSync('qemu-img', ['check', '-q', dmg]);
      assert.equal(await page.$eval('#damage-badge', (e) => e.textContent), 'Header 1 is damaged · using header 2 and region table 1');
      assert.match(await page.$eval('#overview-damage', (e) => e.textContent), /the virtual disk is not affected/);
      await goView(page, '#structures:header-1');
      await page.waitForSelector('#compare-header .diff-run');
      const differs = await page.$$eval('#compare-header tr.differs', (trs) => trs.map((tr) => tr.dataset.field));
      assert.ok(differs.includes('checksum') && differs.includes('sequence number'), `fields that differ: ${differs}`);
      await page.click('#compare-header .diff-run button');
      const run = await until(page, () => document.body.dataset.view === 'hex-file' && /^#hex-file:0x1000[0-9a-f]\+0x[0-9a-f]+$/.test(location.hash) && location.hash);
      const marked = Number.parseInt(run.split('+')[1], 16);
      await until(page, (n) => document.querySelectorAll('#view-hex-file .hx-b.m').length === n, marked);
      assert.deepEqual(errors, []);
      await context.close();
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
      assert.equal(t.summary.allocated_size, info.vhdx.allocated_size);
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
