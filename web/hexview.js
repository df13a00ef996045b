// A virtualised hex view over a byte source of any size (up to 2^53).
//
// Only the rows on screen exist in the DOM; they are refilled from 64 KiB
// pages fetched on demand. The view has its own scrollbar whose position is a
// byte offset, because browsers clamp element heights (~33.5M px) far below
// what a 64 TiB disk would need as a tall spacer.

import { HEX2, ASCII, hex, bytesToHex, leBig, guidFromBytes, parseLocation, el, grouped, bothSizes, byteRange } from './format.js';

// Bytes per row: the widest that fits (8 on a phone, 32 on a wide screen).
const COL_CHOICES = [32, 16, 8];
const PAGE = 64 * 1024;
const MAX_PAGES = 256; // 16 MiB of cached pages per view
const MAX_INFLIGHT = 2;
const COPY_LIMIT = 1 << 20;

export class HexView {
  /**
   * @param {HTMLElement} host
   * @param {object} opts
   *   kind: 'file' | 'disk'; title; placeholder for the go-to box
   *   describe(offset, peek) -> {text, start, end} | null   (sync, for hover)
   *   inspect(offset) -> Promise<Array<[label, value|Node]>>  (extra inspector rows)
   *   resolve(loc) -> offset | null                          (go-to text → offset)
   *   onLocation(offset, mark)                                (view moved: update URL)
   *   onMessage(text)
   * setSource may add rowMark(rowOffset) -> {key, color, label, title} | null:
   * a narrow coloured gutter per row (the layer of a chain that supplies the
   * row), labelled on the first row and wherever the key changes.
   */
  constructor(host, opts) {
    this.host = host;
    this.opts = opts;
    this.kind = opts.kind;
    this.size = 0;
    this.read = null;
    this.gen = 0;
    this.pages = new Map(); // page index → Uint8Array | Error
    this.inflight = new Set();
    this.top = 0; // first row shown
    this.rows = 0; // rows that fit
    this.cursor = 0;
    this.anchor = 0;
    this.mark = null; // [start, end)
    this.hover = null; // {text, start, end, offset}
    this.rowH = 20;
    this.wheelAcc = 0;
    this.visible = false;
    this.frame = 0;
    this.frameTimes = [];
    this.build();
  }

  build() {
    const o = this.opts;
    this.gotoInput = el('input', { type: 'text', 'aria-label': `Go to ${o.kind === 'disk' ? 'offset, LBA or block' : 'offset'}`, placeholder: o.placeholder || '0x10000', spellcheck: 'false', autocomplete: 'off' });
    const form = el('form', { class: 'goto', 'aria-label': 'Go to' }, this.gotoInput, el('button', { class: 'button small', type: 'submit' }, 'Go'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.gotoText(this.gotoInput.value);
    });
    this.copyButton = el('button', { class: 'button small', type: 'button', title: 'Copy the selected bytes as hex (Ctrl+C)' }, 'Copy hex');
    this.copyButton.addEventListener('click', () => this.copySelection());
    this.selInfo = el('span', { class: 'sel-info', 'aria-live': 'polite' });
    this.toolbar = el('div', { class: 'hex-toolbar' }, el('h2', {}, o.title), form, this.copyButton, this.selInfo);
    this.errorBox = el('div', { class: 'hex-error note err', role: 'alert', hidden: true });

    this.rowsEl = el('div', { class: 'hex-rows', id: `hex-rows-${o.kind}`, role: 'region', 'aria-roledescription': 'hex dump', 'aria-label': `${o.title}: offset, bytes in hex, and as ASCII per row`, 'aria-describedby': `hex-status-${o.kind}` });
    this.thumb = el('div', { class: 'thumb' });
    this.markTick = el('div', { class: 'tick', hidden: true });
    this.scrollEl = el('div', {
      class: 'hex-scroll', role: 'scrollbar', 'aria-orientation': 'vertical', 'aria-controls': this.rowsEl.id,
      'aria-label': `${o.title}: position`, 'aria-valuemin': '0', 'aria-valuemax': '0', 'aria-valuenow': '0',
    }, this.markTick, this.thumb);
    this.main = el('div', { class: 'hex-main' }, this.rowsEl, this.scrollEl);
    this.side = el('aside', { class: 'hex-side', 'aria-label': 'Inspector' });
    this.status = el('div', { class: 'hex-status', id: `hex-status-${o.kind}` });
    this.root = el('div', { class: 'hex', tabindex: '0', 'aria-label': o.title, 'data-kind': o.kind },
      this.toolbar, this.errorBox, el('div', { class: 'hex-body' }, this.main, this.side), this.status);
    this.host.append(this.root);

    this.rowEls = [];
    this.cellCls = [];
    this.cols = 16;
    new ResizeObserver(() => this.layout()).observe(this.rowsEl);
    new ResizeObserver(() => this.layout()).observe(this.root);
    new ResizeObserver(() => { this.trackH = this.scrollEl.clientHeight; this.invalidate(); }).observe(this.scrollEl);

    this.rowsEl.addEventListener('pointerdown', (e) => this.onPointerDown(e));
    this.rowsEl.addEventListener('pointermove', (e) => this.onPointerMove(e));
    this.rowsEl.addEventListener('pointerup', (e) => this.onPointerUp(e));
    this.rowsEl.addEventListener('pointerleave', () => { if (!this.dragSel) this.setHover(null); });
    this.main.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.root.addEventListener('keydown', (e) => this.onKey(e));
    this.root.addEventListener('copy', (e) => this.onCopy(e));
    this.scrollEl.addEventListener('pointerdown', (e) => this.onScrollDown(e));
    this.scrollEl.addEventListener('pointermove', (e) => this.onScrollMove(e));
    this.scrollEl.addEventListener('pointerup', (e) => this.onScrollUp(e));
    this.scrollEl.addEventListener('pointercancel', (e) => this.onScrollUp(e));
    this.renderSide();
  }

