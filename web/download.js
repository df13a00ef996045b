// Streams a file of any size to the browser's downloads through the service
// worker, for browsers without showSaveFilePicker (Firefox, Safari). The
// page registers a download with the service worker together with a
// MessagePort, then opens ./download/<id>/<name> in a hidden frame: the
// service worker answers that request with a ReadableStream response marked
// Content-Disposition: attachment and fills it from what arrives on the
// port. A PortWriter is the producing end: write() resolves when the
// service worker wants more (backpressure), and rejects once the download
// is cancelled. PortWriter lives in portwriter.js, a classic script that
// the page and the engine worker both load.

/** Whether downloads can be streamed here (a service worker controls the page). */
export function canStreamDownloads() {
  return !!(navigator.serviceWorker && navigator.serviceWorker.controller && typeof MessageChannel === 'function');
}

let nextId = 1;

/**
 * Starts a streamed download of name (size bytes, or undefined when not
 * known in advance). Returns {port, writer}: port goes to whoever produces
 * the bytes (this page: use writer; a worker: post port to it).
 */
export function startDownload(name, size) {
  const sw = navigator.serviceWorker.controller;
  const id = `${Date.now().toString(36)}-${nextId++}`;
  const ch = new MessageChannel();
  sw.postMessage({ download: { id, name, size } }, [ch.port2]);
  const frame = document.createElement('iframe');
  frame.hidden = true;
  frame.title = 'download';
  frame.src = `./download/${id}/${encodeURIComponent(name)}`;
  document.body.append(frame);
  setTimeout(() => frame.remove(), 120000);
  return { id, port: ch.port1 };
}

/** A writer over port (the producing end of startDownload). */
export function portWriter(port) {
  return new self.PortWriter(port);
}
