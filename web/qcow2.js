// Images in formats other than VHDX (qcow2, raw): their Overview (from the
// engine's format-neutral overview, `vhdx info --json`'s shape) and, for
// qcow2, the Structures view: header, header extensions, backing file name,
// L1 table with its L2 tables read on demand, refcount table with its
// refcount blocks read on demand, and the snapshot table. Strings from the
// file (names of the backing and data files, snapshots, features,
// extensions) are shown through visible(): control characters escaped.

import { el, hex, bothSizes, humanSize, grouped, stateLabel, visible } from './format.js';
import { KINDS, stateSwatch, layerSwatch } from './blockmap.js';
import { StructuresView } from './structures.js';
import { card, kv, validationSummary } from './views.js';
import { listNames } from './chain.js';

const PAGE = 256; // table entries per page
const L1_MASK = 0x00fffffffffffe00n;
const REFTABLE_MASK = 0xfffffffffffffe00n;

/** Extension type names for people. */
const EXTENSIONS = {
  0xe2792aca: 'backing file format', 0x6803f857: 'feature name table', 0x23852875: 'bitmaps',
  0x0537be77: 'full disk encryption header pointer', 0x44415441: 'external data file name', 0: 'end of extensions',
};

/** "backing file" or "data file" for a layer role; the chain's wording. */
function roleLabel(role) {
  return role === 'image' ? 'image' : role;
}

/** A file picker (several files at once) for the file the chain is missing. */
function addButton(label, onFiles) {
  const input = el('input', { type: 'file', multiple: true, 'aria-label': label, id: 'add-parent-input' });
  input.addEventListener('change', () => {
    const files = Array.from(input.files || []);
    input.value = '';
    if (files.length) onFiles(files);
  });
  return el('label', { class: 'button primary' }, label, input);
}

/** The chain card: every file the disk reads through, or what is missing. */
function chainCard(ctx) {
  const { info } = ctx;
  const o = info.overview;
  const tb = el('tbody');
  (info.chain || []).forEach((l, i) => tb.append(el('tr', { 'data-layer': String(i), class: i === 0 ? 'current' : undefined },
    el('td', { class: 'num' }, String(i)),
    el('td', { class: 'layer-file' }, layerSwatch(i), el('span', { class: 'mono' }, visible(l.name)), i === 0 ? el('span', { class: 'badge current' }, 'shown') : null),
    el('td', {}, roleLabel(l.role)),
    el('td', {}, l.format))));
  if (o.missing) {
    tb.append(el('tr', { 'data-layer': 'missing', class: 'missing' },
      el('td', { class: 'num' }, '—'),
      el('td', { class: 'layer-file' }, layerSwatch(-1), el('span', { class: 'mono' }, visible(o.missing)), el('span', { class: 'badge bad' }, 'not given')),
      el('td', {}, '—'), el('td', {}, '—')));
  }
  const complete = !o.chain_error;
  const missing = visible(o.missing || '');
  const c = el('section', { class: 'card chain-card', id: 'overview-chain', 'aria-labelledby': 'chain-title', 'data-complete': String(complete) },
    el('h2', { id: 'chain-title' }, 'Chain', complete ? el('span', { class: 'badge ok' }, `${info.chain.length} files, complete`) : el('span', { class: 'badge bad' }, o.missing ? 'file missing' : 'broken')));
  if (o.missing) {
    const given = (ctx.files || []).map((f) => f.name);
    c.append(el('div', { class: 'note err chain-problem', id: 'chain-problem', role: 'alert', 'data-kind': 'missing' },
      el('p', { class: 'chain-headline' }, el('strong', {}, `The file ${missing} is missing.`)),
      el('p', {}, `The disk of ${info.name} reads through ${info.missing_role === 'data file' ? 'the external data file' : 'the backing file'} `,
        el('code', {}, missing), `, which was not given. Meanwhile the overview, the structures, the cluster map by kind, the file bytes and the validation of ${info.name} work; the disk bytes and the exports need it.`),
      el('p', { id: 'chain-instruction' }, el('strong', {}, `Drop ${missing} together with ${listNames(given.length ? given : [info.name])}`), ` — or drop ${missing} now: it is added to the files given.`),
      el('p', { class: 'toolbar' }, addButton(`Add ${missing}…`, ctx.addFiles))));
  } else if (o.chain_error) {
    c.append(el('p', { class: 'note err', id: 'chain-problem', role: 'alert' }, visible(o.chain_error)));
  }
  c.append(el('div', { class: 'table-scroll' }, el('table', { class: 'grid', id: 'chain-table' },
    el('thead', {}, el('tr', {}, ...['layer', 'file', 'role', 'format'].map((h, i) => el('th', { scope: 'col', class: i === 0 ? 'num' : undefined }, h)))), tb)));
  if (info.others && info.others.length) c.append(el('p', { class: 'muted', id: 'chain-others' }, `Also given, not used: ${listNames(info.others)}.`));
  return c;
}