  /** Sets what the view shows: size in bytes and read(offset, length) → Promise<Uint8Array>. */
  setSource({ size, read, error = null, sectorSize = 512, blockSize = 0, rowMark = null }) {
    this.gen++;
    this.rowMark = rowMark;
    this.root.classList.toggle('with-gutter', !!rowMark);
    this.pages.clear();
    this.inflight.clear();
    this.size = size;
    this.read = read;
    this.sectorSize = sectorSize;
    this.blockSize = blockSize;
    this.top = 0;
    this.cursor = 0;
    this.anchor = 0;
    this.mark = null;
    this.hover = null;
    this.errorBox.hidden = !error;
    this.errorBox.textContent = error || '';
    this.root.classList.toggle('unavailable', !!error && !size);
    this.status.textContent = '';
    this.renderSelInfo();
    this.offDigits = Math.max(8, Math.ceil(Math.log2(Math.max(2, size)) / 4));
    this.rowEls = [];
    this.rowsEl.textContent = '';
    this.layout();
    this.renderSide();
  }

  get totalRows() { return Math.ceil(this.size / this.cols); }
  get maxTop() { return Math.max(0, this.totalRows - this.rows); }

  show() {
    this.visible = true;
    this.layout();
  }

  hide() { this.visible = false; }

  focus() { this.root.focus({ preventScroll: true }); }

  /** Recomputes how many rows fit and rebuilds the row elements. */
  layout() {
    if (!this.rowsEl.isConnected) return;
    const h = this.rowsEl.clientHeight;
    if (!h) return;
    const styleH = parseFloat(getComputedStyle(this.rowsEl).lineHeight);
    if (styleH) this.rowH = styleH;
    const rows = Math.max(1, Math.floor((h - 4) / this.rowH));
    const cols = this.fitCols();
    if (rows !== this.rows || this.rowEls.length !== rows || cols !== this.cols) {
      if (cols !== this.cols) this.top = Math.floor((this.top * this.cols) / cols);
      this.rows = rows;
      this.cols = cols;
      this.root.dataset.cols = String(cols);
      this.buildRows();
    }
    this.setTop(this.top);
    this.invalidate();
  }

