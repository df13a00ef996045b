// The Overview and Validation views.

import { el, hex, bothSizes, humanSize, grouped, stateLabel, visible } from './format.js';
import { STATES, stateSwatch, layerSwatch } from './blockmap.js';
import { normGuid, listNames } from './chain.js';
import { replayTable } from './structures.js';

const SEVERITY_ORDER = { error: 0, warning: 1, info: 2 };

/** A card: a titled section of the Overview. */
export function card(title, ...body) {
  return el('section', { class: 'card', 'aria-label': typeof title === 'string' ? title : undefined },
    el('h2', {}, title), ...body);
}

/** A key–value list of [label, value, data-field] rows; undefined values are left out. */
export function kv(rows, id) {
  const dl = el('dl', { class: 'kv', id });
  for (const [k, v, key] of rows) {
    if (v === undefined) continue;
    dl.append(el('dt', {}, k), el('dd', { 'data-field': key || undefined }, v === null || v === '' ? '—' : v));
  }
  return dl;
}

function yesNo(b) { return b ? 'yes' : 'no'; }

/**
 * What is damaged among the two headers and the two region tables, and
 * which copies are in use: {text (short, for the page header), note (for
 * the overview), diskAffected}, or null when all four are intact.
 */
export function damageOf(info) {
  const st = info.structures || {};
  const s = info.summary || {};
  const broken = [];
  (st.headers || []).forEach((h, i) => { if (!h || !h.valid) broken.push(`header ${i + 1}`); });
  (st.region_tables || []).forEach((t, i) => { if (!t || !t.valid) broken.push(`region table ${i + 1}`); });
  if (!broken.length) return null;
  const inUse = [];
  if (s.current_header) inUse.push(`header ${s.current_header}`);
  const rt = (st.region_tables || []).findIndex((t) => t && t.valid);
  if (rt >= 0) inUse.push(`region table ${rt + 1}`);
  const diskAffected = !!s.disk_error || !s.current_header || rt < 0;
  const list = listNames(broken);
  const damaged = `${list[0].toUpperCase()}${list.slice(1)} ${broken.length === 1 ? 'is' : 'are'} damaged`;
  return {
    text: `${damaged}${inUse.length ? ` · using ${listNames(inUse)}` : ''}`,
    note: diskAffected
      ? `${damaged}, and no intact copy is left: the virtual disk cannot be read.`
      : `${damaged}. The intact ${inUse.length === 1 ? 'copy' : 'copies'} (${listNames(inUse)}) ${inUse.length === 1 ? 'is' : 'are'} in use, so the virtual disk is not affected.`,
    diskAffected,
  };
}

/** A file picker button (several files at once) calling onFiles. */
function pickButton(label, id, onFiles, primary = false) {
  const input = el('input', { type: 'file', multiple: true, accept: '.vhdx,.avhdx,application/octet-stream', 'aria-label': label, id });
  input.addEventListener('change', () => {
    const files = Array.from(input.files || []);
    input.value = '';
    if (files.length) onFiles(files);
  });
  return el('label', { class: `button${primary ? ' primary' : ''}` }, label, input);
}

/** What to do about a chain that cannot be read: the missing or wrong parent, said plainly. */
function chainProblem(ctx) {
  const { chain, info } = ctx;
  const given = (ctx.files || []).map((f) => f.name);
  const top = info.name;
  const box = el('div', { class: 'note err chain-problem', id: 'chain-problem', role: 'alert', 'data-kind': chain.kind });
  if (chain.kind === 'missing') {
    const via = chain.child !== top ? `${top} reads through ${chain.child}, and ${chain.child}` : top;
    box.append(
      el('p', { class: 'chain-headline' }, el('strong', {}, `The parent disk ${chain.parent} is missing.`)),
      el('p', {}, `${via} is a differencing disk (a checkpoint): it holds only the sectors written since the checkpoint was taken, and reads every other sector from its parent, `,
        el('code', {}, chain.parent), '.'),
      el('p', { id: 'chain-instruction' }, el('strong', {}, `Drop ${chain.parent} together with ${listNames(given.length ? given : [top])}`),
        ` — or drop ${chain.parent} now: it is added to ${listNames(given.length ? given : [top])}.`),
      el('p', { class: 'toolbar' }, pickButton(`Add ${chain.parent}…`, 'add-parent-input', ctx.addFiles, true)),
      el('p', { class: 'muted' }, `Meanwhile the structures, the block map, the file bytes and the validation of ${top} work as usual; the virtual disk bytes and the exports need the parent.`));
  } else {
    box.append(
      el('p', { class: 'chain-headline' }, el('strong', {}, chain.kind === 'mismatch' ? `${chain.parent} is not the parent ${chain.child} was made from.` : 'The parent chain cannot be followed.')),
      el('p', {}, chain.reason),
      el('p', {}, 'Drop the right parent file (it replaces the one given), or drop the whole chain again.'),
      el('p', { class: 'toolbar' }, pickButton('Add a parent…', 'add-parent-input', ctx.addFiles, true)));
  }
  return box;
}

