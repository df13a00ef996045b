// The Structures view: a list of the file's structures and, for the one
// selected, its fields with stored and computed values. Every offset links
// to the file hex view, which highlights the bytes.

import { el, hex, humanSize, grouped, stateLabel, bothSizes, visible } from './format.js';
import { stateSwatch } from './blockmap.js';

const BAT_PAGE = 256;
const BAT_STATE = ['not_present', 'undefined', 'zero', 'unmapped', 'invalid_4', 'invalid_5', 'fully_present', 'partially_present'];

export class StructuresView {
  /**
   * @param {{list: HTMLElement, detail: HTMLElement, engine, openFile(offset, length), openDisk(offset), onSelect(id)}} opts
   */
  constructor(opts) {
    this.opts = opts;
    this.list = opts.list;
    this.detail = opts.detail;
    this.current = null;
    this.batFirst = 0;
  }

  setImage(info, fieldsPromise) {
    this.info = info;
    this.s = info.structures || {};
    this.summary = info.summary || {};
    this.fields = null;
    this.fieldsPromise = fieldsPromise;
    fieldsPromise.then((f) => {
      this.fields = f;
      if (this.current) this.render(this.current);
    }, () => { this.fields = []; });
    this.batFirst = 0;
    this.batSelected = -1;
    this.items = this.itemList();
    this.renderList();
    this.current = null;
  }

  clear() {
    this.info = null;
    this.list.textContent = '';
    this.detail.textContent = '';
  }

  itemList() {
    const s = this.s;
    const cur = (this.summary.current_header || 0) - 1;
    const items = [{ id: 'identifier', label: 'File identifier', group: 'Header section' }];
    (s.headers || []).forEach((h, i) => items.push({
      id: `header-${i + 1}`, label: `Header ${i + 1}`, group: 'Header section',
      badge: !h ? 'missing' : i === cur ? 'current' : h.valid ? '' : 'invalid',
    }));
    (s.region_tables || []).forEach((t, i) => items.push({
      id: `region-${i + 1}`, label: `Region table ${i + 1}`, group: 'Header section',
      badge: !t ? 'missing' : t.valid ? '' : 'invalid',
    }));
    if (s.log) {
      const n = (s.log.entries || []).length;
      items.push({ id: 'log', label: 'Log', group: 'Regions', badge: s.log.replay_needed ? 'replayed' : n ? `${n}` : '' });
    }
    if (s.metadata) items.push({ id: 'metadata', label: 'Metadata', group: 'Regions' });
    if (s.metadata && s.metadata.parent_locator) items.push({ id: 'parent-locator', label: 'Parent locator', group: 'Regions', sub: true });
    if (s.bat) items.push({ id: 'bat', label: 'BAT', group: 'Regions', badge: grouped(s.bat.entry_count) });
    return items;
  }

  renderList() {
    this.list.textContent = '';
    let group = '';
    for (const it of this.items) {
      if (it.group !== group) {
        group = it.group;
        this.list.append(el('div', { class: 'group' }, group));
      }
      const badgeClass = it.badge === 'current' ? 'badge current' : it.badge === 'invalid' || it.badge === 'missing' ? 'badge bad' : 'badge';
      const b = el('button', { type: 'button', class: it.sub ? 'sub' : '', 'data-id': it.id },
        el('span', {}, it.label), it.badge ? el('span', { class: badgeClass }, it.badge) : null);
      b.addEventListener('click', () => this.opts.onSelect(it.id));
      this.list.append(b);
    }
  }

  /** Shows structure id ("header-1", "bat", …), or the first one. */
  select(id) {
    if (!this.info) return;
    if (!this.items.some((x) => x.id === id)) id = this.current && this.items.some((x) => x.id === this.current) ? this.current : 'identifier';
    this.current = id;
    for (const b of this.list.querySelectorAll('button')) b.setAttribute('aria-current', String(b.dataset.id === id));
    this.render(id);
  }

