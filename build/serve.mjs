// Dependency-free static server for the built site (dist/).
//
//   node build/serve.mjs            # serves dist/ on http://127.0.0.1:8080/
//   PORT=9000 node build/serve.mjs
//   DIST=/tmp/site node build/serve.mjs
//
// Tests import startServer() and pass port 0 for a random free port.
import { createServer } from 'node:http';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CSP = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "worker-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "style-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gz': 'application/gzip', // vhdx.wasm.gz is served as is: the worker inflates it
};

export function contentType(path) {
  return TYPES[extname(path).toLowerCase()] || 'application/octet-stream';
}

/**
 * Starts the server. Resolves to {server, url, port, close()}.
 * @param {{root?: string, port?: number, host?: string, log?: boolean}} opts
 */
export function startServer({ root, port = 0, host = '127.0.0.1', log = false } = {}) {
  const base = resolve(root || join(fileURLToPath(new URL('..', import.meta.url)), 'dist'));
  const server = createServer(async (req, res) => {
    const common = {
      'Content-Security-Policy': CSP,
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'Cross-Origin-Opener-Policy': 'same-origin',
    };
    const done = (code, body) => {
      res.writeHead(code, { ...common, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : body);
      if (log) console.log(code, req.method, req.url);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return done(405, 'method not allowed\n');
    let path;
    try {
      path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    } catch {
      return done(400, 'bad request\n');
    }
    if (path.includes('\0')) return done(400, 'bad request\n');
    let file = normalize(join(base, path));
    if (file !== base && !file.startsWith(base + sep)) return done(403, 'forbidden\n');
    let st;
    try {
      st = await stat(file);
      if (st.isDirectory()) {
        file = join(file, 'index.html');
        st = await stat(file);
      }
    } catch {
      return done(404, 'not found\n');
    }
    if (!st.isFile()) return done(404, 'not found\n');
    const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
    const headers = { ...common, 'Content-Type': contentType(file), 'Content-Length': st.size, ETag: etag };
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, common);
      res.end();
      if (log) console.log(304, req.method, req.url);
      return;
    }
    res.writeHead(200, headers);
    if (log) console.log(200, req.method, req.url);
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      const actual = server.address().port;
      const url = `http://${host}:${actual}/`;
      ok({
        server,
        url,
        port: actual,
        close: () => new Promise((done) => { server.closeAllConnections?.(); server.close(() => done()); }),
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = Number(process.env.PORT || 8080);
  const root = process.env.DIST || undefined;
  startServer({ root, port, log: !!process.env.VERBOSE })
    .then(({ url }) => console.log(`VHDX Inspector: ${url}`))
    .catch((err) => {
      console.error(`serve.mjs: ${err.message}`);
      process.exit(1);
    });
}