function featureList(features) {
  if (!features || !features.length) return 'none';
  return el('span', { id: 'qcow2-features' }, ...features.map((f) => el('span', { class: `badge${f.known ? '' : ' bad'}`, title: `${f.kind} bit ${f.bit}` }, f.name ? visible(f.name) : `${f.kind} bit ${f.bit}`)), ' ');
}

/** Rows drawn at a time in long tables (a hostile file can hold 65,536 snapshots). */
const PAGE_ROWS = 200;

/**
 * Appends rows of items to tbody PAGE_ROWS at a time, with a button under
 * the table for the next ones, so a long table never blocks the page.
 * Returns the button's paragraph, or null when every row fits.
 */
function pagedRows(tbody, items, row) {
  const more = items.length > PAGE_ROWS ? el('p', { class: 'more-rows' }) : null;
  let next = 0;
  const draw = () => {
    const end = Math.min(items.length, next + PAGE_ROWS);
    for (; next < end; next++) tbody.append(row(items[next]));
    if (more && next < items.length) {
      more.replaceChildren(el('button', { class: 'button small', type: 'button', onclick: draw }, `Show ${grouped(Math.min(PAGE_ROWS, items.length - next))} more (${grouped(items.length - next)} left)`));
    } else if (more) more.remove();
  };
  draw();
  return more;
}

