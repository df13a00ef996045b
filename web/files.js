// The Files view: the filesystems inside the virtual disk, browsed through
// the filesystem module (a second wasm module in its own worker, loaded the
// first time this view opens; see fsclient.js). A partition picker, a tree
// of folders, a virtualised sortable listing, the details of the selected
// entry with its extents on the disk (links to the disk hex view, marked
// on the block map), search by name, downloads (a file, a folder as a
// ZIP), hashes and a body file for mactime.

import { el, hex, humanSize, grouped, duration } from './format.js';
import { FilesClient } from './fsclient.js';
import { canStreamDownloads, startDownload, portWriter } from './download.js';

const ROW = 28; // px per listing row
const OVERSCAN = 10;

const COLUMNS = [
  { key: 'name', label: 'Name' },
  { key: 'size', label: 'Size', num: true },
  { key: 'mtime', label: 'Modified (UTC)' },
  { key: 'type', label: 'Type' },
  { key: 'id', label: 'ID' },
];

/** A time for people: UTC text, the local time as its title. */
function timeCell(iso) {
  if (!iso) return el('span', { class: 'muted' }, '—');
  const d = new Date(iso);
  const utc = iso.replace('T', ' ').replace(/(\.\d{1,3})\d*/, '$1').replace('Z', ' UTC');
  return el('time', { datetime: iso, title: `Local time: ${d.toLocaleString()}` }, utc);
}

function shortTime(iso) {
  return iso ? iso.slice(0, 19).replace('T', ' ') : '';
}

