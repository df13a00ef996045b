// VHDX Inspector: the page. Opens a dropped or picked .vhdx through the
// engine worker and wires the views, the URL fragment and the keyboard.

import { Engine } from './engine.js';
import { HexView } from './hexview.js';
import { BlockMap, SCHEMES, hasData, layerVar, layerSwatch } from './blockmap.js';
import { chainModel, joinsChain, listNames } from './chain.js';
import { StructuresView } from './structures.js';
import { ExportView } from './export.js';
import { FilesView } from './files.js';
import { partitionsCard, fieldIndex, partitionBands } from './partitions.js';
import { renderOverview, renderValidation, countSeverities, damageOf } from './views.js';
import { renderImageOverview, Qcow2Structures, qcow2Region } from './qcow2.js';
import { el, hex, humanSize, bothSizes, duration, parseLocation, parseNumber, grouped, stateLabel } from './format.js';

const $ = (id) => document.getElementById(id);
const body = document.body;

const VIEWS = ['overview', 'structures', 'blocks', 'hex-file', 'disk', 'validation', 'export', 'files'];
const ALIASES = { hex: 'hex-file', file: 'hex-file', 'file-hex': 'hex-file', 'disk-hex': 'disk', 'hex-disk': 'disk', map: 'blocks', 'block-map': 'blocks', findings: 'validation', check: 'validation' };
const VIEW_KEYS = { o: 'overview', s: 'structures', b: 'blocks', f: 'hex-file', d: 'disk', v: 'validation', e: 'export', i: 'files' };
VIEWS.forEach((v, i) => { VIEW_KEYS[String(i + 1)] = v; });

const EMPTY_TITLE = 'Drop a .vhdx, .qcow2 or raw disk image anywhere on this page';
// sessionStorage key of the names of the files last opened in this tab.
const LAST_FILES = 'vhdx-inspector-last-files';

const engine = new Engine('./worker.js');
const state = {
  gen: 0,
  info: null,
  file: null,
  files: new Map(), // every file given for the image shown, by lower-case name
  chain: null, // chainModel(info) for a differencing disk
  check: null,
  checkError: null,
  checking: null, // {done, total, cancel()} while a validation runs
  counting: null, // {done, total} while the BAT is read for the block counts
  fields: null,
  fieldsEnd: null,
  parts: null, // engine.partitions() of the disk shown, with .index (fieldIndex)
  partsPromise: null, // the same while it is read
  view: 'overview',
  filters: new Set(['error', 'warning', 'info']),
  blockInfo: new Map(),
  lastHash: null,
};
// Which layer supplies each sector of the disk (sectorOwner), by LBA; an
// entry is {pending: true} while the engine is asked.
const owners = new Map();
const MAX_OWNERS = 8192;
const MAX_OWNER_CALLS = 4;
let ownerCalls = 0;
const inspector = { state, engine }; // for tests and the console
window.vhdxInspector = inspector;

// ---- status and progress ---------------------------------------------------

let progressTimer = 0;
engine.addEventListener('busy', (e) => {
  clearTimeout(progressTimer);
  if (e.detail > 0) progressTimer = setTimeout(() => { $('progress').hidden = false; }, 150);
  else $('progress').hidden = true;
});
engine.addEventListener('fatal', (e) => {
  const { message, wasReady } = e.detail;
  resetImage();
  if (!wasReady) {
    // It never started (say, vhdx.wasm.gz is missing): restarting would not help.
    showError('The engine could not be loaded', `${message}. Reload the page to try again.`);
    return;
  }
  showError('The engine stopped', `${message}. It has been restarted: open the file again.`);
  setTimeout(() => { engine.restart(); watchEngine(); }, 0);
});

function watchEngine() {
  engine.ready.then(
    () => { $('engine-state').textContent = `Engine ready (started in ${duration(engine.bootMs || 0)}).`; body.dataset.engine = 'ready'; },
    (err) => { $('engine-state').textContent = `The engine could not be loaded: ${err.message}`; body.dataset.engine = 'failed'; },
  );
}
watchEngine();

let statusTimer = 0;
function status(text, keep = false) {
  $('status').textContent = text;
  clearTimeout(statusTimer);
  if (!keep) statusTimer = setTimeout(() => { $('status').textContent = ''; }, 8000);
}

function showError(title, message) {
  const b = $('error-banner');
  b.textContent = '';
  const close = el('button', { class: 'button small', type: 'button', 'aria-label': 'Dismiss' }, 'Dismiss');
  close.addEventListener('click', () => { b.hidden = true; });
  b.append(el('div', { class: 'toolbar' }, el('span', { class: 'title' }, `${title}: `), el('span', { id: 'error-message' }, message), close));
  b.hidden = false;
}

function hideError() { $('error-banner').hidden = true; }

// ---- views -----------------------------------------------------------------

const fileHex = new HexView($('view-hex-file'), {
  kind: 'file',
  title: 'File bytes',
  placeholder: '0x10000, 64k, block 3',
  describe: describeFileOffset,
  resolve: resolveFileLocation,
  onLocation: (off, mark, push) => hexLocation('hex-file', off, mark, push),
  onMessage: (t) => status(t),
});

const diskHex = new HexView($('view-disk'), {
  kind: 'disk',
  title: 'Virtual disk bytes',
  placeholder: '0x100000, lba=2048, block 3',
  describe: describeDiskOffset,
  inspect: inspectDiskOffset,
  resolve: resolveDiskLocation,
  onLocation: (off, mark, push) => hexLocation('disk', off, mark, push),
  onMessage: (t) => status(t),
});

