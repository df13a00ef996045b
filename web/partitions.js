// The partitions of the virtual disk in the core page (engine.partitions()):
// a card for the overview, and the table's fields for the disk hex view.

import { el, hex, humanSize, grouped } from './format.js';

/** The overview card listing the partitions and their filesystems. */
export function partitionsCard(parts, { blockSize = 0, link }) {
  const scheme = { mbr: 'MBR', gpt: 'GPT', none: 'no partition table' }[parts.scheme] || parts.scheme;
  const head = ['#', 'start', 'size', 'type', 'filesystem', 'label', 'UUID / serial', 'used'];
  if (blockSize) head.splice(3, 0, 'blocks');
  const table = el('table', { class: 'grid', id: 'overview-partitions' },
    el('thead', {}, el('tr', {}, head.map((h) => el('th', { class: ['size', 'used'].includes(h) ? 'num' : undefined }, h)))));
  const tbody = el('tbody');
  for (const p of parts.partitions) {
    const fs = p.filesystem;
    const type = `${p.type_name || p.type || (p.number === 0 ? 'whole disk' : '')}${p.name ? ` “${p.name}”` : ''}${p.extended ? ' (container)' : ''}`;
    const used = fs && fs.used >= 0 ? `${humanSize(fs.used)}${fs.size ? ` (${Math.round((100 * fs.used) / fs.size)}%)` : ''}` : '—';
    const row = [
      String(p.number),
      link(`#disk:${hex(p.start)}`, hex(p.start)),
      el('span', { title: `${grouped(p.length)} bytes` }, humanSize(p.length)),
      type,
      fs ? `${fs.type}${fs.version ? ` ${fs.version}` : ''}` : p.filesystem_error ? el('span', { class: 'error-text', title: p.filesystem_error }, 'unreadable') : p.extended ? '' : 'not recognised',
      fs ? fs.label || '—' : '',
      fs ? el('span', { class: 'mono' }, fs.uuid || '—') : '',
      used,
    ];
    if (blockSize) row.splice(3, 0, `${grouped(Math.floor(p.start / blockSize))}–${grouped(Math.floor((p.start + p.length - 1) / blockSize))}`);
    tbody.append(el('tr', { 'data-partition': String(p.number) }, row.map((v, i) => el('td', { class: ['size', 'used'].includes(head[i]) ? 'num' : undefined }, v))));
  }
  table.append(tbody);
  const findings = (parts.findings || []).map((f) => el('li', { class: `sev-${f.severity}` }, `${f.severity}: ${f.structure}${f.offset >= 0 ? ` at ${hex(f.offset)}` : ''}: ${f.message}`));
  return el('section', { class: 'card', id: 'overview-parts', 'aria-labelledby': 'parts-title' },
    el('h2', { id: 'parts-title' }, 'Partitions and filesystems'),
    el('p', { class: 'muted' }, `${scheme}, ${parts.sector_size}-byte sectors. `, link('#files', 'Browse the files'), '.'),
    parts.partitions.length ? el('div', { class: 'table-scroll' }, table) : el('p', {}, 'No partitions, and no filesystem at offset 0.'),
    findings.length ? el('ul', { class: 'parts-findings' }, findings) : null);
}

const BAND_COLOURS = ['#e8750c', '#1f9e89', '#c0399b', '#6f42c1', '#2e7d32', '#b08800', '#0969da', '#8c564b'];

/** The partitions as block map bands (BlockMap.setBands): which blocks hold each. */
export function partitionBands(parts, blockSize) {
  if (!parts || !blockSize) return [];
  return parts.partitions.filter((p) => p.length > 0 && !p.extended).map((p, i) => ({
    first: Math.floor(p.start / blockSize),
    last: Math.floor((p.start + p.length - 1) / blockSize),
    label: `${p.number === 0 ? 'whole disk' : `partition ${p.number}`}${p.filesystem ? ` (${p.filesystem.type})` : ''}`,
    color: BAND_COLOURS[i % BAND_COLOURS.length],
  }));
}

/**
 * A lookup of the partition table's fields by disk offset: at(off) is the
 * smallest field holding it, or null.
 */
export function fieldIndex(fields) {
  const f = fields.slice().sort((a, b) => a.offset - b.offset);
  return {
    at(off) {
      let best = null;
      for (const x of f) {
        if (x.offset > off) break;
        if (off < x.offset + x.length && (!best || x.length <= best.length)) best = x;
      }
      return best;
    },
  };
}
