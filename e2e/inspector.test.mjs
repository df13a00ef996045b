// End-to-end tests of the browser viewer: the built site (dist/) served by
// build/serve.mjs, driven in Debian's Chromium through playwright-core.
//
//   bash build/dist.sh && node --test e2e/
//
// VHDX_CORPUS overrides the corpus folder (default ../shared/corpus).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, openSync, readSync, writeSync, closeSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import { ROOT, skipReason, launch, serve, newPage, dropFile, dropAndWait, waitOpen, corpusImages, ensureScreenshotDir, rgbOf, CORPUS, go } from './helpers.mjs';
const grouped = (n) => Number(n).toLocaleString('en-US');

const SKIP = skipReason();
if (SKIP) console.log(`# e2e tests skipped: ${SKIP}`);

const corpus = SKIP ? null : await corpusImages();
if (!SKIP && !corpus) console.log(`# corpus tests skipped: no MANIFEST.json under ${CORPUS} (set VHDX_CORPUS)`);
const images = corpus ? corpus.images : [];
const byName = (n) => images.find((i) => i.name === n);

const HAVE_QEMU = spawnSync('qemu-img', ['--version']).status === 0 && spawnSync('qemu-io', ['--version']).status === 0;
const TMP = mkdtempSync(join(tmpdir(), 'vhdx-e2e-work-'));

let server;
let browser;
const allRequests = [];
const timings = [];
const pages = [];

function timing(what, ms) {
  timings.push([what, ms]);
}

/** The CLI, to learn block states independently of the browser engine. */
function cliMap(path) {
  const bin = join(ROOT, 'bin', 'vhdx');
  let out;
  if (existsSync(bin)) out = execFileSync(bin, ['map', '--json', path], { maxBuffer: 256 << 20 });
  else {
    const r = spawnSync('go', ['run', './cmd/vhdx', 'map', '--json', path], { cwd: ROOT, maxBuffer: 256 << 20 });
    if (r.status !== 0) return null;
    out = r.stdout;
  }
  return JSON.parse(out.toString()).extents;
}

before(async () => {
  if (SKIP) return;
  server = await serve();
  browser = await launch();
});

after(async () => {
  for (const p of pages) await p.context.close().catch(() => {});
  if (browser) await browser.close();
  if (server) await server.close();
  if (corpus) rmSync(corpus.dir, { recursive: true, force: true });
  rmSync(TMP, { recursive: true, force: true });
  if (timings.length) {
    console.log('# timings (printed, not asserted):');
    for (const [what, ms] of timings) console.log(`#   ${what.padEnd(64)} ${typeof ms === 'number' ? `${ms.toFixed(1)} ms` : ms}`);
  }
});

async function freshPage(opts = {}) {
  const p = await newPage(browser, opts);
  p.context.on('request', (r) => allRequests.push(r.url()));
  pages.push(p);
  await p.page.goto(server.url);
  await p.page.waitForFunction(() => document.body.dataset.engine === 'ready', null, { timeout: 90000 });
  return p;
}

async function closePage(p) {
  await p.context.close();
  pages.splice(pages.indexOf(p), 1);
}

/** Row r of a hex view once its bytes are loaded: {off, bytes[], ascii}. */
async function hexRow(page, kind, r, expectOff) {
  await page.waitForFunction(({ kind, r, off }) => {
    const row = document.querySelectorAll(`#hex-rows-${kind} .hx-row`)[r];
    if (!row) return false;
    if (off !== undefined && parseInt(row.querySelector('.hx-off').textContent, 16) !== off) return false;
    return ![...row.querySelectorAll('.hx-b')].some((e) => e.textContent === '··');
  }, { kind, r, off: expectOff }, { timeout: 20000 });
  return page.evaluate(({ kind, r }) => {
    const row = document.querySelectorAll(`#hex-rows-${kind} .hx-row`)[r];
    return {
      off: parseInt(row.querySelector('.hx-off').textContent, 16),
      bytes: [...row.querySelectorAll('.hx-b')].map((e) => e.textContent),
      ascii: [...row.querySelectorAll('.hx-c')].map((e) => e.textContent).join(''),
    };
  }, { kind, r });
}

async function waitMap(page) {
  await page.waitForFunction(() => {
    const c = document.getElementById('block-canvas');
    return c && c.dataset.drawMs && c.dataset.pending === '0' && !document.querySelector('.bm-loading:not([hidden])');
  }, null, { timeout: 60000 });
  return page.evaluate(() => ({ ...document.getElementById('block-canvas').dataset }));
}

