// Drives GraphiQL in headless Chromium with no network beyond 127.0.0.1, the way a
// user does: open the page, paste the bearer token in the Headers tab, type a
// query, press the run button, read the answer. Used by
// tests/tests/e2e/browser.rs; prints one JSON line and exits 0 when the page
// loaded only from its own origin, broke no Content-Security-Policy rule and
// showed an answer (the Rust test checks the answer's content).
//
//   CARELEDGER_TOKEN=<token> node graphiql.mjs http://127.0.0.1:<port> '<query>'
//
// The browser is Debian's chromium ($CARELEDGER_CHROMIUM, else /usr/bin/chromium);
// playwright-core never downloads one.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, query] = process.argv.slice(2);
const token = process.env.CARELEDGER_TOKEN;
if (!base || !query || !token) {
  console.error('usage: CARELEDGER_TOKEN=<token> node graphiql.mjs <base url> <query>');
  process.exit(2);
}
const origin = new URL(base).origin;
const executablePath = process.env.CARELEDGER_CHROMIUM || '/usr/bin/chromium';
const timeout = 60_000;

const report = { answer: null, requests: [], offOrigin: [], csp: [], errors: [] };
const profile = mkdtempSync(join(tmpdir(), 'careledger-chromium-'));
let browser;
let failure = null;
try {
  // A persistent context only for the profile directory of our own (user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    timeout,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // No network: no name but 127.0.0.1 resolves, and anything else goes to a
      // proxy that is not there.
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=127.0.0.1',
    ],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(timeout);
  // Every request is recorded; one to another origin is refused and reported.
  await browser.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    report.offOrigin.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('request', (r) => report.requests.push(r.url()));
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy/i.test(text)) report.csp.push(text);
    else if (m.type() === 'error') report.errors.push(text);
  });
  page.on('pageerror', (e) => report.errors.push(String(e)));

  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.locator('.graphiql-container').waitFor();

  // The token, pasted in the Headers tab as the placeholder asks.
  await page.getByRole('button', { name: 'Headers' }).click();
  const headers = page.locator('.graphiql-editor-tool .CodeMirror:visible');
  await headers.click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));

  // The query, typed into the query editor; then the run button.
  await page.locator('.graphiql-query-editor .CodeMirror').click();
  await page.keyboard.press('Control+A');
  await page.keyboard.insertText(query);
  await page.locator('.graphiql-execute-button').click();

  const result = page.locator('.result-window');
  await result.filter({ hasText: /"(data|errors)"/ }).waitFor();
  report.answer = (await result.innerText()).replace(/\s+/g, ' ').trim();
} catch (e) {
  failure = String(e && e.stack ? e.stack : e);
} finally {
  if (browser) await browser.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
if (failure) report.errors.push(failure);
console.log(JSON.stringify(report));
const ok = !failure && report.answer && report.offOrigin.length === 0 && report.csp.length === 0;
process.exit(ok ? 0 : 1);