  /** The most bytes per row whose columns fit beside the scrollbar and the inspector. */
  fitCols() {
    const body = this.main.parentElement;
    if (!this.chW) {
      const probe = el('span', { class: 'hx-probe', 'aria-hidden': 'true' }, '0'.repeat(64));
      this.rowsEl.append(probe);
      this.chW = probe.getBoundingClientRect().width / 64 || 8;
      probe.remove();
    }
    const sideW = getComputedStyle(this.side).display === 'none' ? 0 : parseFloat(getComputedStyle(this.side).minWidth) || 0;
    const avail = body.clientWidth - sideW - this.scrollEl.offsetWidth;
    // Offset, hex columns (3ch each, a gap every 8), ASCII, paddings and the gutter.
    const need = (c) => (this.offDigits + 1.1 + 3 * c + 0.8 * (c / 8 - 1) + 1.2 + 1 + c + 3) * this.chW + (this.rowMark ? 14 : 0);
    return COL_CHOICES.find((c) => need(c) <= avail) || COL_CHOICES[COL_CHOICES.length - 1];
  }

  buildRows() {
    this.rowsEl.textContent = '';
    this.rowEls = [];
    this.cellCls = [];
    const frag = document.createDocumentFragment();
    for (let r = 0; r < this.rows; r++) {
      // Text nodes are kept and their data replaced: cheaper than textContent.
      const offText = document.createTextNode('');
      const gut = el('span', { class: 'hx-gut', 'aria-hidden': 'true' });
      const lay = el('span', { class: 'hx-lay' });
      const off = el('span', { class: 'hx-off' }, offText);
      const bytes = el('span', { class: 'hx-bytes' });
      const asc = el('span', { class: 'hx-asc' });
      const b = [];
      const c = [];
      const bn = [];
      const cn = [];
      for (let i = 0; i < this.cols; i++) {
        const btext = document.createTextNode('  ');
        const ctext = document.createTextNode(' ');
        const be = el('span', { class: 'hx-b', 'data-c': i }, btext);
        const ce = el('span', { class: 'hx-c', 'data-c': i }, ctext);
        bytes.append(be);
        asc.append(ce);
        b.push(be);
        c.push(ce);
        bn.push(btext);
        cn.push(ctext);
      }
      const row = el('div', { class: 'hx-row', 'data-r': r }, gut, off, bytes, asc, lay);
      frag.append(row);
      this.rowEls.push({ row, off, offText, b, c, bn, cn, gut, lay, lastOff: -1, lastMark: '', bt: new Array(this.cols).fill('  ') });
      this.cellCls.push(new Array(this.cols).fill(''));
    }
    this.rowsEl.append(frag);
    this.measured = false;
  }

  /** Hit-testing geometry, measured from the first row. */
  measure() {
    if (this.measured || !this.rowEls.length) return;
    const rr = this.rowsEl.getBoundingClientRect();
    const first = this.rowEls[0];
    this.geo = {
      rowsTop: first.row.getBoundingClientRect().top - rr.top,
      hex: first.b.map((e) => { const r = e.getBoundingClientRect(); return [r.left - rr.left, r.right - rr.left]; }),
      asc: first.c.map((e) => { const r = e.getBoundingClientRect(); return [r.left - rr.left, r.right - rr.left]; }),
    };
    this.measured = this.geo.hex[0][1] > this.geo.hex[0][0];
  }

  invalidate() {
    if (this.frame || !this.visible) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  // ---- data ------------------------------------------------------------

  byteAt(off) {
    const p = Math.floor(off / PAGE);
    let page = this.lastPage === p ? this.lastData : this.pages.get(p);
    if (page === undefined) return -1;
    if (this.lastPage !== p) {
      this.lastPage = p;
      this.lastData = page;
    }
    if (page instanceof Error) return -3;
    const i = off - p * PAGE;
    return i < page.length ? page[i] : -2;
  }

  /** Bytes [off, off+n) if all loaded, else null. */
  peek(off, n) {
    if (off < 0 || off + n > this.size) return null;
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const b = this.byteAt(off + i);
      if (b < 0) return null;
      out[i] = b;
    }
    return out;
  }

  want() {
    if (!this.read || !this.size) return;
    const first = Math.floor((this.top * this.cols) / PAGE);
    const last = Math.floor(Math.max(0, Math.min(this.size, (this.top + this.rows) * this.cols) - 1) / PAGE);
    const lastPage = Math.floor((this.size - 1) / PAGE);
    const need = [];
    for (let p = first; p <= last; p++) need.push(p);
    if (last + 1 <= lastPage) need.push(last + 1);
    if (first > 0) need.push(first - 1);
    for (const p of need) {
      if (this.inflight.size >= MAX_INFLIGHT) break;
      if (this.pages.has(p) || this.inflight.has(p)) continue;
      this.fetchPage(p);
    }
  }