const blockMap = new BlockMap($('view-blocks'), {
  engine,
  onOpen: (n) => navigate(`disk:${hex(n * state.info.summary.block_size)}`),
  onRange: (first, count) => setHashQuietly(first === 0 && count === blockMap.total ? 'blocks' : `blocks:${first}-${first + count - 1}`),
  onMessage: (t) => status(t),
});

const structureOpts = {
  list: $('struct-list'),
  detail: $('struct-detail'),
  engine,
  openFile: (offset, length) => navigate(`hex-file:${hex(offset)}${length > 1 ? `+${hex(length)}` : ''}`),
  openDisk: (offset) => navigate(`disk:${hex(offset)}`),
  onSelect: (id) => navigate(`structures:${id}`),
};
const structures = new StructuresView(structureOpts);
const qcow2Structures = new Qcow2Structures(structureOpts);

/** Whether the image shown is not a VHDX (qcow2, raw). */
function isOther() {
  return !!state.info && !!state.info.format && state.info.format !== 'vhdx';
}

/** The Structures view of the image shown: VHDX or qcow2 (raw images have none). */
function structuresView() {
  if (!isOther()) return structures;
  return state.info.overview && state.info.overview.qcow2 ? qcow2Structures : null;
}

Object.assign(inspector, { fileHex, diskHex, blockMap, structures, qcow2Structures });

const exporter = new ExportView($('view-export'), { engine, onMessage: (t) => status(t) });

const filesView = new FilesView($('view-files'), {
  engine,
  // The blocks holding the selected file, outlined over the partition bands.
  setMarks: (marks, label) => {
    const s = state.info && state.info.summary;
    if (s && s.block_size && blockMap.total) blockMap.setBands(partitionBands(state.parts, s.block_size), marks, label);
  },
  onMessage: (t) => status(t),
  sectorOwner: (off) => engine.sectorOwner(off),
  partitions: () => state.partsPromise,
});
inspector.filesView = filesView;

function link(hash, text) {
  return el('a', { href: hash }, text);
}

function renderOverviewView() {
  if (!state.info) return;
  (isOther() ? renderImageOverview : renderOverview)($('view-overview'), {
    info: state.info,
    counting: state.counting,
    checking: state.checking,
    file: state.file,
    chain: state.chain,
    files: Array.from(state.files.values()),
    check: state.check,
    checkError: state.checkError,
    validate,
    link,
    addFiles: (files) => openFiles(files, true),
    selectSnapshot,
  });
  if (state.parts) {
    const s = state.info.summary || {};
    $('view-overview').append(partitionsCard(state.parts, { blockSize: s.block_size || 0, link }));
  }
}

/** Reads the partition table: the overview card, disk hex annotations, block map bands. */
async function readPartitions(gen) {
  if (!engine.has('partitions')) return;
  try {
    state.partsPromise = engine.json('partitions');
    const parts = await state.partsPromise;
    if (gen !== state.gen) return;
    parts.index = fieldIndex(parts.fields || []);
    state.parts = parts;
    body.dataset.parts = String(parts.partitions.length);
    renderOverviewView();
    const s = state.info.summary || {};
    if (s.block_size && blockMap.total) blockMap.setBands(partitionBands(parts, s.block_size), null);
  } catch (err) {
    if (gen === state.gen) status(`Partitions: ${err.message}`);
  }
}

function renderValidationView() {
  if (!state.info) return;
  renderValidation($('view-validation'), { check: state.check, checkError: state.checkError, checking: state.checking, filters: state.filters, validate });
  const badge = $('validation-count');
  if (state.check) {
    const c = countSeverities(state.check.findings);
    badge.textContent = c.error ? String(c.error) : c.warning ? String(c.warning) : '';
    badge.className = `count${c.error ? ' errors' : c.warning ? ' warnings' : ''}`;
    badge.title = `${c.error} errors, ${c.warning} warnings, ${c.info} info`;
  } else {
    badge.textContent = '';
  }
}

// ---- describing bytes --------------------------------------------------------

/** The smallest field of fields() containing offset, by binary search. */
function fieldAt(off) {
  const f = state.fields;
  if (!f || !f.length) return null;
  let lo = 0;
  let hi = f.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (f[mid].offset <= off) lo = mid + 1;
    else hi = mid;
  }
  let best = null;
  for (let i = lo - 1; i >= 0 && state.fieldsEnd[i] > off; i--) {
    const x = f[i];
    if (off < x.offset + x.length && (!best || x.length < best.length)) best = x;
  }
  return best;
}

function coarseRegion(off) {
  if (isOther()) return qcow2Region(state.info, off);
  const s = state.info && state.info.structures;
  if (!s) return null;
  const K = 1024;
  const fixed = [
    [0, 64 * K, 'file type identifier'], [64 * K, 68 * K, 'header 1'], [68 * K, 128 * K, 'header 1 (reserved)'],
    [128 * K, 132 * K, 'header 2'], [132 * K, 192 * K, 'header 2 (reserved)'],
    [192 * K, 256 * K, 'region table 1'], [256 * K, 320 * K, 'region table 2'], [320 * K, 1024 * K, 'reserved'],
  ];
  for (const [a, b, name] of fixed) if (off >= a && off < b) return name;
  if (s.log && off >= s.log.offset && off < s.log.offset + s.log.length) return 'log region';
  if (s.metadata && off >= s.metadata.offset && off < s.metadata.offset + s.metadata.length) return 'metadata region';
  if (s.bat && off >= s.bat.offset && off < s.bat.offset + s.bat.length) return 'BAT region (beyond the last entry)';
  return 'payload block data, sector bitmap or free space';
}