/** The snapshot table, each with a button that shows its disk. */
function snapshotsCard(ctx) {
  const { info } = ctx;
  const snaps = info.overview.qcow2.snapshots || [];
  const shown = info.snapshot || '';
  const view = (id, label, on) => el('button', { class: `button small${on ? ' primary' : ''}`, type: 'button', 'data-snapshot': id, 'aria-pressed': String(on), onclick: () => ctx.selectSnapshot(id) }, label);
  const tb = el('tbody');
  const more = pagedRows(tb, snaps, (s) => {
    const date = new Date(s.date_sec * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    return el('tr', { 'data-snapshot-row': s.id },
      el('td', { class: 'mono' }, visible(s.id)), el('td', {}, visible(s.name)), el('td', {}, date),
      el('td', { class: 'num' }, humanSize(s.vm_state_size_large || s.vm_state_size)),
      el('td', { class: 'num' }, s.disk_size ? humanSize(s.disk_size) : '—'),
      el('td', {}, view(s.id, shown === s.id || shown === s.name ? 'Shown' : 'View disk', shown === s.id || shown === s.name)));
  });
  return card('Snapshots',
    el('p', {}, snaps.length ? `The disk shown is ${shown ? `snapshot ${visible(shown)}` : 'the current one'}. `
      : 'No internal snapshots.', snaps.length ? view('', shown ? 'Back to the current disk' : 'Current disk shown', !shown) : null),
    snaps.length ? el('div', { class: 'table-scroll' }, el('table', { class: 'grid', id: 'snapshots-table' },
      el('thead', {}, el('tr', {}, ...['ID', 'name', 'taken', 'VM state', 'disk size', ''].map((h) => el('th', { scope: 'col' }, h)))), tb)) : null,
    more);
}

/**
 * The Overview of a qcow2 or raw image.
 * @param {HTMLElement} root
 * @param {{info, file, files, check, checkError, checking, validate(), link(hash), addFiles(files), selectSnapshot(id)}} ctx
 */
export function renderImageOverview(root, ctx) {
  const { info } = ctx;
  const o = info.overview;
  const s = info.summary;
  const q = o.qcow2;
  root.textContent = '';
  if (info.error) root.append(el('p', { class: 'note err', role: 'alert' }, el('strong', {}, 'This file is damaged: '), info.error, ' What could still be read is shown below.'));
  if (o.disk_error) root.append(el('p', { class: 'note warn' }, el('strong', {}, 'The virtual disk cannot be read: '), o.disk_error));
  if ((info.chain && info.chain.length > 1) || o.chain_error) root.append(chainCard(ctx));
  const pct = o.virtual_size ? ` · ${((100 * o.allocated_size) / o.virtual_size).toFixed(o.allocated_size / o.virtual_size < 0.01 ? 2 : 1)}% of the virtual size` : '';
  const disk = card('Disk', kv([
    ['Format', q ? `qcow2 version ${q.version}` : 'raw (no metadata: the file is the disk)', 'format'],
    ['File', info.name, 'name'],
    ['Disk type', o.disk_type, 'disk_type'],
    ['Virtual size', bothSizes(s.virtual_size), 'virtual_size'],
    ['File size', bothSizes(o.file_size), 'file_size'],
    ['Allocated size', `${bothSizes(o.allocated_size)}${pct}`, 'allocated_size'],
    ['Cluster size', o.allocation_unit ? bothSizes(o.allocation_unit) : undefined, 'cluster_size'],
    ['Sector size', `${o.sector_size} bytes`, 'sector_size'],
    ['Snapshot shown', info.snapshot ? visible(info.snapshot) : undefined, 'snapshot'],
  ], 'overview-disk'));
  const cards = [disk];
  if (q) {
    const flags = [q.dirty ? el('span', { class: 'badge warning', id: 'qcow2-dirty' }, 'dirty') : null, q.corrupt ? el('span', { class: 'badge error', id: 'qcow2-corrupt' }, 'corrupt') : null].filter(Boolean);
    cards.push(card('qcow2', kv([
      ['Version', String(q.version), 'version'],
      ['Cluster size', bothSizes(q.cluster_size), 'qcow2_cluster_size'],
      ['Compression', q.compression, 'compression'],
      ['Encryption', q.encryption, 'encryption'],
      ['Refcount width', `${q.refcount_bits} bits`, 'refcount_bits'],
      ['Extended L2 entries', q.extended_l2 ? 'yes (32 subclusters)' : 'no', 'extended_l2'],
      ['Features', featureList(q.features), 'features'],
      ['State', flags.length ? el('span', {}, ...flags) : el('span', { class: 'badge ok' }, 'clean'), 'state'],
      ['Backing file', q.backing_file ? el('span', { class: 'mono' }, visible(q.backing_file), q.backing_format ? ` (${visible(q.backing_format)})` : '') : 'none', 'backing_file'],
      ['Data file', q.data_file ? el('span', { class: 'mono' }, visible(q.data_file), q.data_file_raw ? ' (raw)' : '') : 'none', 'data_file'],
    ], 'overview-qcow2')));
  }
  const states = s.block_states || {};
  const rows = (q ? KINDS : [{ key: 'data' }]).map((k) => el('tr', { 'data-state': k.key, class: states[k.key] ? '' : 'stale' },
    el('td', {}, stateSwatch(k.key), stateLabel(k.key)), el('td', { class: 'num' }, grouped(Number(states[k.key] || 0)))));
  cards.push(card(q ? 'Clusters' : 'Blocks',
    el('table', { class: 'grid', id: 'overview-blocks' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, q ? 'kind' : 'state'), el('th', { scope: 'col', class: 'num' }, q ? 'clusters' : `blocks of ${humanSize(s.block_size)}`))),
      el('tbody', {}, ...rows)),
    el('p', {}, ctx.link('#blocks', q ? 'Open the cluster map' : 'Open the block map'))));
  if (q) cards.push(snapshotsCard(ctx));
  cards.push(card('Validation', validationSummary(ctx)));
  root.append(el('div', { class: 'cards' }, ...cards));
}