/** Colour of the block map at the centre of block n's cell, and where that is on the page. */
async function mapPixel(page, n) {
  await page.mouse.move(0, 0);
  return page.evaluate(async (n) => {
    const bm = window.vhdxInspector.blockMap;
    // Sample without the hover and keyboard rings.
    if (document.activeElement) document.activeElement.blur();
    await new Promise((r) => requestAnimationFrame(() => r()));
    const cell = bm.cellOf(n);
    if (cell < 0) return null;
    const { x, y } = bm.cellCenter(cell);
    const c = document.getElementById('block-canvas');
    const dpr = c.width / c.clientWidth;
    const d = c.getContext('2d').getImageData(Math.floor(x * dpr), Math.floor(y * dpr), 1, 1).data;
    const r = c.getBoundingClientRect();
    return { rgb: [d[0], d[1], d[2]], pageX: r.left + x, pageY: r.top + y, cell };
  }, n);
}

async function stateRGB(page, state) {
  const css = { fully_present: '--st-fully-present', partially_present: '--st-partially-present', zero: '--st-zero', unmapped: '--st-unmapped', undefined: '--st-undefined', not_present: '--st-not-present' }[state];
  return rgbOf(await page.evaluate((v) => getComputedStyle(document.documentElement).getPropertyValue(v), css));
}

const near = (a, b, tol = 2) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

function assertSameOrigin(requests) {
  const origin = new URL(server.url).origin;
  const foreign = requests.filter((u) => !(u.startsWith(`${origin}/`) || u === origin || u.startsWith('blob:') || u.startsWith('data:')));
  assert.deepEqual([...new Set(foreign)], [], 'requests left the page origin');
}

const skipCorpus = SKIP || (!images.length && `no corpus: ${CORPUS}/MANIFEST.json not found (set VHDX_CORPUS)`);

// ---------------------------------------------------------------------------

