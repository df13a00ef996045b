// The Export view: the report as JSON, and the virtual disk as a raw image
// streamed to a file (File System Access API) without holding it in memory.
// For a differencing chain the raw image is the merged disk (readDisk reads
// through the chain), and the engine can also write it as one standalone
// dynamic VHDX: the page passes the file handle to the worker, which opens
// the writable there (a writable stream cannot be posted to a worker).

import { el, bothSizes, humanSize, duration, grouped } from './format.js';
import { canStreamDownloads, startDownload, portWriter } from './download.js';

const CHUNK = 4 * 1024 * 1024;
const WINDOW = 65536; // blocks per blockHistogram call while exporting
const DATA_STATES = new Set([4, 5, 6, 7]); // read these; the others read as zeros

/**
 * How exports are saved here: 'picker' (the File System Access API writes
 * the file the user picks), 'download' (streamed through the service
 * worker into the downloads), or null.
 */
function saveMode() {
  if (typeof window.showSaveFilePicker === 'function') return 'picker';
  return canStreamDownloads() ? 'download' : null;
}

const NO_SAVE = 'Exports stream through this page’s service worker, which is not running yet: reload the page once (it then also works offline).';

export function baseName(name) {
  return String(name || 'disk').replace(/\.(a?vhdx|qcow2?|img|raw|dd|bin|iso|001)$/i, '') || 'disk';
}

export class ExportView {
  constructor(root, { engine, onMessage }) {
    this.root = root;
    this.engine = engine;
    this.onMessage = onMessage;
    this.running = null;
  }

  /** chain: chainModel(info) for a differencing disk, else null. */
  setImage(info, file, chain = null) {
    this.info = info;
    this.file = file;
    this.chain = chain;
    if (!this.running) this.render();
  }

  /** Draws the view again (how exports are saved may have changed), unless an export runs. */
  refresh() {
    if (this.info && !this.running && !this.vhdxJob) this.render();
  }

  clear() {
    if (this.running) this.running.cancel = true; // the engine is about to hold another image
    if (this.vhdxJob) this.vhdxJob.cancel();
    this.info = null;
    this.chain = null;
    this.root.textContent = '';
  }

