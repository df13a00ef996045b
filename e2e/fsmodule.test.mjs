// The filesystem module (wasm/fsmodule, dist/files.wasm.gz) under Node,
// through the API the Files view uses: partitions and probing, listings
// against The Sleuth Kit (fls), file bytes, hashes, a ZIP and extents
// against the source files and icat, search with cancel, and a damaged
// filesystem that fails without taking the module down.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, readSync, rmSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DIST } from './helpers.mjs';
import { buildDisk, missingTools, sha256 } from './fsimages.mjs';

const missing = missingTools();
const SKIP = !existsSync(join(DIST, 'files.wasm.gz')) ? `${DIST}/files.wasm.gz is missing: build the site first (make dist)`
  : missing.length ? `missing tools: ${missing.join(', ')} (see build/setup.sh)` : false;

let TMP;
let img;
let files; // globalThis.vhdxFiles
let fd;

before(async () => {
  if (SKIP) return;
  TMP = mkdtempSync(join(tmpdir(), 'vhdx-fsmodule-'));
  img = buildDisk(TMP);
  await import(join(DIST, 'wasm_exec.js'));
  const go = new globalThis.Go();
  const ready = new Promise((resolve) => { globalThis.vhdxFilesReady = resolve; });
  const { instance } = await WebAssembly.instantiate(gunzipSync(readFileSync(join(DIST, 'files.wasm.gz'))), go.importObject);
  go.run(instance);
  await ready;
  files = globalThis.vhdxFiles;
  fd = openSync(img.disk, 'r');
  const size = Number(execFileSync('stat', ['-c', '%s', img.disk]).toString());
  const read = async (off, len) => {
    const b = new Uint8Array(Math.max(0, Math.min(len, size - off)));
    readSync(fd, b, 0, b.length, off);
    return b;
  };
  await files.attach(read, size, 512);
});

after(() => { if (TMP) rmSync(TMP, { recursive: true, force: true }); });

/** fls -r -p of a filesystem image: path → {type, inode, deleted}. */
function fls(image) {
  const out = execFileSync('fls', ['-r', '-p', image]).toString().trim().split('\n');
  const m = new Map();
  for (const line of out) {
    const r = /^(\S+)\s+(\*\s+)?(\S+?):\t(.*)$/.exec(line);
    if (r) m.set(`/${r[4]}`, { type: r[1], deleted: !!r[2], inode: r[3] });
  }
  return m;
}

/** The module's whole tree of partition part: path → entry. */
async function tree(part, dir = '/', out = new Map()) {
  for (const e of JSON.parse(await files.readDir(part, dir))) {
    const p = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
    out.set(p, e);
    if (e.type === 'dir' && !e.deleted) await tree(part, p, out);
  }
  return out;
}

/** A writable collecting what is written. */
function sink() {
  const chunks = [];
  return { chunks, write: async (b) => { chunks.push(Buffer.from(b)); }, bytes: () => Buffer.concat(chunks) };
}

test('volumes lists the partitions with their filesystems', { skip: SKIP }, async () => {
  const vols = JSON.parse(await files.volumes());
  const byNum = Object.fromEntries(vols.map((v) => [v.number, v]));
  assert.equal(byNum[1].filesystem.type, 'fat32');
  assert.equal(byNum[1].filesystem.label, 'FATVOL');
  assert.equal(byNum[2].filesystem.type, 'ext4');
  assert.equal(byNum[2].filesystem.uuid, '4c1d2c54-8e6a-4c2e-9d57-0c1b2f6a7e11');
  assert.equal(byNum[3].filesystem.type, 'ntfs');
  assert.equal(byNum[3].filesystem.label, 'NTFSVOL');
  assert.equal(byNum[2].start, img.parts.ext.start);
  assert.ok(vols.every((v) => v.browsable));
});

for (const name of ['ext', 'fat', 'ntfs']) {
  test(`${name}: the tree equals fls -r -p, deleted entries marked`, { skip: SKIP }, async () => {
    const { number, image } = img.parts[name];
    const want = fls(image);
    const got = await tree(number);
    for (const [p, w] of want) {
      if (p.startsWith('/$') || p.includes('(Volume Label Entry)') || p.includes('/$OrphanFiles') || p === '/lost+found') continue;
      const g = got.get(p);
      assert.ok(g, `${p} (fls: ${w.inode}${w.deleted ? ', deleted' : ''}) is missing`);
      assert.equal(!!g.deleted, w.deleted, `${p}: deleted`);
    }
    for (const [p, g] of got) {
      if (!g.deleted && !p.includes('$')) assert.ok(want.has(p), `${p} is not in fls`);
    }
  });
}

