// Times the Files view (make bench-browser): the first listing after the
// click (the filesystem module fetched, then from the service worker's
// cache), a directory of 20,000 entries read from ext4 (mkfs.ext4 -d takes
// minutes to fill a bigger one), a listing of 100,000 entries sorted and
// scrolled through, and the SHA-256 of a 1 GiB file inside the disk, in MB/s and against
// sha256sum of the same bytes, in each browser of e2e/browsers.mjs.
//
//   node e2e/bench-files.mjs   (BENCH_FILE_MIB=1024 sets the file's size)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST } from './helpers.mjs';
import { browserList, launchBrowser, openPage, dropFiles, until, goView } from './browsers.mjs';
import { startServer } from '../build/serve.mjs';

const MIB = Number(process.env.BENCH_FILE_MIB || 1024);
const ENTRIES = Number(process.env.BENCH_DIR_ENTRIES || 20000);
const LISTED = 100000; // entries of the listing scrolled through
const TMP = mkdtempSync(join(tmpdir(), 'vhdx-bench-files-'));
const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });

try {
  const tree = join(TMP, 'tree');
  mkdirSync(tree);
  const big = join(tree, 'big.bin');
  run('sh', ['-c', `head -c ${MIB}M /dev/urandom > ${big}`]);
  mkdirSync(join(tree, 'many'));
  for (let i = 0; i < ENTRIES; i++) writeFileSync(join(tree, 'many', `entry-${String(i).padStart(6, '0')}`), '');
  const fsImg = join(TMP, 'fs.img');
  run('truncate', ['-s', `${MIB + 64}M`, fsImg]);
  run('mkfs.ext4', ['-q', '-F', '-N', String(ENTRIES + 1024), '-d', tree, fsImg]);
  const vhdx = join(TMP, 'fs.vhdx');
  run('qemu-img', ['convert', '-O', 'vhdx', '-o', 'subformat=dynamic', fsImg, vhdx]);
  rmSync(fsImg);

  let t0 = process.hrtime.bigint();
  const want = execFileSync('sha256sum', [big]).toString().split(' ')[0];
  const cliMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const cliMBs = (MIB * 2 ** 20) / 1e6 / (cliMs / 1000);
  console.log(`sha256sum of the ${MIB} MiB file: ${cliMs.toFixed(0)} ms, ${cliMBs.toFixed(0)} MB/s`);

  const server = await startServer({ root: DIST, port: 0 });
  for (const { name, skip } of browserList()) {
    if (skip) { console.log(`${name}: skipped: ${skip}`); continue; }
    const browser = await launchBrowser(name, {});
    try {
      const times = [];
      let page;
      for (let i = 0; i < 2; i++) {
        const p = await openPage(browser, server.url, { width: 1280, height: 800 });
        await until(p.page, () => !!navigator.serviceWorker.controller);
        await dropFiles(p.page, vhdx);
        await until(p.page, () => document.body.dataset.parts);
        t0 = process.hrtime.bigint();
        await p.page.click('#tab-files');
        await until(p.page, () => document.getElementById('view-files').dataset.firstListMs);
        times.push(await p.page.$eval('#view-files', (e) => Number(e.dataset.firstListMs)));
        page = p.page;
      }
      console.log(`${name}: Files view first listing after the click: ${times[0].toFixed(0)} ms (module fetched), ${times[1].toFixed(0)} ms (from cache); target < 500 ms`);
      const big = await page.evaluate(async (n) => {
        const fv = window.vhdxInspector.filesView;
        let t = performance.now();
        await fv.openDir('/many');
        const listMs = performance.now() - t;
        // The listing itself with n entries (the directory's, repeated).
        const src = fv.entries;
        const entries = Array.from({ length: n }, (_, i) => ({ ...src[i % src.length], name: `e${String(i).padStart(7, '0')}` }));
        t = performance.now();
        fv.setEntries(entries);
        fv.setSort('size');
        fv.setSort('name');
        const sortMs = performance.now() - t;
        // Scroll through the listing in 50 jumps, each drawn in its own frame.
        const frames = [];
        for (let k = 1; k <= 50; k++) {
          t = performance.now();
          fv.list.scrollTop = (k / 50) * fv.list.scrollHeight;
          fv.renderRows();
          await new Promise((r) => requestAnimationFrame(() => r()));
          frames.push(performance.now() - t);
        }
        frames.sort((a, b) => a - b);
        const rows = fv.rows.children.length;
        await fv.openDir('/');
        return { listMs, sortMs, median: frames[25], worst: frames[49], rows };
      }, LISTED);
      console.log(`${name}: a directory of ${ENTRIES} entries read and listed in ${big.listMs.toFixed(0)} ms`);
      console.log(`${name}: a listing of ${LISTED} entries: shown and sorted twice in ${big.sortMs.toFixed(0)} ms; 50 jumps through it: median ${big.median.toFixed(1)} ms, worst ${big.worst.toFixed(1)} ms a frame (${big.rows} rows drawn)`);
      await page.evaluate(() => {
        const fv = window.vhdxInspector.filesView;
        fv.select(fv.entries.findIndex((e) => e.name === 'big.bin'));
      });
      await until(page, () => document.getElementById('files-hash'));
      await page.$eval('#files-hash', (e) => e.click());
      await until(page, () => document.querySelector('#files-hash-out [data-field=sha256], #files-hash-out .error-text'), undefined, 600000);
      const got = await page.$eval('#files-hash-out', (e) => ({ sha: e.querySelector('[data-field=sha256]')?.textContent, mbs: Number(e.querySelector('[data-field=hash-speed]')?.dataset.mbs), text: e.textContent }));
      if (got.sha !== want) throw new Error(`${name}: SHA-256 ${got.sha || got.text} differs from sha256sum's ${want}`);
      console.log(`${name}: SHA-256 of the ${MIB} MiB file in the page: ${got.mbs.toFixed(0)} MB/s, ${(got.mbs / cliMBs).toFixed(2)} × sha256sum (target >= 0.25)`);
    } finally {
      await browser.close();
    }
  }
  await server.close();
} finally {
  rmSync(TMP, { recursive: true, force: true });
}
