// End to end against `sendguard demo`: the real binary runs the simulated internet (signed DNS,
// SMTP peers with real TLS on loopback), and headless Chromium shows each recipient's badge.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ComposePage, launchBrowser, startServer } from './support.mjs';

describe('security badges in the demo', () => {
  let server;
  let browser;
  let compose;

  before(async () => {
    server = await startServer(['demo']);
    browser = await launchBrowser();
    const context = await browser.newContext({ locale: 'de-DE', viewport: { width: 1100, height: 800 } });
    compose = new ComposePage(await context.newPage(), server.url);
    await compose.open();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** Adds a recipient and waits until its badge is final (not pending). */
  async function finalBadge(address) {
    await compose.addRecipient('to', address);
    const badge = compose.chip(address).locator('.badge');
    await badge.waitFor({ timeout: 5_000 });
    await compose.page.waitForFunction(
      (a) => document.querySelector(`[data-address="${a}"] .badge`)?.dataset.pending === 'false'
        && document.querySelector(`[data-address="${a}"] .badge`)?.dataset.class !== undefined,
      address,
      { timeout: 30_000 },
    );
    return badge;
  }

  test('DANE-EE shows "DANE ok" with the encryption line in its tooltip', async () => {
    const badge = await finalBadge('user@dane-ee.test');
    assert.equal(await badge.getAttribute('data-class'), 'dane-ok');
    assert.equal(await badge.getAttribute('data-blocked'), 'false');
    assert.match(await badge.innerText(), /DANE ok/);
    await compose.chip('user@dane-ee.test').locator('.badge-wrap').hover();
    const tip = compose.chip('user@dane-ee.test').locator('[role="tooltip"]');
    await tip.waitFor({ state: 'visible', timeout: 5_000 });
    const text = await tip.innerText();
    assert.match(text, /Verschlüsselung: TLSv1\.[23], \S+ \(\d+\/\d+ bits\)/);
    assert.match(text, /mx\.dane-ee\.test/);
    await compose.screenshot('badge-dane-ok-tooltip');
  });

  test('self-signed TLS shows "SSL ok"', async () => {
    const badge = await finalBadge('user@tls.test');
    assert.equal(await badge.getAttribute('data-class'), 'ssl-ok');
  });

  test('no STARTTLS shows "no SSL"', async () => {
    const badge = await finalBadge('user@plain.test');
    assert.equal(await badge.getAttribute('data-class'), 'no-ssl');
    assert.match(await badge.innerText(), /no SSL/);
  });

  test('a TLSA mismatch is shown as blocked', async () => {
    const badge = await finalBadge('user@wrong-tlsa.test');
    assert.equal(await badge.getAttribute('data-blocked'), 'true');
    assert.match(await badge.getAttribute('aria-label'), /gesperrt/);
    await compose.screenshot('badges');
    assert.deepEqual(compose.errors, [], 'no console errors');
  });
});
