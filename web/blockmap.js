// The block map: every payload block as a cell coloured by its state or, for
// a differencing chain, by the layer whose data it shows. When a range holds
// more blocks than the canvas can show as cells, blocks are aggregated per
// cell by the engine (blockHistogram or layerHistogram with one bucket per
// cell) and the cell colour blends the states or layers by count. Zooming
// asks for a narrower range.

import { el, hex, humanSize, grouped, stateLabel, byteRange } from './format.js';

/** Block states in legend order: engine state number(s), name, CSS colour variable. */
export const STATES = [
  { ids: [6], key: 'fully_present', css: '--st-fully-present' },
  { ids: [7], key: 'partially_present', css: '--st-partially-present' },
  { ids: [2], key: 'zero', css: '--st-zero' },
  { ids: [3], key: 'unmapped', css: '--st-unmapped' },
  { ids: [1], key: 'undefined', css: '--st-undefined' },
  { ids: [0], key: 'not_present', css: '--st-not-present' },
  { ids: [4, 5], key: 'invalid', css: '--st-invalid' },
];
const STATE_OF_ID = [5, 4, 2, 3, 6, 6, 0, 1]; // engine state → index in STATES
// Which state gives its colour to a cell holding several: the most telling one.
const PRIORITY = [4, 5, 7, 6, 3, 1, 2, 0];

/** qcow2 cluster kinds in legend order (the engine's slots: qcow2.ClusterKinds). */
export const KINDS = [
  { key: 'normal', css: '--st-fully-present' },
  { key: 'compressed', css: '--st-partially-present' },
  { key: 'zero_allocated', css: '--st-unmapped' },
  { key: 'zero', css: '--st-zero' },
  { key: 'unallocated', css: '--st-not-present' },
  { key: 'invalid', css: '--st-invalid' },
];
const RAW_STATES = [{ key: 'data', css: '--st-fully-present' }];

/**
 * How a map's histogram slots read: states (legend order), the state of
 * each engine slot, slots by how telling they are, and the unit's name.
 */
export const SCHEMES = {
  vhdx: { states: STATES, stateOf: STATE_OF_ID, priority: PRIORITY, unit: 'block' },
  qcow2: { states: KINDS, stateOf: [4, 3, 2, 0, 1, 5], priority: [5, 4, 3, 2, 1, 0], unit: 'cluster' },
  raw: { states: RAW_STATES, stateOf: [0, 0, 0, 0, 0, 0], priority: [3, 4, 2, 1, 0, 5], unit: 'block' },
};

const MAX_BUCKETS = 65536; // the engine caches whole-disk histograms up to this many
const MAX_CELL = 56; // CSS px
const GAP_FROM = 8; // cells at least this big get a 1px gutter

/** Distinct layer colours before they repeat (CSS --layer-0 … --layer-7). */
export const LAYER_COLOURS = 8;

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

/** Colour of chain layer i (0 = the image shown) as "#rrggbb"; i < 0 or null: no data. */
export function layerColor(i) {
  if (i === null || i === undefined || i < 0) return cssVar('--layer-none');
  return cssVar(`--layer-${i % LAYER_COLOURS}`);
}

/** The CSS colour of layer i for elements: a var() that follows the colour scheme. */
export function layerVar(i) {
  return i === null || i === undefined || i < 0 ? 'var(--layer-none)' : `var(--layer-${i % LAYER_COLOURS})`;
}

export function layerSwatch(i) {
  const sw = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  sw.style.background = layerVar(i);
  return sw;
}

/** Colour of a state name ("fully_present", "invalid_4"…) as "#rrggbb" for the current theme. */
export function stateColor(name) {
  const key = String(name).startsWith('invalid') ? 'invalid' : name;
  const s = [...STATES, ...KINDS, ...RAW_STATES].find((x) => x.key === key);
  return s ? getComputedStyle(document.documentElement).getPropertyValue(s.css).trim() : '#888888';
}

export function stateSwatch(name) {
  const sw = el('span', { class: 'swatch', 'aria-hidden': 'true' });
  sw.style.background = stateColor(name);
  return sw;
}

/** Whether a block in this state has data in the file. */
export function hasData(state) {
  return state === 'fully_present' || state === 'partially_present';
}