test('file bytes, hashes and extents equal the source files and icat', { skip: SKIP }, async () => {
  for (const [key, sum] of Object.entries(img.files).filter(([k]) => !k.includes('/many/'))) {
    const [fsName, path] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    const { number } = img.parts[fsName];
    const h = JSON.parse(await files.hash(number, path));
    assert.equal(h.sha256, sum, `${key}: SHA-256`);
    const st = JSON.parse(await files.stat(number, path));
    const data = Buffer.concat([Buffer.from(await files.read(number, path, 0, Math.min(st.size, 16 * 2 ** 20)))]);
    assert.equal(sha256(data), sum, `${key}: read`);
    assert.equal(h.md5, execFileSync('md5sum', { input: data }).toString().split(' ')[0], `${key}: MD5`);
    // The extents, read from the disk itself, give the same bytes.
    const ext = JSON.parse(await files.extents(number, path));
    if (st.size > 4096) {
      const buf = Buffer.alloc(st.size);
      const dfd = openSync(img.disk, 'r');
      for (const x of ext) readSync(dfd, buf, x.file_offset, Math.min(x.length, st.size - x.file_offset), x.disk_offset);
      assert.equal(sha256(buf), sum, `${key}: bytes at the extents`);
    }
  }
  // And icat agrees on a file found by inode.
  const st = JSON.parse(await files.stat(img.parts.ext.number, '/big.bin'));
  assert.equal(sha256(execFileSync('icat', [img.parts.ext.image, st.id], { maxBuffer: 64 * 2 ** 20 })), img.files['ext:/big.bin']);
});

test('a folder as a ZIP holds the tree (unzip checks it)', { skip: SKIP }, async () => {
  const s = sink();
  const res = JSON.parse(await files.saveZip(img.parts.ext.number, '/docs', s));
  assert.equal(res.files, 2);
  const zip = join(TMP, 'docs.zip');
  writeFileSync(zip, s.bytes());
  execFileSync('unzip', ['-tq', zip]);
  assert.equal(sha256(execFileSync('unzip', ['-p', zip, 'docs/sub/deep.bin'])), img.files['ext:/docs/sub/deep.bin']);
});

test('saveFile streams the file; bodyfile matches fls -m', { skip: SKIP }, async () => {
  const s = sink();
  const n = await files.saveFile(img.parts.ext.number, '/big.bin', s);
  assert.equal(n, s.bytes().length);
  assert.equal(sha256(s.bytes()), img.files['ext:/big.bin']);
  const body = Buffer.from(await files.bodyfile(img.parts.ext.number)).toString().trim().split('\n');
  const want = execFileSync('fls', ['-r', '-m', '', img.parts.ext.image]).toString().trim().split('\n');
  const names = (lines) => new Set(lines.map((l) => l.split('|')[1]).filter((p) => !p.includes('$OrphanFiles')));
  const got = names(body);
  for (const p of names(want)) assert.ok(got.has(p), `${p} is missing from the body file`);
});

test('search finds by glob, reports progress and cancels', { skip: SKIP }, async () => {
  const r = JSON.parse(await files.find(img.parts.ext.number, '/', 'FILE-00001?.dat', {}));
  assert.deepEqual(r.matches.map((m) => m.path), Array.from({ length: 10 }, (_, i) => `/many/file-00001${i}.dat`));
  const ctl = new AbortController();
  ctl.abort();
  await assert.rejects(files.find(img.parts.ext.number, '/', '*', { signal: ctl.signal }), /cancelled/);
});

test('a damaged filesystem fails with an error and the module keeps working', { skip: SKIP }, async () => {
  await assert.rejects(files.readDir(img.parts.bad.number, '/'));
  const again = JSON.parse(await files.readDir(img.parts.ext.number, '/'));
  assert.ok(again.some((e) => e.name === 'big.bin'));
});
