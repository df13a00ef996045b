// Times the viewer on a 64 TiB dynamic VHDX (1 MiB blocks: 67,108,864
// blocks, a 512 MiB BAT) in every browser of e2e/browsers.mjs, against the
// command-line tool on the same image as the reference:
//
//   node e2e/bench-huge.mjs            # or: make bench-browser
//   E2E_BROWSERS=firefox node e2e/bench-huge.mjs
//
// It prints, per browser: drop → overview, drop → block counts complete,
// the whole-disk block map's first draw, one zoom step, and the validation,
// each with its ratio to `vhdx info` or `vhdx check`. The image is made with
// qemu-img and qemu-io (sparse: about 600 MiB on disk) unless HUGE_VHDX
// names one. Run by the end-to-end suite too (e2e/bench.test.mjs).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startServer } from '../build/serve.mjs';
import { browserList, launchBrowser, openPage, dropFiles, until, goView } from './browsers.mjs';
import { ROOT, DIST } from './helpers.mjs';

const TiB = 2 ** 40;

/** Makes the 64 TiB image in dir (qemu writes three small extents). */
export function makeHugeImage(dir) {
  const path = join(dir, 'huge-64t.vhdx');
  execFileSync('qemu-img', ['create', '-q', '-f', 'vhdx', '-o', 'block_size=1M', path, '64T']);
  execFileSync('qemu-io', ['-c', 'write -P 0xcd 0 1M', '-c', `write -P 0xef ${TiB} 64M`, '-c', `write -P 0x11 ${64 * TiB - 512} 512`, path], { stdio: 'ignore' });
  return path;
}

/** Milliseconds fn takes, the best of n runs. */
function best(n, fn) {
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return min;
}

/** The reference: the command-line tool on the same image. */
export function cliTimes(path) {
  const bin = join(ROOT, 'bin', 'vhdx');
  execFileSync('go', ['build', '-o', bin, './cmd/vhdx'], { cwd: ROOT });
  const run = (...args) => execFileSync(bin, [...args, path], { stdio: 'ignore', maxBuffer: 1 << 26 });
  return { info: best(3, () => run('info', '--json')), check: best(3, () => { try { run('check'); } catch { /* findings exit non-zero */ } }) };
}

/**
 * Milliseconds from act() until the block map has drawn a new range with
 * every block's state known, by the page's own clock (the canvas records
 * when it drew), so that polling does not count.
 */
async function mapDraw(page, act) {
  await page.evaluate(() => {
    const d = document.getElementById('block-canvas').dataset;
    delete d.drawMs;
    window.benchT0 = performance.now();
  });
  await act();
  await until(page, () => {
    const d = document.getElementById('block-canvas').dataset;
    return d.drawMs !== undefined && d.pending === '0';
  });
  return page.evaluate(() => Number(document.getElementById('block-canvas').dataset.drawnAt) - window.benchT0);
}

/** Clicks the block map button labelled label, as a user's click would. */
function press(page, label) {
  return page.evaluate((l) => document.querySelector(`#view-blocks [aria-label="${l}"]`).click(), label);
}

/** Times one browser on the image at path; returns {what: ms}. */
export async function browserTimes(name, path, url) {
  const browser = await launchBrowser(name);
  try {
    const { page, errors } = await openPage(browser, url, { width: 1280, height: 800 });
    const t = {};
    await dropFiles(page, path);
    t.overview = Number(await until(page, () => document.body.dataset.openMs));
    t.counts = Number(await until(page, () => document.body.dataset.countMs, undefined, 120000));
    t.validation = Number(await until(page, () => document.body.dataset.checkMs, undefined, 120000));
    t.summary = await page.evaluate(() => window.vhdxInspector.state.info.summary);
    t.mapFirst = await mapDraw(page, () => goView(page, '#blocks'));
    t.zoom = await mapDraw(page, () => press(page, 'Zoom in'));
    t.zoomOut = await mapDraw(page, () => press(page, 'Zoom out'));
    t.errors = errors;
    return t;
  } finally {
    await browser.close();
  }
}

const ROWS = [
  ['overview', 'drop → overview', 'info'],
  ['counts', 'drop → block counts complete', 'info'],
  ['mapFirst', 'block map, whole disk: first draw', null],
  ['zoom', 'block map: zoom in one step', null],
  ['zoomOut', 'block map: zoom out one step', null],
  ['validation', 'validation (from its start)', 'check'],
];

/** Prints the table; returns the times per browser. */
export async function bench(path, log = console.log) {
  const cli = cliTimes(path);
  const server = await startServer({ root: DIST, port: 0 });
  const out = { cli };
  try {
    log(`64 TiB dynamic VHDX, 1 MiB blocks, 512 MiB BAT: ${path}`);
    log(`reference: vhdx info --json ${cli.info.toFixed(0)} ms, vhdx check ${cli.check.toFixed(0)} ms (best of 3)`);
    for (const { name, skip } of browserList()) {
      if (skip) {
        log(`${name}: skipped: ${skip}`);
        continue;
      }
      const t = await browserTimes(name, path, server.url);
      out[name] = t;
      for (const [key, what, ref] of ROWS) {
        const ratio = ref ? ` (${(t[key] / cli[ref]).toFixed(1)}× vhdx ${ref})` : '';
        log(`${name.padEnd(9)} ${what.padEnd(36)} ${t[key].toFixed(0).padStart(6)} ms${ratio}`);
      }
      if (t.errors.length) log(`${name}: console errors: ${t.errors.join(' | ')}`);
    }
  } finally {
    await server.close();
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  let dir = null;
  let path = process.env.HUGE_VHDX;
  if (!path) {
    dir = mkdtempSync(join(tmpdir(), 'vhdx-bench-'));
    path = makeHugeImage(dir);
  }
  if (!existsSync(join(DIST, 'vhdx.wasm.gz'))) throw new Error('build the site first: make dist');
  try {
    await bench(path);
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