function joinPath(dir, name) {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function parentOf(p) {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

/** Where saved files go here: 'picker', 'download' (the service worker) or null. */
function saveMode() {
  if (typeof window.showSaveFilePicker === 'function') return 'picker';
  return canStreamDownloads() ? 'download' : null;
}

export class FilesView {
  /**
   * @param {HTMLElement} host
   * @param {{engine, setMarks(marks, label), partitions?(): Promise, onMessage(text), sectorOwner?(offset)}} opts
   */
  constructor(host, opts) {
    this.host = host;
    this.opts = opts;
    this.client = new FilesClient(opts.engine);
    this.client.addEventListener('fatal', (e) => {
      // The next call starts a fresh module and attaches the disk again.
      this.attached = null;
      this.error(`${e.detail}. The filesystem module was restarted: pick a folder to go on.`);
    });
    this.gen = 0;
    this.image = null;
    this.attached = null; // Promise of the volumes of the image attached
    this.entries = [];
    this.sort = { key: 'name', dir: 1 };
    this.cursor = -1;
    this.build();
  }

  build() {
    const btn = (label, title, fn, extra = {}) => el('button', { class: 'button small', type: 'button', title, onclick: fn, ...extra }, label);
    this.partSelect = el('select', { id: 'files-part', 'aria-label': 'Partition', onchange: () => this.openVolume(Number(this.partSelect.value)) });
    this.searchInput = el('input', { type: 'search', id: 'files-search', placeholder: 'Search names: *.txt, report-??.doc', 'aria-label': 'Search by name (glob)', spellcheck: 'false', autocomplete: 'off' });
    this.searchForm = el('form', { class: 'files-search', role: 'search', onsubmit: (e) => { e.preventDefault(); this.search(this.searchInput.value.trim()); } },
      this.searchInput, el('button', { class: 'button small', type: 'submit', id: 'files-search-go' }, 'Search'));
    this.bodyBtn = btn('Body file', 'A body file (mactime format) of the whole filesystem', () => this.bodyfile(), { id: 'files-bodyfile' });
    this.job = el('div', { class: 'files-job', id: 'files-job', 'aria-live': 'polite', hidden: true });
    this.msg = el('div', { class: 'files-msg', id: 'files-msg', role: 'alert', hidden: true });
    this.crumbs = el('nav', { class: 'files-crumbs', id: 'files-crumbs', 'aria-label': 'Folder' });
    this.tree = el('ul', { class: 'files-tree', id: 'files-tree', role: 'tree', 'aria-label': 'Folders' });
    this.head = el('div', { class: 'files-row files-head', role: 'row' });
    for (const c of COLUMNS) {
      const h = el('button', { type: 'button', class: `files-col col-${c.key}`, role: 'columnheader', 'data-key': c.key, onclick: () => this.setSort(c.key) }, c.label);
      this.head.append(h);
    }
    this.spacer = el('div', { class: 'files-spacer' });
    this.rows = el('div', { class: 'files-rows', role: 'rowgroup' });
    this.list = el('div', { class: 'files-list', id: 'files-list', role: 'grid', tabindex: '0', 'aria-label': 'Folder contents', 'aria-rowcount': '0', onkeydown: (e) => this.onKey(e), onscroll: () => this.renderRows() },
      this.spacer, this.rows);
    this.listWrap = el('div', { class: 'files-listwrap' }, this.head, this.list);
    this.detail = el('aside', { class: 'files-detail', id: 'files-detail', 'aria-label': 'Details', 'aria-live': 'polite' });
    this.host.append(
      el('div', { class: 'files-bar' }, el('label', { for: 'files-part', class: 'muted' }, 'Partition'), this.partSelect, this.searchForm, this.bodyBtn),
      this.job, this.msg,
      el('div', { class: 'files-main' },
        el('nav', { class: 'files-side', 'aria-label': 'Folder tree' }, this.tree),
        el('section', { class: 'files-center', 'aria-label': 'Listing' }, this.crumbs, this.listWrap),
        this.detail),
    );
    this.list.addEventListener('click', (e) => {
      const r = e.target.closest('[data-index]');
      if (r) this.select(Number(r.dataset.index));
    });
    this.list.addEventListener('dblclick', (e) => {
      const r = e.target.closest('[data-index]');
      if (r) this.activate(Number(r.dataset.index));
    });
    new ResizeObserver(() => this.renderRows()).observe(this.list);
  }

  // ---- image and volumes -----------------------------------------------------

  /** A new image: {size, sectorSize, blockSize, chain} of its virtual disk, or null. */
  setImage(image) {
    this.gen++;
    this.image = image;
    this.attached = null;
    this.volumes = [];
    this.part = null;
    this.entries = [];
    this.detail.textContent = '';
    this.tree.textContent = '';
    this.crumbs.textContent = '';
    this.partSelect.textContent = '';
    this.hideMessage();
    this.renderRows();
    delete this.host.dataset.listed;
    if (this.visible && image) this.load();
  }

  clear() { this.setImage(null); }

  show() {
    this.visible = true;
    if (this.image && !this.attached) this.load();
    this.renderRows();
  }

  hide() { this.visible = false; }

  focus() { this.list.focus({ preventScroll: true }); }

  /** Loads the module, attaches the disk and lists the first browsable filesystem. */
  async load() {
    const gen = this.gen;
    const t0 = performance.now();
    this.host.dataset.loading = 'true';
    this.showJob('Loading the filesystem module…');
    try {
      const bootMs = await this.client.start();
      this.host.dataset.moduleMs = bootMs.toFixed(1);
      this.attached = this.client.attach(this.image.size, this.image.sectorSize);
      const vols = await this.volumesOf(await this.attached);
      this.host.dataset.attachMs = (performance.now() - t0).toFixed(1);
      if (gen !== this.gen) return;
      this.volumes = vols;
      this.partSelect.textContent = '';
      for (const v of vols) {
        const fs = v.filesystem;
        const what = fs ? `${fs.type}${fs.label ? ` “${fs.label}”` : ''}` : v.error ? 'unreadable' : 'no filesystem';
        this.partSelect.append(el('option', { value: String(v.number), disabled: !v.browsable }, `${v.number === 0 ? 'Whole disk' : `Partition ${v.number}`} · ${what} · ${humanSize(v.length)}`));
      }
      const first = vols.find((v) => v.browsable);
      if (!first) {
        this.hideJob();
        this.error(vols.length ? 'No partition holds a filesystem this page can browse (NTFS, FAT, exFAT, ext2/3/4).' : 'The disk has no partitions and no filesystem at offset 0.');
        return;
      }
      this.partSelect.value = String(first.number);
      await this.openVolume(first.number);
      if (gen !== this.gen) return;
      this.host.dataset.firstListMs = (performance.now() - t0).toFixed(1);
    } catch (err) {
      if (gen === this.gen) {
        this.attached = null;
        this.error(`The filesystems could not be read: ${err.message}`);
      }
    } finally {
      if (gen === this.gen) {
        delete this.host.dataset.loading;
        this.hideJob();
      }
    }
  }

  /**
   * The partitions with their filesystems and whether they can be browsed:
   * the core engine has probed them (opts.partitions), else the module does.
   */
  async volumesOf({ partitions, types }) {
    const core = await Promise.resolve(this.opts.partitions?.()).catch(() => null);
    if (!core) return this.client.json('volumes');
    const probed = new Map(core.partitions.map((p) => [p.number, p]));
    return partitions.map((v) => {
      const p = probed.get(v.number) || {};
      const filesystem = p.filesystem || null;
      return { ...v, filesystem, error: p.filesystem_error, browsable: !!filesystem && types.includes(filesystem.type) };
    });
  }

  /** Opens partition n's filesystem at its root. */
  async openVolume(n) {
    this.part = n;
    this.hideMessage();
    this.tree.textContent = '';
    const root = this.treeNode('/', '/', 0);
    this.tree.append(root);
    await this.openDir('/');
    this.expand(root);
  }

  /** Outlines the blocks of marks (a file's extents) on the block map; null clears. */
  updateBands(marks, label) {
    this.opts.setMarks?.(marks, label);
  }

  // ---- tree ---------------------------------------------------------------------

  treeNode(path, name, depth) {
    const toggle = el('button', { type: 'button', class: 'tree-toggle', 'aria-label': `Expand ${name}`, tabindex: '-1' }, '▸');
    const label = el('button', { type: 'button', class: 'tree-label', title: path }, name === '/' ? '/ (root)' : name);
    const li = el('li', { role: 'treeitem', 'aria-expanded': 'false', 'data-path': path }, el('div', { class: 'tree-line' }, toggle, label));
    li.style.setProperty('--depth', depth);
    li.dataset.depth = depth;
    toggle.addEventListener('click', () => (li.getAttribute('aria-expanded') === 'true' ? this.collapse(li) : this.expand(li)));
    label.addEventListener('click', () => { this.openDir(path); this.expand(li); });
    return li;
  }

  async expand(li) {
    if (li.getAttribute('aria-expanded') === 'true') return;
    li.setAttribute('aria-expanded', 'true');
    li.querySelector('.tree-toggle').textContent = '▾';
    const path = li.dataset.path;
    try {
      const entries = path === this.dir ? this.dirEntries : await this.client.json('readDir', this.part, path);
      const dirs = entries.filter((e) => e.type === 'dir' && !e.deleted).slice(0, 2000);
      const ul = el('ul', { role: 'group' });
      for (const d of dirs) ul.append(this.treeNode(joinPath(path, d.name), d.name, Number(li.dataset.depth) + 1));
      li.append(ul);
    } catch (err) {
      li.append(el('ul', { role: 'group' }, el('li', { class: 'muted' }, `unreadable: ${err.message}`)));
    }
  }

  collapse(li) {
    li.setAttribute('aria-expanded', 'false');
    li.querySelector('.tree-toggle').textContent = '▸';
    li.querySelector(':scope > ul')?.remove();
  }

  // ---- listing -----------------------------------------------------------------

  /** Attaches the disk to the module again after it was restarted. */
  reattach() {
    if (!this.attached) this.attached = this.client.attach(this.image.size, this.image.sectorSize);
    return this.attached;
  }

  /** Lists directory path. */
  async openDir(path, selectName = null) {
    const gen = this.gen;
    const part = this.part;
    let entries;
    try {
      await this.reattach();
      this.hideMessage();
      entries = await this.client.json('readDir', part, path);
    } catch (err) {
      if (gen === this.gen) this.error(`${path}: ${err.message}`);
      return;
    }
    if (gen !== this.gen || part !== this.part) return;
    this.dir = path;
    this.dirEntries = entries;
    this.searchMode = null;
    this.setEntries(entries.map((e) => ({ ...e, path: joinPath(path, e.name) })));
    this.renderCrumbs();
    for (const li of this.tree.querySelectorAll('[role=treeitem]')) li.setAttribute('aria-selected', String(li.dataset.path === path));
    const i = selectName ? this.entries.findIndex((e) => e.name === selectName) : -1;
    this.select(i >= 0 ? i : (this.entries.length ? 0 : -1), i >= 0);
    this.host.dataset.listed = path;
  }

  renderCrumbs() {
    this.crumbs.textContent = '';
    if (this.searchMode) {
      this.crumbs.append(el('span', {}, `${grouped(this.entries.length)} match${this.entries.length === 1 ? '' : 'es'} for “${this.searchMode}”${this.searchTruncated ? ' (the first ones)' : ''} · `),
        el('button', { type: 'button', class: 'linklike', onclick: () => this.openDir(this.dir || '/') }, 'back to the folder'));
      return;
    }
    const parts = this.dir.split('/').filter(Boolean);
    const go = (p) => el('button', { type: 'button', class: 'linklike', onclick: () => this.openDir(p) }, p === '/' ? 'root' : p.slice(p.lastIndexOf('/') + 1));
    this.crumbs.append(go('/'));
    let p = '';
    for (const name of parts) {
      p += `/${name}`;
      this.crumbs.append(el('span', { class: 'muted' }, ' / '), go(p));
    }
    this.crumbs.append(el('span', { class: 'muted' }, ` · ${grouped(this.entries.length)} entr${this.entries.length === 1 ? 'y' : 'ies'}`));
    if (this.dir !== '/') {
      this.crumbs.append(' · ', el('button', { type: 'button', class: 'linklike', id: 'files-zip', onclick: () => this.saveZip(this.dir) }, 'download this folder as ZIP'));
    }
  }

  setEntries(entries) {
    this.entries = entries;
    this.applySort();
    this.list.setAttribute('aria-rowcount', String(entries.length));
    this.list.scrollTop = 0;
    this.renderRows();
  }

  setSort(key) {
    this.sort = { key, dir: this.sort.key === key ? -this.sort.dir : 1 };
    const sel = this.entries[this.cursor];
    this.applySort();
    this.cursor = sel ? this.entries.indexOf(sel) : -1;
    this.renderRows();
  }

  applySort() {
    const { key, dir } = this.sort;
    const val = (e) => (key === 'size' ? e.size : key === 'name' ? e.name : e[key] || '');
    const dirsFirst = (a, b) => (b.type === 'dir') - (a.type === 'dir');
    this.entries.sort((a, b) => {
      const d = key === 'name' ? dirsFirst(a, b) : 0;
      if (d) return d;
      const x = val(a);
      const y = val(b);
      if (key === 'id') return dir * (Number(x) - Number(y) || String(x).localeCompare(String(y)));
      return dir * (x < y ? -1 : x > y ? 1 : 0);
    });
    for (const h of this.head.children) {
      h.setAttribute('aria-sort', h.dataset.key === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
      h.dataset.sorted = h.dataset.key === key ? (dir > 0 ? '▲' : '▼') : '';
    }
  }

  /** Draws the rows in view (the listing is virtual: only these exist). */
  renderRows() {
    const n = this.entries.length;
    this.spacer.style.height = `${n * ROW}px`;
    const top = this.list.scrollTop;
    const h = this.list.clientHeight || 400;
    const a = Math.max(0, Math.floor(top / ROW) - OVERSCAN);
    const b = Math.min(n, Math.ceil((top + h) / ROW) + OVERSCAN);
    this.rows.style.transform = `translateY(${a * ROW}px)`;
    const frag = document.createDocumentFragment();
    for (let i = a; i < b; i++) {
      const e = this.entries[i];
      const row = el('div', {
        class: `files-row${e.deleted ? ' deleted' : ''}`, role: 'row', 'data-index': String(i), id: `files-row-${i}`,
        'aria-rowindex': String(i + 1), 'aria-selected': String(i === this.cursor),
        title: e.deleted ? 'Deleted: the filesystem still holds this entry' : undefined,
      },
      el('span', { class: 'files-col col-name', role: 'gridcell' }, el('span', { 'aria-hidden': 'true', class: `icon icon-${e.type}` }), this.searchMode ? e.path : e.name, e.deleted ? el('span', { class: 'tag' }, 'deleted') : null),
      el('span', { class: 'files-col col-size', role: 'gridcell' }, e.type === 'dir' ? '' : grouped(e.size)),
      el('span', { class: 'files-col col-mtime', role: 'gridcell', title: e.mtime ? `${shortTime(e.mtime)} UTC` : undefined }, shortTime(e.mtime)),
      el('span', { class: 'files-col col-type', role: 'gridcell' }, e.type),
      el('span', { class: 'files-col col-id', role: 'gridcell' }, e.id));
      frag.append(row);
    }
    this.rows.replaceChildren(frag);
    if (this.cursor >= 0) this.list.setAttribute('aria-activedescendant', `files-row-${this.cursor}`);
    else this.list.removeAttribute('aria-activedescendant');
  }

  onKey(e) {
    const n = this.entries.length;
    if (!n) return;
    const page = Math.max(1, Math.floor(this.list.clientHeight / ROW) - 1);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: page, PageUp: -page, Home: -Infinity, End: Infinity };
    if (e.key in moves) {
      e.preventDefault();
      const c = this.cursor < 0 ? 0 : this.cursor;
      this.select(Math.max(0, Math.min(n - 1, c + moves[e.key])), true);
    } else if (e.key === 'Enter') {
      e.preventDefault();
      this.activate(this.cursor);
    } else if (e.key === 'Backspace' && !this.searchMode && this.dir !== '/') {
      e.preventDefault();
      const name = this.dir.slice(this.dir.lastIndexOf('/') + 1);
      this.openDir(parentOf(this.dir), name);
    }
  }

  /** Opens a folder, or the folder of a search result. */
  activate(i) {
    const e = this.entries[i];
    if (!e) return;
    if (this.searchMode) this.openDir(parentOf(e.path), e.name);
    else if (e.type === 'dir' && !e.deleted) this.openDir(e.path);
  }

  select(i, scroll = false) {
    this.cursor = i;
    if (scroll && i >= 0) {
      const top = i * ROW;
      if (top < this.list.scrollTop) this.list.scrollTop = top;
      else if (top + ROW > this.list.scrollTop + this.list.clientHeight) this.list.scrollTop = top + ROW - this.list.clientHeight;
    }
    this.renderRows();
    clearTimeout(this.detailTimer);
    // Details follow the cursor once it rests (holding an arrow key stays fast).
    this.detailTimer = setTimeout(() => this.showDetail(this.entries[i]), scroll ? 80 : 0);
  }

  // ---- details -------------------------------------------------------------------

  async showDetail(e) {
    const gen = this.gen;
    this.detail.textContent = '';
    this.updateBands(null);
    if (!e) return;
    const rows = [
      ['name', e.name], ['path', e.path], ['type', e.type + (e.target ? ` → ${e.target}` : '')],
      ['size', e.type === 'dir' ? '—' : `${grouped(e.size)} bytes${e.size >= 1024 ? ` (${humanSize(e.size)})` : ''}`],
      ['modified', timeCell(e.mtime)], ['accessed', timeCell(e.atime)], ['changed', timeCell(e.ctime)], ['born', timeCell(e.btime)],
      ['mode', el('code', {}, e.mode)],
    ];
    if (e.attributes) rows.push(['attributes', hex(e.attributes)]);
    if (e.uid !== undefined) rows.push(['owner', `uid ${e.uid}, gid ${e.gid}`]);
    rows.push([/^\d+-\d+$/.test(e.id) ? 'MFT record' : /^\d+$/.test(e.id) ? 'inode' : 'ID', e.id]);
    if (e.deleted) rows.push(['state', el('span', { class: 'tag' }, 'deleted: the filesystem still holds this entry')]);
    const dl = el('dl', { class: 'files-props' });
    for (const [k, v] of rows) dl.append(el('dt', {}, k), el('dd', { 'data-field': k }, v));
    this.detail.append(el('h2', {}, e.name), dl);
    if (e.streams && e.streams.length) {
      this.detail.append(el('h3', {}, 'Alternate data streams'), el('ul', { class: 'files-streams' },
        e.streams.map((s) => el('li', {}, el('code', {}, `${e.name}:${s.name}`), ` · ${grouped(s.size)} bytes `,
          el('button', { type: 'button', class: 'linklike', onclick: () => this.saveFile(`${e.path}:${s.name}`, `${e.name}_${s.name}`, s.size) }, 'download')))));
    }
    const actions = el('div', { class: 'files-actions' });
    if (e.type === 'file') {
      actions.append(
        el('button', { type: 'button', class: 'button small primary', id: 'files-download', onclick: () => this.saveFile(e.path, e.name, e.size) }, 'Download'),
        el('button', { type: 'button', class: 'button small', id: 'files-hash', onclick: () => this.hash(e) }, 'SHA-256 and MD5'));
    } else if (e.type === 'dir' && !e.deleted) {
      actions.append(
        el('button', { type: 'button', class: 'button small', onclick: () => this.openDir(e.path) }, 'Open'),
        el('button', { type: 'button', class: 'button small', id: 'files-zip-entry', onclick: () => this.saveZip(e.path) }, 'Download as ZIP'));
    }
    this.hashOut = el('div', { class: 'files-hash', id: 'files-hash-out' });
    this.detail.append(actions, this.hashOut);
    if (e.type !== 'file' || e.deleted) return;
    const extBox = el('div', { class: 'files-extents', id: 'files-extents' }, el('p', { class: 'muted' }, 'Reading the extents…'));
    this.detail.append(el('h3', {}, 'Where it lies on the disk'), extBox);
    let extents;
    try {
      extents = await this.client.json('extents', this.part, e.path);
    } catch (err) {
      if (gen === this.gen) extBox.replaceChildren(el('p', { class: 'error-text' }, `Extents: ${err.message}`));
      return;
    }
    if (gen !== this.gen || this.entries[this.cursor] !== e) return;
    this.renderExtents(extBox, e, extents);
  }

  renderExtents(box, e, extents) {
    box.textContent = '';
    if (!extents.length) {
      box.append(el('p', { class: 'muted' }, e.size ? 'No extents: the data is held inside the filesystem’s metadata (resident or inline).' : 'The file is empty.'));
      return;
    }
    const bs = this.image.blockSize;
    const unit = this.image.blockUnit || 'block';
    const table = el('table', { class: 'files-ext-table' }, el('thead', {}, el('tr', {},
      el('th', {}, 'file offset'), el('th', {}, 'disk offset'), el('th', {}, 'length'), bs ? el('th', {}, `${unit}s`) : null, this.image.chain ? el('th', {}, 'layer') : null)));
    const tbody = el('tbody');
    const marks = [];
    const shown = extents.slice(0, 500);
    for (const x of shown) {
      const link = el('a', { href: `#disk:${hex(x.disk_offset)}+${hex(x.length)}`, class: 'mono', title: 'Show these bytes in the disk hex view' }, hex(x.disk_offset));
      const tr = el('tr', {}, el('td', { class: 'mono' }, hex(x.file_offset)), el('td', {}, link), el('td', {}, grouped(x.length)));
      if (bs) {
        const first = Math.floor(x.disk_offset / bs);
        const last = Math.floor((x.disk_offset + x.length - 1) / bs);
        marks.push({ first, last });
        tr.append(el('td', {}, first === last ? grouped(first) : `${grouped(first)}–${grouped(last)}`));
      }
      if (this.image.chain) {
        const cell = el('td', { 'data-field': 'layer' }, '…');
        tr.append(cell);
        this.opts.sectorOwner?.(x.disk_offset).then((o) => { cell.textContent = o.file_offset >= 0 ? `${o.layer} · ${o.layer_name || ''}` : 'none (zeros)'; }, () => { cell.textContent = '?'; });
      }
      tbody.append(tr);
    }
    table.append(tbody);
    const total = extents.reduce((t, x) => t + x.length, 0);
    box.append(el('p', { class: 'muted' }, `${grouped(extents.length)} extent${extents.length === 1 ? '' : 's'}, ${grouped(total)} bytes${extents.length > shown.length ? ` (the first ${shown.length} shown)` : ''}.${bs ? ' Outlined on the block map.' : ''}`), el('div', { class: 'table-scroll' }, table));
    this.updateBands(marks, `“${e.name}”`);
  }

  // ---- long work: search, hashes, saving --------------------------------------------

  /** Shows a job with a Cancel button; returns the element for progress text. */
  showJob(text, cancel = null) {
    this.job.textContent = '';
    const span = el('span', { id: 'files-job-text' }, text);
    this.job.append(span);
    if (cancel) this.job.append(el('button', { type: 'button', class: 'button small', id: 'files-cancel', onclick: cancel }, 'Cancel'));
    this.job.hidden = false;
    return span;
  }

  hideJob() { this.job.hidden = true; }

  error(text) {
    this.msg.textContent = text;
    this.msg.hidden = false;
    this.host.dataset.error = text;
  }

  hideMessage() {
    this.msg.hidden = true;
    delete this.host.dataset.error;
  }

  /** Runs a cancellable module call with progress in the job line. */
  async run(label, method, args, { progress, transfer } = {}) {
    const t0 = performance.now();
    let call = null;
    const span = this.showJob(`${label}…`, () => call && call.cancel());
    call = this.client.call(method, args, {
      transfer,
      onProgress: (done, total) => { span.textContent = `${label}: ${progress ? progress(done, total, performance.now() - t0) : grouped(done)}`; },
    });
    try {
      return await call.promise;
    } finally {
      this.hideJob();
    }
  }

  async search(pattern) {
    if (!pattern || this.part === null) return;
    const root = '/';
    const glob = /[*?[]/.test(pattern) ? pattern : `*${pattern}*`;
    try {
      const r = JSON.parse(await this.run(`Searching for “${glob}”`, 'find', [this.part, root, glob], { progress: (done) => `${grouped(done)} entries looked at` }));
      this.searchMode = glob;
      this.searchTruncated = r.truncated;
      this.setEntries(r.matches);
      this.renderCrumbs();
      this.select(r.matches.length ? 0 : -1);
      this.host.dataset.searched = String(r.matches.length);
    } catch (err) {
      this.error(`Search: ${err.message}`);
    }
  }

  async hash(e) {
    const out = this.hashOut;
    try {
      const r = JSON.parse(await this.run(`Hashing ${e.name}`, 'hash', [this.part, e.path], {
        progress: (done, total, ms) => `${Math.floor((100 * done) / Math.max(1, total))}% · ${(done / 1e6 / (ms / 1000)).toFixed(0)} MB/s`,
      }));
      const mbs = r.ms > 0 ? r.size / 1e6 / (r.ms / 1000) : 0;
      out.replaceChildren(el('dl', { class: 'files-props' },
        el('dt', {}, 'SHA-256'), el('dd', { class: 'mono', 'data-field': 'sha256' }, r.sha256),
        el('dt', {}, 'MD5'), el('dd', { class: 'mono', 'data-field': 'md5' }, r.md5),
        el('dt', {}, 'speed'), el('dd', { 'data-field': 'hash-speed', 'data-mbs': mbs.toFixed(1) }, `${grouped(r.size)} bytes in ${duration(r.ms)} (${mbs.toFixed(0)} MB/s)`)));
    } catch (err) {
      out.replaceChildren(el('p', { class: 'error-text' }, `Hashing: ${err.message}`));
    }
  }

  /** A place to save name (size bytes): {target, transfer} for the worker, or null. */
  async saveTarget(name, size) {
    const mode = saveMode();
    if (mode === 'picker') {
      try {
        return { target: await window.showSaveFilePicker({ suggestedName: name }), transfer: [] };
      } catch (err) {
        if (err.name === 'AbortError') return null;
        throw err;
      }
    }
    if (mode === 'download') {
      const { port } = startDownload(name, size);
      return { target: port, transfer: [port] };
    }
    throw new Error('saving needs the File System Access API or this page’s service worker, which starts on the next load: reload the page once');
  }

  async saveFile(path, name, size) {
    try {
      const t = await this.saveTarget(name, size);
      if (!t) return;
      const n = await this.run(`Saving ${name}`, 'saveFile', [this.part, path, t.target], { transfer: t.transfer, progress: (done, total) => `${humanSize(done)} of ${humanSize(total)}` });
      this.opts.onMessage?.(`Saved ${name} (${grouped(n)} bytes)`);
      this.host.dataset.saved = name;
    } catch (err) {
      this.error(`Saving ${name}: ${err.message}`);
    }
  }

  async saveZip(dir) {
    const name = `${dir === '/' ? 'root' : dir.slice(dir.lastIndexOf('/') + 1)}.zip`;
    try {
      const t = await this.saveTarget(name, undefined);
      if (!t) return;
      const r = JSON.parse(await this.run(`Saving ${name}`, 'saveZip', [this.part, dir, t.target], { transfer: t.transfer, progress: (done) => `${humanSize(done)} of file data` }));
      this.opts.onMessage?.(`Saved ${name}: ${grouped(r.files)} files, ${grouped(r.dirs)} folders${r.skipped.length ? `, ${r.skipped.length} left out (links, devices, unreadable)` : ''}`);
      this.host.dataset.saved = name;
    } catch (err) {
      this.error(`Saving ${name}: ${err.message}`);
    }
  }

  async bodyfile() {
    if (this.part === null) return;
    const name = `partition${this.part}.body`;
    try {
      const bytes = await this.run('Writing the body file', 'bodyfile', [this.part], { progress: (done) => `${grouped(done)} entries` });
      const t = await this.saveTarget(name, bytes.length);
      if (!t) return;
      const w = t.target instanceof MessagePort ? portWriter(t.target) : await t.target.createWritable();
      await w.write(bytes);
      await w.close();
      this.opts.onMessage?.(`Saved ${name} (${grouped(bytes.length)} bytes)`);
      this.host.dataset.saved = name;
    } catch (err) {
      this.error(`Body file: ${err.message}`);
    }
  }
}
