// VHDX Inspector: the page. Opens a dropped or picked .vhdx through the
// engine worker and wires the views, the URL fragment and the keyboard.

import { Engine } from './engine.js';
import { HexView } from './hexview.js';
import { BlockMap, hasData } from './blockmap.js';
import { StructuresView } from './structures.js';
import { ExportView } from './export.js';
import { renderOverview, renderValidation, countSeverities } from './views.js';
import { el, hex, humanSize, duration, parseLocation, parseNumber, grouped, stateLabel } from './format.js';

const $ = (id) => document.getElementById(id);
const body = document.body;

const VIEWS = ['overview', 'structures', 'blocks', 'hex-file', 'disk', 'validation', 'export'];
const ALIASES = { hex: 'hex-file', file: 'hex-file', 'file-hex': 'hex-file', 'disk-hex': 'disk', 'hex-disk': 'disk', map: 'blocks', 'block-map': 'blocks', findings: 'validation', check: 'validation' };
const VIEW_KEYS = { o: 'overview', s: 'structures', b: 'blocks', f: 'hex-file', d: 'disk', v: 'validation', e: 'export' };
VIEWS.forEach((v, i) => { VIEW_KEYS[String(i + 1)] = v; });

const engine = new Engine('./worker.js');
const state = {
  gen: 0,
  info: null,
  file: null,
  check: null,
  checkError: null,
  fields: null,
  fieldsEnd: null,
  view: 'overview',
  filters: new Set(['error', 'warning', 'info']),
  blockInfo: new Map(),
  lastHash: null,
};
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

const structures = new StructuresView({
  list: $('struct-list'),
  detail: $('struct-detail'),
  engine,
  openFile: (offset, length) => navigate(`hex-file:${hex(offset)}${length > 1 ? `+${hex(length)}` : ''}`),
  openDisk: (offset) => navigate(`disk:${hex(offset)}`),
  onSelect: (id) => navigate(`structures:${id}`),
});

Object.assign(inspector, { fileHex, diskHex, blockMap, structures });

const exporter = new ExportView($('view-export'), { engine, onMessage: (t) => status(t) });

function link(hash, text) {
  return el('a', { href: hash }, text);
}

function renderOverviewView() {
  if (!state.info) return;
  renderOverview($('view-overview'), { info: state.info, file: state.file, check: state.check, checkError: state.checkError, link });
}

function renderValidationView() {
  if (!state.info) return;
  renderValidation($('view-validation'), { check: state.check, checkError: state.checkError, filters: state.filters });
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
  const b = state.info.structures.bat;
  if (b && off >= b.offset && off < b.offset + b.entry_count * 8) {
    const i = Math.floor((off - b.offset) / 8);
    const start = b.offset + i * 8;
    return { text: batEntryText(i, peek(start, 8)), start, end: start + 8 };
  }
  const region = coarseRegion(off);
  return region ? { text: region, start: off, end: off + 1 } : null;
}

function describeDiskOffset(off) {
  const s = state.info && state.info.summary;
  if (!s || !s.block_size) return null;
  const n = Math.floor(off / s.block_size);
  const ss = s.logical_sector_size || 512;
  const lba = Math.floor(off / ss);
  let info = state.blockInfo.get(n);
  if (!info) {
    state.blockInfo.set(n, { pending: true });
    engine.block(n).then((x) => state.blockInfo.set(n, x), () => state.blockInfo.delete(n));
  }
  info = state.blockInfo.get(n);
  const st = info && info.state ? ` (${stateLabel(info.state)})` : '';
  const fo = info && hasData(info.state) && info.file_offset >= 0 ? ` · file ${hex(info.file_offset + (off % s.block_size))}` : '';
  return { text: `sector ${grouped(lba)} · block ${grouped(n)}${st}${fo}`, start: lba * ss, end: (lba + 1) * ss };
}

async function inspectDiskOffset(off) {
  if (!state.info) return [];
  const o = await engine.sectorOwner(off);
  const rows = [['block', grouped(o.block)], ['state', stateLabel(o.state)]];
  if (o.file_offset >= 0) {
    rows.push(['file offset', el('button', { class: 'linklike mono', type: 'button', title: 'Show this byte in the file hex view', onclick: () => navigate(`hex-file:${hex(o.file_offset)}`) }, hex(o.file_offset))]);
  } else {
    rows.push(['file offset', 'none (reads as zeros)']);
  }
  return rows;
}