  render() {
    const r = this.root;
    r.textContent = '';
    if (!this.info) return;
    const s = this.info.summary || {};
    r.append(el('h2', {}, 'Export'));

    const reportBtn = el('button', { class: 'button primary', type: 'button', id: 'export-report' }, 'Download report (JSON)');
    reportBtn.addEventListener('click', () => this.downloadReport(reportBtn));
    const reportCard = el('section', { class: 'card', 'aria-labelledby': 'export-report-title' },
      el('h2', { id: 'export-report-title' }, 'Report'),
      el('p', {}, 'Summary, every structure and every validation finding, as one JSON file (the same format as ', el('code', {}, 'vhdx info --json'), ' plus findings).'),
      el('p', {}, reportBtn), el('p', { class: 'muted', id: 'export-report-status', 'aria-live': 'polite' }));

    const chain = this.chain;
    const merged = !!(chain && chain.complete);
    const rawCard = el('section', { class: 'card', 'aria-labelledby': 'export-raw-title' },
      el('h2', { id: 'export-raw-title' }, chain ? 'Merged raw image' : 'Raw disk image'));
    const base = baseName(this.file && this.file.name);
    const name = `${base}${chain ? '-merged' : ''}.img`;
    const unreadable = this.unreadable();
    if (unreadable) {
      rawCard.append(el('p', { class: 'note warn', id: 'export-raw-unavailable' }, unreadable));
    } else if (!saveMode()) {
      rawCard.append(el('p', { class: 'note warn', id: 'export-raw-unsupported' }, NO_SAVE));
    } else {
      const start = el('button', { class: 'button primary', type: 'button', id: 'export-raw' }, saveMode() === 'picker' ? `Save as ${name}…` : `Download ${name}`);
      this.progress = el('progress', { max: '1', value: '0', hidden: true, 'aria-label': 'Export progress' });
      this.progressText = el('p', { class: 'muted', id: 'export-raw-status', 'aria-live': 'polite' });
      this.cancelBtn = el('button', { class: 'button', type: 'button', hidden: true, id: 'export-cancel' }, 'Cancel');
      this.cancelBtn.addEventListener('click', () => { if (this.running) this.running.cancel = true; });
      start.addEventListener('click', () => this.exportRaw(start, name));
      rawCard.append(
        el('p', {}, merged
          ? `The ${bothSizes(s.virtual_size)} virtual disk as the chain of ${this.chain.layers.length} layers reads it (each sector from the newest layer that stores it), as a plain sector-by-sector image. `
          : `The ${bothSizes(s.virtual_size)} virtual disk, after log replay, as a plain sector-by-sector image. `,
          saveMode() === 'picker'
            ? 'It is written straight to the file you choose, 4 MiB at a time; blocks that hold no data are left as zeros without being read.'
            : 'It streams into your downloads 4 MiB at a time, whatever its size; blocks that hold no data are sent as zeros without being read.'),
        el('p', { class: 'toolbar' }, start, this.cancelBtn), this.progress, this.progressText);
    }
    const other = this.isOther();
    const vhdxCard = chain || other ? this.renderVHDXCard(base, unreadable) : null;
    const qcow2Card = other ? this.renderQCOW2Card(base, unreadable) : null;

    const clear = el('button', { class: 'button', type: 'button', id: 'cache-clear' }, 'Clear cached summaries');
    const clearStatus = el('span', { class: 'muted', 'aria-live': 'polite' });
    clear.addEventListener('click', async () => {
      try {
        await this.engine.cacheClear();
        clearStatus.textContent = ' Cache cleared.';
      } catch (err) {
        clearStatus.textContent = ` ${err.message}`;
      }
    });
    const cacheCard = el('section', { class: 'card', 'aria-labelledby': 'export-cache-title' },
      el('h2', { id: 'export-cache-title' }, 'Cache'),
      el('p', {}, 'Summaries, block maps and findings of files you opened are kept in this browser (IndexedDB) so that opening them again is instant. They never leave this computer.'),
      el('p', {}, clear, clearStatus));
    r.append(el('div', { class: 'export-grid' }, reportCard, rawCard, vhdxCard, qcow2Card, cacheCard));
  }

  /** Why the virtual disk cannot be exported, or ''. */
  unreadable() {
    const s = this.info.summary || {};
    const c = this.chain;
    if (c && c.complete) return '';
    if (c && c.kind === 'missing') return `Exporting the disk needs the parent ${c.parent}, which was not given: ${c.child} holds only the sectors written since its checkpoint. Drop ${c.parent} on this page first.`;
    if (c) return `The virtual disk cannot be exported: ${c.note} (${c.reason || 'the chain is broken'}).`;
    if (s.disk_error) return `The virtual disk cannot be read: ${s.disk_error}`;
    return '';
  }

  /** Whether the image shown is not a VHDX (qcow2, raw): its exports convert it. */
  isOther() {
    return !!this.info.format && this.info.format !== 'vhdx';
  }

  /** Layers the raw export asks layerHistogram about (0: blockHistogram's VHDX states). */
  layerCount() {
    if (this.chain && this.chain.complete) return this.chain.layers.length;
    return this.isOther() ? (this.info.chain || []).length : 0;
  }