/** The Chain card: one row per layer, the image shown first, down to the base. */
function chainCard(ctx) {
  const { chain, info } = ctx;
  const layers = chain.layers;
  const tb = el('tbody');
  layers.forEach((l, i) => {
    const parent = layers[i + 1];
    let link = '—';
    if (l.parent_linkage) {
      if (parent && parent.data_write_guid) {
        const ok = normGuid(parent.data_write_guid) === normGuid(l.parent_linkage);
        link = el('span', { class: ok ? 'check-ok' : 'check-bad', title: ok ? `equals the DataWriteGuid of ${parent.name}` : `differs from the DataWriteGuid of ${parent.name}` }, ok ? '✓ matches' : '✗ differs');
      } else if (parent && parent.missing) {
        link = el('span', { class: 'muted', title: `${parent.name} was not given: the link cannot be checked` }, 'unchecked');
      }
    }
    const guid = l.missing ? (l.expected_guid ? el('span', { class: 'muted', title: 'The DataWriteGuid its child expects' }, `expected ${normGuid(l.expected_guid)}`) : '—') : l.data_write_guid ? normGuid(l.data_write_guid) : '—';
    const cls = [l.missing ? 'missing' : '', l.partial ? 'partial' : '', i === 0 ? 'current' : ''].filter(Boolean).join(' ');
    tb.append(el('tr', { 'data-layer': l.missing ? 'missing' : String(i), class: cls || undefined },
      el('td', { class: 'num' }, l.missing ? '—' : l.partial ? '…' : String(i)),
      el('td', { class: 'layer-file' }, l.missing ? layerSwatch(-1) : layerSwatch(i), el('span', { class: 'mono' }, l.name),
        i === 0 ? el('span', { class: 'badge current' }, 'shown') : null,
        l.missing ? el('span', { class: 'badge bad' }, chain.kind === 'missing' ? 'not given' : 'does not match') : null),
      el('td', {}, l.missing ? '—' : l.disk_type || '—'),
      el('td', { class: 'num' }, l.block_size ? humanSize(l.block_size) : '—'),
      el('td', { class: 'mono guid' }, guid),
      el('td', { class: 'mono guid' }, l.parent_linkage ? normGuid(l.parent_linkage) : '—'),
      el('td', {}, link)));
  });
  const card = el('section', { class: 'card chain-card', id: 'overview-chain', 'aria-labelledby': 'chain-title', 'data-complete': String(chain.complete) },
    el('h2', { id: 'chain-title' }, 'Differencing chain', chain.complete ? el('span', { class: 'badge ok' }, `${layers.length} layers, complete`) : el('span', { class: 'badge bad' }, chain.kind === 'missing' ? 'parent missing' : 'broken')));
  if (!chain.complete) card.append(chainProblem(ctx));
  card.append(
    el('p', { class: 'muted' }, 'Layer 0 is the image shown; each differencing disk reads the sectors it does not store from the layer below it, down to the base. A child names its parent by the parent’s DataWriteGuid (its ', el('code', {}, 'parent_linkage'), ').'),
    el('div', { class: 'table-scroll' }, el('table', { class: 'grid', id: 'chain-table' },
      el('thead', {}, el('tr', {}, ...['layer', 'file', 'type', 'block size', 'DataWriteGuid', 'parent_linkage (expects)', 'link'].map((h, i) => el('th', { scope: 'col', class: i === 0 || i === 3 ? 'num' : undefined }, h)))),
      tb)));
  const others = chain.complete ? info.others || [] : [];
  if (others.length) {
    card.append(el('p', { class: 'muted', id: 'chain-others' }, `Also given, not part of this chain: ${listNames(others)}.`));
  } else if (!chain.complete && ctx.files && ctx.files.length > 1) {
    card.append(el('p', { class: 'muted', id: 'chain-given' }, `Files given so far: ${listNames(ctx.files.map((f) => f.name))}.`));
  }
  return card;
}