function batEntryText(i, raw) {
  const b = state.info.structures.bat;
  const period = b.chunk_ratio + 1;
  const bitmap = i % period === b.chunk_ratio;
  const what = bitmap ? `sector bitmap of chunk ${Math.floor(i / period)}` : `block ${i - Math.floor(i / period)}`;
  if (!raw) return `BAT entry ${i} (${what})`;
  const lo = raw[0] | (raw[1] << 8) | (raw[2] << 16) | (raw[3] * 2 ** 24);
  const hi = raw[4] | (raw[5] << 8) | (raw[6] << 16) | (raw[7] * 2 ** 24);
  const st = lo & 7;
  const fo = hi * 2 ** 32 + (lo - (lo % 2 ** 20));
  const names = ['not_present', 'undefined', 'zero', 'unmapped', 'invalid_4', 'invalid_5', 'fully_present', 'partially_present'];
  return `BAT entry ${i} (${what}) · ${stateLabel(bitmap && st === 6 ? 'present' : names[st])}${st >= 6 ? ` at ${hex(fo)}` : ''}`;
}

function describeFileOffset(off, peek) {
  if (!state.info) return null;
  const f = fieldAt(off);
  if (f) {
    const v = f.value === undefined || f.value === '' ? '' : ` = ${f.value}`;
    return { text: `${f.structure} · ${f.field}${v}`, start: f.offset, end: f.offset + f.length };
  }
  const b = state.info.structures && state.info.structures.bat;
  if (b && off >= b.offset && off < b.offset + b.entry_count * 8) {
    const i = Math.floor((off - b.offset) / 8);
    const start = b.offset + i * 8;
    return { text: batEntryText(i, peek(start, 8)), start, end: start + 8 };
  }
  const region = coarseRegion(off);
  return region ? { text: region, start: off, end: off + 1 } : null;
}

/**
 * Which layer supplies the sector holding off: the engine's sectorOwner
 * answer when known, else null (and it is asked for; the views redraw when
 * the answer comes).
 */
function ownerAt(off) {
  const s = state.info && state.info.summary;
  if (!s) return null;
  const ss = s.logical_sector_size || 512;
  const lba = Math.floor(off / ss);
  const o = owners.get(lba);
  if (o) return o.pending ? null : o;
  if (ownerCalls >= MAX_OWNER_CALLS) return null;
  if (owners.size >= MAX_OWNERS) owners.clear();
  owners.set(lba, { pending: true });
  ownerCalls++;
  const gen = state.gen;
  engine.sectorOwner(lba * ss).then((x) => {
    if (gen !== state.gen) return;
    owners.set(lba, x);
  }, () => {
    if (gen === state.gen) owners.delete(lba);
  }).finally(() => {
    ownerCalls--; // calls in flight, whatever image they were for
    if (gen !== state.gen) return;
    diskHex.marksChanged();
    if (diskHex.hover && Math.floor(diskHex.hover.offset / ss) === lba) diskHex.refreshHover();
  });
  return null;
}

/** Whether the owner's layer holds the sector's bytes (data, or a zero/unmapped block of its own). */
function ownerSupplies(o) {
  return o.file_offset >= 0 || (o.state !== 'not_present' && !String(o.state).startsWith('invalid'));
}

/**
 * "from mid.avhdx (layer 1, fully present) · file 0x400200 in mid.avhdx" for
 * the owner o of a sector; delta: the byte's distance from the sector start.
 */
function ownerText(o, delta = 0) {
  const layers = state.chain.layers;
  if (!ownerSupplies(o)) return 'no layer stores it: reads as zeros';
  const name = o.layer_name || (layers[o.layer] && layers[o.layer].name) || `layer ${o.layer}`;
  const what = o.file_offset >= 0 ? stateLabel(o.state) : `${stateLabel(o.state)}: reads as zeros`;
  return `from ${name} (layer ${o.layer}, ${what})${o.file_offset >= 0 ? ` · file ${hex(o.file_offset + delta)}${o.layer ? ` in ${name}` : ''}` : ''}`;
}

/** Gutter of a disk hex row in a chain: the colour of the layer supplying it. */
function diskRowMark(rowOff) {
  const o = ownerAt(rowOff);
  if (!o) return null;
  if (!ownerSupplies(o)) return { key: 'none', color: layerVar(-1), label: 'no data', title: 'No layer stores these sectors: they read as zeros' };
  const name = o.layer_name || state.chain.layers[o.layer].name;
  return { key: String(o.layer), color: layerVar(o.layer), label: name, title: `Layer ${o.layer}: ${name}` };
}

