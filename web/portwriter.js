// The producing end of a download streamed through the service worker
// (download.js, sw.js), over a MessagePort: write() resolves when the
// service worker wants more bytes and rejects once the download is
// cancelled. A classic script: the page and the engine worker both load it.
/* eslint-env browser, worker */
'use strict';

/** The producing end of a streamed download, over a MessagePort. */
self.PortWriter = class PortWriter {
  constructor(port) {
    this.port = port;
    this.pending = null;
    this.failed = null;
    port.onmessage = (e) => {
      const m = e.data || {};
      if (m.ack) this.settle(null);
      else if (m.cancel) {
        this.failed = new DOMException(`the download was cancelled${m.reason ? `: ${m.reason}` : ''}`, 'AbortError');
        this.settle(this.failed);
      }
    };
  }

  settle(err) {
    const p = this.pending;
    this.pending = null;
    if (!p) return;
    if (err) p.reject(err);
    else p.resolve();
  }

  /** Sends bytes (a Uint8Array, transferred); resolves when more are wanted. */
  write(bytes) {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
      this.port.postMessage({ chunk: own }, [own.buffer]);
    });
  }

  /** Sends n zero bytes without building them here. */
  zeros(n) {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.port.postMessage({ zeros: n });
    });
  }

  close() { this.port.postMessage({ end: true }); }

  abort(reason = 'cancelled') {
    this.failed = this.failed || new DOMException(String(reason), 'AbortError');
    this.port.postMessage({ error: String(reason) });
    return Promise.resolve();
  }
};