  render(id) {
    const d = this.detail;
    const keepScroll = d.dataset.id === id ? d.scrollTop : 0;
    d.textContent = '';
    d.dataset.id = id;
    const s = this.s;
    const m = /^(header|region)-(\d)$/.exec(id);
    if (id === 'identifier') this.renderIdentifier(s.identifier);
    else if (m && m[1] === 'header') this.renderHeader(s.headers[m[2] - 1], Number(m[2]));
    else if (m && m[1] === 'region') this.renderRegionTable(s.region_tables[m[2] - 1], Number(m[2]));
    else if (id === 'log') this.renderLog(s.log);
    else if (id === 'metadata') this.renderMetadata(s.metadata);
    else if (id === 'parent-locator') this.renderParentLocator(s.metadata.parent_locator);
    else if (id === 'bat') this.renderBAT(s.bat);
    d.scrollTop = keepScroll;
  }

  // ---- helpers ---------------------------------------------------------

  head(title, badges, offset, length) {
    const show = offset !== undefined && offset !== null
      ? el('button', { class: 'button small', type: 'button', onclick: () => this.opts.openFile(offset, length) }, `Show bytes ${hex(offset)}–${hex(offset + (length || 1) - 1)} inclusive`)
      : null;
    this.detail.append(el('div', { class: 'struct-head' }, el('h2', {}, title), ...badges.filter(Boolean), show));
  }

  offLink(offset, length, label) {
    if (offset === undefined || offset === null || offset < 0) return '—';
    return el('button', { class: 'linklike mono', type: 'button', title: 'Show in the file hex view', onclick: (e) => { e.stopPropagation(); this.opts.openFile(offset, length); } }, label || hex(offset));
  }