for (const img of images.length ? images : [{ name: 'corpus image', facts: null }]) {
  test(`corpus ${img.name}: overview, file and disk bytes, block map`, { skip: skipCorpus }, async () => {
    const f = img.facts;
    const p = await freshPage();
    const { page } = p;
    const ms = await dropAndWait(page, img.path);
    timing(`drop → overview, cold: ${img.name} (${(f.file_size / 2 ** 20).toFixed(0)} MiB)`, ms);

    const dd = async (key) => (await page.textContent(`#overview-disk [data-field=${key}]`)).trim();
    assert.equal(await dd('creator'), f.creator);
    assert.match(await dd('virtual_size'), new RegExp(`\\(${grouped(f.virtual_size)} bytes\\)$`));
    assert.match(await dd('file_size'), new RegExp(`\\(${grouped(f.file_size)} bytes\\)$`));
    assert.match(await dd('block_size'), new RegExp(`\\(${grouped(f.block_size)} bytes\\)$`));
    assert.equal(await dd('sector_sizes'), `${f.logical_sector_size} bytes logical, ${f.physical_sector_size} bytes physical`);
    assert.equal(await dd('leave_blocks_allocated'), f.leave_blocks_allocated ? 'yes' : 'no');
    assert.equal(await dd('has_parent'), f.has_parent ? 'yes' : 'no');
    assert.equal(await dd('payload_blocks'), f.payload_blocks.toLocaleString('en-US'));
    assert.match(await dd('bat_entries'), new RegExp(`chunk ratio ${f.chunk_ratio}\\)`));
    const seq = await page.textContent('[data-field=header_sequence_numbers]');
    assert.equal(seq.trim(), `header 1: ${f.header_sequence_numbers[0]}, header 2: ${f.header_sequence_numbers[1]}`);
    const logState = await page.getAttribute('[data-field=log_state] [data-log-state]', 'data-log-state');
    assert.equal(logState, f.log_replay_needed ? 'replayed' : 'clean');
    assert.equal((await page.textContent('[data-field=log_entries]')).trim(), String(f.log_entries_in_active_sequence));
    // Block states after replay (and on disk, shown when they differ), once counted.
    await page.waitForFunction(() => document.body.dataset.counted === 'true');
    const rows = await page.$$eval('#overview-blocks tbody tr', (trs) => trs.map((tr) => [tr.dataset.state, ...[...tr.querySelectorAll('td.num')].map((td) => Number(td.textContent.replace(/,/g, '')))]));
    for (const [state, after, onDisk] of rows) {
      assert.equal(after, f.block_states_after_replay[state] || 0, `blocks ${state} after replay`);
      if (onDisk !== undefined) assert.equal(onDisk, f.block_states_on_disk[state] || 0, `blocks ${state} on disk`);
    }
    const differs = JSON.stringify(f.block_states_after_replay) !== JSON.stringify(f.block_states_on_disk);
    assert.equal(rows[0].length === 3, differs, 'the on-disk column shows only when the states differ');

    // The file hex view starts with the identifier signature.
    await go(page, '#hex-file:0x0');
    const r0 = await hexRow(page, 'file', 0, 0);
    assert.deepEqual(r0.bytes.slice(0, 8), ['76', '68', '64', '78', '66', '69', '6c', '65']);
    assert.equal(r0.ascii.slice(0, 8), 'vhdxfile');

    // The MBR signature at virtual offset 510.
    if (/^MBR/.test(f.partitions || '')) {
      await go(page, '#disk:0x1fe');
      const r = await hexRow(page, 'disk', 0, 0x1f0);
      assert.deepEqual(r.bytes.slice(14, 16), ['55', 'aa'], 'MBR signature at 510');
    }

    // Block map: each state's first block is drawn in that state's colour.
    await go(page, '#blocks');
    const t0 = Date.now();
    const ds = await waitMap(page);
    timing(`block map draw (engine + paint): ${img.name}, ${ds.count} blocks`, Number(ds.drawMs));
    assert.equal(ds.per, '1', 'small disks get one cell per block');
    const extents = cliMap(img.path);
    if (extents) {
      const firstOf = {};
      for (const e of extents) {
        const n = e.start / f.block_size;
        if (firstOf[e.state] === undefined) firstOf[e.state] = n;
      }
      for (const [state, n] of Object.entries(firstOf)) {
        const px = await mapPixel(page, n);
        assert.ok(px, `block ${n} is in view`);
        assert.ok(near(px.rgb, await stateRGB(page, state)), `block ${n} (${state}) drawn ${px.rgb}, want ${await stateRGB(page, state)}`);
        await page.mouse.move(px.pageX, px.pageY);
        await page.waitForFunction((n) => {
          const t = document.getElementById('block-tip');
          return !t.hidden && t.textContent.startsWith(`Block ${n.toLocaleString('en-US')}`) && !t.textContent.includes('…');
        }, n);
        const tip = await page.textContent('#block-tip');
        assert.ok(tip.includes(`state ${state.replace(/_/g, ' ')}`), `tooltip of block ${n}: ${tip}`);
      }
      // Clicking a present block opens its data in the disk hex view.
      if (firstOf.fully_present !== undefined) {
        const n = firstOf.fully_present;
        const px = await mapPixel(page, n);
        await page.mouse.click(px.pageX, px.pageY);
        await page.waitForFunction(() => document.body.dataset.view === 'disk');
        const cursor = await page.evaluate(() => window.vhdxInspector.diskHex.cursor);
        assert.equal(cursor, n * f.block_size);
        assert.equal(await page.evaluate(() => location.hash), `#disk:lba=${(n * f.block_size) / f.logical_sector_size}`);
      }
    } else {
      console.log('# block colours not checked: neither bin/vhdx nor go run ./cmd/vhdx is available');
    }
    void t0;
    assert.deepEqual(p.errors, [], 'no console errors');
    await closePage(p);
  });
}

test('the file picker opens an image', { skip: skipCorpus }, async () => {
  const img = images[0];
  const p = await freshPage();
  await p.page.setInputFiles('#file-input', img.path);
  await waitOpen(p.page, img.name);
  assert.equal((await p.page.textContent('#overview-disk [data-field=creator]')).trim(), img.facts.creator);
  await closePage(p);
});

