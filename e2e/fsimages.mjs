// Builds the partitioned disk the Files tests browse, with Debian's own
// tools and without mounting: an MBR with a FAT32 (mkfs.vfat + mcopy, one
// file deleted with mdel), an ext4 (mkfs.ext4 -d, with a symbolic link
// and a directory of many files), an NTFS (mkntfs + ntfscp) and a damaged
// ext4 (its group descriptors overwritten). Returns the raw disk with the
// source tree and each filesystem's own image, for fls and icat.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, openSync, writeSync, readSync, closeSync, symlinkSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';

const MiB = 2 ** 20;
export const TOOLS = ['mkfs.vfat', 'mcopy', 'mdel', 'mkfs.ext4', 'mkntfs', 'ntfscp', 'sfdisk', 'fls', 'icat'];

/** The tools missing here, by name. */
export function missingTools() {
  return TOOLS.filter((t) => {
    try { execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }); return false; } catch { return true; }
  });
}

const run = (cmd, args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** Deterministic pseudo-random bytes: n bytes from seed. */
function bytes(seed, n) {
  const out = Buffer.alloc(n);
  let block = Buffer.from(seed);
  for (let off = 0; off < n; off += 32) {
    block = createHash('sha256').update(block).digest();
    block.copy(out, off);
  }
  return out;
}

export function sha256(b) { return createHash('sha256').update(b).digest('hex'); }

/** Copies the file src into the disk image at byte offset at. */
function place(disk, src, at) {
  const fd = openSync(disk, 'r+');
  const s = openSync(src, 'r');
  const buf = Buffer.alloc(MiB);
  for (let off = 0; ; off += MiB) {
    const n = readSync(s, buf, 0, MiB, off);
    if (n === 0) break;
    writeSync(fd, buf, 0, n, at + off);
  }
  closeSync(s);
  closeSync(fd);
}

/**
 * Builds everything under dir; manyFiles sets the size of /many on ext4.
 * Returns {disk, parts: {fat, ext, ntfs, bad}: {number, start, image}, files}.
 * files maps "ext:/path" (and fat:, ntfs:) to the SHA-256 of the content.
 */
export function buildDisk(dir, { manyFiles = 300 } = {}) {
  mkdirSync(dir, { recursive: true });
  const tree = join(dir, 'tree');
  const files = {};
  const put = (rel, data) => {
    mkdirSync(join(tree, rel, '..'), { recursive: true });
    writeFileSync(join(tree, rel), data);
    files[`ext:/${rel}`] = sha256(data);
  };
  put('docs/readme.txt', 'Read me first.\n');
  put('docs/sub/deep.bin', bytes('deep', 300 * 1024));
  put('big.bin', bytes('big', 3 * MiB + 123));
  put('empty.txt', '');
  for (let i = 0; i < manyFiles; i++) put(`many/file-${String(i).padStart(6, '0')}.dat`, `file ${i}\n`);
  symlinkSync('docs/readme.txt', join(tree, 'link'));

  // ext4 from the tree.
  const ext = join(dir, 'ext.img');
  run('truncate', ['-s', '24M', ext]);
  run('mkfs.ext4', ['-q', '-F', '-L', 'extvol', '-U', '4c1d2c54-8e6a-4c2e-9d57-0c1b2f6a7e11', '-E', 'root_owner=1000:1000', '-d', tree, ext]);

  // FAT32 with mcopy; one file deleted.
  const fat = join(dir, 'fat.img');
  run('truncate', ['-s', '40M', fat]);
  run('mkfs.vfat', ['-F', '32', '-n', 'FATVOL', '-i', '1234ABCD', fat]);
  const fatFiles = { 'HELLO.TXT': Buffer.from('Hello from FAT.\n'), 'photo.jpg': bytes('photo', 200 * 1024), 'gone.txt': Buffer.from('to be deleted\n') };
  run('mmd', ['-i', fat, '::/Folder']);
  for (const [name, data] of Object.entries(fatFiles)) {
    const src = join(dir, `src-${name}`);
    writeFileSync(src, data);
    run('mcopy', ['-i', fat, src, `::/Folder/${name}`]);
    files[`fat:/Folder/${name}`] = sha256(data);
  }
  run('mdel', ['-i', fat, '::/Folder/gone.txt']);
  delete files['fat:/Folder/gone.txt'];

  // NTFS with ntfscp.
  const ntfs = join(dir, 'ntfs.img');
  run('truncate', ['-s', '16M', ntfs]);
  run('mkntfs', ['-q', '-F', '-Q', '-L', 'NTFSVOL', ntfs]);
  const ntfsData = bytes('ntfs', 700 * 1024);
  const ntfsSrc = join(dir, 'src-ntfs.bin');
  writeFileSync(ntfsSrc, ntfsData);
  run('ntfscp', ['-q', ntfs, ntfsSrc, 'data.bin']);
  files['ntfs:/data.bin'] = sha256(ntfsData);

  // A damaged ext4: a copy with its group descriptors overwritten (they
  // follow the superblock, at 2 KiB with 1 KiB blocks, 4 KiB with 4 KiB).
  const bad = join(dir, 'bad.img');
  copyFileSync(ext, bad);
  const fd = openSync(bad, 'r+');
  writeSync(fd, randomBytes(10240), 0, 10240, 2048);
  closeSync(fd);

  // The disk: MBR, four primary partitions.
  const disk = join(dir, 'disk.img');
  run('truncate', ['-s', '128M', disk]);
  const layout = [['fat', fat, 1, 40, 'c'], ['ext', ext, 42, 24, '83'], ['ntfs', ntfs, 67, 16, '7'], ['bad', bad, 84, 24, '83']];
  const script = `label: dos\n${layout.map(([, , at, size, type]) => `start=${at * 2048}, size=${size * 2048}, type=${type}`).join('\n')}\n`;
  execFileSync('sfdisk', ['-q', disk], { input: script });
  const parts = {};
  layout.forEach(([name, image, at], i) => {
    place(disk, image, at * MiB);
    parts[name] = { number: i + 1, start: at * MiB, image };
  });
  return { disk, tree, parts, files };
}