  props(rows) {
    const t = el('table', { class: 'grid props' }, el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'field'), el('th', { scope: 'col' }, 'value'))));
    const tb = el('tbody');
    for (const [k, v] of rows) {
      if (v === undefined) continue;
      tb.append(el('tr', {}, el('th', { scope: 'row' }, k), el('td', {}, v === null ? '—' : v)));
    }
    t.append(tb);
    return t;
  }

  /** The fields() entries inside [start, end), as a table (loaded lazily). */
  fieldTable(start, end, title = 'Fields in the file') {
    const box = el('div', { class: 'fields-box' }, el('h3', {}, title));
    if (!this.fields) {
      box.append(el('p', { class: 'muted' }, 'Loading fields…'));
      return box;
    }
    const list = this.fields.filter((f) => f.offset >= start && f.offset < end);
    if (!list.length) {
      box.append(el('p', { class: 'muted' }, 'No fields listed here.'));
      return box;
    }
    const tb = el('tbody');
    for (const f of list.slice(0, 2000)) {
      const tr = el('tr', { class: 'clickable', title: 'Highlight in the file hex view' },
        el('td', { class: 'mono' }, this.offLink(f.offset, f.length)),
        el('td', { class: 'num' }, String(f.length)),
        el('td', {}, f.structure),
        el('td', {}, f.field),
        el('td', { class: 'mono wide' }, String(f.value ?? '')));
      tr.addEventListener('click', () => this.opts.openFile(f.offset, f.length));
      tb.append(tr);
    }
    box.append(el('table', { class: 'grid fields-table reflow' },
      el('thead', {}, el('tr', {}, ...['offset', 'length', 'structure', 'field', 'value'].map((h) => el('th', { scope: 'col', class: h === 'length' ? 'num' : '' }, h)))), tb));
    if (list.length > 2000) box.append(el('p', { class: 'muted' }, `${grouped(list.length - 2000)} more fields not listed.`));
    return box;
  }

  checksum(stored, computed, compact = false) {
    const ok = stored === computed;
    if (compact) {
      return el('span', { class: `mono ${ok ? 'check-ok' : 'check-bad'}`, title: `stored ${hex(stored, 8)}, computed ${hex(computed, 8)}` },
        ok ? `✓ ${hex(stored, 8)}` : `✗ ${hex(stored, 8)} ≠ ${hex(computed, 8)}`);
    }
    return el('span', {}, el('span', { class: 'mono' }, `stored ${hex(stored, 8)} · computed ${hex(computed, 8)} `),
      el('span', { class: ok ? 'check-ok' : 'check-bad' }, ok ? '✓ match' : '✗ mismatch'));
  }

  validBadge(x) {
    if (!x) return el('span', { class: 'badge bad' }, 'missing');
    return x.valid ? el('span', { class: 'badge ok' }, 'valid') : el('span', { class: 'badge bad' }, 'invalid');
  }

  // ---- structures ------------------------------------------------------

  renderIdentifier(id) {
    if (!id) {
      this.head('File identifier', [el('span', { class: 'badge bad' }, 'unreadable')]);
      return;
    }
    this.head('File identifier', [], id.offset, id.length || 65536);
    this.detail.append(this.props([
      ['offset', this.offLink(id.offset, 8)],
      ['length', bothSizes(id.length || 65536)],
      ['signature', el('span', { class: 'mono' }, id.signature)],
      ['creator', id.creator ? visible(id.creator) : '—'],
    ]), this.fieldTable(id.offset, id.offset + (id.length || 65536)));
  }

  renderHeader(h, n) {
    const cur = this.summary.current_header === n;
    if (!h) {
      this.head(`Header ${n}`, [el('span', { class: 'badge bad' }, 'missing')]);
      return;
    }
    this.head(`Header ${n}`, [cur ? el('span', { class: 'badge current' }, 'current') : null, this.validBadge(h)], h.offset, h.length || 4096);
    if (cur && this.summary.current_header_reason) this.detail.append(el('p', { class: 'muted' }, `Current header: ${this.summary.current_header_reason}.`));
    if (h.problem) this.detail.append(el('p', { class: 'note err' }, h.problem));
    this.detail.append(this.props([
      ['offset', this.offLink(h.offset, h.length || 4096)],
      ['signature', el('span', { class: 'mono' }, h.signature)],
      ['checksum', this.checksum(h.checksum, h.computed_checksum)],
      ['sequence number', String(h.sequence_number)],
      ['file write GUID', el('span', { class: 'mono' }, h.file_write_guid)],
      ['data write GUID', el('span', { class: 'mono' }, h.data_write_guid)],
      ['log GUID', el('span', { class: 'mono' }, h.log_guid)],
      ['log version', String(h.log_version)],
      ['version', String(h.version)],
      ['log offset', el('span', {}, this.offLink(h.log_offset, h.log_length)), ],
      ['log length', bothSizes(h.log_length)],
    ]), this.compareCopies('header', this.s.headers, 4096), this.fieldTable(h.offset, h.offset + (h.length || 4096)));
  }

  /**
   * The two copies of a structure (headers, region tables) side by side:
   * every field of each, the rows that differ marked, and the ranges of
   * bytes that differ as links that highlight them in the file hex view.
   */
  compareCopies(kind, copies, length) {
    const box = el('section', { class: 'compare', id: `compare-${kind}`, 'aria-label': `The two ${kind} copies compared` },
      el('h3', {}, `${kind === 'header' ? 'Header 1 and header 2' : 'Region table 1 and region table 2'}, field by field`));
    if (!copies[0] || !copies[1] || !this.fields) {
      box.append(el('p', { class: 'muted' }, !this.fields ? 'Loading fields…' : 'One copy is missing: nothing to compare.'));
      return box;
    }
    const name = (i) => `${kind === 'header' ? 'header' : 'region table'} ${i + 1}`;
    const of = (i) => new Map(this.fields.filter((f) => f.structure === name(i)).map((f) => [f.field, f]));
    const a = of(0);
    const b = of(1);
    const tb = el('tbody');
    let differ = 0;
    for (const field of new Set([...a.keys(), ...b.keys()])) {
      const x = a.get(field);
      const y = b.get(field);
      const same = x && y && String(x.value) === String(y.value);
      if (!same) differ++;
      tb.append(el('tr', { class: same ? '' : 'differs', 'data-field': field },
        el('th', { scope: 'row' }, field),
        el('td', { class: 'mono' }, x ? this.offLink(x.offset, x.length, visible(String(x.value ?? ''))) : '—'),
        el('td', { class: 'mono' }, y ? this.offLink(y.offset, y.length, visible(String(y.value ?? ''))) : '—'),
        el('td', {}, same ? 'same' : el('strong', {}, 'differs'))));
    }
    box.append(el('p', {}, differ ? `${differ} ${differ === 1 ? 'field differs' : 'fields differ'}; ${kind === 'header' ? 'sequence numbers always do.' : 'a healthy file has two equal tables.'}` : 'Every field is the same.'),
      el('div', { class: 'table-scroll' }, el('table', { class: 'grid compare-table' },
        el('thead', {}, el('tr', {}, ...['field', name(0), name(1), ''].map((h) => el('th', { scope: 'col' }, h)))), tb)));
    const bytes = el('p', { class: 'compare-bytes muted' }, 'Comparing the bytes…');
    box.append(bytes);
    this.diffBytes(copies[0].offset, copies[1].offset, length, bytes);
    return box;
  }

  /** Fills target with the ranges of bytes that differ between two copies of length bytes. */
  async diffBytes(off1, off2, length, target) {
    try {
      const [x, y] = await Promise.all([this.opts.engine.readFile(off1, length, true), this.opts.engine.readFile(off2, length, true)]);
      const ranges = [];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        if (x[i] === y[i]) continue;
        const last = ranges[ranges.length - 1];
        if (last && i - last[1] <= 4) last[1] = i;
        else ranges.push([i, i]);
      }
      target.textContent = '';
      target.classList.remove('muted');
      if (!ranges.length) {
        target.append('The two copies are byte for byte the same.');
        return;
      }
      target.append(`${ranges.length} ${ranges.length === 1 ? 'run of bytes differs' : 'runs of bytes differ'} (show in the file hex view): `);
      for (const [i, j] of ranges.slice(0, 24)) {
        const n = j - i + 1;
        target.append(el('span', { class: 'diff-run' },
          `+${hex(i)} (${n} ${n === 1 ? 'byte' : 'bytes'}): `, this.offLink(off1 + i, n, 'copy 1'), ' · ', this.offLink(off2 + i, n, 'copy 2')), ' ');
      }
      if (ranges.length > 24) target.append(`and ${ranges.length - 24} more.`);
    } catch (err) {
      target.textContent = `The bytes could not be compared: ${err.message}`;
    }
  }

  renderRegionTable(t, n) {
    if (!t) {
      this.head(`Region table ${n}`, [el('span', { class: 'badge bad' }, 'missing')]);
      return;
    }
    const inUse = this.s.region_tables.findIndex((x) => x && x.valid) === n - 1;
    this.head(`Region table ${n}`, [inUse ? el('span', { class: 'badge current' }, 'in use') : null, this.validBadge(t)], t.offset, t.length || 65536);
    if (t.problem) this.detail.append(el('p', { class: 'note err' }, t.problem));
    this.detail.append(this.props([
      ['offset', this.offLink(t.offset, 16)],
      ['signature', el('span', { class: 'mono' }, t.signature)],
      ['checksum', this.checksum(t.checksum, t.computed_checksum)],
      ['entry count', String(t.entry_count)],
      ['reserved', String(t.reserved)],
    ]));
    const tb = el('tbody');
    for (const e of t.entries || []) {
      const tr = el('tr', { class: 'clickable', title: 'Highlight this entry' },
        el('td', {}, this.offLink(e.offset, 32)),
        el('td', {}, e.name),
        el('td', { class: 'mono' }, e.guid),
        el('td', {}, this.offLink(e.file_offset, e.length)),
        el('td', {}, bothSizes(e.length)),
        el('td', {}, e.required ? 'yes' : 'no'),
        el('td', { class: 'mono' }, hex(e.flags)));
      tr.addEventListener('click', () => this.opts.openFile(e.offset, 32));
      tb.append(tr);
    }
    this.detail.append(el('h3', {}, 'Entries'), el('div', { class: 'table-scroll' }, el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, ...['entry at', 'region', 'GUID', 'file offset', 'length', 'required', 'flags'].map((x) => el('th', { scope: 'col' }, x)))), tb)),
    this.compareCopies('region', this.s.region_tables, 65536),
    this.fieldTable(t.offset, t.offset + (t.length || 65536)));
  }

  renderLog(l) {
    const rep = this.summary.replay;
    this.head('Log', [
      l.replay_needed ? el('span', { class: 'badge warning' }, 'replayed in memory') : el('span', { class: 'badge ok' }, 'clean'),
    ], l.offset, l.length);
    if (l.problem) this.detail.append(el('p', { class: 'note err' }, l.problem));
    this.detail.append(this.props([
      ['offset', this.offLink(l.offset, l.length)],
      ['length', bothSizes(l.length)],
      ['log GUID', el('span', { class: 'mono' }, l.guid)],
      ['entries found', String((l.entries || []).length)],
      ['active sequence', (l.active || []).length ? `${l.active.length} entries (${l.active.join(', ')})` : 'none'],
      ['replay', l.replay_needed ? `from entry ${l.replay_from}: ${rep ? `${rep.entries} entries, ${rep.changes.length} writes replayed in memory` : 'replayed in memory'}` : 'not needed'],
    ]));
    if (rep && rep.changes && rep.changes.length) this.detail.append(el('h3', {}, 'What the replay changed'), replayTable(rep, (o, n) => this.offLink(o, n)));
    const tb = el('tbody');
    (l.entries || []).forEach((e, i) => {
      const status = !e.valid ? 'invalid' : e.replayed ? 'replayed' : e.active ? 'active, already in file' : 'stale';
      const cls = status === 'replayed' ? 'badge warning' : status === 'invalid' ? 'badge bad' : status === 'stale' ? 'badge' : 'badge ok';
      const tr = el('tr', { class: `clickable${e.active ? '' : ' stale'}`, title: 'Highlight this entry' },
        el('td', { class: 'num' }, String(i)),
        el('td', {}, el('span', { class: cls }, status)),
        el('td', { class: 'mono' }, e.sequence_number),
        el('td', {}, this.offLink(e.offset, e.entry_length)),
        el('td', { class: 'num' }, grouped(e.entry_length)),
        el('td', { class: 'mono' }, hex(e.tail)),
        el('td', {}, this.checksum(e.checksum, e.computed_checksum, true)),
        el('td', { class: 'num' }, String(e.descriptor_count)),
        el('td', { class: 'mono' }, hex(e.flushed_file_offset)),
        el('td', { class: 'mono' }, hex(e.last_file_offset)));
      tr.addEventListener('click', () => this.opts.openFile(e.offset, e.entry_length || 4096));
      tb.append(tr);
      if (e.problem) tb.append(el('tr', { class: 'descr' }, el('td'), el('td', { colspan: '9', class: 'muted' }, e.problem)));
      for (const dsc of e.descriptors || []) {
        const dr = el('tr', { class: 'descr clickable' },
          el('td'),
          el('td', { colspan: '2' }, `↳ ${dsc.signature === 'zero' ? 'zero descriptor' : 'data descriptor'}`),
          el('td', {}, this.offLink(dsc.offset, 32)),
          el('td', { colspan: '3' }, `target ${hex(dsc.target_offset)}, ${humanSize(dsc.length)}`),
          el('td', { colspan: '3' }, dsc.data_offset ? el('span', {}, 'data at ', this.offLink(dsc.data_offset, 4096)) : ''));
        dr.addEventListener('click', () => this.opts.openFile(dsc.offset, 32));
        tb.append(dr);
      }
    });
    this.detail.append(el('h3', {}, 'Entries'), el('div', { class: 'table-scroll' }, el('table', { class: 'grid log-entries' },
      el('thead', {}, el('tr', {}, ...['#', 'status', 'sequence', 'offset', 'length', 'tail', 'checksum', 'descr.', 'flushed', 'last'].map((x) => el('th', { scope: 'col' }, x)))), tb)));
    if (!(l.entries || []).length) this.detail.append(el('p', { class: 'muted' }, 'The log holds no entries.'));
  }

  renderMetadata(m) {
    this.head('Metadata', [m.problem ? el('span', { class: 'badge bad' }, 'problem') : null], m.offset, m.length);
    if (m.problem) this.detail.append(el('p', { class: 'note err' }, m.problem));
    this.detail.append(this.props([
      ['region offset', this.offLink(m.offset, 32)],
      ['region length', bothSizes(m.length)],
      ['signature', el('span', { class: 'mono' }, m.signature)],
      ['entry count', String(m.entry_count)],
      ['block size', m.block_size ? bothSizes(m.block_size) : '—'],
      ['virtual size', m.virtual_size ? bothSizes(m.virtual_size) : '—'],
      ['logical sector size', m.logical_sector_size ? `${m.logical_sector_size} bytes` : '—'],
      ['physical sector size', m.physical_sector_size ? `${m.physical_sector_size} bytes` : '—'],
      ['leave blocks allocated', m.leave_blocks_allocated ? 'yes' : 'no'],
      ['has parent', m.has_parent ? 'yes' : 'no'],
      ['page 83 data', el('span', { class: 'mono' }, m.page83_data || '—')],
    ]));
    const tb = el('tbody');
    for (const e of m.entries || []) {
      const flags = [e.is_user && 'user', e.is_virtual_disk && 'virtual disk', e.is_required && 'required'].filter(Boolean).join(', ') || '—';
      const tr = el('tr', { class: 'clickable', title: 'Highlight the item data' },
        el('td', {}, this.offLink(e.offset, 32)),
        el('td', {}, e.name),
        el('td', { class: 'mono' }, e.item_id),
        el('td', {}, this.offLink(e.file_offset, e.item_length)),
        el('td', { class: 'num' }, grouped(e.item_length)),
        el('td', {}, flags));
      tr.addEventListener('click', () => this.opts.openFile(e.file_offset, Math.max(1, e.item_length)));
      tb.append(tr);
    }
    this.detail.append(el('h3', {}, 'Items'), el('div', { class: 'table-scroll' }, el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, ...['entry at', 'item', 'item ID', 'data at', 'length', 'flags'].map((x) => el('th', { scope: 'col', class: x === 'length' ? 'num' : '' }, x)))), tb)),
    this.fieldTable(m.offset, m.offset + m.length));
  }

  renderParentLocator(p) {
    this.head('Parent locator', [], p.offset, 20 + 12 * (p.key_value_count || 0));
    this.detail.append(this.props([
      ['offset', this.offLink(p.offset, 20)],
      ['locator type', el('span', { class: 'mono' }, p.locator_type)],
      ['key/value count', String(p.key_value_count)],
    ]));
    const tb = el('tbody');
    for (const kvp of p.entries || []) {
      tb.append(el('tr', {},
        el('td', {}, this.offLink(kvp.offset, 12)),
        el('td', {}, this.offLink(kvp.key_offset, kvp.key_length, visible(kvp.key))),
        el('td', {}, this.offLink(kvp.value_offset, kvp.value_length, visible(kvp.value)))));
    }
    this.detail.append(el('h3', {}, 'Entries'), el('div', { class: 'table-scroll' }, el('table', { class: 'grid' },
      el('thead', {}, el('tr', {}, ...['entry at', 'key', 'value'].map((x) => el('th', { scope: 'col' }, x)))), tb)),
    this.fieldTable(p.offset, p.offset + 65536));
  }

  // ---- BAT -------------------------------------------------------------

  renderBAT(b) {
    this.head('Block allocation table (BAT)', [], b.offset, Math.min(b.length, b.entry_count * 8));
    this.detail.append(this.props([
      ['offset', this.offLink(b.offset, 8)],
      ['region length', bothSizes(b.length)],
      ['entries', grouped(b.entry_count)],
      ['payload blocks', grouped(b.payload_blocks)],
      ['chunk ratio', `${grouped(b.chunk_ratio)} payload blocks per sector bitmap entry`],
    ]));
    const idx = el('input', { type: 'text', id: 'bat-index', 'aria-label': 'BAT entry index', placeholder: 'entry index', size: '12' });
    const blk = el('input', { type: 'text', id: 'bat-block', 'aria-label': 'Payload block number', placeholder: 'block number', size: '12' });
    const jump = (n) => {
      if (!Number.isFinite(n) || n < 0 || n >= b.entry_count) {
        this.batMsg.textContent = `No entry ${n}: the BAT has ${grouped(b.entry_count)} entries.`;
        return;
      }
      this.batMsg.textContent = '';
      this.batSelected = n;
      this.batFirst = Math.floor(n / BAT_PAGE) * BAT_PAGE;
      this.loadBAT(b);
    };
    const f1 = el('form', { class: 'toolbar-form' }, idx, el('button', { class: 'button small', type: 'submit' }, 'Go to entry'));
    f1.addEventListener('submit', (e) => { e.preventDefault(); jump(Number(idx.value.trim().startsWith('0x') ? parseInt(idx.value, 16) : idx.value)); });
    const f2 = el('form', { class: 'toolbar-form' }, blk, el('button', { class: 'button small', type: 'submit' }, 'Go to block'));
    f2.addEventListener('submit', (e) => {
      e.preventDefault();
      const n = Number(blk.value.trim().startsWith('0x') ? parseInt(blk.value, 16) : blk.value);
      if (!Number.isInteger(n) || n < 0 || n >= b.payload_blocks) {
        this.batMsg.textContent = `No block ${blk.value}: the disk has ${grouped(b.payload_blocks)} payload blocks.`;
        return;
      }
      jump(n + Math.floor(n / b.chunk_ratio));
    });
    const nav = (label, fn, aria) => el('button', { class: 'button small', type: 'button', onclick: fn, 'aria-label': aria || label }, label);
    const lastFirst = Math.max(0, Math.floor((b.entry_count - 1) / BAT_PAGE) * BAT_PAGE);
    this.batPageLabel = el('span', { class: 'muted' });
    this.batMsg = el('span', { class: 'error-text', role: 'alert' });
    this.batBody = el('tbody');
    this.detail.append(
      el('h3', {}, 'Entries'),
      el('div', { class: 'toolbar' },
        nav('« First', () => { this.batFirst = 0; this.loadBAT(b); }, 'First page'),
        nav('‹ Previous', () => { this.batFirst = Math.max(0, this.batFirst - BAT_PAGE); this.loadBAT(b); }, 'Previous page'),
        nav('Next ›', () => { this.batFirst = Math.min(lastFirst, this.batFirst + BAT_PAGE); this.loadBAT(b); }, 'Next page'),
        nav('Last »', () => { this.batFirst = lastFirst; this.loadBAT(b); }, 'Last page'),
        this.batPageLabel, f1, f2, this.batMsg),
      el('div', { class: 'table-scroll' }, el('table', { class: 'grid bat-table' },
        el('thead', {}, el('tr', {}, ...['index', 'entry at', 'kind', 'state', 'file offset', 'raw', ''].map((x) => el('th', { scope: 'col' }, x)))),
        this.batBody)));
    this.loadBAT(b);
  }

  async loadBAT(b) {
    const first = this.batFirst;
    const n = Math.min(BAT_PAGE, b.entry_count - first);
    this.batPageLabel.textContent = `entries ${grouped(first)}–${grouped(first + n - 1)} of ${grouped(b.entry_count)}`;
    let bytes;
    try {
      bytes = await this.opts.engine.readFile(b.offset + first * 8, n * 8);
    } catch (err) {
      this.batMsg.textContent = `Reading the BAT failed: ${err.message}`;
      return;
    }
    if (first !== this.batFirst || !this.batBody.isConnected) return;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const period = b.chunk_ratio + 1;
    const frag = document.createDocumentFragment();
    let selRow = null;
    for (let k = 0; k < n && (k + 1) * 8 <= bytes.length; k++) {
      const i = first + k;
      const lo = dv.getUint32(k * 8, true);
      const hi = dv.getUint32(k * 8 + 4, true);
      const state = lo & 7;
      const fileOff = (hi * 2 ** 32 + (lo - (lo & 0xfffff)));
      const bitmap = i % period === b.chunk_ratio;
      const block = i - Math.floor(i / period);
      const kind = bitmap ? `sector bitmap, chunk ${grouped(Math.floor(i / period))}` : `block ${grouped(block)}`;
      const name = bitmap ? (state === 6 ? 'present' : state === 0 ? 'not_present' : `invalid_${state}`) : BAT_STATE[state];
      const present = state === 6 || state === 7;
      const entryAt = b.offset + i * 8;
      const raw = `${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
      const tr = el('tr', { class: `clickable${i === this.batSelected ? ' current' : ''}`, 'data-index': i, title: 'Highlight this entry' },
        el('td', { class: 'num' }, grouped(i)),
        el('td', {}, this.offLink(entryAt, 8)),
        el('td', {}, kind),
        el('td', {}, bitmap ? null : stateSwatch(name), stateLabel(name)),
        el('td', {}, present ? this.offLink(fileOff, bitmap ? 1 << 20 : 1, hex(fileOff)) : fileOff ? el('span', { class: 'muted' }, hex(fileOff)) : '—'),
        el('td', {}, `0x${raw}`),
        el('td', {}, !bitmap && block < b.payload_blocks
          ? el('button', { class: 'linklike', type: 'button', onclick: (e) => { e.stopPropagation(); this.opts.openDisk(block * this.summary.block_size); } }, 'disk data')
          : ''));
      tr.addEventListener('click', () => {
        this.batSelected = i;
        this.opts.openFile(entryAt, 8);
      });
      if (i === this.batSelected) selRow = tr;
      frag.append(tr);
    }
    this.batBody.textContent = '';
    this.batBody.append(frag);
    if (selRow) selRow.scrollIntoView({ block: 'center' });
  }
}

/** The writes of a log replay; link(offset, length) makes an offset into a link. */
export function replayTable(rep, link) {
  const tb = el('tbody');
  for (const c of rep.changes || []) {
    tb.append(el('tr', {},
      el('td', { class: 'mono' }, c.sequence),
      el('td', {}, link(c.offset, c.length)),
      el('td', {}, humanSize(c.length)),
      el('td', {}, c.structure),
      el('td', {}, c.zero ? 'zeroes' : 'data')));
  }
  return el('div', { class: 'table-scroll' }, el('table', { class: 'grid replay' },
    el('thead', {}, el('tr', {}, ...['sequence', 'file offset', 'length', 'structure', 'write'].map((x) => el('th', { scope: 'col' }, x)))), tb));
}