function parseColor(c) {
  const m = /^#([0-9a-f]{6})$/i.exec(c.trim());
  if (!m) return [128, 128, 128];
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Per-slot totals over every bucket of a histogram with stride values per bucket. */
function sumBuckets(hist, stride) {
  const out = new Array(stride).fill(0);
  for (let i = 0; i < hist.length; i++) out[i % stride] += hist[i];
  return out;
}

export function mapLayout(count, W, H) {
  const maxCells = Math.max(1, Math.min(MAX_BUCKETS, Math.floor(W) * Math.floor(H)));
  const per = count <= maxCells ? 1 : Math.ceil(count / maxCells);
  const cells = Math.max(1, Math.ceil(count / per));
  const fits = (s) => {
    const cols = Math.floor(W / s);
    return cols > 0 && Math.ceil(cells / cols) * s <= H;
  };
  let s = Math.min(MAX_CELL, Math.sqrt((W * H) / cells));
  if (s >= GAP_FROM) {
    // Big cells: whole pixels, so that they stay crisp.
    s = Math.floor(s);
    while (s > GAP_FROM && !fits(s)) s--;
  } else {
    // Small cells: fractional sizes fill the canvas (cells then differ by a pixel).
    while (s > 0.5 && !fits(s)) s *= 0.985;
  }
  s = Math.max(s, 0.5);
  const cols = Math.max(1, Math.floor(W / s));
  return { per, cells, s, cols, rows: Math.ceil(cells / cols) };
}

/** "cluster" → "Cluster" */
function cap(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

export class BlockMap {
  /**
   * @param {HTMLElement} host
   * @param {{engine, onOpen(n), onRange(first, count), onMessage(text)}} opts
   */
  constructor(host, opts) {
    this.host = host;
    this.opts = opts;
    this.engine = opts.engine;
    this.scheme = SCHEMES.vhdx;
    this.total = 0;
    this.first = 0;
    this.count = 0;
    this.hist = null;
    this.kcell = 0; // keyboard cursor cell
    this.hoverCell = -1;
    this.drawToken = 0;
    this.visible = false;
    this.build();
    matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => this.paint());
  }

  build() {
    const btn = (label, title, fn, extra = {}) => {
      const b = el('button', { class: 'button small', type: 'button', title, ...extra }, label);
      b.addEventListener('click', fn);
      return b;
    };
    this.zoomIn = btn('Zoom in', 'Zoom in (+ or wheel)', () => this.zoomAt(this.centerBlock(), 4), { 'aria-label': 'Zoom in' });
    this.zoomOut = btn('Zoom out', 'Zoom out (- or wheel)', () => this.zoomAt(this.centerBlock(), 1 / 4), { 'aria-label': 'Zoom out' });
    this.zoomAll = btn('Whole disk', 'Show every block (0)', () => this.setRange(0, this.total, true));
    this.prev = btn('◀ Previous', 'Previous range (PageUp)', () => this.pan(-1), { 'aria-label': 'Previous range' });
    this.next = btn('Next ▶', 'Next range (PageDown)', () => this.pan(1), { 'aria-label': 'Next range' });
    this.rangeLabel = el('span', { class: 'bm-range', 'aria-live': 'polite' });
    this.canvas = el('canvas', { tabindex: '0', role: 'img', 'aria-label': 'Block map', id: 'block-canvas' });
    this.tip = el('div', { class: 'bm-tip', hidden: true, role: 'tooltip', id: 'block-tip' });
    this.loading = el('div', { class: 'bm-loading', hidden: true, role: 'status' }, 'Reading the block allocation table…');
    this.wrap = el('div', { class: 'bm-canvas-wrap' }, this.canvas, this.tip, this.loading);
    this.legend = el('ul', { class: 'legend', 'aria-label': 'Legend' });
    this.info = el('div', { class: 'bm-info', 'aria-live': 'polite', id: 'block-info' });
    this.blendNote = el('p', { class: 'muted' });
    this.side = el('aside', { class: 'bm-side' },
      el('h2', {}, 'Legend'), this.legend,
      el('h2', {}, 'Block'), this.info,
      el('p', { class: 'muted' }, 'Hover a cell for details; click to open the block in the disk hex view. Wheel or + / − to zoom; arrows and Enter work too.'),
      this.blendNote);
    // Colour by state or by layer: only for differencing chains.
    const modeBtn = (mode, label) => {
      const b = el('button', { class: 'button small', type: 'button', 'aria-pressed': 'false', 'data-mode': mode, id: `block-mode-${mode}` }, label);
      b.addEventListener('click', () => this.setMode(mode));
      return b;
    };
    this.modeState = modeBtn('state', 'state');
    this.modeLayer = modeBtn('layer', 'layer');
    this.modeGroup = el('div', { class: 'bm-mode', role: 'group', 'aria-label': 'Colour the blocks by', hidden: true },
      el('span', { class: 'muted' }, 'Colour by:'), this.modeState, this.modeLayer);
    this.host.append(
      el('div', { class: 'bm-bar' }, el('h2', { class: 'sr-only' }, 'Block map'), this.zoomIn, this.zoomOut, this.zoomAll, this.prev, this.next, this.modeGroup, this.rangeLabel),
      el('div', { class: 'bm-main' }, this.wrap, this.side),
    );
    new ResizeObserver(() => this.scheduleDraw()).observe(this.wrap);
    this.canvas.addEventListener('pointermove', (e) => this.onMove(e));
    this.canvas.addEventListener('pointerleave', () => this.setHover(-1));
    this.canvas.addEventListener('click', (e) => this.onClick(e));
    this.canvas.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.canvas.addEventListener('keydown', (e) => this.onKey(e));
    this.canvas.addEventListener('focus', () => this.overlay());
    this.canvas.addEventListener('blur', () => this.overlay());
  }

  /**
   * New image: summary as from open(). chain: {layers: [{name}], note} for a
   * differencing disk: layers when the chain is complete (the map then
   * colours by layer), else note says why it cannot.
   */
  setImage(summary, chain = null, scheme = SCHEMES.vhdx) {
    this.imageGen = (this.imageGen || 0) + 1; // answers for the image before are dropped
    this.scheme = scheme;
    this.info.textContent = ''; // the block described belonged to the image before
    this.summary = summary;
    this.clearBands();
    this.layers = chain && chain.layers && chain.layers.length > 1 ? chain.layers : null;
    this.layerNote = chain && !this.layers ? chain.note || '' : '';
    this.layerTotals = null;
    this.layerBytesTotal = null;
    this.mode = this.layers ? 'layer' : 'state';
    this.renderMode();
    this.total = Number(summary.payload_blocks || 0);
    this.blockSize = Number(summary.block_size || 0);
    this.virtualSize = Number(summary.virtual_size || 0);
    this.first = 0;
    this.count = this.total;
    this.hist = null;
    this.kcell = 0;
    this.histKey = '';
    this.renderLegend();
    this.scheduleDraw();
  }

  /** The block counts arrived (the scan of the BAT ended): legend and map are redrawn. */
  setCounts(summary) {
    this.summary = summary;
    this.renderLegend();
    this.refresh();
  }

  /** Asks the engine again for what is drawn (the scan has read more of the BAT). */
  refresh() {
    if (this.mode !== 'state') return;
    this.histKey = '';
    this.scheduleDraw();
  }

  clear() {
    this.imageGen = (this.imageGen || 0) + 1;
    this.summary = null;
    this.clearBands();
    this.layers = null;
    this.layerNote = '';
    this.layerTotals = null;
    this.mode = 'state';
    this.total = 0;
    this.hist = null;
    this.renderMode();
    this.renderLegend();
  }

  /** Colours by 'state' or 'layer' (layer only for a complete chain). */
  setMode(mode) {
    if (mode === 'layer' && !this.layers) return;
    if (mode === this.mode) return;
    this.mode = mode;
    this.hist = null;
    this.histKey = '';
    this.renderMode();
    this.renderLegend();
    this.scheduleDraw();
  }

  renderMode() {
    const chain = !!this.layers || !!this.layerNote;
    this.modeGroup.hidden = !chain;
    this.modeState.setAttribute('aria-pressed', String(this.mode === 'state'));
    this.modeLayer.setAttribute('aria-pressed', String(this.mode === 'layer'));
    this.modeLayer.disabled = !this.layers;
    this.modeLayer.title = this.layers ? 'Colour each block by the layer of the chain whose data it shows (l)'
      : `Colouring by layer needs the whole chain: ${this.layerNote}`;
    this.modeState.title = `Colour each block by its state in this file${this.layers ? ' (l)' : ''}`;
    this.canvas.dataset.mode = this.mode;
    this.blendNote.textContent = this.mode === 'layer'
      ? 'A block whose sectors come from several layers is shown as mixed. A cell that holds several blocks takes the colour of the newest layer with data in it, paler when that layer supplies few of its blocks.'
      : 'A cell that holds several blocks takes the colour of its most telling state (data before zeros before absent blocks), paler when that state is rare in it.';
  }

  /** Values per histogram bucket: 8 states, or the layers plus "no data". */
  get stride() {
    return this.mode === 'layer' ? this.layers.length + 2 : this.scheme.stateOf.length;
  }

  /** What layer-mode slot s holds: a layer index, 'none' (zeros) or 'mixed'. */
  slotKind(s) {
    const L = this.layers.length;
    return s < L ? s : s === L ? 'none' : 'mixed';
  }

  show() {
    this.visible = true;
    this.scheduleDraw();
  }

  hide() { this.visible = false; }

  focus() { this.canvas.focus({ preventScroll: true }); }

  setRange(first, count, notify = false) {
    count = Math.max(1, Math.min(this.total, Math.round(count)));
    first = Math.max(0, Math.min(this.total - count, Math.round(first)));
    if (first === this.first && count === this.count) return;
    this.first = first;
    this.count = count;
    this.kcell = 0;
    this.scheduleDraw();
    if (notify) this.opts.onRange?.(first, count);
  }

  centerBlock() { return this.first + Math.floor(this.count / 2); }

  zoomAt(block, factor) {
    if (!this.total) return;
    const count = Math.max(1, Math.min(this.total, Math.round(this.count / factor)));
    const rel = (block - this.first) / this.count;
    this.setRange(block - rel * count, count, true);
  }

  pan(dir) {
    this.setRange(this.first + dir * this.count, this.count, true);
  }

  scheduleDraw() {
    if (!this.visible || !this.total) return;
    cancelAnimationFrame(this.raf);
    this.raf = requestAnimationFrame(() => this.draw());
  }

  async draw() {
    const token = ++this.drawToken;
    const image = this.imageGen;
    const t0 = performance.now();
    const W = this.wrap.clientWidth;
    const H = this.wrap.clientHeight;
    if (!W || !H || !this.total) return;
    const L = mapLayout(this.count, W, H);
    const mode = this.mode;
    const stride = this.stride;
    const key = `${mode}:${this.first}:${this.count}:${L.cells}`;
    let hist = this.hist;
    if (this.histKey !== key) {
      const slow = setTimeout(() => {
        this.loading.textContent = mode === 'layer' ? 'Reading the block tables of the chain…' : 'Reading the block allocation table…';
        this.loading.hidden = false;
      }, 150);
      let totals = null;
      try {
        hist = mode === 'layer'
          ? await this.engine.layerHistogram(this.first, this.count, L.cells)
          : await this.engine.blockHistogram(this.first, this.count, L.cells);
        if (mode === 'layer' && !this.layerTotals) {
          totals = this.first === 0 && this.count === this.total
            ? sumBuckets(hist, stride)
            : sumBuckets(await this.engine.layerHistogram(0, this.total, 1), stride);
          this.layerBytesTotal = Array.from(await this.engine.layerBytes(0, this.total));
        }
      } catch (err) {
        if (image !== this.imageGen) return;
        this.opts.onMessage?.(`Block map: ${err.message}`);
        this.loading.textContent = `The block map could not be read: ${err.message}`;
        this.loading.hidden = false;
        return;
      } finally {
        clearTimeout(slow);
      }
      if (token !== this.drawToken || mode !== this.mode || image !== this.imageGen) return;
      if (totals) this.layerTotals = totals;
      this.loading.hidden = true;
    }
    // Cell b holds blocks [ceil(b*count/cells), ceil((b+1)*count/cells))
    // of the range, as the engine splits it; blocks whose state is not read
    // yet are missing from the counts and drawn as pending.
    const cells = Math.max(1, Math.floor(hist.length / stride));
    const starts = new Float64Array(cells + 1);
    let maxRun = 0;
    for (let b = 1; b <= cells; b++) {
      starts[b] = Math.ceil((b * this.count) / cells);
      maxRun = Math.max(maxRun, starts[b] - starts[b - 1]);
    }
    const per = maxRun || 1;
    this.hist = hist;
    this.histKey = key;
    this.starts = starts;
    this.L = { ...L, per, cells, W, H, rows: Math.ceil(cells / L.cols) };
    if (this.kcell >= cells) this.kcell = cells - 1;
    this.paint();
    this.drawMs = performance.now() - t0;
    const d = this.canvas.dataset;
    d.first = this.first;
    d.count = this.count;
    d.per = per;
    d.cols = this.L.cols;
    d.cell = this.L.s;
    d.cells = cells;
    d.drawMs = this.drawMs.toFixed(1);
    d.drawnAt = performance.now().toFixed(1); // when this range was on screen, for timing
    d.mode = mode;
    this.renderRange();
    this.renderLegend();
    if (this.hoverCell >= 0) this.describe(this.hoverCell);
  }

  /** Paints the cells from this.hist (no engine call). */
  paint() {
    const L = this.L;
    if (!L || !this.hist) return;
    const dpr = window.devicePixelRatio || 1;
    const cw = Math.max(1, Math.round(L.W * dpr));
    const ch = Math.max(1, Math.round(L.H * dpr));
    const c = this.canvas;
    if (c.width !== cw || c.height !== ch) {
      c.width = cw;
      c.height = ch;
    }
    c.style.width = `${L.W}px`;
    c.style.height = `${L.H}px`;
    const ctx = c.getContext('2d', { willReadFrequently: false });
    const img = ctx.createImageData(cw, ch);
    const px = new Uint32Array(img.data.buffer);
    // Colour and priority of each histogram slot: states, or layers (the
    // newest first) and then "no data".
    const S = this.stride;
    let slotRGB;
    let order;
    if (this.mode === 'layer') {
      // Layers (newest first), then blocks mixed from several, then no data.
      const L = S - 2;
      slotRGB = [];
      for (let l = 0; l < L; l++) slotRGB.push(parseColor(layerColor(l)));
      slotRGB.push(parseColor(layerColor(-1)), parseColor(cssVar('--layer-mixed')));
      order = [...Array(L).keys(), L + 1, L];
    } else {
      const rgb = this.scheme.states.map((s) => parseColor(cssVar(s.css)));
      slotRGB = this.scheme.stateOf.map((i) => rgb[i]);
      order = this.scheme.priority;
    }
    const gap = L.s >= GAP_FROM ? Math.max(1, Math.round(dpr)) : 0;
    const h = this.hist;
    const acc = new Float64Array(3);
    const pendingRGB = parseColor(cssVar('--st-pending'));
    const pendingV = (255 << 24) | (pendingRGB[2] << 16) | (pendingRGB[1] << 8) | pendingRGB[0];
    let pending = 0;
    for (let b = 0; b < L.cells; b++) {
      // The cell takes the colour of its most telling slot, mixed with the
      // others by share but never below 55%, so that rare data stays visible.
      let n = 0;
      let top = -1;
      for (const s of order) {
        const k = h[b * S + s];
        if (!k) continue;
        if (top < 0) top = s;
        n += k;
      }
      const run = this.starts[b + 1] - this.starts[b];
      if (n < run) pending += run - n;
      if (!n) {
        if (run) this.fillCell(px, cw, ch, b, pendingV, gap, dpr);
        continue;
      }
      const topCol = slotRGB[top];
      const topN = h[b * S + top];
      let r = topCol[0];
      let g = topCol[1];
      let bl = topCol[2];
      if (topN < n) {
        acc.fill(0);
        for (let s = 0; s < S; s++) {
          const k = s === top ? 0 : h[b * S + s];
          if (!k) continue;
          const col = slotRGB[s];
          acc[0] += col[0] * k;
          acc[1] += col[1] * k;
          acc[2] += col[2] * k;
        }
        const rest = n - topN;
        const a = 0.55 + (0.45 * topN) / n;
        r = a * r + ((1 - a) * acc[0]) / rest;
        g = a * g + ((1 - a) * acc[1]) / rest;
        bl = a * bl + ((1 - a) * acc[2]) / rest;
      }
      this.fillCell(px, cw, ch, b, (255 << 24) | (Math.round(bl) << 16) | (Math.round(g) << 8) | Math.round(r), gap, dpr);
    }
    ctx.putImageData(img, 0, 0);
    this.pending = pending;
    this.canvas.dataset.pending = String(pending);
    this.imageData = img;
    this.overlay();
  }

  /** Paints cell b in colour v (0xAABBGGRR) into the pixels px of a cw×ch canvas. */
  fillCell(px, cw, ch, b, v, gap, dpr) {
    const L = this.L;
    const col = b % L.cols;
    const row = Math.floor(b / L.cols);
    const x0 = Math.round(col * L.s * dpr);
    const x1 = Math.min(cw, Math.round((col + 1) * L.s * dpr) - gap);
    const y0 = Math.round(row * L.s * dpr);
    const y1 = Math.min(ch, Math.round((row + 1) * L.s * dpr) - gap);
    for (let y = y0; y < y1; y++) px.fill(v >>> 0, y * cw + x0, y * cw + x1);
  }

  overlay() {
    const L = this.L;
    if (!L || !this.imageData) return;
    const ctx = this.canvas.getContext('2d');
    ctx.putImageData(this.imageData, 0, 0);
    const dpr = window.devicePixelRatio || 1;
    const ring = (cell, color, width) => {
      if (cell < 0 || cell >= L.cells) return;
      const col = cell % L.cols;
      const row = Math.floor(cell / L.cols);
      const s = Math.max(L.s, 3);
      ctx.strokeStyle = color;
      ctx.lineWidth = width * dpr;
      ctx.strokeRect((col * L.s - 0.5) * dpr, (row * L.s - 0.5) * dpr, (s + 1) * dpr - (L.s >= GAP_FROM ? dpr : 0), (s + 1) * dpr - (L.s >= GAP_FROM ? dpr : 0));
    };
    this.paintBands(ctx, dpr);
    const fg = getComputedStyle(document.documentElement).getPropertyValue('--fg').trim();
    if (document.activeElement === this.canvas) ring(this.kcell, getComputedStyle(document.documentElement).getPropertyValue('--focus').trim(), 2);
    if (this.hoverCell >= 0) ring(this.hoverCell, fg, 1);
  }

  renderRange() {
    const last = this.first + this.count - 1;
    const per = this.L ? this.L.per : 1;
    const u = this.scheme.unit;
    this.rangeLabel.textContent = `${cap(u)}s ${grouped(this.first)}–${grouped(last)} of ${grouped(this.total)} · ${per === 1 ? `one ${u} per cell` : `${this.count % this.L.cells ? 'up to ' : ''}${grouped(per)} ${u}s per cell`} · ${u}s of ${humanSize(this.blockSize)}`;
    const whole = this.first === 0 && this.count === this.total;
    this.zoomOut.disabled = whole;
    this.zoomAll.disabled = whole;
    this.zoomIn.disabled = this.count <= 1;
    this.prev.disabled = this.first === 0;
    this.next.disabled = this.first + this.count >= this.total;
    this.canvas.setAttribute('aria-label', `Block map: ${this.rangeLabel.textContent}. The legend lists the counts.`);
  }

  renderLegend() {
    this.legend.textContent = '';
    if (!this.summary) return;
    if (this.mode === 'layer') {
      this.renderLayerLegend();
      return;
    }
    const disk = this.summary.block_states || {};
    const { states, stateOf } = this.scheme;
    const inView = new Array(states.length).fill(0);
    const zoomed = this.count !== this.total;
    if (this.hist && zoomed) {
      for (let i = 0; i < this.hist.length; i++) inView[stateOf[i % stateOf.length]] += this.hist[i];
    }
    const invalid = Object.entries(disk).filter(([k]) => k.startsWith('invalid')).reduce((s, [, v]) => s + Number(v), 0);
    if (zoomed) {
      this.legend.append(el('li', { class: 'muted' }, el('span'), el('span', {}, 'state'), el('span', { class: 'n' }, 'in view / disk')));
    }
    if (this.pending) {
      const sw = el('span', { class: 'swatch', 'aria-hidden': 'true' });
      sw.style.background = 'var(--st-pending)';
      this.legend.append(el('li', { 'data-state': 'pending' }, sw, el('span', {}, 'not read yet'), el('span', { class: 'n' }, grouped(this.pending))));
    }
    states.forEach((s, i) => {
      const n = s.key === 'invalid' ? invalid : Number(disk[s.key] || 0);
      if (s.key === 'invalid' && !n && !inView[i]) return;
      this.legend.append(el('li', { class: n ? '' : 'zero-count', 'data-state': s.key },
        stateSwatch(s.key), el('span', {}, s.key === 'not_present' && this.layerNote ? 'not present here: needs the parent' : stateLabel(s.key)),
        el('span', { class: 'n' }, !this.summary.block_states ? '…' : zoomed ? `${grouped(inView[i])} / ${grouped(n)}` : grouped(n))));
    });
  }

  renderLayerLegend() {
    const S = this.stride;
    const L = S - 2;
    const zoomed = this.count !== this.total;
    const inView = this.hist && zoomed && this.hist.length % S === 0 ? sumBuckets(this.hist, S) : null;
    const disk = this.layerTotals;
    const bytes = this.layerBytesTotal; // per layer, then zeros
    this.legend.append(el('li', { class: 'muted legend-head' }, el('span'), el('span', {}, `${this.scheme.unit}s read wholly from`), el('span', { class: 'n' }, zoomed ? 'in view / disk' : `${this.scheme.unit}s`)));
    for (const s of [...Array(L).keys(), L + 1, L]) {
      const kind = this.slotKind(s);
      const n = disk ? disk[s] : null;
      const count = n === null ? '…' : zoomed ? `${inView ? grouped(inView[s]) : '…'} / ${grouped(n)}` : grouped(n);
      const b = kind === 'mixed' ? null : bytes ? bytes[kind === 'none' ? L : kind] : null;
      const name = kind === 'none' ? 'no data (zeros)' : kind === 'mixed' ? 'mixed: sectors from several layers' : this.layers[kind].name;
      const title = kind === 'none' ? 'Blocks no layer stores: they read as zeros'
        : kind === 'mixed' ? 'Blocks whose sectors come from more than one layer: hover one to see how much each supplies'
          : `Layer ${kind}${kind === 0 ? ' (the image shown)' : ''}: ${name}`;
      const sw = layerSwatch(kind === 'none' ? -1 : kind);
      if (kind === 'mixed') sw.style.background = 'var(--layer-mixed)';
      this.legend.append(el('li', { class: n === 0 ? 'zero-count' : '', 'data-layer': String(kind), title },
        sw,
        el('span', { class: 'layer-name' }, typeof kind === 'number' ? el('span', { class: 'layer-index' }, String(kind)) : '', name,
          b === null ? null : el('span', { class: 'layer-bytes', 'data-bytes': String(b) }, `${b === undefined ? '…' : `${humanSize(b)} in all (${grouped(b / 512)} sectors)`}`)),
        el('span', { class: 'n' }, count)));
    }
  }

  /** Name of layer l for people ("2 · base.vhdx"), or "no data". */
  layerLabel(l) {
    if (!this.layers || l < 0 || l >= this.layers.length) return 'no data (reads as zeros)';
    return `layer ${l} · ${this.layers[l].name}`;
  }

  cellAt(e) {
    if (!this.L) return -1;
    const r = this.canvas.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    const col = Math.floor(x / this.L.s);
    const row = Math.floor(y / this.L.s);
    if (col < 0 || col >= this.L.cols || row < 0) return -1;
    const cell = row * this.L.cols + col;
    return cell < this.L.cells ? cell : -1;
  }

  /** Blocks [a, b) shown by a cell. */
  cellBlocks(cell) {
    return [this.first + this.starts[cell], this.first + this.starts[cell + 1]];
  }

  /** The cell showing block n, or -1. */
  cellOf(n) {
    if (!this.starts || n < this.first || n >= this.first + this.count) return -1;
    const rel = n - this.first;
    let lo = 0;
    let hi = this.L.cells - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= rel) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Centre of a cell in CSS pixels relative to the canvas (for tests and tooltips). */
  cellCenter(cell) {
    const L = this.L;
    const col = cell % L.cols;
    const row = Math.floor(cell / L.cols);
    return { x: (col + 0.5) * L.s, y: (row + 0.5) * L.s };
  }

  onMove(e) {
    const cell = this.cellAt(e);
    this.setHover(cell);
    if (cell >= 0) {
      const r = this.wrap.getBoundingClientRect();
      const x = e.clientX - r.left + 14;
      const y = e.clientY - r.top + 14;
      this.tip.hidden = false;
      const tw = this.tip.offsetWidth;
      const th = this.tip.offsetHeight;
      this.tip.style.left = `${Math.max(0, Math.min(x, r.width - tw - 4))}px`;
      this.tip.style.top = `${y + th > r.height ? Math.max(0, y - th - 24) : y}px`;
    }
  }

  setHover(cell) {
    if (cell === this.hoverCell) return;
    this.hoverCell = cell;
    if (cell < 0) this.tip.hidden = true;
    else this.describe(cell);
    this.overlay();
  }

  /** Fills the tooltip and the info panel for a cell. */
  async describe(cell) {
    const [a, b] = this.cellBlocks(cell);
    const token = (this.descToken = (this.descToken || 0) + 1);
    const vStart = a * this.blockSize;
    const vEnd = Math.min(this.virtualSize, b * this.blockSize);
    if (b - a > 1) {
      const parts = [];
      const S = this.stride;
      for (let s = 0; s < S; s++) {
        const n = this.hist[cell * S + s];
        if (!n) continue;
        if (this.mode === 'layer') {
          const kind = this.slotKind(s);
          parts.push(`${grouped(n)} ${kind === 'none' ? 'without data' : kind === 'mixed' ? 'mixed from several layers' : `from ${this.layers[kind].name}`}`);
        }
        else if (s === 0 && this.layerNote && this.scheme === SCHEMES.vhdx) parts.push(`${grouped(n)} needing the parent`);
        else parts.push(`${grouped(n)} ${stateLabel(this.scheme.states[this.scheme.stateOf[s]].key)}`);
      }
      const lines = [
        `${cap(this.scheme.unit)}s ${grouped(a)}–${grouped(b - 1)} (${grouped(b - a)})`,
        `virtual ${byteRange(vStart, vEnd - 1)}`,
        parts.join(', '),
        'click to zoom in',
      ];
      this.showInfo(lines);
      return;
    }
    this.showInfo([`${cap(this.scheme.unit)} ${grouped(a)}`, `virtual ${byteRange(vStart, vEnd - 1)}`, '…']);
    try {
      const info = await this.engine.block(a);
      let layer = -1;
      let supply = '';
      if (this.layers) {
        const h = await this.engine.layerHistogram(a, 1, 1);
        const kind = this.slotKind(h.indexOf(1));
        layer = typeof kind === 'number' ? kind : -1;
        if (kind === 'mixed') {
          // How much of the block each layer supplies, in bytes and sectors.
          const bytes = await this.engine.layerBytes(a, 1);
          supply = `mixed: ${Array.from(bytes).map((b, l) => (b ? `${humanSize(b)} (${grouped(b / 512)} ${b === 512 ? 'sector' : 'sectors'}) from ${l < this.layers.length ? this.layers[l].name : 'no layer (zeros)'}` : '')).filter(Boolean).join(', ')}`;
        }
      }
      if (token !== this.descToken) return;
      if (this.scheme !== SCHEMES.vhdx) {
        this.describeCluster(info, layer);
        return;
      }
      const head = [
        `Block ${grouped(info.block)}`,
        `virtual ${byteRange(info.virtual_offset, info.virtual_offset + info.virtual_length - 1)}`,
      ];
      const bat = `BAT entry ${grouped(info.bat_index)} at ${hex(info.bat_entry_offset)}`;
      const st = stateLabel(info.state);
      if (this.layers) {
        // A chain: the layer that supplies the block, then what this file itself says.
        const own = hasData(info.state) ? `${st} at file offset ${hex(info.file_offset)}`
          : info.state === 'not_present' ? `${st}: read from the parent` : `${st}: reads as zeros`;
        this.showInfo([...head,
          supply || (layer >= 0 ? `data from ${this.layerLabel(layer)}` : 'no layer stores it (reads as zeros)'),
          `in ${this.layers[0].name}: ${own}`, bat], info.state, { line: 2, layer, stateLine: 3 });
        return;
      }
      let own = 'no file data (reads as zeros)';
      if (hasData(info.state)) own = `file offset ${hex(info.file_offset)}`;
      else if (info.state === 'not_present' && this.layerNote) own = 'not in this file: read from the parent';
      this.showInfo([...head, `state ${st}${this.layerNote ? ' in this file' : ''}`, own, bat], info.state);
    } catch (err) {
      if (token === this.descToken) this.showInfo([`Block ${a}`, err.message]);
    }
  }

  /** Shows a qcow2 cluster or a raw block (info from engine.block) and the layer supplying it. */
  describeCluster(info, layer) {
    const u = cap(this.scheme.unit);
    const lines = [`${u} ${grouped(info.block)}`, `virtual ${byteRange(info.virtual_offset, info.virtual_offset + info.virtual_length - 1)}`];
    const own = info.file_offset >= 0 ? `${stateLabel(info.state)} at file offset ${hex(info.file_offset)}` : `${stateLabel(info.state)}: no data in this file`;
    if (this.layers) {
      lines.push(layer >= 0 ? `data from ${this.layerLabel(layer)}` : 'no layer stores it (reads as zeros)', `in ${this.layers[0].name}: ${own}`);
    } else {
      lines.push(own);
    }
    if (info.l2_entry_offset >= 0) lines.push(`L2 entry at ${hex(info.l2_entry_offset)} (L1 entry ${grouped(info.l1_index)})`);
    this.showInfo(lines, info.state, this.layers ? { line: 2, layer, stateLine: 3 } : null);
  }

  /**
   * Shows lines in the tooltip and the side panel; the state's swatch goes on
   * line 2 (or layer.stateLine), the layer's on layer.line.
   */
  showInfo(lines, state, layer = null) {
    this.tip.textContent = '';
    this.info.textContent = '';
    const stateLine = layer ? layer.stateLine : 2;
    lines.forEach((l, i) => {
      let sw = null;
      if (i === stateLine && state) sw = stateSwatch(state);
      if (layer && i === layer.line) sw = layerSwatch(layer.layer);
      const line = el('div', layer && i === layer.line ? { 'data-layer': String(layer.layer) } : {}, sw, l);
      if (i === 0) line.style.fontWeight = '600';
      this.tip.append(line);
      this.info.append(line.cloneNode(true));
    });
  }

  onClick(e) {
    const cell = this.cellAt(e);
    if (cell < 0) return;
    this.kcell = cell;
    this.activate(cell, e.shiftKey);
  }

  activate(cell, forceOpen = false) {
    const [a, b] = this.cellBlocks(cell);
    if (b - a > 1 && !forceOpen) {
      this.zoomAt(a + (b - a) / 2, 8);
      return;
    }
    this.opts.onOpen?.(a);
  }

  onWheel(e) {
    if (!this.L) return;
    e.preventDefault();
    const cell = this.cellAt(e);
    const block = cell >= 0 ? this.cellBlocks(cell)[0] : this.centerBlock();
    const now = performance.now();
    if (now - (this.lastWheel || 0) < 120) return;
    this.lastWheel = now;
    this.zoomAt(block, e.deltaY < 0 ? 2 : 0.5);
  }

  onKey(e) {
    if (!this.L) return;
    const L = this.L;
    let k = this.kcell;
    switch (e.key) {
      case 'ArrowLeft': k--; break;
      case 'ArrowRight': k++; break;
      case 'ArrowUp': k -= L.cols; break;
      case 'ArrowDown': k += L.cols; break;
      case 'Home': k = 0; break;
      case 'End': k = L.cells - 1; break;
      case 'PageUp': this.pan(-1); e.preventDefault(); return;
      case 'PageDown': this.pan(1); e.preventDefault(); return;
      case '+': case '=': this.zoomAt(this.cellBlocks(this.kcell)[0], 2); e.preventDefault(); return;
      case '-': case '_': this.zoomAt(this.cellBlocks(this.kcell)[0], 0.5); e.preventDefault(); return;
      case '0': this.setRange(0, this.total, true); e.preventDefault(); return;
      case 'l': case 'L':
        if (!this.layers) return;
        this.setMode(this.mode === 'layer' ? 'state' : 'layer');
        e.preventDefault();
        e.stopPropagation();
        return;
      case 'Enter': case ' ': this.activate(this.kcell, e.shiftKey); e.preventDefault(); return;
      default: return;
    }
    e.preventDefault();
    e.stopPropagation();
    this.kcell = Math.max(0, Math.min(L.cells - 1, k));
    this.describe(this.kcell);
    this.overlay();
  }

  /**
   * Bands over the map: bands are [{first, last, label, color}] in blocks
   * (a partition: which blocks hold it), drawn as a strip along the foot of
   * their cells and listed under the legend; marks are [{first, last}]
   * (the blocks holding a file), outlined. Either may be null.
   */
  setBands(bands, marks = this.marks, markLabel = this.markLabel) {
    this.bands = bands;
    this.marks = marks;
    this.markLabel = markLabel;
    if (!this.bandList) {
      this.bandList = el('ul', { class: 'legend bm-bands', 'aria-label': 'Partitions and marks', id: 'block-bands' });
      this.legend.after(this.bandList);
    }
    this.bandList.textContent = '';
    for (const b of bands || []) {
      const sw = el('span', { class: 'swatch band', 'aria-hidden': 'true' });
      sw.style.background = b.color;
      this.bandList.append(el('li', { 'data-band': b.label }, sw, el('span', {}, b.label), el('span', { class: 'n' }, `${grouped(b.first)}–${grouped(b.last)}`)));
    }
    if (marks && marks.length) {
      const sw = el('span', { class: 'swatch mark', 'aria-hidden': 'true' });
      const n = marks.reduce((t, m) => t + m.last - m.first + 1, 0);
      this.bandList.append(el('li', { 'data-band': 'mark' }, sw, el('span', {}, markLabel || 'marked'), el('span', { class: 'n' }, `${grouped(n)} block${n === 1 ? '' : 's'}`)));
    }
    this.overlay();
  }

  clearBands() {
    this.bands = null;
    this.marks = null;
    if (this.bandList) this.bandList.textContent = '';
  }

  /** Paints the bands and marks of setBands over the cells. */
  paintBands(ctx, dpr) {
    const L = this.L;
    const cellRange = (first, last) => {
      const a = this.cellOf(Math.max(first, this.first));
      const b = this.cellOf(Math.min(last, this.first + this.count - 1));
      return a < 0 || b < 0 ? null : [a, b];
    };
    const each = (r, fn) => {
      for (let c = r[0]; c <= r[1]; c++) fn((c % L.cols) * L.s * dpr, Math.floor(c / L.cols) * L.s * dpr, L.s * dpr);
    };
    for (const band of this.bands || []) {
      const r = cellRange(band.first, band.last);
      if (!r) continue;
      ctx.fillStyle = band.color;
      const h = Math.max(2 * dpr, Math.round(L.s * dpr / 4));
      each(r, (x, y, s) => ctx.fillRect(x, y + s - h, s, h));
    }
    if (!this.marks || !this.marks.length) return;
    ctx.strokeStyle = getComputedStyle(document.documentElement).getPropertyValue('--fg').trim();
    ctx.lineWidth = Math.max(1, Math.round(dpr * 1.5));
    for (const m of this.marks) {
      const r = cellRange(m.first, m.last);
      if (r) each(r, (x, y, s) => ctx.strokeRect(x + 1, y + 1, Math.max(1, s - 3), Math.max(1, s - 3)));
    }
  }

  /** Zooms so that block n is in view (and under the keyboard cursor). */
  reveal(n) {
    if (n < this.first || n >= this.first + this.count) {
      const count = Math.min(this.count, this.total);
      this.setRange(n - Math.floor(count / 2), count, true);
    }
    const wait = () => {
      if (!this.L) return;
      const c = this.cellOf(n);
      if (c < 0) return;
      this.kcell = c;
      this.describe(this.kcell);
      this.overlay();
    };
    setTimeout(wait, 50);
  }
}