function describeDiskOffset(off) {
  const f = state.parts && state.parts.index.at(off);
  if (f) return { text: `${f.structure} · ${f.field} = ${f.value}`, start: f.offset, end: f.offset + f.length };
  const s = state.info && state.info.summary;
  if (!s || !s.block_size) return null;
  const n = Math.floor(off / s.block_size);
  const ss = s.logical_sector_size || 512;
  const lba = Math.floor(off / ss);
  const where = { start: lba * ss, end: (lba + 1) * ss };
  if (state.chain && state.chain.complete) {
    const o = ownerAt(off);
    return { text: `sector ${grouped(lba)} · block ${grouped(n)} · ${o ? ownerText(o, off - lba * ss) : 'layer …'}`, ...where };
  }
  let info = state.blockInfo.get(n);
  if (!info) {
    state.blockInfo.set(n, { pending: true });
    engine.block(n).then((x) => state.blockInfo.set(n, x), () => state.blockInfo.delete(n));
  }
  info = state.blockInfo.get(n);
  const st = info && info.state ? ` (${stateLabel(info.state)})` : '';
  const fo = info && (hasData(info.state) || isOther()) && info.file_offset >= 0 ? ` · file ${hex(info.file_offset + (off % s.block_size))}` : '';
  return { text: `sector ${grouped(lba)} · block ${grouped(n)}${st}${fo}`, ...where };
}

async function inspectDiskOffset(off) {
  if (!state.info) return [];
  const o = await engine.sectorOwner(off);
  const chain = state.chain && state.chain.complete ? state.chain : null;
  const rows = [['block', grouped(o.block)]];
  const fileLink = (fo) => el('button', { class: 'linklike mono', type: 'button', title: 'Show this byte in the file hex view', onclick: () => navigate(`hex-file:${hex(fo)}`) }, hex(fo));
  if (chain) {
    const supplies = ownerSupplies(o);
    const name = o.layer_name || (chain.layers[o.layer] && chain.layers[o.layer].name) || '';
    rows.push(['layer', el('span', { 'data-field': 'layer', 'data-layer': supplies ? String(o.layer) : 'none' },
      layerSwatch(supplies ? o.layer : -1), supplies ? `${o.layer} · ${name}` : 'none: reads as zeros')]);
    rows.push(['state', `${stateLabel(o.state)}${supplies ? '' : ` (down to ${name})`}`]);
    if (o.file_offset >= 0) {
      // The file hex view shows the image on top; other layers' offsets are plain text.
      rows.push([o.layer === 0 ? 'file offset' : `offset in ${name}`, o.layer === 0 ? fileLink(o.file_offset) : el('span', { class: 'mono', 'data-field': 'layer-offset' }, hex(o.file_offset))]);
    } else {
      rows.push(['file offset', 'none (reads as zeros)']);
    }
    return rows;
  }
  rows.push(['state', stateLabel(o.state)]);
  if (o.file_offset >= 0) rows.push(['file offset', fileLink(o.file_offset)]);
  else rows.push(['file offset', 'none (reads as zeros)']);
  return rows;
}

async function resolveFileLocation(loc) {
  const size = fileHex.size;
  if (loc.kind === 'end') return size - 1;
  if (loc.kind === 'offset') return loc.value;
  if (loc.kind === 'lba') return loc.value * (state.info.summary.logical_sector_size || 512);
  if (loc.kind === 'block') {
    const b = await engine.block(loc.value);
    if (!(hasData(b.state) || isOther()) || b.file_offset < 0) throw new Error(`block ${loc.value} is ${stateLabel(b.state)}: no file data`);
    return b.file_offset;
  }
  return null;
}

function resolveDiskLocation(loc) {
  const s = state.info.summary;
  if (loc.kind === 'end') return diskHex.size - 1;
  if (loc.kind === 'offset') return loc.value;
  if (loc.kind === 'lba') return loc.value * (s.logical_sector_size || 512);
  if (loc.kind === 'block') return loc.value * s.block_size;
  return null;
}

// ---- the URL fragment ------------------------------------------------------