/**
 * @param {HTMLElement} root
 * @param {{info, file, chain, files, counting, checking, check, checkError, validate(), link(hash) → Node, addFiles(files)}} ctx
 */
export function renderOverview(root, ctx) {
  const { info, file, check } = ctx;
  const s = info.summary || {};
  root.textContent = '';
  const top = el('div', { class: 'toolbar' });
  if (info.cached) top.append(el('span', { class: 'badge cached', id: 'cached-badge', title: 'The summary was read from this browser’s IndexedDB cache' }, 'summary from cache'));
  if (top.childNodes.length) root.append(top);
  if (info.error) root.append(el('p', { class: 'note err', role: 'alert' }, el('strong', {}, 'This file is damaged: '), info.error, ' What could still be read is shown below.'));
  const damage = info.error ? null : damageOf(info);
  if (damage) {
    root.append(el('p', { class: `note ${damage.diskAffected ? 'err' : 'warn'}`, id: 'overview-damage', role: 'status' },
      damage.note, ' ', ctx.link(`#structures:${/region/.test(damage.text) && !/header/.test(damage.text) ? 'region-1' : 'header-1'}`, 'Compare the copies')));
  }
  // A differencing disk's own summary says it cannot be read alone: the chain card says how it reads.
  if (s.disk_error && s.disk_error !== info.error && !ctx.chain) root.append(el('p', { class: 'note warn' }, el('strong', {}, 'The virtual disk cannot be read: '), s.disk_error));
  if (ctx.chain) root.append(chainCard(ctx));
  else if (info.others && info.others.length) root.append(el('p', { class: 'muted', id: 'chain-others' }, `Also given, not used: ${listNames(info.others)}.`));

  const known = !!s.block_size; // metadata was readable
  const counting = ctx.counting ? el('p', { id: 'blocks-counting' }, countingNote(ctx.counting)) : null;
  const allocPct = s.virtual_size ? ` · ${((100 * (s.allocated_size || 0)) / s.virtual_size).toFixed(s.allocated_size && s.allocated_size / s.virtual_size < 0.01 ? 2 : 1)}% of the virtual size` : '';
  const disk = card('Disk',
    kv([
      ['File', file ? file.name : '—', 'name'],
      ['Creator', s.creator ? visible(s.creator) : '—', 'creator'],
      ['Disk type', s.disk_type || '—', 'disk_type'],
      ['Virtual size', known ? bothSizes(s.virtual_size) : '—', 'virtual_size'],
      ['File size', s.file_size !== undefined ? bothSizes(s.file_size) : '—', 'file_size'],
      ['Allocated size', known && s.block_states ? `${bothSizes(s.allocated_size)}${allocPct}` : counting ? countingNote(ctx.counting) : '—', 'allocated_size'],
      ['Block size', s.block_size ? bothSizes(s.block_size) : '—', 'block_size'],
      ['Sector sizes', s.logical_sector_size ? `${s.logical_sector_size} bytes logical, ${s.physical_sector_size} bytes physical` : '—', 'sector_sizes'],
      ['Payload blocks', known && s.payload_blocks ? grouped(s.payload_blocks) : '—', 'payload_blocks'],
      ['BAT entries', known && s.bat_entries ? `${grouped(s.bat_entries)} (chunk ratio ${grouped(s.chunk_ratio)})` : '—', 'bat_entries'],
      ['Sector bitmaps present', s.sector_bitmaps_present ? grouped(s.sector_bitmaps_present) : undefined],
      ['Page 83 data', el('span', { class: 'mono' }, s.page83_data || '—'), 'page83_data'],
      ['Leave blocks allocated', yesNo(s.leave_blocks_allocated), 'leave_blocks_allocated'],
      ['Has parent', yesNo(s.has_parent), 'has_parent'],
    ], 'overview-disk'));
  if (s.parent_locator && s.parent_locator.length) {
    disk.append(el('h3', {}, 'Parent locator'), kv(s.parent_locator.map((p) => [visible(p.key), el('span', { class: 'mono' }, visible(p.value))])));
  }

  // Headers and log
  const seq = s.header_sequence_numbers || [];
  const rep = s.replay;
  const logState = s.log_replay_needed
    ? el('span', { 'data-log-state': 'replayed' }, el('span', { class: 'badge warning' }, 'replayed in memory'),
      ` ${rep ? `${rep.entries} log ${rep.entries === 1 ? 'entry was' : 'entries were'} replayed in memory. The file itself is unchanged.` : 'The log was replayed in memory.'}`)
    : el('span', { 'data-log-state': 'clean' }, el('span', { class: 'badge ok' }, 'clean'), ' nothing to replay');
  const hdr = card('Headers and log',
    kv([
      ['Current header', s.current_header ? `header ${s.current_header}${seq.length ? ` (sequence ${seq[s.current_header - 1]})` : ''}` : '—', 'current_header'],
      ['Why', s.current_header_reason || '—'],
      ['Sequence numbers', seq.length ? `header 1: ${seq[0]}, header 2: ${seq[1]}` : '—', 'header_sequence_numbers'],
      ['Log state', logState, 'log_state'],
      ['Active log entries', String(s.log_entries_in_active_sequence ?? 0), 'log_entries'],
      ['File size before / after replay', rep && rep.file_size_before !== rep.file_size_after ? `${bothSizes(rep.file_size_before)} → ${bothSizes(rep.file_size_after)}` : undefined],
    ]));
  if (rep && rep.changes && rep.changes.length) {
    hdr.append(el('h3', {}, 'What the replay changed'),
      replayTable(rep, (o, n) => el('a', { href: `#hex-file:${hex(o)}+${hex(n)}`, class: 'mono', title: 'Show in the file hex view' }, hex(o))));
  }

  // Block states
  const after = s.block_states || {};
  const onDisk = s.block_states_on_disk || after;
  const differs = JSON.stringify(after) !== JSON.stringify(onDisk);
  const tb = el('tbody');
  for (const st of STATES) {
    if (st.key === 'invalid') continue;
    const n = Number(after[st.key] || 0);
    const d = Number(onDisk[st.key] || 0);
    tb.append(el('tr', { 'data-state': st.key, class: n || d ? '' : 'stale' },
      el('td', {}, stateSwatch(st.key), stateLabel(st.key)),
      el('td', { class: 'num' }, s.block_states ? grouped(n) : '…'),
      differs ? el('td', { class: 'num' }, grouped(d)) : null));
  }
  const blocks = card('Blocks',
    counting,
    el('table', { class: 'grid', id: 'overview-blocks' },
      el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'state'), el('th', { scope: 'col', class: 'num' }, differs ? 'after replay' : 'blocks'), differs ? el('th', { scope: 'col', class: 'num' }, 'on disk') : null)),
      tb),
    el('p', {}, ctx.link('#blocks', 'Open the block map')));

  // Validation summary
  const val = card('Validation', validationSummary(ctx));
  root.append(el('div', { class: 'cards' }, disk, hdr, blocks, val));
}