/**
 * What the qcow2 file holds at off, where fields() lists nothing: a table
 * entry, the snapshot table, or a cluster of data or metadata. Null when
 * the image is not a qcow2.
 */
export function qcow2Region(info, off) {
  const q = info.overview && info.overview.qcow2;
  if (!q) return null;
  const h = q.header;
  const entry = (at, n, name) => (off >= at && off < at + n * 8 ? `${name} entry ${grouped(Math.floor((off - at) / 8))}` : '');
  return entry(h.l1_table_offset, h.l1_size, 'L1 table')
    || entry(h.refcount_table_offset, (h.refcount_table_clusters * q.cluster_size) / 8, 'refcount table')
    || (off < h.header_length ? 'header' : '')
    || `cluster ${grouped(Math.floor(off / q.cluster_size))} (guest data, an L2 table, a refcount block or free)`;
}

/** Reads n big-endian 64-bit entries at offset of the file. */
async function readEntries(engine, offset, n) {
  const b = await engine.readFile(offset, n * 8);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = [];
  for (let i = 0; (i + 1) * 8 <= b.length; i++) out.push(dv.getBigUint64(i * 8));
  return out;
}

const big = (v) => `0x${v.toString(16).padStart(16, '0')}`;

/** The Structures view of a qcow2 image. */
export class Qcow2Structures extends StructuresView {
  setImage(info, fieldsPromise) {
    this.q = info.overview.qcow2;
    this.pages = {};
    super.setImage(info, fieldsPromise);
  }

  itemList() {
    const q = this.q;
    const h = q.header;
    const items = [{ id: 'header', label: 'Header', group: 'Header' }];
    if (h.backing_file_offset) items.push({ id: 'backing', label: 'Backing file name', group: 'Header' });
    (q.extensions || []).forEach((x, i) => items.push({ id: `ext-${i}`, label: EXTENSIONS[x.type] || `extension ${hex(x.type)}`, group: 'Header extensions' }));
    items.push({ id: 'l1', label: 'L1 table', group: 'Tables', badge: grouped(h.l1_size) });
    items.push({ id: 'refcount', label: 'Refcount table', group: 'Tables' });
    items.push({ id: 'snapshots', label: 'Snapshot table', group: 'Tables', badge: grouped(h.nb_snapshots) });
    return items;
  }

  select(id) {
    if (!this.info) return;
    const m = /^(l2|refblock)-(\d+)$/.exec(id || '');
    if (m && !this.items.some((x) => x.id === id)) {
      // A table read on demand joins the list under its parent table.
      const after = this.items.findIndex((x) => x.id === (m[1] === 'l2' ? 'l1' : 'refcount'));
      this.items.splice(after + 1, 0, { id, label: `${m[1] === 'l2' ? 'L2 table' : 'Refcount block'} ${m[2]}`, group: 'Tables', sub: true });
      this.renderList();
    }
    if (!this.items.some((x) => x.id === id)) id = this.current || 'header';
    this.current = id;
    for (const b of this.list.querySelectorAll('button')) b.setAttribute('aria-current', String(b.dataset.id === id));
    this.render(id);
  }

  render(id) {
    const d = this.detail;
    d.textContent = '';
    d.dataset.id = id;
    const q = this.q;
    const h = q.header;
    const m = /^(ext|l2|refblock)-(\d+)$/.exec(id);
    if (m && m[1] === 'ext') this.renderExtension(q.extensions[Number(m[2])]);
    else if (m && m[1] === 'l2') this.renderTable('l2', Number(m[2]));
    else if (m && m[1] === 'refblock') this.renderTable('refblock', Number(m[2]));
    else if (id === 'backing') {
      this.head('Backing file name', [], h.backing_file_offset, h.backing_file_size);
      d.append(this.props([['offset', this.offLink(h.backing_file_offset, h.backing_file_size)], ['length', `${h.backing_file_size} bytes`],
        ['name', el('span', { class: 'mono' }, q.backing_file ? visible(q.backing_file) : '—')], ['format (extension)', q.backing_format ? visible(q.backing_format) : 'not given']]));
    } else if (id === 'l1') this.renderTable('l1');
    else if (id === 'refcount') this.renderTable('refcount');
    else if (id === 'snapshots') this.renderSnapshots();
    else this.renderHeader();
  }