function parseRoute(hash) {
  let h = String(hash || '').replace(/^#/, '');
  try { h = decodeURIComponent(h); } catch { /* keep raw */ }
  const i = h.indexOf(':');
  let view = (i < 0 ? h : h.slice(0, i)).trim().toLowerCase();
  const arg = i < 0 ? '' : h.slice(i + 1).trim();
  view = ALIASES[view] || view;
  if (!VIEWS.includes(view)) return { view: 'overview', arg: '' };
  return { view, arg };
}

function hexLocation(view, off, mark, push) {
  if (state.view !== view) return;
  let arg = hex(off);
  if (view === 'disk') {
    const ss = state.info.summary.logical_sector_size || 512;
    if (off % ss === 0) arg = `lba=${off / ss}`;
  }
  if (mark && mark[1] - mark[0] > 1) arg += `+${hex(mark[1] - mark[0])}`;
  if (push) {
    history.pushState(null, '', `#${view}:${arg}`);
    state.lastHash = location.hash;
  } else {
    setHashQuietly(`${view}:${arg}`);
  }
}

function setHashQuietly(h) {
  if (location.hash === `#${h}`) return;
  history.replaceState(null, '', `#${h}`);
  state.lastHash = location.hash;
}

/** Where a tab or view key goes: the block map keeps its zoom. */
function viewTarget(view) {
  if (view === 'blocks' && state.info && blockMap.total && blockMap.count !== blockMap.total) {
    return `blocks:${blockMap.first}-${blockMap.first + blockMap.count - 1}`;
  }
  return view;
}

/** Goes to a view (and place), adding a history entry. */
function navigate(h, { replace = false } = {}) {
  if (location.hash === `#${h}`) {
    applyRoute(parseRoute(h));
    return;
  }
  history[replace ? 'replaceState' : 'pushState'](null, '', `#${h}`);
  state.lastHash = location.hash;
  applyRoute(parseRoute(h));
}

function onHashChanged() {
  if (location.hash === state.lastHash) return;
  state.lastHash = location.hash;
  applyRoute(parseRoute(location.hash));
}
window.addEventListener('popstate', onHashChanged);
window.addEventListener('hashchange', onHashChanged);

function showView(view, focus = true) {
  const changed = state.view !== view;
  state.view = view;
  for (const t of document.querySelectorAll('.tabs [role=tab]')) {
    const on = t.dataset.view === view;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
  }
  for (const v of VIEWS) $(`view-${v}`).hidden = v !== view;
  if (view === 'hex-file') fileHex.show(); else fileHex.hide();
  if (view === 'disk') diskHex.show(); else diskHex.hide();
  if (view === 'blocks') blockMap.show(); else blockMap.hide();
  if (view === 'files') filesView.show(); else filesView.hide();
  body.dataset.view = view;
  if (!focus || !state.info || !changed) return;
  if (view === 'hex-file') fileHex.focus();
  else if (view === 'disk') diskHex.focus();
  else if (view === 'blocks') blockMap.focus();
  else if (view === 'files') filesView.focus();
  else $(`view-${view}`).focus({ preventScroll: true });
}

function applyRoute({ view, arg }) {
  showView(view);
  if (!state.info) return;
  if (view === 'structures') structuresView()?.select(arg);
  else if (view === 'blocks') {
    const m = /^(\d+)-(\d+)$/.exec(arg);
    if (m) blockMap.setRange(Number(m[1]), Number(m[2]) - Number(m[1]) + 1);
    else if (!arg) blockMap.setRange(0, blockMap.total);
  } else if (view === 'hex-file' || view === 'disk') {
    const hv = view === 'disk' ? diskHex : fileHex;
    if (!arg) {
      hv.locationChanged(true); // put the current place into the fragment
      return;
    }
    const m = /^(.*?)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(arg);
    const loc = parseLocation(m[1]);
    if (!loc) return;
    const len = m[2] ? parseNumber(m[2]) : 0;
    Promise.resolve(view === 'disk' ? resolveDiskLocation(loc) : resolveFileLocation(loc)).then((off) => {
      if (off === null || off === undefined) return;
      let mark = len > 0 ? [off, off + len] : null;
      if (!mark && view === 'hex-file') {
        const f = fieldAt(off);
        if (f && f.offset === off) mark = [f.offset, f.offset + f.length];
      }
      hv.goTo(off, { mark });
    }, (err) => status(err.message));
  }
}

// ---- opening files -----------------------------------------------------------

function resetImage() {
  state.gen++;
  state.info = null;
  state.file = null;
  state.chain = null;
  state.check = null;
  state.checkError = null;
  if (state.checking) state.checking.cancel();
  state.checking = null;
  state.counting = null;
  delete body.dataset.counted;
  delete body.dataset.checked;
  state.fields = null;
  state.parts = null;
  state.partsPromise = null;
  delete body.dataset.parts;
  filesView.clear();
  state.blockInfo.clear();
  owners.clear();
  body.dataset.state = 'empty';
  delete body.dataset.cached;
  delete body.dataset.chain;
  $('file-info').textContent = '';
  $('validation-count').textContent = '';
  markTab('disk', '');
  markTab('files', '');
  structures.clear();
  qcow2Structures.clear();
  markTab('structures', '');
  blockMap.clear();
  exporter.clear();
  fileHex.setSource({ size: 0, read: null });
  diskHex.setSource({ size: 0, read: null });
  $('view-overview').textContent = '';
  $('view-validation').textContent = '';
}

/** Marks a tab whose view cannot work now (why: text), or clears the mark. */
function markTab(view, why) {
  const t = $(`tab-${view}`);
  const base = `${t.dataset.label || (t.dataset.label = t.textContent.trim())} (${t.dataset.key})`;
  t.title = why ? `${base}: ${why}` : base;
  if (why) t.dataset.unavailable = 'true';
  else delete t.dataset.unavailable;
}

const displayNames = (files) => listNames(files.map((f) => f.name));

/**
 * Opens files: one image, or a differencing chain (a checkpoint and its
 * parents) given together. With add the files join those of the image shown
 * (a missing parent dropped later).
 */
async function openFiles(list, add = false, opts = undefined) {
  const files = Array.from(list || []);
  if (!files.length) return;
  hideError();
  const names = displayNames(files);
  let gen;
  if (add) {
    gen = ++state.gen; // the image stays on screen until the chain is read again
    status(`Adding ${names}…`, true);
  } else {
    resetImage();
    gen = state.gen;
    $('empty-title').textContent = `Opening ${names}…`;
    status(`Opening ${names} (${humanSize(files.reduce((n, f) => n + f.size, 0))})…`, true);
  }
  $('progress').hidden = false;
  const t0 = performance.now();
  let info;
  try {
    await engine.ready;
    info = await engine.openFiles(files, add, opts);
  } catch (err) {
    if (gen !== state.gen) return;
    $('progress').hidden = engine.busy === 0;
    status('');
    if (add) {
      showError(`${names} could not be added`, err.message); // what was shown stays
      return;
    }
    $('empty-title').textContent = EMPTY_TITLE;
    // One file: the engine's "name: why" repeats the name of the title.
    const msg = files.length === 1 && err.message.startsWith(`${files[0].name}: `) ? err.message.slice(files[0].name.length + 2) : err.message;
    showError(files.length === 1 ? `${names} could not be opened` : `None of ${names} could be opened`, msg);
    if (files.length === 1 && /open it as raw/.test(msg)) {
      // No signature: it may be a plain disk image whose name does not say so.
      const raw = el('button', { class: 'button small primary', type: 'button', id: 'open-as-raw' }, 'Open as a raw image');
      raw.addEventListener('click', () => openFiles(files, false, { format: 'raw' }));
      $('error-banner').querySelector('.toolbar').append(raw);
    }
    return;
  }
  if (gen !== state.gen) return;
  if (add) {
    resetImage();
    gen = state.gen;
  } else {
    state.files.clear();
  }
  for (const f of files) state.files.set(f.name.toLowerCase(), f);
  try {
    sessionStorage.setItem(LAST_FILES, JSON.stringify(Array.from(state.files.values(), (f) => f.name)));
  } catch { /* storage off: the reload hint is then general */ }
  showImage(info, gen, t0);
}

function showImage(info, gen, t0) {
  const top = state.files.get(String(info.name || '').toLowerCase()) || Array.from(state.files.values())[0];
  const chain = chainModel(info);
  state.info = info;
  state.file = top;
  state.chain = chain;
  body.dataset.state = 'open';
  body.dataset.cached = String(!!info.cached);
  if (chain) body.dataset.chain = chain.complete ? 'complete' : chain.kind;
  $('empty-title').textContent = EMPTY_TITLE;
  $('return-hint').hidden = true;
  const s = info.summary || {};
  const name = info.name || top.name;
  const fi = $('file-info');
  fi.textContent = '';
  fi.append(...[el('span', { class: 'name', title: name }, name),
    el('span', { class: 'muted' }, `${humanSize(top.size)} ${info.format && info.format !== 'vhdx' ? `${info.format} ` : ''}file · ${s.virtual_size ? `${humanSize(s.virtual_size)} ${s.disk_type || ''} disk` : 'no readable metadata'}${info.snapshot ? ` · snapshot ${info.snapshot}` : ''}`),
    chain && chain.complete ? el('a', { class: 'badge chain', id: 'chain-badge', href: '#overview', title: `A differencing chain: ${chain.layers.map((l) => l.name).join(' → ')}` }, `${chain.layers.length} layers`) : null,
    chain && !chain.complete ? el('a', { class: 'badge bad', id: 'chain-badge', href: '#overview', title: chain.note }, chain.kind === 'missing' ? (isOther() ? 'file missing' : 'parent missing') : 'chain broken') : null,
    info.cached ? el('span', { class: 'badge cached', title: 'Summary read from this browser’s IndexedDB cache' }, 'cached') : null,
    info.error ? el('span', { class: 'badge bad', title: info.error }, 'damaged') : null,
    !info.error && damageOf(info) ? el('a', { class: 'badge bad', id: 'damage-badge', href: '#overview', title: damageOf(info).note }, damageOf(info).text) : null].filter(Boolean));

  renderOverviewView();
  renderValidationView();
  const fieldsPromise = engine.fields().then((f) => {
    f.sort((a, b) => a.offset - b.offset || b.length - a.length);
    const ends = new Array(f.length);
    let m = 0;
    f.forEach((x, i) => { m = Math.max(m, x.offset + x.length); ends[i] = m; });
    if (gen === state.gen) {
      state.fields = f;
      state.fieldsEnd = ends;
    }
    return f;
  }, (err) => { status(`Fields: ${err.message}`); return []; });
  const sv = structuresView();
  if (sv) sv.setImage(info, fieldsPromise);
  else {
    markTab('structures', 'a raw image has no structures: the file is the disk');
    $('struct-detail').textContent = 'A raw image has no structures: its bytes are the disk’s bytes.';
  }
  const fileSize = s.replay && s.replay.file_size_after ? s.replay.file_size_after : s.file_size || top.size;
  fileHex.setSource({ size: fileSize, read: (o, n) => engine.readFile(o, n, true) });
  const diskError = diskUnreadable();
  if (diskError) {
    diskHex.setSource({ size: 0, read: null, error: diskError });
    markTab('disk', chain && !chain.complete ? `needs ${chain.kind === 'missing' ? 'the parent' : 'a matching parent'} ${chain.parent}` : 'the virtual disk cannot be read');
  } else {
    diskHex.setSource({
      size: s.virtual_size,
      read: (o, n) => engine.readDisk(o, n, true),
      sectorSize: s.logical_sector_size || 512,
      blockSize: s.block_size,
      rowMark: chain && chain.complete ? diskRowMark : null,
    });
  }
  if (s.payload_blocks && isOther()) {
    blockMap.setImage(s, chain ? { layers: chain.complete ? chain.layers : null, note: chain.note } : null, SCHEMES[info.format] || SCHEMES.qcow2);
  } else if (s.payload_blocks && info.structures && info.structures.bat) {
    blockMap.setImage(s, chain ? { layers: chain.complete ? chain.layers : null, note: chain.note } : null);
  } else {
    blockMap.clear();
  }
  exporter.setImage(info, top, chain);
  if (!diskError) {
    readPartitions(gen);
    filesView.setImage({
      size: s.virtual_size,
      sectorSize: s.logical_sector_size || 512,
      blockSize: s.payload_blocks && (isOther() || (info.structures && info.structures.bat)) ? s.block_size : 0,
      blockUnit: info.format === 'qcow2' ? 'cluster' : 'block',
      chain: !!(chain && chain.complete),
    });
  } else {
    markTab('files', 'the virtual disk cannot be read');
  }

  applyRoute(parseRoute(location.hash));
  requestAnimationFrame(() => {
    if (gen !== state.gen) return;
    const ms = performance.now() - t0;
    body.dataset.openMs = ms.toFixed(1);
    $('progress').hidden = engine.busy === 0;
    const what = chain && chain.complete ? `${name} with ${chain.layers.length - 1} parent${chain.layers.length > 2 ? 's' : ''}` : name;
    status(`Opened ${what} in ${duration(ms)}${info.cached ? ' (summary from cache)' : ''}.${chain && chain.kind === 'missing' ? ` Drop ${chain.parent} to read the virtual disk.` : ''}`);
  });

  countBlocks(gen, t0).then(() => { if (gen === state.gen) validate(); });
}

/**
 * Reads the BAT once for the block counts (the overview shows a progress
 * figure meanwhile, the block map fills in); a cached summary has them.
 */
async function countBlocks(gen, t0) {
  const s = state.info.summary || {};
  if (s.block_states || !s.payload_blocks) {
    body.dataset.counted = 'true';
    return;
  }
  state.counting = { done: 0, total: 1 };
  renderOverviewView();
  let last = 0;
  const task = engine.scan((done, total) => {
    if (gen !== state.gen) return;
    state.counting = { done, total };
    const now = performance.now();
    if (now - last < 200) return;
    last = now;
    renderOverviewView();
    blockMap.refresh();
  });
  try {
    const summary = await task.promise;
    if (gen !== state.gen) return;
    state.info.summary = summary;
    body.dataset.countMs = (performance.now() - t0).toFixed(1);
  } catch (err) {
    if (gen !== state.gen) return;
    status(`Counting the blocks failed: ${err.message}`, true);
  }
  state.counting = null;
  body.dataset.counted = 'true';
  renderOverviewView();
  blockMap.setCounts(state.info.summary);
}

/** Runs the validation (again), with progress and a Cancel button. */
function validate() {
  if (!state.info || state.checking) return;
  const gen = state.gen;
  const t0 = performance.now();
  state.check = null;
  state.checkError = null;
  delete body.dataset.checked;
  const task = engine.check((done, total) => {
    if (gen !== state.gen || !state.checking) return;
    state.checking.done = done;
    state.checking.total = total;
    updateCheckProgress();
  });
  state.checking = { done: 0, total: 1, cancel: task.cancel };
  renderOverviewView();
  renderValidationView();
  task.promise.then((c) => {
    if (gen !== state.gen) return;
    state.check = c;
    body.dataset.checkMs = (performance.now() - t0).toFixed(1);
  }, (err) => {
    if (gen !== state.gen) return;
    state.checkError = err.message;
  }).finally(() => {
    if (gen !== state.gen) return;
    state.checking = null;
    renderOverviewView();
    renderValidationView();
    body.dataset.checked = state.check ? 'true' : state.checkError === 'cancelled' ? 'cancelled' : 'failed';
  });
}

/** Moves the validation progress bars without redrawing the views. */
function updateCheckProgress() {
  const c = state.checking;
  const pct = Math.floor((100 * c.done) / (c.total || 1));
  for (const p of document.querySelectorAll('.check-progress progress')) p.value = pct;
  for (const t of document.querySelectorAll('.check-progress .pct')) t.textContent = `${pct}%`;
}

/** Why the virtual disk cannot be read, or '' when it can. */
function diskUnreadable() {
  const s = state.info.summary || {};
  const c = state.chain;
  if (c && c.complete) return '';
  if (c && c.kind === 'missing' && isOther()) return `The virtual disk needs ${c.parent}, which was not given: ${c.child} reads part of its disk from it. Drop ${c.parent} on this page to read the disk.`;
  if (c && isOther()) return `The virtual disk cannot be read: ${c.reason}`;
  if (c && c.kind === 'missing') return `The virtual disk needs the parent ${c.parent}, which was not given: ${c.child} stores only the sectors written since its checkpoint. Drop ${c.parent} on this page to read the disk through the chain.`;
  if (c && c.kind === 'mismatch') return `The virtual disk cannot be read: the parent ${c.parent} does not match ${c.child} (${c.reason}).`;
  if (s.disk_error || !s.virtual_size) return `The virtual disk cannot be read: ${s.disk_error || 'no metadata'}`;
  return '';
}

/** Shows the disk of a qcow2 internal snapshot (its ID; '' for the current disk). */
async function selectSnapshot(id) {
  if (!state.info) return;
  const t0 = performance.now();
  let info;
  try {
    info = await engine.snapshot(id);
  } catch (err) {
    showError(`Snapshot ${id} could not be read`, err.message);
    return;
  }
  resetImage();
  showImage(info, state.gen, t0);
}

/** Opens a drop or a pick: it completes the chain shown, or replaces it. */
function openDropped(list) {
  const files = Array.from(list || []);
  if (!files.length) return false;
  openFiles(files, joinsChain(state.info, files));
  return true;
}

for (const id of ['file-input', 'file-input-2']) {
  $(id).addEventListener('change', (e) => {
    const files = Array.from(e.target.files || []);
    e.target.value = '';
    openDropped(files);
  });
}

// Drag and drop anywhere.
let dragDepth = 0;
const hasFiles = (e) => !!e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
window.addEventListener('dragenter', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  dragDepth++;
  body.classList.add('dragging');
});
window.addEventListener('dragover', (e) => {
  if (!hasFiles(e)) return;
  e.preventDefault();
  e.dataTransfer.dropEffect = 'copy';
});
window.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) body.classList.remove('dragging');
});
window.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  body.classList.remove('dragging');
  const files = e.dataTransfer && e.dataTransfer.files;
  if (!openDropped(files)) showError('Nothing to open', 'the drop held no file.');
});