/** The Validation card of the Overview: progress, or the counts and the worst findings. */
export function validationSummary(ctx) {
  const { check, checkError } = ctx;
  const box = el('div', { id: 'overview-validation' });
  if (ctx.checking) {
    box.append(checkProgress(ctx.checking));
    return box;
  }
  if (checkError) {
    box.append(checkFailed(checkError, ctx.validate));
    return box;
  }
  if (!check) {
    box.append(el('p', { class: 'muted' }, 'Validation starts once the blocks are counted.'));
    return box;
  }
  const counts = countSeverities(check.findings);
  box.dataset.errors = counts.error;
  box.dataset.warnings = counts.warning;
  box.append(el('p', {},
    el('span', { class: counts.error ? 'badge error' : 'badge ok' }, `${counts.error} ${counts.error === 1 ? 'error' : 'errors'}`), ' ',
    el('span', { class: counts.warning ? 'badge warning' : 'badge ok' }, `${counts.warning} ${counts.warning === 1 ? 'warning' : 'warnings'}`), ' ',
    el('span', { class: 'badge' }, `${counts.info} info`),
    check.cached ? el('span', { class: 'muted' }, ' · from cache') : null));
  const worst = sortFindings(check.findings).slice(0, 5);
  if (!worst.length) box.append(el('p', {}, 'No findings: the file follows the specification.'));
  else {
    const ul = el('ul', {});
    for (const f of worst) ul.append(el('li', {}, el('span', { class: `badge ${f.severity}` }, f.severity), ' ', el('code', {}, f.code), ` ${f.message}`));
    box.append(ul);
  }
  box.append(el('p', {}, ctx.link('#validation', 'All findings')));
  return box;
}

/** Findings worst first, then by file offset (those without one last). */
export function sortFindings(findings) {
  const off = (f) => (f.offset >= 0 ? f.offset : Infinity);
  return findings.slice().sort((a, b) => SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || off(a) - off(b));
}

