// Formatting helpers shared by the views. Offsets and sizes are JS numbers
// (exact below 2^53, far above the 64 TiB a VHDX can hold).

const UNITS = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** "1 GiB" / "1.5 MiB" / "512 bytes": binary units, at most 3 significant digits. */
export function humanSize(n) {
  n = Number(n);
  if (!Number.isFinite(n)) return String(n);
  if (Math.abs(n) < 1024) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  let u = 0;
  let v = n;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const s = Number.isInteger(v) ? String(v) : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${s.replace(/\.0+$|(\.\d*?)0+$/, '$1')} ${UNITS[u]}`;
}

/** "1,073,741,824" */
export function grouped(n) {
  return Number(n).toLocaleString('en-US');
}

/** "1 GiB (1,073,741,824 bytes)": as people read it, and exactly. */
export function bothSizes(n) {
  n = Number(n);
  if (Math.abs(n) < 1024) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  return `${humanSize(n)} (${grouped(n)} bytes)`;
}

/** "0x10000" */
export function hex(n, width = 0) {
  if (n === null || n === undefined) return '';
  if (typeof n === 'bigint') return `0x${n.toString(16).padStart(width, '0')}`;
  n = Number(n);
  if (n < 0) return `-0x${(-n).toString(16).padStart(width, '0')}`;
  return `0x${n.toString(16).padStart(width, '0')}`;
}

/** "0x10000 (65536)" */
export function hexDec(n) {
  return `${hex(n)} (${n})`;
}

export const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export const ASCII = Array.from({ length: 256 }, (_, i) => (i >= 0x20 && i < 0x7f ? String.fromCharCode(i) : '.'));

/** Bytes as "55 aa 00" (space separated lower-case pairs). */
export function bytesToHex(bytes, sep = ' ') {
  const out = new Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = HEX2[bytes[i]];
  return out.join(sep);
}

/**
 * Parses what people type as an offset: "0x10000", "65536", "64k", "1M",
 * "2 GiB", "lba=2048", "lba 2048", "block 3", "end". Returns
 * {kind: 'offset'|'lba'|'block'|'end', value} or null.
 */
export function parseLocation(text) {
  let t = String(text).trim().toLowerCase().replace(/[_,]/g, '');
  if (!t) return null;
  if (t === 'end' || t === '$') return { kind: 'end', value: 0 };
  let kind = 'offset';
  const m = /^(lba|sector|block|offset|off)\s*[=:\s]\s*(.+)$/.exec(t);
  if (m) {
    kind = m[1] === 'sector' ? 'lba' : m[1] === 'off' ? 'offset' : m[1];
    t = m[2].trim();
  }
  const value = parseNumber(t);
  if (value === null) return null;
  return { kind, value };
}

/** "0x10", "16", "16k", "1 MiB" → number; null when not a non-negative integer. */
export function parseNumber(t) {
  t = String(t).trim().toLowerCase().replace(/[_,\s]/g, '');
  let m = /^0x([0-9a-f]+)$/.exec(t);
  if (m) return safe(parseInt(m[1], 16));
  m = /^(\d+(?:\.\d+)?)(k|m|g|t|p|kb|mb|gb|tb|pb|kib|mib|gib|tib|pib)?$/.exec(t);
  if (!m) return null;
  const mult = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[m[2] ? m[2][0] : ''] || 1;
  const v = Number(m[1]) * mult;
  return Number.isInteger(v) ? safe(v) : null;
}

function safe(v) {
  return Number.isSafeInteger(v) && v >= 0 ? v : null;
}

/** Little-endian unsigned integer of n bytes (n ≤ 8) as BigInt. */
export function leBig(bytes, n) {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** Microsoft GUID byte order (first three fields little-endian). */
export function guidFromBytes(b) {
  if (b.length < 16) return '';
  const h = (i) => HEX2[b[i]];
  return `${h(3)}${h(2)}${h(1)}${h(0)}-${h(5)}${h(4)}-${h(7)}${h(6)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${h(14)}${h(15)}`;
}

/** "1.2 s" / "35 ms" */
export function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}

/** A block state name for people: "fully_present" → "fully present". */
export function stateLabel(s) {
  return String(s).replace(/_/g, ' ');
}

/** Creates an element: el('td', {class: 'x', title: 'y'}, 'text', child). */
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/**
 * A byte range [a, last] shown one way everywhere: both ends included,
 * said so, with the count: "0x10–0x1f inclusive (16 bytes)".
 */
export function byteRange(a, last) {
  const n = last - a + 1;
  return `${hex(a)}–${hex(last)} inclusive (${grouped(n)} ${n === 1 ? 'byte' : 'bytes'})`;
}

/** Characters of a string from the file shown before it is cut short. */
const VISIBLE_MAX = 1024;

/**
 * A string from the file with its control and invisible characters made
 * visible as escapes such as \x1b or \u202e: shown, never interpreted.
 * Past VISIBLE_MAX characters it is cut, saying how long it is (a crafted
 * 32 Ki-character locator value took half a second to lay out).
 */
export function visible(s) {
  let t = String(s);
  const cut = t.length > VISIBLE_MAX ? `… (${grouped(t.length)} characters)` : '';
  if (cut) t = t.slice(0, /[\ud800-\udbff]/.test(t[VISIBLE_MAX - 1]) ? VISIBLE_MAX - 1 : VISIBLE_MAX); // not half a pair
  // eslint-disable-next-line no-control-regex
  return t.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g, (c) => {
    const n = c.codePointAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  }) + cut;
}