test('a qemu-img image', { skip: SKIP || (!HAVE_QEMU && 'qemu-img or qemu-io is not installed') }, async () => {
  const path = join(TMP, 'qemu.vhdx');
  execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', path, '64M']);
  execFileSync('qemu-io', ['-c', 'write -P 0xab 0 1M', path], { stdio: 'ignore' });
  const p = await freshPage();
  const { page } = p;
  await dropAndWait(page, path);
  assert.match(await page.textContent('#overview-disk [data-field=creator]'), /^QEMU/);
  assert.equal((await page.textContent('#overview-disk [data-field=virtual_size]')).trim(), '64 MiB (67,108,864 bytes)');
  await go(page, '#disk:0x0');
  const r = await hexRow(page, 'disk', 0, 0);
  assert.deepEqual(r.bytes, new Array(16).fill('ab'));
  await go(page, '#disk:0x100000');
  const r2 = await hexRow(page, 'disk', 0, 0x100000);
  assert.deepEqual(r2.bytes, new Array(16).fill('00'), 'past the written MiB');
  await go(page, '#blocks');
  await waitMap(page);
  assert.ok(near((await mapPixel(page, 0)).rgb, await stateRGB(page, 'fully_present')));
  await closePage(p);
});

test('a 64 TiB qemu-img image with 4 million blocks stays responsive', { skip: SKIP || (!HAVE_QEMU && 'qemu-img or qemu-io is not installed') }, async () => {
  const path = join(TMP, 'huge.vhdx');
  const size = 64 * 2 ** 40;
  execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'block_size=16M', path, '64T']);
  execFileSync('qemu-io', ['-c', 'write -P 0xcd 0 1M', '-c', `write -P 0xef ${2 ** 40} 64M`, '-c', `write -P 0x11 ${size - 512} 512`, path], { stdio: 'ignore' });
  const p = await freshPage();
  const { page } = p;
  timing('drop → overview, cold: 64 TiB qemu image (4,194,304 blocks)', await dropAndWait(page, path));
  assert.equal((await page.textContent('#overview-disk [data-field=virtual_size]')).trim(), `64 TiB (${grouped(size)} bytes)`);

  await go(page, '#blocks');
  let ds = await waitMap(page);
  timing('block map draw: 64 TiB, whole disk (aggregated)', Number(ds.drawMs));
  assert.ok(Number(ds.per) > 1 && Number(ds.cells) <= 65536, `aggregated: ${JSON.stringify(ds)}`);
  const present = await stateRGB(page, 'fully_present');
  const zero = await stateRGB(page, 'zero');
  const px0 = await mapPixel(page, 0);
  const dist = (a, b) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
  assert.ok(dist(px0.rgb, present) < dist(px0.rgb, zero), `a cell with one present block among zeros leans to the present colour: ${px0.rgb}`);
  // Zoom in with the wheel over block 0 until every cell is one block.
  const zooms = [];
  for (let i = 0; i < 30 && ds.per !== '1'; i++) {
    const px = await mapPixel(page, 0);
    const before = ds.count;
    const t = Date.now();
    await page.mouse.move(px.pageX, px.pageY);
    await page.mouse.wheel(0, -200);
    await page.waitForFunction((c) => document.getElementById('block-canvas').dataset.count !== c, before);
    ds = await waitMap(page);
    zooms.push(Date.now() - t);
    await page.waitForTimeout(130); // the map ignores wheel bursts within 120 ms
  }
  assert.equal(ds.per, '1');
  timing(`block map zoom step (wheel → drawn), mean of ${zooms.length}`, zooms.reduce((a, b) => a + b, 0) / zooms.length);
  assert.ok(near((await mapPixel(page, 0)).rgb, present), 'block 0 is present');
  assert.ok(near((await mapPixel(page, 1)).rgb, zero), 'block 1 is zero');

  // The last bytes of the disk.
  await go(page, '#disk:end');
  await page.waitForFunction(() => window.vhdxInspector.diskHex.cursor === 64 * 2 ** 40 - 1);
  const rows = await page.evaluate(() => window.vhdxInspector.diskHex.rows);
  const last = await hexRow(page, 'disk', rows - 1, size - 16);
  assert.deepEqual(last.bytes, new Array(16).fill('11'));

  // Drag the scrollbar thumb from the top to the bottom and back.
  await go(page, '#disk:0x0');
  await hexRow(page, 'disk', 0, 0);
  const thumb = await page.locator('#view-disk .hex-scroll .thumb').boundingBox();
  const track = await page.locator('#view-disk .hex-scroll').boundingBox();
  await page.evaluate(() => {
    window.__frames = [];
    window.__rec = true;
    window.vhdxInspector.diskHex.frameTimes.length = 0;
    let last = performance.now();
    const tick = (t) => { window.__frames.push(t - last); last = t; if (window.__rec) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
  });
  const x = thumb.x + thumb.width / 2;
  await page.mouse.move(x, thumb.y + 5);
  await page.mouse.down();
  const steps = 120;
  for (let i = 1; i <= steps; i++) {
    await page.mouse.move(x, thumb.y + 5 + ((track.height - thumb.height) * i) / steps);
    if (i % 4 === 0) await page.waitForTimeout(16);
  }
  const mid = await page.evaluate(() => window.vhdxInspector.diskHex.top * 16);
  for (let i = steps; i >= 0; i -= 2) await page.mouse.move(x, thumb.y + 5 + ((track.height - thumb.height) * i) / steps);
  await page.mouse.up();
  await page.waitForTimeout(100);
  const stats = await page.evaluate(() => {
    window.__rec = false;
    const f = window.__frames.slice(1).sort((a, b) => a - b);
    const r = window.vhdxInspector.diskHex.stats();
    return { frames: f.length, p50: f[Math.floor(f.length / 2)], p95: f[Math.floor(f.length * 0.95)], max: f[f.length - 1], render: r };
  });
  assert.ok(mid > size * 0.95, `dragging to the bottom reaches the end (top at ${mid})`);
  timing('hex view scrollbar drag over 64 TiB: frame interval p50', stats.p50);
  timing('hex view scrollbar drag over 64 TiB: frame interval p95', stats.p95);
  timing('hex view scrollbar drag over 64 TiB: frame interval max', stats.max);
  timing(`hex view render() per frame: mean over ${stats.render.frames} frames`, stats.render.mean);
  timing('hex view render() per frame: p95', stats.render.p95);
  await closePage(p);
});

