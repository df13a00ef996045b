// The Files view in every browser of e2e/browsers.mjs: a VHDX holding an
// MBR disk with FAT32, ext4, NTFS and a damaged ext4 (e2e/fsimages.mjs).
// Browse with the keyboard, search, extents to the disk hex view and the
// block map, a file and a folder saved (hashes checked against the source
// files), SHA-256 in the page, a body file against fls -m, the damaged
// filesystem (error shown, page alive), screenshots, and the time of the
// first listing (module load included, then from the service worker's cache).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIST, ensureScreenshotDir } from './helpers.mjs';
import { browserList, launchBrowser, openPage, dropFiles, until, goView } from './browsers.mjs';
import { buildDisk, missingTools, sha256 } from './fsimages.mjs';
import { startServer } from '../build/serve.mjs';

const SIZES = [[390, 844], [1280, 800], [1920, 1080]];
const HAVE_QEMU = (() => { try { execFileSync('qemu-img', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; } })();
const missing = missingTools();
const SKIP = !existsSync(join(DIST, 'files.wasm.gz')) ? `${DIST}/files.wasm.gz is missing: build the site first (make dist)`
  : !HAVE_QEMU ? 'qemu-img is not installed (apt-get install qemu-utils)'
    : missing.length ? `missing tools: ${missing.join(', ')} (see build/setup.sh)` : false;

let server;
let TMP;
let img;
let vhdx;
let qcow2;

before(async () => {
  if (SKIP) return;
  server = await startServer({ root: DIST, port: 0 });
  TMP = mkdtempSync(join(tmpdir(), 'vhdx-files-'));
  img = buildDisk(join(TMP, 'src'), { manyFiles: 2000 });
  vhdx = join(TMP, 'disk.vhdx');
  execFileSync('qemu-img', ['convert', '-O', 'vhdx', '-o', 'subformat=dynamic,block_size=1M', img.disk, vhdx]);
  qcow2 = join(TMP, 'disk.qcow2');
  execFileSync('qemu-img', ['convert', '-O', 'qcow2', img.disk, qcow2]);
});

after(async () => {
  await server?.close();
  if (TMP) rmSync(TMP, { recursive: true, force: true });
});

const view = '#view-files';

/** Opens the Files view of the test disk; resolves to the ms of the first listing. */
async function openFiles(page, image = vhdx) {
  await dropFiles(page, image);
  await until(page, () => document.body.dataset.parts === '4');
  await goView(page, '#files');
  await until(page, () => document.getElementById('view-files').dataset.firstListMs);
  return Number(await page.$eval(view, (e) => e.dataset.firstListMs));
}

/** Picks partition n and waits for its root listing. */
async function pickPartition(page, n) {
  await page.evaluate((v) => {
    const s = document.getElementById('files-part');
    delete document.getElementById('view-files').dataset.listed;
    s.value = String(v);
    s.dispatchEvent(new Event('change'));
  }, n);
  await until(page, () => document.getElementById('view-files').dataset.listed === '/' || document.getElementById('view-files').dataset.error);
}

/** Clicks the element selector finds now (rows and details are redrawn often). */
function clickNow(page, selector) {
  return page.$eval(selector, (e) => e.click());
}

/** Waits until the listing shows dir (or an error); fails with the error. */
async function listed(page, dir) {
  await until(page, (d) => document.getElementById('view-files').dataset.listed === d || document.getElementById('view-files').dataset.error, dir);
  assert.equal(await page.$eval('#view-files', (e) => e.dataset.error), undefined);
}

/** The names in the listing's rows drawn. */
function rowNames(page) {
  return page.$$eval('#files-list .files-row .col-name', (cells) => cells.map((c) => c.textContent.replace(/deleted$/, '')));
}

/** Selects the entry named name in the listing (it must be drawn). */
async function selectEntry(page, name) {
  await page.evaluate((n) => {
    const fv = window.vhdxInspector.filesView;
    const i = fv.entries.findIndex((e) => e.name === n || e.path === n);
    fv.select(i, true);
  }, name);
  await until(page, (n) => document.querySelector('#files-detail h2')?.textContent === n.split('/').pop(), name);
}

/** A stand-in for showSaveFilePicker writing into the origin private file system. */
async function pickerToOPFS(page) {
  await page.evaluate(() => {
    window.showSaveFilePicker = async ({ suggestedName }) => (await navigator.storage.getDirectory()).getFileHandle(suggestedName, { create: true });
  });
}

/** The SHA-256 of a file of the origin private file system (hex). */
function opfsFile(page, name) {
  return page.evaluate(async (n) => {
    const f = await (await (await navigator.storage.getDirectory()).getFileHandle(n)).getFile();
    return Array.from(new Uint8Array(await f.arrayBuffer()));
  }, name).then((a) => Buffer.from(a));
}

/** Waits for a complete download named name in dir. */
async function downloaded(dir, name) {
  const file = join(dir, name);
  const t0 = Date.now();
  let last = -1;
  for (;;) {
    const done = existsSync(file) && !readdirSync(dir).some((f) => f.endsWith('.part'));
    if (done && statSync(file).size === last) return readFileSync(file);
    last = done ? statSync(file).size : -1;
    if (Date.now() - t0 > 30000) assert.fail(`no complete download ${name} in ${dir}: ${readdirSync(dir).join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

for (const { name, skip } of browserList()) {
  describe(`Files view in ${name}`, { skip: SKIP || skip || false }, () => {
    let browser;
    let p; // {page, errors, context}
    const downloads = () => join(TMP, `downloads-${name}`);
    /** Saves what clicking selector produces; resolves to its bytes. */
    async function save(selector, fileName) {
      await p.page.evaluate(() => { delete document.getElementById('view-files').dataset.saved; });
      await clickNow(p.page, selector);
      await until(p.page, () => document.getElementById('view-files').dataset.saved || document.getElementById('view-files').dataset.error);
      const err = await p.page.$eval(view, (e) => e.dataset.error);
      assert.equal(err, undefined, `saving ${fileName}: ${err}`);
      return name === 'chromium' ? opfsFile(p.page, fileName) : downloaded(downloads(), fileName);
    }

    before(async () => {
      if (SKIP) return;
      browser = await launchBrowser(name, { downloads: downloads() });
      p = await openPage(browser, server.url, { width: 1280, height: 800 });
      await until(p.page, () => !!navigator.serviceWorker.controller);
    });
    after(async () => { await browser?.close(); });

    test('first listing: module load included, then from the cache', async () => {
      const first = await openFiles(p.page);
      // A second page of the same origin: the module comes from the service worker's cache.
      const q = await openPage(browser, server.url, { width: 1280, height: 800 });
      const again = await openFiles(q.page);
      await q.context.close();
      console.log(`# ${name}: Files view first listing ${first.toFixed(0)} ms (module fetched), ${again.toFixed(0)} ms (module from cache); target < 500 ms`);
      assert.deepEqual(await rowNames(p.page), ['Folder']);
    });

    test('browse with the keyboard; deleted entries marked', async () => {
      const { page } = p;
      await clickNow(page, '#files-tree .tree-label[title="/Folder"]');
      await listed(page, '/Folder');
      const names = await rowNames(page);
      for (const n of ['HELLO.TXT', 'photo.jpg']) assert.ok(names.includes(n), `${n} listed: ${names}`);
      assert.ok(await page.$('#files-list .files-row.deleted'), 'the deleted gone.txt is listed and marked');
      await pickPartition(page, 2);
      assert.deepEqual((await rowNames(page)).sort(), ['big.bin', 'docs', 'empty.txt', 'link', 'lost+found', 'many']);
      // Keyboard: down to docs (folders first), Enter opens it, Backspace goes back.
      await page.focus('#files-list');
      await page.keyboard.press('Home');
      await page.keyboard.press('Enter');
      await listed(page, '/docs');
      await page.keyboard.press('Backspace');
      await listed(page, '/');
      // Sorting by size, largest first.
      await clickNow(page, '.files-head [data-key=size]');
      await clickNow(page, '.files-head [data-key=size]');
      assert.equal((await rowNames(page))[0], 'big.bin');
      // A directory of 2,000 entries: only the rows in view exist.
      await page.evaluate(() => window.vhdxInspector.filesView.openDir('/many'));
      await listed(page, '/many');
      const drawn = await page.$$eval('#files-list .files-row', (r) => r.length);
      assert.ok(drawn < 100, `${drawn} rows drawn for 2000 entries`);
      await clickNow(page, '.files-head [data-key=name]');
      await page.focus('#files-list');
      await page.keyboard.press('End');
      await until(page, () => document.querySelector('#files-detail h2')?.textContent === 'file-001999.dat');
      assert.ok(await page.$('#files-row-1999[aria-selected=true]'), 'the last row is drawn and selected');
    });

    test('search by glob over the filesystem', async () => {
      const { page } = p;
      await page.evaluate(() => { document.getElementById('files-search').value = ''; });
      await page.type('#files-search', 'FILE-00012?.dat');
      await clickNow(page, '#files-search-go');
      await until(page, () => document.getElementById('view-files').dataset.searched);
      assert.equal(await page.$eval(view, (e) => e.dataset.searched), '10');
      assert.equal((await rowNames(page))[0], '/many/file-000120.dat');
    });

    test('extents link to the disk hex view and light the block map', async () => {
      const { page } = p;
      await page.evaluate(() => window.vhdxInspector.filesView.openDir('/'));
      await listed(page, '/');
      await selectEntry(page, 'big.bin');
      await until(page, () => document.querySelector('#files-extents a'));
      const { href, offset } = await page.$eval('#files-extents a', (a) => ({ href: a.getAttribute('href'), offset: a.textContent }));
      assert.match(href, /^#disk:0x[0-9a-f]+\+0x[0-9a-f]+$/);
      // The bytes at the first extent, as the page's hex view reads them, are big.bin's first bytes.
      const want = readFileSync(join(img.tree, 'big.bin')).subarray(0, 16).toString('hex');
      const got = await page.evaluate(async (off) => {
        const b = await window.vhdxInspector.engine.readDisk(Number(off), 16);
        return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
      }, offset);
      assert.equal(got, want);
      await clickNow(page, '#files-extents a');
      await until(page, () => document.body.dataset.view === 'disk');
      // The partition table's fields annotate the disk hex view: the second
      // MBR entry's type byte (0x1ce + 4) says Linux, as sfdisk wrote it.
      await goView(page, '#disk:0x1d2');
      await until(page, () => /MBR entry 2 · type = 0x83/.test(document.querySelector('#view-disk .hex-side')?.textContent || ''));
      await goView(page, '#blocks');
      assert.ok(await page.$('#block-bands li[data-band=mark]'), 'the file is marked on the block map');
      const bands = await page.$$eval('#block-bands li', (l) => l.map((x) => x.dataset.band));
      assert.ok(bands.includes('partition 2 (ext4)'), bands.join(', '));
      await goView(page, '#files');
    });

    test('a file and a folder saved, SHA-256 and MD5 in the page, a body file', async () => {
      const { page } = p;
      if (name === 'chromium') await pickerToOPFS(page);
      await selectEntry(page, 'big.bin');
      assert.equal(sha256(await save('#files-download', 'big.bin')), img.files['ext:/big.bin']);
      await clickNow(page, '#files-hash');
      await until(page, () => document.querySelector('#files-hash-out [data-field=sha256]'));
      assert.equal(await page.$eval('#files-hash-out [data-field=sha256]', (e) => e.textContent), img.files['ext:/big.bin']);
      const md5 = execFileSync('md5sum', [join(img.tree, 'big.bin')]).toString().split(' ')[0];
      assert.equal(await page.$eval('#files-hash-out [data-field=md5]', (e) => e.textContent), md5);
      await selectEntry(page, 'docs');
      const zip = join(TMP, `docs-${name}.zip`);
      writeFileSync(zip, await save('#files-zip-entry', 'docs.zip'));
      execFileSync('unzip', ['-tq', zip]);
      for (const f of ['docs/readme.txt', 'docs/sub/deep.bin']) assert.equal(sha256(execFileSync('unzip', ['-p', zip, f])), img.files[`ext:/${f}`], f);
      const body = (await save('#files-bodyfile', 'partition2.body')).toString().trim().split('\n');
      const want = execFileSync('fls', ['-r', '-m', '', img.parts.ext.image], { maxBuffer: 1 << 26 }).toString().trim().split('\n');
      const names = (lines) => new Set(lines.map((l) => l.split('|')[1]).filter((x) => !x.includes('$OrphanFiles')));
      const got = names(body);
      for (const n of names(want)) assert.ok(got.has(n), `${n} is missing from the body file`);
    });

    test('a damaged filesystem: the error is shown, the page keeps working', async () => {
      const { page, errors } = p;
      await pickPartition(page, 4);
      const err = await page.$eval(view, (e) => e.dataset.error);
      assert.ok(err, 'an error is shown');
      assert.ok(await page.$eval('#files-msg', (e) => !e.hidden && e.textContent.length > 0));
      await pickPartition(page, 2);
      assert.ok((await rowNames(page)).includes('big.bin'));
      // The module's worker dies (as after a crash of the Go runtime): the
      // error is shown and the next folder opened starts a fresh one.
      await page.evaluate(() => window.vhdxInspector.filesView.client.fail('the filesystem module crashed (test)'));
      assert.match(await page.$eval('#files-msg', (e) => e.textContent), /crashed \(test\).*restarted/);
      await page.evaluate(() => window.vhdxInspector.filesView.openDir('/docs'));
      await listed(page, '/docs');
      await goView(page, '#overview');
      assert.ok(await page.$('#overview-parts'));
      assert.deepEqual(errors, []);
    });

    test('a qcow2 image of the same disk: partitions, listing, the file bytes', async () => {
      const q = await openPage(browser, server.url, { width: 1280, height: 800 });
      try {
        await openFiles(q.page, qcow2);
        await pickPartition(q.page, 2);
        assert.ok((await rowNames(q.page)).includes('big.bin'));
        const sum = await q.page.evaluate(async () => {
          const fv = window.vhdxInspector.filesView;
          const bytes = await fv.client.call('read', [2, '/big.bin', 0, 16 * 2 ** 20]).promise;
          return Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)), (b) => b.toString(16).padStart(2, '0')).join('');
        });
        assert.equal(sum, img.files['ext:/big.bin']);
        assert.deepEqual(q.errors, []);
      } finally {
        await q.context.close();
      }
    });

    test('screenshots at 390×844, 1280×800, 1920×1080, light and dark', async () => {
      const dir = ensureScreenshotDir();
      for (const scheme of ['light', 'dark']) {
        const b = scheme === 'dark' ? await launchBrowser(name, { dark: true }) : browser;
        const q = await openPage(b, server.url, { width: 1280, height: 800, colorScheme: scheme });
        try {
          await openFiles(q.page);
          await pickPartition(q.page, 2);
          await selectEntry(q.page, 'big.bin');
          await until(q.page, () => document.querySelector('#files-extents table'));
          for (const [w, h] of SIZES) {
            await q.page.setViewport({ width: w, height: h });
            await q.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
            const wide = await q.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
            assert.ok(wide <= 0, `${name} ${scheme} ${w}: the page scrolls sideways by ${wide}px`);
            await q.page.screenshot({ path: join(dir, `${name}-${scheme}-${w}x${h}-files.png`) });
          }
          assert.deepEqual(q.errors, []);
        } finally {
          await q.context.close();
          if (b !== browser) await b.close();
        }
      }
    });
  });
}