  async fetchPage(p) {
    const gen = this.gen;
    this.inflight.add(p);
    let data;
    try {
      const off = p * PAGE;
      data = await this.read(off, Math.min(PAGE, this.size - off));
    } catch (err) {
      data = err instanceof Error ? err : new Error(String(err));
    }
    if (gen !== this.gen) return;
    this.inflight.delete(p);
    this.pages.set(p, data);
    this.lastPage = -1;
    if (data instanceof Error) this.setError(data.message);
    if (this.pages.size > MAX_PAGES) {
      const keep = new Set([Math.floor((this.top * this.cols) / PAGE)]);
      for (const k of this.pages.keys()) {
        if (this.pages.size <= MAX_PAGES * 0.75) break;
        if (!keep.has(k)) this.pages.delete(k);
      }
    }
    this.invalidate();
    this.want();
  }

  setError(msg) {
    this.errorBox.hidden = !msg;
    this.errorBox.textContent = msg ? `Reading failed: ${msg}` : '';
  }

  // ---- drawing ---------------------------------------------------------

  render() {
    const t0 = performance.now();
    if (!this.rowEls.length) return;
    this.want();
    const [s0, s1] = this.selection();
    const hasSel = this.hasSelection();
    const mark = this.mark;
    const hov = this.hover;
    let prevKey = null;
    for (let r = 0; r < this.rows; r++) {
      const R = this.rowEls[r];
      const rowOff = (this.top + r) * this.cols;
      const inRange = rowOff < this.size;
      const offText = inRange ? rowOff.toString(16).padStart(this.offDigits, '0') : '';
      if (R.lastOff !== offText) {
        R.offText.data = offText;
        R.lastOff = offText;
      }
      if (this.rowMark) prevKey = this.renderRowMark(R, inRange ? this.rowMark(rowOff) : null, prevKey, r);
      const cls = this.cellCls[r];
      for (let c = 0; c < this.cols; c++) {
        const off = rowOff + c;
        let bt;
        let ct;
        let k;
        if (!inRange || off >= this.size) {
          bt = '  ';
          ct = ' ';
          k = '';
        } else {
          const v = this.byteAt(off);
          if (v >= 0) {
            bt = HEX2[v];
            ct = ASCII[v];
            k = v === 0 ? 'z' : '';
          } else if (v === -3) {
            bt = '??';
            ct = '?';
            k = 'e';
          } else if (v === -2) {
            bt = '  ';
            ct = ' ';
            k = '';
          } else {
            bt = '··';
            ct = '·';
            k = 'p';
          }
          if (mark && off >= mark[0] && off < mark[1]) k += ' m';
          if (hov && off >= hov.start && off < hov.end) k += ' h';
          if (hasSel && off >= s0 && off <= s1) k += ' s';
          if (off === this.cursor) k += ' cur';
        }
        if (R.bt[c] !== bt) {
          R.bn[c].data = bt;
          R.cn[c].data = ct;
          R.bt[c] = bt;
        }
        if (cls[c] !== k) {
          R.b[c].className = `hx-b ${k}`;
          R.c[c].className = `hx-c ${k}`;
          cls[c] = k;
        }
      }
    }
    this.renderScroll();
    this.renderSelInfo();
    this.measure();
    const dt = performance.now() - t0;
    this.frameTimes.push(dt);
    if (this.frameTimes.length > 600) this.frameTimes.splice(0, 300);
  }

  /** Gutter colour and label of one row; returns the row's key for the next. */
  renderRowMark(R, m, prevKey, r) {
    const key = m ? m.key : null;
    const label = m && (r === 0 || key !== prevKey) ? m.label : '';
    const sig = m ? `${m.key}|${m.color}|${label}|${m.title || ''}` : '';
    if (R.lastMark !== sig) {
      R.lastMark = sig;
      R.gut.style.background = m ? m.color : '';
      R.gut.title = m ? m.title || '' : '';
      R.lay.textContent = label;
      R.lay.style.borderColor = m && label ? m.color : '';
      R.lay.title = m && label ? m.title || '' : '';
      if (key === null) delete R.row.dataset.layer;
      else R.row.dataset.layer = key;
    }
    return key;
  }

