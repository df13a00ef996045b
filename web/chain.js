// What the page knows about a differencing chain, from an openFiles() result:
// its layers (the image shown first), whether the virtual disk can be read
// through it, and, when a parent is missing or wrong, what to tell people.
// Names and reasons from the file are made visible (control characters
// escaped) here, once, for every place that shows them.
import { visible } from './format.js';

/** A GUID as lower-case hex without braces, for comparing. */
export function normGuid(g) {
  return String(g || '').trim().replace(/^\{|\}$/g, '').toLowerCase();
}

/** "a, b and c" */
export function listNames(names) {
  const n = names.filter(Boolean);
  if (n.length <= 1) return n.join('');
  return `${n.slice(0, -1).join(', ')} and ${n[n.length - 1]}`;
}

/** Layer 0 as the summary and structures of the image shown describe it. */
function shownLayer(info) {
  const s = info.summary || {};
  const st = info.structures || {};
  const headers = st.headers || [];
  const h = headers[(s.current_header || 1) - 1] || headers.find(Boolean) || {};
  const loc = (s.parent_locator || []).find((p) => p.key === 'parent_linkage');
  return {
    name: info.name || '',
    disk_type: s.has_parent ? 'differencing' : (s.disk_type || 'base'),
    data_write_guid: h.data_write_guid || '',
    parent_linkage: loc ? loc.value : '',
    block_size: s.block_size || 0,
  };
}

/**
 * The chain of an open result, or null for an image without a parent.
 * {
 *   complete: bool,            the disk reads through every layer
 *   layers: [{name, disk_type, data_write_guid, parent_linkage, block_size, missing?, partial?}],
 *   kind: 'ok' | 'missing' | 'mismatch' | 'error',
 *   child, parent: names around the break; reason: the engine's words
 *   note: one sentence for disabled controls
 * }
 */
export function chainModel(info) {
  if (!info) return null;
  const s = info.summary || {};
  if (info.chain && info.chain.length > 1 && !info.chain_error) {
    return { complete: true, kind: 'ok', layers: info.chain, note: '' };
  }
  if (!info.chain_error && !s.has_parent) return null;
  const top = shownLayer(info);
  const layers = [top];
  if (!info.chain_error) {
    // A differencing image whose chain the engine did not describe (it is too damaged to follow).
    return { complete: false, kind: 'error', layers, child: top.name, parent: '', reason: visible(s.disk_error || info.error || ''), note: 'the parent chain cannot be followed' };
  }
  // The layers found before the problem (the image shown first), then the
  // parent that is missing or wrong. chain_error reads
  // "vhdx: CHILD -> PARENT: what went wrong (sentinel)".
  for (const l of (info.chain || []).slice(1)) layers.push({ ...l, partial: true });
  const m = /^vhdx: (.+?) -> (.*?): ([\s\S]*)$/.exec(info.chain_error);
  const child = layers[layers.length - 1].name;
  const parent = visible(info.missing_parent || (m ? m[2] : ''));
  const reason = visible(m ? m[3] : info.chain_error);
  const missing = !!info.missing_parent;
  layers.push({
    name: parent || 'the parent',
    missing: true,
    disk_type: missing ? 'missing' : 'does not match',
    parent_linkage: '',
    data_write_guid: '',
    expected_guid: child === top.name ? top.parent_linkage : '',
  });
  return {
    complete: false,
    kind: missing ? 'missing' : 'mismatch',
    layers,
    child,
    parent,
    reason,
    note: missing ? `it needs the parent ${parent}, which was not given` : `the parent ${parent} of ${child} does not match`,
  };
}

/**
 * Whether the files of a new drop should join those of the image shown: yes
 * when the image waits for a parent and the drop holds a file of that name.
 */
export function joinsChain(info, files) {
  const want = info && info.missing_parent ? info.missing_parent.toLowerCase() : '';
  return !!want && Array.from(files).some((f) => f.name.toLowerCase() === want);
}