/** "Reading the block allocation table: 37% (190 MiB of 512 MiB)". */
function countingNote(c) {
  const pct = Math.floor((100 * c.done) / (c.total || 1));
  return el('span', { class: 'counting', 'data-progress': String(pct) },
    `counting: reading the block allocation table, ${pct}%${c.total > 1 ? ` (${humanSize(c.done)} of ${humanSize(c.total)})` : ''}…`);
}

/** A validation under way: a progress bar and a Cancel button. */
function checkProgress(c) {
  const pct = Math.floor((100 * c.done) / (c.total || 1));
  const cancel = el('button', { class: 'button small check-cancel', type: 'button' }, 'Cancel');
  cancel.addEventListener('click', () => c.cancel());
  return el('div', { class: 'check-progress toolbar', role: 'status' },
    el('span', {}, 'Validating every structure…'),
    el('progress', { max: '100', value: String(pct), 'aria-label': 'Validation progress' }),
    el('span', { class: 'pct' }, `${pct}%`), cancel);
}

/** A validation that failed or was cancelled, with a button to run it again. */
function checkFailed(message, validate) {
  const again = el('button', { class: 'button small check-again', type: 'button' }, 'Validate again');
  again.addEventListener('click', () => validate());
  const text = message === 'cancelled' ? 'Validation was cancelled.' : `Validation failed: ${message}`;
  return el('p', { class: message === 'cancelled' ? 'note warn check-failed' : 'note err check-failed', role: 'alert' }, text, ' ', again);
}

export function countSeverities(findings) {
  const c = { error: 0, warning: 0, info: 0 };
  for (const f of findings || []) c[f.severity] = (c[f.severity] || 0) + 1;
  return c;
}

/**
 * @param {HTMLElement} root
 * @param {{check, checkError, checking, filters: Set, validate()}} ctx
 */
export function renderValidation(root, ctx) {
  root.textContent = '';
  const { check, checkError } = ctx;
  root.append(el('h2', {}, 'Validation'));
  if (ctx.checking) {
    root.append(checkProgress(ctx.checking));
    return;
  }
  if (checkError) {
    root.append(checkFailed(checkError, ctx.validate));
    return;
  }
  if (!check) {
    root.append(el('p', { class: 'muted' }, 'Validation starts once the blocks are counted.'));
    return;
  }
  const counts = countSeverities(check.findings);
  const filters = ctx.filters;
  const body = el('tbody');
  const fill = () => {
    body.textContent = '';
    let shown = 0;
    for (const f of sortFindings(check.findings)) {
      if (!filters.has(f.severity)) continue;
      shown++;
      body.append(el('tr', { 'data-code': f.code, 'data-severity': f.severity },
        el('td', { class: 'sev' }, el('span', { class: `badge ${f.severity}` }, f.severity)),
        el('td', { class: 'code' }, f.code),
        el('td', {}, f.structure),
        el('td', { class: 'wide' }, f.message),
        el('td', { class: 'mono' }, f.offset >= 0
          ? el('a', { href: `#hex-file:${hex(f.offset)}`, title: 'Open the file hex view here', 'aria-label': `Show offset ${hex(f.offset)} in the file hex view` }, hex(f.offset))
          : '—')));
    }
    if (!shown) body.append(el('tr', {}, el('td', { colspan: '5', class: 'muted' }, check.findings.length ? 'No findings match the filter.' : 'No findings: the file follows the specification.')));
  };
  const box = (sev) => {
    const cb = el('input', { type: 'checkbox', checked: filters.has(sev) });
    cb.addEventListener('change', () => {
      if (cb.checked) filters.add(sev);
      else filters.delete(sev);
      fill();
    });
    return el('label', {}, cb, el('span', { class: `badge ${sev}` }, sev), ` ${counts[sev] || 0}`);
  };
  root.append(el('div', { class: 'filters toolbar', role: 'group', 'aria-label': 'Show severities' },
    el('span', {}, `${check.findings.length} ${check.findings.length === 1 ? 'finding' : 'findings'}${check.cached ? ' (from cache)' : ''}:`),
    box('error'), box('warning'), box('info')));
  root.append(el('table', { class: 'grid findings reflow', id: 'findings' },
    el('thead', {}, el('tr', {}, ...['severity', 'code', 'structure', 'message', 'offset'].map((h) => el('th', { scope: 'col' }, h)))),
    body));
  fill();
}