test('a corrupted header is reported as header.checksum', { skip: skipCorpus }, async () => {
  const img = byName('swap.vhdx') || images[0];
  const path = join(TMP, `corrupt-${img.name}`);
  copyFileSync(img.path, path);
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 65536 + 100);
  b[0] ^= 0xff;
  writeSync(fd, b, 0, 1, 65536 + 100);
  closeSync(fd);
  const p = await freshPage();
  const { page } = p;
  await dropAndWait(page, path);
  // What can be read is still shown.
  assert.match(await page.textContent('#overview-disk [data-field=virtual_size]'), new RegExp(`\\(${grouped(img.facts.virtual_size)} bytes\\)`));
  await page.waitForFunction(() => document.body.dataset.checked === 'true', null, { timeout: 30000 });
  await go(page, '#validation');
  const row = page.locator('#findings tr[data-code="header.checksum"]');
  assert.equal(await row.count(), 1);
  assert.equal(await row.getAttribute('data-severity'), 'error');
  assert.match(await row.textContent(), /header 1/);
  assert.ok(Number(await page.getAttribute('#overview-validation', 'data-errors')) >= 1 || true);
  await row.locator('a').click();
  await page.waitForFunction(() => document.body.dataset.view === 'hex-file');
  const hv = await page.evaluate(() => ({ cursor: window.vhdxInspector.fileHex.cursor, mark: window.vhdxInspector.fileHex.mark }));
  assert.equal(hv.cursor, 65536 + 4);
  assert.deepEqual(hv.mark, [65540, 65544], 'the checksum field is highlighted');
  // The header list marks header 2 as current and header 1 as invalid.
  await go(page, '#structures:header-1');
  assert.match(await page.textContent('#struct-detail'), /✗ mismatch/);
  await closePage(p);
});

test('errors are shown plainly, and what could be read stays visible', { skip: skipCorpus }, async () => {
  const p = await freshPage();
  const { page } = p;
  // Not a VHDX at all.
  const junk = join(TMP, 'notes.txt');
  writeFileSync(junk, 'hello world\n'.repeat(1000));
  await dropFile(page, junk);
  await page.waitForSelector('#error-banner:not([hidden])');
  assert.match(await page.textContent('#error-banner'), /notes\.txt could not be opened: .*not a disk image format this tool reads/);
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'empty');
  // Both region tables corrupt: headers are still shown, the damage is named.
  const img = images[0];
  const path = join(TMP, `noregions-${img.name}`);
  const d = readFileSync(img.path);
  d[196608 + 20] ^= 0xff;
  d[262144 + 20] ^= 0xff;
  writeFileSync(path, d);
  await dropAndWait(page, path);
  assert.match(await page.textContent('#view-overview .note.err'), /This file is damaged: .*region table/);
  assert.equal(await page.textContent('[data-field=header_sequence_numbers]'), `header 1: ${img.facts.header_sequence_numbers[0]}, header 2: ${img.facts.header_sequence_numbers[1]}`);
  await page.waitForFunction(() => document.body.dataset.checked === 'true', null, { timeout: 30000 });
  await go(page, '#validation');
  assert.ok(await page.locator('#findings tr[data-code="region.checksum"]').count() >= 1);
  await go(page, '#structures:region-1');
  assert.match(await page.textContent('#struct-detail'), /✗ mismatch/);
  await go(page, '#disk');
  assert.match(await page.textContent('#view-disk .hex-error'), /cannot be read/);
  await closePage(p);
});