  renderHeader() {
    const h = this.q.header;
    this.head(`Header (version ${h.version})`, [], 0, h.header_length || h.length);
    this.detail.append(this.fieldTable(0, h.header_length || h.length, 'Header fields'));
  }

  renderExtension(x) {
    const end = x.offset + 8 + Math.ceil(x.length / 8) * 8;
    this.head(EXTENSIONS[x.type] || `Unknown extension ${hex(x.type)}`, [], x.offset, end - x.offset);
    this.detail.append(this.props([['offset', this.offLink(x.offset, 4)], ['type', hex(x.type)], ['length', `${x.length} bytes`], ['name', x.name ? visible(x.name) : '—']]),
      this.fieldTable(x.offset, end, 'Fields'));
  }

  renderSnapshots() {
    const h = this.q.header;
    const snaps = this.q.snapshots || [];
    this.head('Snapshot table', [], h.nb_snapshots ? h.snapshots_offset : undefined, snaps.reduce((n, s) => n + s.length, 0));
    const tb = el('tbody');
    const more = pagedRows(tb, snaps, (s) => el('tr', {},
      el('td', {}, this.offLink(s.offset, s.length)), el('td', { class: 'mono' }, visible(s.id)), el('td', {}, visible(s.name)),
      el('td', {}, new Date(s.date_sec * 1000).toISOString()),
      el('td', {}, this.offLink(s.l1_table_offset, s.l1_size * 8)), el('td', { class: 'num' }, grouped(s.l1_size)),
      el('td', { class: 'num' }, humanSize(s.vm_state_size_large || s.vm_state_size))));
    this.detail.append(snaps.length ? el('div', { class: 'table-scroll' }, el('table', { class: 'grid', id: 'snapshot-structures' },
      el('thead', {}, el('tr', {}, ...['entry at', 'ID', 'name', 'taken', 'L1 table', 'L1 entries', 'VM state'].map((x) => el('th', { scope: 'col' }, x)))), tb))
      : el('p', { class: 'muted' }, 'No snapshots.'), more);
    if (snaps.length) this.detail.append(this.fieldTable(h.snapshots_offset, snaps.reduce((n, s) => Math.max(n, s.offset + s.length), 0), 'Fields'));
  }

  /** The L1 table, the refcount table (read from the file page by page), an L2 table or a refcount block (from the engine). */
  renderTable(kind, index = 0) {
    const q = this.q;
    const h = q.header;
    const total = {
      l1: h.l1_size,
      refcount: (h.refcount_table_clusters * q.cluster_size) / 8,
      l2: q.cluster_size / (q.extended_l2 ? 16 : 8),
      refblock: (q.cluster_size * 8) / q.refcount_bits,
    }[kind];
    const title = { l1: 'L1 table', refcount: 'Refcount table', l2: `L2 table ${index}`, refblock: `Refcount block ${index}` }[kind];
    const key = `${kind}-${index}`;
    const first = this.pages[key] || 0;
    const tableAt = kind === 'l1' ? h.l1_table_offset : kind === 'refcount' ? h.refcount_table_offset : null;
    this.head(title, [el('span', { class: 'badge' }, `${grouped(total)} entries`)], tableAt ?? undefined, tableAt ? total * 8 : undefined);
    const label = el('span', { class: 'muted' });
    const msg = el('span', { class: 'error-text', role: 'alert' });
    const body = el('tbody');
    const go = (f) => { this.pages[key] = Math.max(0, Math.min(f, Math.floor((total - 1) / PAGE) * PAGE)); this.render(this.current); };
    const nav = (t, f) => el('button', { class: 'button small', type: 'button', onclick: () => go(f) }, t);
    const heads = {
      l1: ['index', 'entry at', 'L2 table', 'copied', 'guest range', ''],
      refcount: ['index', 'entry at', 'refcount block', 'host clusters', ''],
      l2: ['index', 'entry at', 'kind', 'host offset', 'compressed', 'copied', 'guest offset'],
      refblock: ['index', 'host cluster', 'refcount'],
    }[kind];
    this.detail.append(
      el('div', { class: 'toolbar' }, nav('« First', 0), nav('‹ Previous', first - PAGE), nav('Next ›', first + PAGE), label, msg),
      el('div', { class: 'table-scroll' }, el('table', { class: 'grid', id: `${kind}-table`, 'data-index': String(index) },
        el('thead', {}, el('tr', {}, ...heads.map((x) => el('th', { scope: 'col' }, x)))), body)));
    const n = Math.max(0, Math.min(PAGE, total - first));
    label.textContent = n ? `entries ${grouped(first)}–${grouped(first + n - 1)} of ${grouped(total)}` : 'no entries';
    if (!n) return;
    this.fillTable(kind, index, first, n, body).catch((err) => { msg.textContent = err.message; });
  }