  /** The row marks changed (say, an owner lookup came back): redraw. */
  marksChanged() {
    for (const R of this.rowEls) R.lastMark = null;
    this.invalidate();
  }

  /** Describes the hovered byte again (its description was not known yet). */
  refreshHover() {
    const h = this.hover;
    if (!h || !this.opts.describe) return;
    const d = this.opts.describe(h.offset, (o, n) => this.peek(o, n));
    this.hover = null;
    this.setHover({ offset: h.offset, text: d ? d.text : '', start: d ? d.start : h.offset, end: d ? d.end : h.offset + 1 });
  }

  renderScroll() {
    // The track height comes from a ResizeObserver: reading it here would
    // force a layout in the middle of every frame.
    const trackH = this.trackH || this.scrollEl.clientHeight;
    const total = Math.max(1, this.totalRows);
    const thumbH = Math.max(24, Math.min(trackH, (trackH * this.rows) / total));
    const frac = this.maxTop ? this.top / this.maxTop : 0;
    const y = frac * (trackH - thumbH);
    this.thumb.style.height = `${thumbH}px`;
    this.thumb.style.transform = `translateY(${y}px)`;
    this.thumbH = thumbH;
    this.scrollEl.setAttribute('aria-valuemax', String(Math.max(0, this.size - 1)));
    this.scrollEl.setAttribute('aria-valuenow', String(this.top * this.cols));
    this.scrollEl.setAttribute('aria-valuetext', `offset ${hex(this.top * this.cols)} of ${bothSizes(this.size)}`);
    if (this.mark && this.size) {
      this.markTick.hidden = false;
      this.markTick.style.top = `${Math.min(trackH - 2, (this.mark[0] / this.size) * trackH)}px`;
    } else {
      this.markTick.hidden = true;
    }
  }

  renderSelInfo() {
    if (!this.size) {
      this.selInfo.textContent = '';
      return;
    }
    const [a, b] = this.selection();
    const n = b - a + 1;
    const lba = this.kind === 'disk' ? ` · LBA ${Math.floor(this.cursor / this.sectorSize)}` : '';
    this.selInfo.textContent = n > 1
      ? `selected ${byteRange(a, b)}`
      : `cursor ${hex(this.cursor)}${lba} · ${this.kind === 'disk' ? 'disk' : 'file'} of ${bothSizes(this.size)}`;
  }

  // ---- position --------------------------------------------------------

  setTop(row) {
    const t = Math.max(0, Math.min(this.maxTop, Math.round(row)));
    if (t !== this.top) {
      this.top = t;
      this.locationChanged();
    }
    this.invalidate();
  }

  /** Puts the cursor at offset and scrolls it into view (to the top row when far). */
  goTo(offset, { mark = null, scroll = 'top' } = {}) {
    if (!this.size) return;
    offset = Math.max(0, Math.min(this.size - 1, Math.floor(offset)));
    this.cursor = offset;
    this.anchor = offset;
    this.mark = mark ? [mark[0], Math.min(mark[1], this.size)] : null;
    const row = Math.floor(offset / this.cols);
    if (scroll === 'top' || row < this.top || row >= this.top + this.rows) {
      this.setTop(scroll === 'top' ? row : row - Math.floor(this.rows / 3));
    }
    this.locationChanged(true);
    this.renderSide();
    this.invalidate();
  }

  async gotoText(text) {
    const loc = parseLocation(text);
    let off = null;
    try {
      off = loc && this.opts.resolve ? await this.opts.resolve(loc) : null;
    } catch (err) {
      this.status.textContent = err.message;
      return false;
    }
    if (off === null || off === undefined || off < 0 || off >= this.size) {
      this.status.textContent = loc ? `${text.trim()} is outside this ${this.kind === 'disk' ? 'disk' : 'file'} of ${bothSizes(this.size)}` : `Cannot read “${text.trim()}” as an offset`;
      return false;
    }
    this.goTo(off);
    this.opts.onLocation?.(this.cursor, null, true);
    this.focus();
    return true;
  }