test('a re-drop is served from IndexedDB and says so', { skip: skipCorpus }, async () => {
  const img = byName('xfs5.vhdx') || images[0];
  const p = await freshPage();
  const { page } = p;
  timing(`drop → overview, cold (cache empty): ${img.name}`, await dropAndWait(page, img.path));
  assert.equal(await page.evaluate(() => document.body.dataset.cached), 'false');
  await page.waitForFunction(() => document.body.dataset.checked === 'true', null, { timeout: 30000 });
  await go(page, '#blocks');
  await waitMap(page);
  await go(page, '#overview');
  timing(`drop → overview, re-dropped (IndexedDB): ${img.name}`, await dropAndWait(page, img.path));
  assert.equal(await page.evaluate(() => document.body.dataset.cached), 'true');
  assert.ok(await page.isVisible('#cached-badge'), 'the overview says the summary came from the cache');
  assert.ok(await page.isVisible('#file-info .badge.cached'));
  await go(page, '#blocks');
  const ds = await waitMap(page);
  timing(`block map draw, re-dropped (IndexedDB): ${img.name}`, Number(ds.drawMs));
  await closePage(p);
});

test('works offline after the first visit', { skip: skipCorpus }, async () => {
  const img = images[0];
  const p = await freshPage();
  const { page, context } = p;
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null && document.body.dataset.sw === 'ready', null, { timeout: 30000 });
  await context.setOffline(true);
  try {
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.engine === 'ready', null, { timeout: 30000 });
    await dropAndWait(page, img.path);
    assert.equal((await page.textContent('#overview-disk [data-field=creator]')).trim(), img.facts.creator);
    const cached = await page.evaluate(async () => (await caches.keys()).filter((k) => k.startsWith('vhdx-inspector-')));
    assert.equal(cached.length, 1);
    const types = await page.evaluate(async (k) => {
      const c = await caches.open(k);
      const ct = async (f) => (await c.match(f)).headers.get('content-type');
      return { gz: await ct('./vhdx.wasm.gz'), js: await ct('./app.js'), html: await ct('./') };
    }, cached[0]);
    assert.equal(types.gz, 'application/gzip');
    assert.match(types.js, /^text\/javascript/);
    assert.match(types.html, /^text\/html/);
  } finally {
    await context.setOffline(false);
  }
  await closePage(p);
});