  /** The card of the merged standalone VHDX (chains, and images in other formats). */
  renderVHDXCard(base, unreadable) {
    const name = `${base}${this.chain ? '-merged' : ''}.vhdx`;
    const card = el('section', { class: 'card', 'aria-labelledby': 'export-vhdx-title' },
      el('h2', { id: 'export-vhdx-title' }, this.chain ? 'Merged VHDX (standalone dynamic)' : 'VHDX (dynamic)'));
    const start = el('button', { class: 'button primary', type: 'button', id: 'export-vhdx', disabled: true }, saveMode() === 'download' ? `Download ${name}` : `Save as ${name}…`);
    const note = el('p', { class: 'note warn', id: 'export-vhdx-note', hidden: true });
    this.vhdxProgress = el('progress', { max: '1', value: '0', hidden: true, 'aria-label': 'Merged VHDX export progress' });
    this.vhdxText = el('p', { class: 'muted', id: 'export-vhdx-status', 'aria-live': 'polite' });
    this.vhdxCancel = el('button', { class: 'button', type: 'button', hidden: true, id: 'export-vhdx-cancel' }, 'Cancel');
    this.vhdxCancel.addEventListener('click', () => { if (this.vhdxJob) this.vhdxJob.cancel(); });
    start.addEventListener('click', () => this.exportImage('vhdx', start, name));
    const what = !this.chain ? `The virtual disk as one dynamic VHDX, allocating only blocks that hold data. ${this.file ? this.file.name : 'The file'} is not changed.`
      : this.chain.complete
        ? `One dynamic VHDX without a parent holding what the chain reads: the ${this.chain.layers.length} layers merged, ${this.chain.layers.map((l) => l.name).join(' → ')}. The files given are not changed.`
        : 'One dynamic VHDX without a parent holding what the whole chain reads, once every parent is given. The files given are not changed.';
    card.append(
      el('p', {}, what),
      el('p', { class: 'toolbar' }, start, this.vhdxCancel), note, this.vhdxProgress, this.vhdxText);
    let why = '';
    if (unreadable) why = unreadable;
    else if (!saveMode()) why = NO_SAVE;
    else if (!this.engine.has('exportVHDX')) why = 'This build of the engine cannot write VHDX files yet (it has no exportVHDX): use the merged raw image, or vhdx merge on the command line.';
    start.disabled = !!why;
    note.hidden = !why;
    note.textContent = why;
    if (why) start.title = why;
    this.ui = { ...this.ui, vhdx: { progress: this.vhdxProgress, text: this.vhdxText, cancel: this.vhdxCancel } };
    return card;
  }

  /** The card of the disk as a standalone qcow2 (images in other formats). */
  renderQCOW2Card(base, unreadable) {
    const name = `${base}${this.chain ? '-merged' : ''}.qcow2`;
    const start = el('button', { class: 'button primary', type: 'button', id: 'export-qcow2' }, saveMode() === 'download' ? `Download ${name}` : `Save as ${name}…`);
    const compress = el('select', { id: 'export-qcow2-compress', 'aria-label': 'Compression' },
      el('option', { value: '' }, 'not compressed'), el('option', { value: 'zlib' }, 'compressed (zlib)'), el('option', { value: 'zstd' }, 'compressed (zstd)'));
    const ui = {
      progress: el('progress', { max: '1', value: '0', hidden: true, 'aria-label': 'qcow2 export progress' }),
      text: el('p', { class: 'muted', id: 'export-qcow2-status', 'aria-live': 'polite' }),
      cancel: el('button', { class: 'button', type: 'button', hidden: true, id: 'export-qcow2-cancel' }, 'Cancel'),
    };
    ui.cancel.addEventListener('click', () => { if (this.vhdxJob) this.vhdxJob.cancel(); });
    start.addEventListener('click', () => this.exportImage('qcow2', start, name, compress.value ? { compress: compress.value } : undefined));
    const why = unreadable || (!saveMode() ? NO_SAVE : '');
    start.disabled = !!why;
    if (why) start.title = why;
    this.ui = { ...this.ui, qcow2: ui };
    return el('section', { class: 'card', 'aria-labelledby': 'export-qcow2-title' },
      el('h2', { id: 'export-qcow2-title' }, this.chain ? 'Merged qcow2 (standalone)' : 'qcow2'),
      el('p', {}, `The virtual disk${this.chain ? ' as the whole chain reads it' : ''} as one qcow2 image without a backing file, allocating only clusters that hold data, written in one pass.`),
      el('p', { class: 'toolbar' }, el('label', {}, 'Clusters ', compress), start, ui.cancel),
      why ? el('p', { class: 'note warn', id: 'export-qcow2-note' }, why) : null, ui.progress, ui.text);
  }