  locationChanged(force = false) {
    clearTimeout(this.locTimer);
    this.locTimer = setTimeout(() => {
      const cursorVisible = this.cursor >= this.top * this.cols && this.cursor < (this.top + this.rows) * this.cols;
      const off = cursorVisible ? this.cursor : this.top * this.cols;
      this.opts.onLocation?.(off, this.mark && this.mark[0] === off ? this.mark : null, false);
    }, force ? 0 : 250);
  }

  moveCursor(to, extend) {
    if (!this.size) return;
    to = Math.max(0, Math.min(this.size - 1, to));
    this.cursor = to;
    if (!extend) this.anchor = to;
    const row = Math.floor(to / this.cols);
    if (row < this.top) this.setTop(row);
    else if (row >= this.top + this.rows) this.setTop(row - this.rows + 1);
    this.locationChanged();
    this.renderSideSoon();
    this.invalidate();
  }

  selection() {
    return this.anchor <= this.cursor ? [this.anchor, this.cursor] : [this.cursor, this.anchor];
  }

  hasSelection() { return this.size > 0 && this.anchor !== this.cursor; }

  // ---- input -----------------------------------------------------------

  hit(e) {
    this.measure();
    if (!this.geo) return null;
    const rr = this.rowsEl.getBoundingClientRect();
    const x = e.clientX - rr.left;
    const y = e.clientY - rr.top - this.geo.rowsTop;
    const r = Math.floor(y / this.rowH);
    const near = (cols) => {
      if (x < cols[0][0] - 4 || x > cols[this.cols - 1][1] + 4) return -1;
      for (let c = 0; c < this.cols; c++) if (x < cols[c][1]) return c;
      return this.cols - 1;
    };
    let c = near(this.geo.hex);
    if (c < 0) c = near(this.geo.asc);
    return { r, c, off: (this.top + r) * this.cols + Math.max(0, c), inside: c >= 0 && r >= 0 && r < this.rows };
  }

  onPointerDown(e) {
    if (e.button !== 0 || !this.size) return;
    const h = this.hit(e);
    if (!h || !h.inside) return;
    e.preventDefault();
    this.focus();
    const off = Math.min(h.off, this.size - 1);
    this.cursor = off;
    if (!e.shiftKey) this.anchor = off;
    this.dragSel = true;
    this.rowsEl.setPointerCapture(e.pointerId);
    this.locationChanged();
    this.renderSideSoon();
    this.invalidate();
  }

  onPointerMove(e) {
    if (!this.size) return;
    const h = this.hit(e);
    if (!h) return;
    if (this.dragSel) {
      if (h.r < 0) this.setTop(this.top - 1);
      else if (h.r >= this.rows) this.setTop(this.top + 1);
      const r = Math.max(0, Math.min(this.rows - 1, h.r));
      const c = h.c < 0 ? (e.clientX < this.rowsEl.getBoundingClientRect().left + this.geo.hex[0][0] ? 0 : this.cols - 1) : h.c;
      this.cursor = Math.max(0, Math.min(this.size - 1, (this.top + r) * this.cols + c));
      this.renderSideSoon();
      this.invalidate();
      return;
    }
    if (!h.inside || h.off >= this.size) {
      this.setHover(null);
      return;
    }
    if (this.hover && this.hover.offset === h.off) return;
    const d = this.opts.describe ? this.opts.describe(h.off, (o, n) => this.peek(o, n)) : null;
    this.setHover({ offset: h.off, text: d ? d.text : '', start: d ? d.start : h.off, end: d ? d.end : h.off + 1 });
  }

  onPointerUp(e) {
    if (this.dragSel) {
      this.dragSel = false;
      try { this.rowsEl.releasePointerCapture(e.pointerId); } catch { /* already released */ }
      this.locationChanged();
    }
  }

