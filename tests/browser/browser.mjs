// Browser-test helpers: Debian's chromium driven by playwright-core (no browser download), a meridian
// node of its own per test file (tests/api/helpers.mjs), screenshots into test-artifacts/browser/.
import { chromium } from 'playwright-core';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { startServer } from '../api/helpers.mjs';

export const ARTIFACTS = resolve(process.env.MERIDIAN_ARTIFACTS || 'test-artifacts/browser');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
// Waits are generous: the tests share a slow 2-core machine with the rest of `make test`.
export const WAIT = 30000;
// The built pages (make builds web/dist; MERIDIAN_WEB_DIR points at another build).
export const WEB_DIR = resolve(process.env.MERIDIAN_WEB_DIR || 'web/dist');

// A node serving the built UI (web/dist, as `make` builds it) with demo data, and a browser.
// Signs page in as customer c (a tests/api/helpers.mjs customer) before its first load, with the storefront's
// country and language already chosen.
export async function signIn(page, c, country, lang) {
  await page.addInitScript(([token, user, cc, lg]) => {
    localStorage.setItem('mer.country', JSON.stringify(cc));
    localStorage.setItem('mer.lang', JSON.stringify(lg));
    localStorage.setItem('mer.token', JSON.stringify(token));
    localStorage.setItem('mer.user', JSON.stringify(user));
  }, [c.token, c.user, country, lang]);
}

export async function start(opts = {}) {
  if (!existsSync(join(WEB_DIR, 'index.html'))) throw new Error(`no built pages in ${WEB_DIR}: run make (node web/build.mjs)`);
  const srv = await startServer({ ...opts, env: { MERIDIAN_WEB_DIR: WEB_DIR, ...(opts.env || {}) } });
  let browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true, timeout: 60000,
      args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--no-first-run', '--disable-extensions'],
    });
  } catch (e) {
    await srv.stop();
    throw e;
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    srv, browser,
    async page({ width = 1280, height = 900, locale = 'en-US', bypassCSP = false } = {}) {
      const ctx = await browser.newContext({ viewport: { width, height }, locale, baseURL: srv.base, bypassCSP });
      ctx.setDefaultTimeout(WAIT);
      ctx.setDefaultNavigationTimeout(WAIT);
      const page = await ctx.newPage();
      page.errors = [];
      page.on('pageerror', (e) => page.errors.push(String(e)));
      page.on('console', (m) => { if (m.type() === 'error') page.errors.push(m.text()); });
      return page;
    },
    shot(page, name) {
      return page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
    },
    async stop() {
      await browser.close().catch(() => {});
      await srv.stop();
    },
  };
}