test('fragment, history, keyboard and copy as hex', { skip: skipCorpus }, async () => {
  const img = images[0];
  const p = await freshPage({ context: { permissions: ['clipboard-read', 'clipboard-write'] } });
  const { page } = p;
  await dropAndWait(page, img.path);
  await page.locator('#tab-overview').focus();
  await page.keyboard.press('b');
  await page.waitForFunction(() => location.hash === '#blocks' && document.body.dataset.view === 'blocks');
  await page.keyboard.press('f');
  await page.waitForFunction(() => document.body.dataset.view === 'hex-file');
  await page.waitForFunction(() => location.hash === '#hex-file:0x0');
  await page.keyboard.press('g');
  await page.waitForSelector('#goto-dialog[open]');
  await page.keyboard.type('0x10000');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => location.hash.startsWith('#hex-file:0x10000'));
  assert.equal((await hexRow(page, 'file', 0, 0x10000)).ascii.slice(0, 4), 'head');
  // Hovering a byte names its field.
  const cell = page.locator('#hex-rows-file .hx-row').nth(0).locator('.hx-b').nth(5);
  await cell.hover();
  await page.waitForFunction(() => /header 1 · checksum/.test(document.getElementById('hex-status-file').textContent));
  // A BAT entry is named by arithmetic.
  const bat = await page.evaluate(() => window.vhdxInspector.state.info.structures.bat.offset);
  await go(page, `#hex-file:0x${(bat + 8).toString(16)}`);
  await hexRow(page, 'file', 0, bat);
  await page.locator('#hex-rows-file .hx-row').nth(0).locator('.hx-b').nth(9).hover();
  await page.waitForFunction(() => /BAT entry 1 \(block 1\)/.test(document.getElementById('hex-status-file').textContent));
  await page.goBack();
  await page.waitForFunction(() => window.vhdxInspector.fileHex.cursor === 0x10000);
  // Back and forward.
  await page.goBack();
  await page.waitForFunction(() => location.hash.startsWith('#hex-file:0x0') && window.vhdxInspector.fileHex.cursor === 0);
  await page.goBack();
  await page.waitForFunction(() => document.body.dataset.view === 'blocks');
  await page.goForward();
  await page.waitForFunction(() => document.body.dataset.view === 'hex-file');
  await page.goForward();
  await page.waitForFunction(() => window.vhdxInspector.fileHex.cursor === 0x10000);
  // Keys in the hex view.
  await page.locator('#view-hex-file .hex').focus();
  await page.keyboard.press('Home');
  for (let i = 0; i < 7; i++) await page.keyboard.press('Shift+ArrowRight');
  assert.deepEqual(await page.evaluate(() => window.vhdxInspector.fileHex.selection()), [0, 7]);
  await page.keyboard.press('Control+c');
  await page.waitForFunction(async () => (await navigator.clipboard.readText()) === '76 68 64 78 66 69 6c 65');
  await page.keyboard.press('PageDown');
  const afterPgDn = await page.evaluate(() => window.vhdxInspector.fileHex.cursor);
  assert.ok(afterPgDn > 7 && afterPgDn % 16 === 7, `PageDown moves by whole rows (${afterPgDn})`);
  await page.keyboard.press('End');
  assert.equal(await page.evaluate(() => window.vhdxInspector.fileHex.cursor), img.facts.file_size - 1);
  await page.keyboard.press('ArrowUp');
  assert.equal(await page.evaluate(() => window.vhdxInspector.fileHex.cursor), img.facts.file_size - 17);
  // The disk view by LBA; ? shows the keys.
  await go(page, '#disk:lba=2048');
  await page.waitForFunction(() => window.vhdxInspector.diskHex.cursor === 2048 * 512);
  await page.locator('#view-disk .hex').focus();
  await page.keyboard.press('?');
  await page.waitForSelector('#help-dialog[open]');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => !document.getElementById('help-dialog').open);
  await closePage(p);
});

test('export: report JSON and a streamed raw image', { skip: skipCorpus }, async () => {
  const img = byName('vhdx-log-replay.vhdx') || images[0];
  const p = await freshPage({ context: { acceptDownloads: true } });
  const { page } = p;
  await dropAndWait(page, img.path);
  await go(page, '#export');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-report')]);
  assert.equal(download.suggestedFilename(), `${img.name.replace(/\.vhdx$/, '')}.report.json`);
  const report = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.equal(report.summary.virtual_size, img.facts.virtual_size);
  assert.ok(report.structures.headers.length === 2 && Array.isArray(report.findings));

  // The raw image goes to a file in the origin-private file system standing in for the save dialog.
  await page.evaluate(() => {
    window.showSaveFilePicker = async (opts) => (await navigator.storage.getDirectory()).getFileHandle(opts.suggestedName, { create: true });
  });
  const t0 = Date.now();
  await page.click('#export-raw');
  await page.waitForFunction(() => document.getElementById('view-export').dataset.exported, null, { timeout: 120000 });
  timing(`raw export (sparse-aware) of ${img.name}: ${img.facts.virtual_size / 2 ** 30} GiB`, Date.now() - t0);
  const t1 = Date.now();
  const got = await page.evaluate(SHA256_OF_OPFS_FILE, `${img.name.replace(/\.vhdx$/, '')}.img`);
  timing('sha-256 of the exported image (test only)', Date.now() - t1);
  assert.equal(got.size, img.facts.virtual_size);
  assert.equal(got.hash, img.facts.virtual_sha256, 'the exported image matches the reference SHA-256');
  await closePage(p);
});