// ---- tabs, keyboard, dialogs ---------------------------------------------------

for (const t of document.querySelectorAll('.tabs [role=tab]')) {
  t.title = `${t.textContent.trim()} (${t.dataset.key})`;
  t.addEventListener('click', () => navigate(viewTarget(t.dataset.view)));
  t.addEventListener('keydown', (e) => {
    const tabs = Array.from(document.querySelectorAll('.tabs [role=tab]'));
    const i = tabs.indexOf(t);
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    else if (e.key === 'ArrowLeft') j = (i + tabs.length - 1) % tabs.length;
    if (j < 0) return;
    e.preventDefault();
    e.stopPropagation();
    tabs[j].focus();
    navigate(viewTarget(tabs[j].dataset.view));
  });
}

const help = $('help-dialog');
$('help-button').addEventListener('click', () => help.showModal());

const gotoDialog = $('goto-dialog');
const gotoInput = $('goto-input');
function openGoto() {
  const v = state.view;
  const what = v === 'disk' ? 'Disk offset, LBA or block' : v === 'blocks' ? 'Block number' : 'File offset (or lba=N for the disk)';
  $('goto-label').textContent = what;
  $('goto-error').textContent = '';
  gotoInput.value = '';
  gotoInput.placeholder = v === 'blocks' ? '0, 1234, 0x100' : v === 'disk' ? '0x100000, lba=2048, block 3, end' : '0x10000, 65536, 64k, end';
  gotoDialog.showModal();
  gotoInput.focus();
}

