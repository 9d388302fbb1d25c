// Drives the equity dashboard in headless Chromium with no network beyond
// 127.0.0.1, as a quality manager does: sign in with a pasted token, choose a
// stratifier and an outcome in the form, read each chart from the DOM, sign
// out. Used by tests/tests/e2e/dashboard_browser.rs; prints one JSON line (the
// Rust test compares it with the API's answer) and keeps screenshots in
// $CARELEDGER_ARTIFACTS (when set).
//
//   CARELEDGER_TOKEN=<token> node dashboard.mjs http://127.0.0.1:<port> <by> <outcome>
import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, by, outcome] = process.argv.slice(2);
const token = process.env.CARELEDGER_TOKEN;
const artifacts = process.env.CARELEDGER_ARTIFACTS;
if (!base || !by || !outcome || !token) {
  console.error('usage: CARELEDGER_TOKEN=<token> node dashboard.mjs <base url> <by> <outcome>');
  process.exit(2);
}
const origin = new URL(base).origin;
const executablePath = process.env.CARELEDGER_CHROMIUM || '/usr/bin/chromium';
const timeout = 60_000;
const report = { url: null, charts: {}, withheld: [], text: '', signedOut: false, afterSignOut: null, offOrigin: [], csp: [], errors: [], focusable: 0 };
const profile = mkdtempSync(join(tmpdir(), 'careledger-chromium-'));
let browser;
let failure = null;
const shot = async (page, name) => {
  if (!artifacts) return;
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `dashboard-${name}.png`), fullPage: true });
};
try {
  browser = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    timeout,
    viewport: { width: 1400, height: 900 },
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
      '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=127.0.0.1',
    ],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(timeout);
  await browser.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('data:') || new URL(url).origin === origin) return route.continue();
    report.offOrigin.push(url);
    return route.abort('blockedbyclient');
  });
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy/i.test(text)) report.csp.push(text);
    else if (m.type() === 'error') report.errors.push(text);
  });
  page.on('pageerror', (e) => report.errors.push(String(e)));

  // Sign in.
  await page.goto(`${base}/dashboard?lang=en`, { waitUntil: 'load' });
  await page.locator('#token').fill(token);
  await Promise.all([page.waitForURL(/\/dashboard\?/), page.getByRole('button', { name: 'Sign in' }).click()]);
  await page.locator('svg#rates').waitFor();
  await shot(page, 'signed-in');

  // Choose the stratifier and the outcome in the form, as a user does.
  await page.locator('select[name="by"]').selectOption(by);
  await page.locator('select[name="outcome"]').selectOption(outcome);
  await Promise.all([page.waitForURL(new RegExp(`by=${by}`)), page.getByRole('button', { name: 'Show' }).click()]);
  await page.locator('svg#rates').waitFor();
  report.url = page.url();
  await shot(page, `${by}-${outcome}`);

  // Each chart, read from the DOM.
  for (const id of ['rates', 'ratios', 'survival', 'trend', 'heatmap']) {
    report.charts[id] = await page.evaluate((id) => {
      const svg = document.getElementById(id);
      const attrs = (el) => Object.fromEntries([...el.attributes].filter((a) => a.name.startsWith('data-')).map((a) => [a.name.slice(5), a.value]));
      return {
        title: svg.querySelector(':scope > title')?.textContent ?? null,
        desc: svg.querySelector(':scope > desc')?.textContent ?? null,
        marks: [...svg.querySelectorAll('.mark')].map(attrs),
        withheld: [...svg.querySelectorAll('.withheld')].map((el) => ({ ...attrs(el), drawn: !!el.querySelector('circle, line') })),
        curves: [...svg.querySelectorAll('path.km')].map(attrs),
      };
    }, id);
  }
  report.withheld = await page.evaluate(() => [...document.querySelectorAll('ul.withheld-list li')].map((li) => ({ group: li.dataset.group, rule: li.dataset.rule })));
  report.text = await page.evaluate(() => document.body.innerText);
  report.focusable = await page.evaluate(() => document.querySelectorAll('svg [tabindex="0"]').length);
  // Keyboard: Tab reaches a chart mark.
  for (let i = 0; i < 60; i++) {
    await page.keyboard.press('Tab');
    const inChart = await page.evaluate(() => !!document.activeElement?.closest('svg'));
    if (inChart) { report.keyboardReachesChart = true; break; }
  }

  // Sign out: back to the sign-in form, and the page stays closed.
  await Promise.all([page.waitForURL(/\/dashboard/), page.getByRole('button', { name: 'Sign out' }).click()]);
  report.signedOut = await page.locator('#token').isVisible();
  await page.goto(`${base}/dashboard?by=${by}`, { waitUntil: 'load' });
  report.afterSignOut = (await page.locator('svg#rates').count()) === 0 && (await page.locator('#token').count()) === 1;
  await shot(page, 'signed-out');
} catch (e) {
  failure = String(e && e.stack ? e.stack : e);
} finally {
  if (browser) await browser.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
if (failure) report.errors.push(failure);
console.log(JSON.stringify(report));
process.exit(!failure && report.offOrigin.length === 0 && report.csp.length === 0 ? 0 : 1);