  async fillTable(kind, index, first, n, body) {
    const q = this.q;
    const h = q.header;
    const cs = q.cluster_size;
    const engine = this.opts.engine;
    const link = (label, fn) => el('button', { class: 'linklike', type: 'button', onclick: (e) => { e.stopPropagation(); fn(); } }, label);
    const rows = [];
    if (kind === 'l1' || kind === 'refcount') {
      const at = kind === 'l1' ? h.l1_table_offset : h.refcount_table_offset;
      const entries = await readEntries(engine, at + first * 8, n);
      entries.forEach((v, k) => {
        const i = first + k;
        const off = Number(v & (kind === 'l1' ? L1_MASK : REFTABLE_MASK));
        const per = kind === 'l1' ? cs / (q.extended_l2 ? 16 : 8) : (cs * 8) / q.refcount_bits;
        const span = per * cs;
        const open = off ? link(kind === 'l1' ? `open L2 table ${i}` : `open block ${i}`, () => this.opts.onSelect(`${kind === 'l1' ? 'l2' : 'refblock'}-${i}`)) : '';
        rows.push(kind === 'l1'
          ? [String(i), this.offLink(at + i * 8, 8), off ? this.offLink(off, cs, hex(off)) : 'unallocated', v >> 63n ? 'yes' : 'no',
            link(hex(i * span), () => this.opts.openDisk(i * span)), open]
          : [String(i), this.offLink(at + i * 8, 8), off ? this.offLink(off, cs, hex(off)) : 'unallocated', `${hex(i * span)}…`, open]);
      });
    } else if (kind === 'l2') {
      const p = await engine.l2(index, first, n);
      for (const x of p.l2 || []) {
        const guest = (index * p.entries + x.index) * cs;
        const stored = x.kind === 'normal' || x.kind === 'compressed' || x.kind === 'zero_allocated';
        // With an external data file the host offset is in that file, not this one.
        const host = q.data_file ? el('span', { class: 'mono', title: `in ${q.data_file}` }, `${hex(x.host_offset)} in ${q.data_file}`) : this.offLink(x.host_offset, x.compressed_length || cs, hex(x.host_offset));
        rows.push([String(x.index), this.offLink(x.offset, q.extended_l2 ? 16 : 8), el('span', { class: 'nowrap' }, stateSwatch(x.kind), stateLabel(x.kind)),
          stored ? host : '—',
          x.compressed_length ? `${grouped(x.compressed_length)} bytes` : '—', x.copied ? 'yes' : 'no',
          link(hex(guest), () => this.opts.openDisk(guest))]);
      }
      if (!p.offset) rows.push(['—', 'the L1 entry is unallocated: every cluster it covers is unallocated', '', '', '', '', '']);
    } else {
      const p = await engine.refcountBlock(index, first, n);
      (p.refcounts || []).forEach((r, k) => {
        const host = (index * p.entries + first + k) * cs;
        rows.push([String(first + k), this.offLink(host, cs, hex(host)), String(r)]);
      });
      if (!p.offset) rows.push(['—', 'the refcount table entry is unallocated', '']);
    }
    body.textContent = '';
    for (const r of rows) body.append(el('tr', {}, ...r.map((c) => el('td', {}, c))));
  }
}