async function resolveFileLocation(loc) {
  const size = fileHex.size;
  if (loc.kind === 'end') return size - 1;
  if (loc.kind === 'offset') return loc.value;
  if (loc.kind === 'lba') return loc.value * (state.info.summary.logical_sector_size || 512);
  if (loc.kind === 'block') {
    const b = await engine.block(loc.value);
    if (!hasData(b.state) || b.file_offset < 0) throw new Error(`block ${loc.value} is ${stateLabel(b.state)}: no file data`);
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
  body.dataset.view = view;
  if (!focus || !state.info || !changed) return;
  if (view === 'hex-file') fileHex.focus();
  else if (view === 'disk') diskHex.focus();
  else if (view === 'blocks') blockMap.focus();
  else $(`view-${view}`).focus({ preventScroll: true });
}

function applyRoute({ view, arg }) {
  showView(view);
  if (!state.info) return;
  if (view === 'structures') structures.select(arg);
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

// ---- opening a file ----------------------------------------------------------

function resetImage() {
  state.gen++;
  state.info = null;
  state.file = null;
  state.check = null;
  state.checkError = null;
  state.fields = null;
  state.blockInfo.clear();
  body.dataset.state = 'empty';
  delete body.dataset.cached;
  $('file-info').textContent = '';
  $('validation-count').textContent = '';
  structures.clear();
  blockMap.clear();
  exporter.clear();
  fileHex.setSource({ size: 0, read: null });
  diskHex.setSource({ size: 0, read: null });
  $('view-overview').textContent = '';
  $('view-validation').textContent = '';
}

async function openFile(file) {
  if (!file) return;
  resetImage();
  hideError();
  const gen = state.gen;
  const t0 = performance.now();
  body.dataset.state = 'empty';
  $('empty-title').textContent = `Opening ${file.name}…`;
  status(`Opening ${file.name} (${humanSize(file.size)})…`, true);
  $('progress').hidden = false;
  let info;
  try {
    await engine.ready;
    info = await engine.open(file);
  } catch (err) {
    if (gen !== state.gen) return;
    $('progress').hidden = true;
    $('empty-title').textContent = 'Drop a .vhdx file anywhere on this page';
    showError(`${file.name} could not be opened`, err.message);
    status('');
    return;
  }
  if (gen !== state.gen) return;
  state.info = info;
  state.file = file;
  body.dataset.state = 'open';
  body.dataset.cached = String(!!info.cached);
  $('empty-title').textContent = 'Drop a .vhdx file anywhere on this page';
  const s = info.summary || {};
  const fi = $('file-info');
  fi.textContent = '';
  fi.append(...[el('span', { class: 'name', title: file.name }, file.name),
    el('span', { class: 'muted' }, `${humanSize(file.size)} file · ${s.virtual_size ? `${humanSize(s.virtual_size)} ${s.disk_type || ''} disk` : 'no readable metadata'}`),
    info.cached ? el('span', { class: 'badge cached', title: 'Summary read from this browser’s IndexedDB cache' }, 'cached') : null,
    info.error ? el('span', { class: 'badge bad', title: info.error }, 'damaged') : null].filter(Boolean));

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
  structures.setImage(info, fieldsPromise);
  const fileSize = s.replay && s.replay.file_size_after ? s.replay.file_size_after : s.file_size || file.size;
  fileHex.setSource({ size: fileSize, read: (o, n) => engine.readFile(o, n, true) });
  if (s.disk_error || !s.virtual_size) {
    diskHex.setSource({ size: 0, read: null, error: `The virtual disk cannot be read: ${s.disk_error || 'no metadata'}` });
  } else {
    diskHex.setSource({ size: s.virtual_size, read: (o, n) => engine.readDisk(o, n, true), sectorSize: s.logical_sector_size || 512, blockSize: s.block_size });
  }
  if (s.payload_blocks && info.structures && info.structures.bat) blockMap.setImage(s);
  else blockMap.clear();
  exporter.setImage(info, file);

  const route = parseRoute(location.hash);
  applyRoute(route);
  await new Promise((r) => requestAnimationFrame(() => r()));
  const ms = performance.now() - t0;
  body.dataset.openMs = ms.toFixed(1);
  $('progress').hidden = engine.busy === 0;
  status(`Opened ${file.name} in ${duration(ms)}${info.cached ? ' (summary from cache)' : ''}.`);

  engine.check().then((c) => {
    if (gen !== state.gen) return;
    state.check = c;
    renderOverviewView();
    renderValidationView();
    body.dataset.checked = 'true';
  }, (err) => {
    if (gen !== state.gen) return;
    state.checkError = err.message;
    renderOverviewView();
    renderValidationView();
  });
}

function pickFile(files) {
  const list = Array.from(files || []);
  if (!list.length) return null;
  return list.find((f) => /\.a?vhdx$/i.test(f.name)) || list[0];
}

for (const id of ['file-input', 'file-input-2']) {
  $(id).addEventListener('change', (e) => {
    const f = pickFile(e.target.files);
    e.target.value = '';
    if (f) openFile(f);
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
  const f = pickFile(files);
  if (f) openFile(f);
  else showError('Nothing to open', 'the drop held no file.');
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
    if (off < 0 || off >= size) throw new Error(`${hex(off)} is beyond the end (${hex(size)} bytes)`);
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
}

// ---- start -------------------------------------------------------------------

state.lastHash = location.hash;
showView(parseRoute(location.hash).view, false);
