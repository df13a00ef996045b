// The browsers the end-to-end tests and benchmarks run in, driven through
// one API (puppeteer-core): Debian's Chromium over the DevTools protocol
// and Debian's Firefox ESR over WebDriver BiDi. No browser is downloaded.
import puppeteer from 'puppeteer-core';
import { existsSync } from 'node:fs';

export const BROWSERS = {
  chromium: {
    path: process.env.CHROMIUM || '/usr/bin/chromium',
    launch: (path, opts) => puppeteer.launch({
      browser: 'chrome', executablePath: path, headless: true, protocol: 'cdp',
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run', ...(opts.args || [])],
    }),
  },
  firefox: {
    path: process.env.FIREFOX || '/usr/bin/firefox-esr',
    launch: (path, opts) => puppeteer.launch({
      browser: 'firefox', executablePath: path, headless: true, protocol: 'webDriverBiDi',
      extraPrefsFirefox: {
        'ui.systemUsesDarkTheme': opts.dark ? 1 : 0,
        // Downloads go to opts.downloads without asking.
        ...(opts.downloads ? {
          'browser.download.dir': opts.downloads,
          'browser.download.folderList': 2,
          'browser.download.useDownloadDir': true,
          'browser.download.always_ask_before_handling_new_types': false,
          'browser.helperApps.neverAsk.saveToDisk': 'application/octet-stream',
        } : {}),
      },
    }),
  },
};

/**
 * The browsers to test: E2E_BROWSERS (comma-separated) or every one known,
 * each with why it is skipped (null when it can run).
 */
export function browserList() {
  const want = (process.env.E2E_BROWSERS || Object.keys(BROWSERS).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  return want.map((name) => {
    const b = BROWSERS[name];
    if (!b) return { name, skip: `unknown browser ${name} (known: ${Object.keys(BROWSERS).join(', ')})` };
    return { name, skip: existsSync(b.path) ? null : `${b.path} is missing (see build/setup.sh)` };
  });
}

/**
 * Starts a browser. opts.dark asks for the dark colour scheme where a page
 * cannot ask for it (Firefox), opts.downloads is where downloads go.
 */
export function launchBrowser(name, opts = {}) {
  const b = BROWSERS[name];
  return b.launch(b.path, opts);
}

/**
 * Opens url in a fresh context (its own storage) at width×height in the
 * given colour scheme; records console errors and uncaught exceptions.
 */
export async function openPage(browser, url, { width = 1280, height = 800, colorScheme = 'light' } = {}) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.setViewport({ width, height });
  try {
    await page.emulateMediaFeatures([{ name: 'prefers-color-scheme', value: colorScheme }]);
  } catch { /* Firefox: the scheme comes from the launch (opts.dark) */ }
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.engine === 'ready', { timeout: 60000 });
  return { context, page, errors };
}

/**
 * Drops the files at paths on the page: they go into a hidden staged
 * <input type=file multiple>, then a DataTransfer holding them is
 * dispatched as a drop, as a user's drag would.
 */
export async function dropFiles(page, ...paths) {
  await page.evaluate(() => {
    if (document.getElementById('e2e-stage')) return;
    const input = document.createElement('input');
    Object.assign(input, { type: 'file', multiple: true, id: 'e2e-stage', hidden: true });
    document.documentElement.append(input);
  });
  const input = await page.$('#e2e-stage');
  await input.uploadFile(...paths);
  await page.evaluate(() => {
    const dt = new DataTransfer();
    for (const f of document.getElementById('e2e-stage').files) dt.items.add(f);
    const target = document.querySelector('main') || document.body;
    for (const type of ['dragenter', 'dragover', 'drop']) target.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
  });
}

/** Waits until fn(arg) is truthy in the page; resolves to its value. */
export async function until(page, fn, arg, timeout = 60000) {
  const h = await page.waitForFunction(fn, { timeout, polling: 20 }, arg);
  return h.jsonValue();
}

/** Sets the fragment and waits for the view it names. */
export async function goView(page, hash) {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await until(page, (v) => document.body.dataset.view === v, hash.replace(/^#/, '').split(':')[0]);
}