  /** Writes the disk as a standalone VHDX or qcow2 (kind) through the engine. */
  async exportImage(kind, btn, suggestedName, opts = undefined) {
    const { progress, text, cancel } = this.ui[kind];
    let target;
    let savedName = suggestedName;
    if (saveMode() === 'picker') {
      try {
        target = await window.showSaveFilePicker({
          suggestedName,
          types: [{ description: kind === 'vhdx' ? 'VHDX virtual disk' : 'qcow2 virtual disk', accept: { 'application/octet-stream': [`.${kind}`] } }],
        });
        savedName = target.name;
      } catch (err) {
        if (err.name !== 'AbortError') text.textContent = `Cannot save: ${err.message}`;
        return;
      }
    } else {
      target = startDownload(suggestedName).port;
    }
    const t0 = performance.now();
    let cancelled = false;
    btn.disabled = true;
    cancel.hidden = false;
    progress.hidden = false;
    progress.removeAttribute('value'); // indeterminate until the engine reports
    text.textContent = this.chain ? 'Merging the chain…' : 'Writing…';
    const onProgress = (done, total) => {
      const secs = Math.max(0.001, (performance.now() - t0) / 1000);
      progress.value = total ? done / total : 0;
      const eta = done && total && done < total ? ((total - done) / (done / secs)) * 1000 : 0;
      text.textContent = `${humanSize(done)} of ${humanSize(total)} (${((100 * done) / Math.max(1, total)).toFixed(1)}%) at ${humanSize(done / secs)}/s${eta ? ` · about ${duration(eta)} left` : ''}`;
    };
    const job = kind === 'vhdx' ? this.engine.exportVHDX(target, onProgress) : this.engine.exportQCOW2(target, onProgress, opts);
    this.vhdxJob = { cancel: () => { cancelled = true; job.cancel(); } };
    let ok = false;
    try {
      const written = await job.promise;
      const ms = performance.now() - t0;
      progress.value = 1;
      text.textContent = `Saved ${savedName}: ${bothSizes(written)} written in ${duration(ms)}.`;
      this.root.dataset[kind === 'vhdx' ? 'exportedVhdx' : 'exportedQcow2'] = String(written);
      ok = true;
      this.onMessage?.(`${kind === 'vhdx' ? 'VHDX' : 'qcow2'} saved as ${savedName}`);
    } catch (err) {
      text.textContent = cancelled ? 'Export cancelled; the partial file was discarded.' : `Export failed: ${err.message}`;
    } finally {
      this.vhdxJob = null;
      if (btn.isConnected) btn.disabled = false;
      cancel.hidden = true;
      if (!ok) progress.hidden = true;
    }
  }