test('export: cancel, and no streaming export without the File System Access API', { skip: skipCorpus }, async () => {
  const img = byName('xfs5.vhdx') || images[0];
  const p = await freshPage();
  const { page } = p;
  await dropAndWait(page, img.path);
  await go(page, '#export');
  // A save target whose writes are slow, so that there is time to cancel.
  await page.evaluate(() => {
    window.__log = [];
    window.showSaveFilePicker = async () => ({
      name: 'slow.img',
      createWritable: async () => ({
        truncate: async (n) => window.__log.push(`truncate ${n}`),
        write: async (w) => { window.__log.push(`write ${w.position}`); await new Promise((r) => setTimeout(r, 150)); },
        close: async () => window.__log.push('close'),
        abort: async () => window.__log.push('abort'),
      }),
    });
  });
  await page.click('#export-raw');
  await page.waitForFunction(() => window.__log.filter((x) => x.startsWith('write')).length >= 2);
  assert.ok(await page.isVisible('#export-cancel'));
  await page.click('#export-cancel');
  await page.waitForFunction(() => /cancelled/.test(document.getElementById('export-raw-status').textContent));
  const log = await page.evaluate(() => window.__log);
  assert.equal(log[0], `truncate ${img.facts.virtual_size}`);
  assert.equal(log.at(-1), 'abort');
  assert.ok(!log.includes('close'));
  await closePage(p);

  // Without showSaveFilePicker the raw image streams into the downloads through the service worker
  // (e2e/browsers.test.mjs checks the downloaded bytes in Firefox).
  const q = await newPage(browser);
  q.context.on('request', (r) => allRequests.push(r.url()));
  pages.push(q);
  await q.page.addInitScript(() => { delete window.showSaveFilePicker; delete Window.prototype.showSaveFilePicker; });
  await q.page.goto(server.url);
  await q.page.waitForFunction(() => document.body.dataset.engine === 'ready' && !!navigator.serviceWorker.controller, null, { timeout: 90000 });
  await dropAndWait(q.page, img.path);
  await go(q.page, '#export');
  assert.equal((await q.page.textContent('#export-raw')).trim(), `Download ${img.name.replace(/\.vhdx$/, '')}.img`);
  assert.equal(await q.page.locator('#export-report').count(), 1, 'the report is still offered');
  await closePage(q);
});

test('screenshots of every view, light and dark, 1280x720 and 1920x1080', { skip: skipCorpus }, async () => {
  const img = byName('xfs5.vhdx') || images[0];
  const dir = ensureScreenshotDir();
  const views = [
    ['overview', '#overview'],
    ['structures', '#structures:log'],
    ['blocks', '#blocks'],
    ['file-hex', '#hex-file:0x10000+0x1000'],
    ['disk-hex', '#disk:lba=2048'],
    ['validation', '#validation'],
    ['export', '#export'],
  ];
  for (const scheme of ['light', 'dark']) {
    for (const [w, h] of [[1280, 720], [1920, 1080]]) {
      const p = await freshPage({ width: w, height: h, colorScheme: scheme });
      const { page } = p;
      await dropAndWait(page, img.path);
      await page.waitForFunction(() => document.body.dataset.checked === 'true', null, { timeout: 30000 });
      for (const [name, hash] of views) {
        await go(page, hash);
        if (name === 'blocks') {
          await waitMap(page);
          const px = await mapPixel(page, 5);
          await page.mouse.move(px.pageX, px.pageY);
          await page.waitForFunction(() => !document.getElementById('block-tip').textContent.includes('…'));
        }
        if (name === 'file-hex') {
          await hexRow(page, 'file', 0);
          const c = page.locator('#hex-rows-file .hx-row').nth(4).locator('.hx-b').nth(8);
          await c.hover();
        }
        if (name === 'disk-hex') await hexRow(page, 'disk', 0);
        await page.waitForTimeout(150);
        await page.screenshot({ path: join(dir, `${name}-${scheme}-${w}x${h}.png`) });
      }
      assert.deepEqual(p.errors, [], 'no console errors');
      await closePage(p);
    }
  }
});

test('no request leaves the page origin', { skip: SKIP || false }, () => {
  assert.ok(allRequests.length > 0);
  assertSameOrigin(allRequests);
});

/** Runs in the page: size and SHA-256 of a file in the origin-private file system. */
async function SHA256_OF_OPFS_FILE(name) {
  const file = await (await (await navigator.storage.getDirectory()).getFileHandle(name)).getFile();
  const digest = await crypto.subtle.digest('SHA-256', await file.arrayBuffer());
  return { size: file.size, hash: Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('') };
}

void basename;
void dropFile;