$('goto-cancel').addEventListener('click', () => gotoDialog.close());
$('goto-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const text = gotoInput.value;
  const loc = parseLocation(text);
  if (!loc) {
    $('goto-error').textContent = `Cannot read “${text}” as an offset.`;
    return;
  }
  if (!state.info) {
    $('goto-error').textContent = 'Open a file first.';
    return;
  }
  try {
    if (state.view === 'blocks' && (loc.kind === 'offset' || loc.kind === 'block')) {
      if (loc.value >= blockMap.total) throw new Error(`the disk has ${grouped(blockMap.total)} blocks`);
      gotoDialog.close();
      blockMap.reveal(loc.value);
      return;
    }
    const toDisk = state.view === 'disk' || loc.kind === 'lba';
    const off = toDisk ? resolveDiskLocation(loc) : await resolveFileLocation(loc);
    const size = toDisk ? diskHex.size : fileHex.size;
    if (off < 0 || off >= size) throw new Error(`${hex(off)} is beyond the end of the ${toDisk ? 'disk' : 'file'} (${bothSizes(size)})`);
    gotoDialog.close();
    navigate(`${toDisk ? 'disk' : 'hex-file'}:${hex(off)}`);
  } catch (err) {
    $('goto-error').textContent = err.message;
  }
});