  async downloadReport(btn) {
    const status = this.root.querySelector('#export-report-status');
    btn.disabled = true;
    status.textContent = 'Building the report…';
    try {
      const json = await this.engine.report();
      const blob = new Blob([json], { type: 'application/json' });
      const url = URL.createObjectURL(blob);
      const a = el('a', { href: url, download: `${baseName(this.file && this.file.name)}.report.json` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      status.textContent = `Report saved (${humanSize(blob.size)}).`;
    } catch (err) {
      status.textContent = `The report failed: ${err.message}`;
    } finally {
      btn.disabled = false;
    }
  }

  /**
   * Where a raw image goes: {name, data(offset, bytes), skip(n), close(),
   * abort()}. A picked file is sized first, so skipped blocks cost nothing;
   * a streamed download is written in order, skipped blocks as zeros.
   */
  async rawSink(suggestedName, size) {
    if (saveMode() === 'picker') {
      const handle = await window.showSaveFilePicker({
        suggestedName,
        types: [{ description: 'Raw disk image', accept: { 'application/octet-stream': ['.img', '.raw', '.bin'] } }],
      });
      const writable = await handle.createWritable({ keepExistingData: false });
      await writable.truncate(size);
      return {
        name: handle.name,
        data: (off, bytes) => writable.write({ type: 'write', position: off, data: bytes }),
        skip: async () => {},
        close: () => writable.close(),
        abort: () => writable.abort(),
      };
    }
    const w = portWriter(startDownload(suggestedName, size).port);
    return {
      name: suggestedName,
      data: (off, bytes) => w.write(bytes),
      skip: async (n) => {
        for (let left = n; left > 0; left -= CHUNK) await w.zeros(Math.min(CHUNK, left));
      },
      close: () => w.close(),
      abort: () => w.abort(),
    };
  }

  async exportRaw(btn, suggestedName) {
    const s = this.info.summary;
    const size = Number(s.virtual_size);
    const blockSize = Number(s.block_size);
    const blocks = Number(s.payload_blocks);
    const job = (this.running = { cancel: false });
    let sink;
    let finished = false;
    try {
      sink = await this.rawSink(suggestedName, size);
    } catch (err) {
      this.running = null;
      if (err.name !== 'AbortError') this.progressText.textContent = `Cannot save: ${err.message}`;
      return;
    }
    btn.disabled = true;
    this.cancelBtn.hidden = false;
    this.progress.hidden = false;
    this.progress.value = 0;
    const t0 = performance.now();
    let done = 0; // virtual bytes accounted for
    let written = 0; // bytes read and written
    const show = () => {
      const secs = Math.max(0.001, (performance.now() - t0) / 1000);
      this.progress.value = size ? done / size : 1;
      const rate = written / secs;
      const eta = done && done < size ? ((size - done) / (done / secs)) * 1000 : 0;
      this.progressText.textContent = `${humanSize(done)} of ${humanSize(size)} (${((100 * done) / Math.max(1, size)).toFixed(1)}%) · ${humanSize(written)} of data written at ${humanSize(rate)}/s${eta ? ` · about ${duration(eta)} left` : ''}`;
    };
    try {
      // Which blocks hold data: in this file (once its BAT is read), or for a chain in any layer.
      this.progressText.textContent = 'Reading the block allocation table…';
      await this.engine.scan().promise;
      const L = this.layerCount();
      for (let first = 0; first < blocks; first += WINDOW) {
        const n = Math.min(WINDOW, blocks - first);
        const states = L ? await this.engine.layerHistogram(first, n, n) : await this.engine.blockHistogram(first, n, n);
        for (let i = 0; i < n; i++) {
          const block = first + i;
          const start = block * blockSize;
          const end = Math.min(size, start + blockSize);
          let data = false;
          if (L) data = states[i * (L + 2) + L] === 0; // not wholly zeros (slot L)
          else for (const st of DATA_STATES) if (states[i * 8 + st]) data = true;
          if (!data) {
            await sink.skip(end - start);
            done = end;
            continue;
          }
          for (let off = start; off < end; off += CHUNK) {
            if (job.cancel) throw new DOMException('cancelled', 'AbortError');
            const len = Math.min(CHUNK, end - off);
            const bytes = await this.engine.readDisk(off, len, true);
            if (bytes.length !== len) throw new Error(`short read at ${off}: ${bytes.length} of ${len} bytes`);
            await sink.data(off, bytes);
            written += len;
            done = off + len;
            show();
          }
        }
        show();
        if (job.cancel) throw new DOMException('cancelled', 'AbortError');
      }
      await sink.close();
      finished = true;
      done = size;
      show();
      const ms = performance.now() - t0;
      this.progressText.textContent = `Saved ${sink.name}: ${bothSizes(size)} in ${duration(ms)} (${humanSize(written)} of block data, ${grouped(blocks)} blocks${L ? `, merged from ${L} layers` : ''}).`;
      this.root.dataset.exported = String(size);
      this.onMessage?.(`Raw image saved as ${sink.name}`);
    } catch (err) {
      if (!finished) {
        try { await sink.abort(); } catch { /* ignore */ }
      }
      this.progressText.textContent = err.name === 'AbortError' ? 'Export cancelled; nothing was saved.' : `Export failed: ${err.message}`;
    } finally {
      this.running = null;
      btn.disabled = false;
      this.cancelBtn.hidden = true;
    }
  }
}