  setHover(h) {
    const same = (a, b) => (a === b) || (a && b && a.start === b.start && a.end === b.end && a.offset === b.offset);
    if (same(h, this.hover)) return;
    this.hover = h;
    if (h) {
      const v = this.byteAt(h.offset);
      const byte = v >= 0 ? ` = ${HEX2[v]}` : '';
      const lba = this.kind === 'disk' ? ` · LBA ${Math.floor(h.offset / this.sectorSize)}` : '';
      this.status.textContent = `${hex(h.offset)} (${h.offset})${byte}${lba}${h.text ? ` · ${h.text}` : ''}`;
    } else {
      this.status.textContent = '';
    }
    this.invalidate();
  }

  onWheel(e) {
    if (!this.size || e.ctrlKey) return;
    e.preventDefault();
    let rows;
    if (e.deltaMode === 1) rows = e.deltaY;
    else if (e.deltaMode === 2) rows = e.deltaY * this.rows;
    else rows = e.deltaY / this.rowH;
    this.wheelAcc += rows;
    const whole = Math.trunc(this.wheelAcc);
    if (whole) {
      this.wheelAcc -= whole;
      this.setTop(this.top + whole);
    }
  }

  onKey(e) {
    if (e.target !== this.root && e.target !== this.rowsEl) return;
    if (!this.size) return;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 'c' || e.key === 'C')) {
      e.preventDefault();
      this.copySelection();
      return;
    }
    const page = Math.max(1, this.rows - 1) * this.cols;
    let to = null;
    switch (e.key) {
      case 'ArrowLeft': to = this.cursor - 1; break;
      case 'ArrowRight': to = this.cursor + 1; break;
      case 'ArrowUp': to = this.cursor - this.cols; break;
      case 'ArrowDown': to = this.cursor + this.cols; break;
      case 'PageUp': to = this.cursor - page; this.setTop(this.top - (this.rows - 1)); break;
      case 'PageDown': to = this.cursor + page; this.setTop(this.top + (this.rows - 1)); break;
      case 'Home': to = 0; break;
      case 'End': to = this.size - 1; break;
      default: return;
    }
    e.preventDefault();
    e.stopPropagation();
    if (to < 0) to = e.key === 'ArrowLeft' || e.key === 'ArrowUp' || e.key === 'PageUp' ? 0 : to;
    this.moveCursor(Math.min(to, this.size - 1), e.shiftKey);
  }

  // ---- scrollbar -------------------------------------------------------

  onScrollDown(e) {
    if (e.button !== 0 || !this.size) return;
    e.preventDefault();
    this.focus();
    const rect = this.scrollEl.getBoundingClientRect();
    const y = e.clientY - rect.top;
    const trackH = rect.height;
    this.trackH = trackH;
    const thumbTop = this.maxTop ? (this.top / this.maxTop) * (trackH - this.thumbH) : 0;
    if (e.target !== this.thumb) {
      // Jump so that the thumb centres on the click.
      const frac = (y - this.thumbH / 2) / Math.max(1, trackH - this.thumbH);
      this.setTop(Math.max(0, Math.min(1, frac)) * this.maxTop);
    }
    const curTop = this.maxTop ? (this.top / this.maxTop) * (trackH - this.thumbH) : thumbTop;
    this.drag = { y0: e.clientY, t0: curTop, trackH };
    this.scrollEl.classList.add('dragging');
    this.scrollEl.setPointerCapture(e.pointerId);
  }

  onScrollMove(e) {
    if (!this.drag) return;
    const span = Math.max(1, this.drag.trackH - this.thumbH);
    const frac = Math.max(0, Math.min(1, (this.drag.t0 + e.clientY - this.drag.y0) / span));
    this.setTop(frac * this.maxTop);
  }

  onScrollUp(e) {
    if (!this.drag) return;
    this.drag = null;
    this.scrollEl.classList.remove('dragging');
    try { this.scrollEl.releasePointerCapture(e.pointerId); } catch { /* already released */ }
  }

  // ---- copy ------------------------------------------------------------

  selectionRange() {
    const [a, b] = this.selection();
    return [a, Math.min(this.size, b + 1)];
  }

  onCopy(e) {
    if (!this.size) return;
    const [a, b] = this.selectionRange();
    if (b - a > COPY_LIMIT) {
      e.preventDefault();
      this.say(`The selection is ${grouped(b - a)} bytes; copying is limited to 1 MiB.`);
      return;
    }
    const bytes = this.peek(a, b - a);
    e.preventDefault();
    if (bytes) {
      e.clipboardData.setData('text/plain', bytesToHex(bytes));
      this.say(`Copied ${grouped(b - a)} bytes as hex.`);
    } else {
      this.copySelection();
    }
  }

  async copySelection() {
    if (!this.size) return;
    const [a, b] = this.selectionRange();
    if (b - a > COPY_LIMIT) {
      this.say(`The selection is ${grouped(b - a)} bytes; copying is limited to 1 MiB.`);
      return;
    }
    try {
      const bytes = this.peek(a, b - a) || (await this.read(a, b - a));
      await navigator.clipboard.writeText(bytesToHex(bytes));
      this.say(`Copied ${grouped(bytes.length)} bytes as hex.`);
    } catch (err) {
      this.say(`Copy failed: ${err.message}`);
    }
  }

  say(text) {
    this.opts.onMessage?.(text);
    this.status.textContent = text;
  }

  // ---- inspector -------------------------------------------------------

  renderSideSoon() {
    clearTimeout(this.sideTimer);
    this.sideTimer = setTimeout(() => this.renderSide(), 60);
  }

  async renderSide() {
    const side = this.side;
    if (!this.size) {
      side.textContent = '';
      side.append(el('p', { class: 'muted' }, 'Nothing to show.'));
      return;
    }
    const off = this.cursor;
    const token = (this.sideToken = (this.sideToken || 0) + 1);
    let bytes = this.peek(off, Math.min(16, this.size - off));
    if (!bytes && this.read) {
      try {
        bytes = await this.read(off, Math.min(16, this.size - off), true);
      } catch {
        bytes = null;
      }
    }
    let extra = [];
    if (this.opts.inspect) {
      try {
        extra = await this.opts.inspect(off);
      } catch (err) {
        extra = [['note', err.message]];
      }
    }
    if (token !== this.sideToken) return;
    const rows = [['offset', `${hex(off)}`], ['decimal', String(off)]];
    if (this.kind === 'disk') rows.push(['LBA', `${Math.floor(off / this.sectorSize)} + ${off % this.sectorSize}`]);
    const d = this.opts.describe ? this.opts.describe(off, (o, n) => this.peek(o, n)) : null;
    if (d && d.text) rows.push(['field', d.text]);
    const vals = [];
    if (bytes && bytes.length) {
      const b = bytes;
      vals.push(['u8', `${b[0]} (${hex(b[0], 2)})`]);
      if (b.length >= 2) vals.push(['u16 LE', String(b[0] | (b[1] << 8))]);
      if (b.length >= 4) vals.push(['u32 LE', String((b[0] | (b[1] << 8) | (b[2] << 16)) + b[3] * 2 ** 24)]);
      if (b.length >= 8) vals.push(['u64 LE', leBig(b, 8).toString()]);
      if (b.length >= 4) vals.push(['u32 BE', String(b[0] * 2 ** 24 + ((b[1] << 16) | (b[2] << 8) | b[3]))]);
      if (b.length >= 16) vals.push(['GUID', guidFromBytes(b)]);
      const text = Array.from(b, (x) => ASCII[x]).join('');
      vals.push(['ASCII', text]);
    }
    const [a, z] = this.selectionRange();
    side.textContent = '';
    side.append(
      el('h3', {}, 'Cursor'), kv(rows.concat(extra)),
      el('h3', {}, 'Values at cursor'), kv(vals),
      el('h3', {}, 'Selection'),
      kv([['first byte', hex(a)], ['last byte (included)', hex(z - 1)], ['length', `${grouped(z - a)} ${z - a === 1 ? 'byte' : 'bytes'}`]]),
      el('p', {}, el('button', { class: 'button small', type: 'button', onclick: () => this.copySelection() }, 'Copy selection as hex')),
    );
  }

  /** Frame statistics of render() (ms), for the tests. */
  stats() {
    const t = this.frameTimes.slice().sort((x, y) => x - y);
    if (!t.length) return null;
    return { frames: t.length, mean: t.reduce((s, x) => s + x, 0) / t.length, p95: t[Math.floor(t.length * 0.95)], max: t[t.length - 1] };
  }
}

function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v] of pairs) dl.append(el('dt', {}, k), el('dd', {}, v));
  return dl;
}