document.addEventListener('keydown', (e) => {
  if (e.defaultPrevented) return;
  if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'o') {
    e.preventDefault();
    $('file-input').click();
    return;
  }
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const t = e.target;
  if (t && t.closest && t.closest('input, textarea, select, [contenteditable=""], [contenteditable=true]')) return;
  if (document.querySelector('dialog[open]')) return;
  if (e.key === '?') {
    e.preventDefault();
    help.showModal();
  } else if (e.key === 'g') {
    e.preventDefault();
    openGoto();
  } else if (VIEW_KEYS[e.key]) {
    e.preventDefault();
    navigate(viewTarget(VIEW_KEYS[e.key]));
  }
});

// ---- service worker ----------------------------------------------------------

if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('./sw.js').catch((err) => console.warn('service worker:', err.message));
  navigator.serviceWorker.ready.then(() => { body.dataset.sw = 'ready'; });
  // Exports can stream through the service worker once it controls the page.
  navigator.serviceWorker.addEventListener('controllerchange', () => exporter.refresh());
}

// ---- start -------------------------------------------------------------------

state.lastHash = location.hash;
showView(parseRoute(location.hash).view, false);
showReturnHint();

/**
 * After a reload with a place in the fragment (#disk:lba=2048), says which
 * file to drop to get back there: the page cannot reopen a file itself.
 */
function showReturnHint() {
  const place = location.hash.replace(/^#/, '');
  if (!place || place === 'overview') return;
  let names = [];
  try {
    names = JSON.parse(sessionStorage.getItem(LAST_FILES) || '[]');
  } catch { /* none known */ }
  const what = names.length ? `Drop ${listNames(names)} again` : 'Drop the file you had open again';
  const hint = $('return-hint');
  hint.textContent = `${what} to return to ${decodeURIComponent(place)}: a page cannot reopen a file by itself.`;
  hint.hidden = false;
}
