// End to end: the admin view at /admin. The first test drives the page against hand-made holds
// (Playwright answers the admin API), so it checks the view itself: token in sessionStorage and
// sent as x-sendguard-admin-token, the evidence, Release as a POST and the refreshed list, and a
// server's history. The second runs against the real admin endpoints of `sendguard demo`
// started with an admin token (needs the admin API).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, launchBrowser, startServer } from './support.mjs';

const TOKEN = 'e2e-admin-token';

function observation(at, tls, cls, reason) {
  return {
    at, domain: 'example.test', host: 'mx.example.test', ip: '127.0.0.1',
    starttls: tls !== null, tls_version: tls, cipher: tls ? 'TLS_AES_128_GCM_SHA256' : null,
    cert_sha256: tls ? 'ab'.repeat(32) : null, dane: 'none', dnssec: 'insecure',
    class: cls, source: 'probe', reason,
  };
}

describe('admin view', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer(['demo'], { SENDGUARD_ADMIN_TOKEN: TOKEN });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('holds show their evidence; Release posts with the token and the list refreshes', async () => {
    const context = await browser.newContext({ locale: 'de-DE', viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    let held = true;
    const seen = [];
    await page.route('**/api/admin/**', async (route) => {
      const req = route.request();
      seen.push({ method: req.method(), url: new URL(req.url()).pathname, token: req.headers()['x-sendguard-admin-token'] });
      const path = new URL(req.url()).pathname;
      if (path === '/api/admin/holds') {
        const holds = held ? [{
          host: 'mx.example.test', since: 1_700_000_000, status: 'held', floor: 'ssl_ok',
          before: observation(1_699_990_000, 'TLSv1.3', 'ssl_ok', 'STARTTLS and TLS 1.3'),
          after: observation(1_700_000_000, null, 'no_ssl', 'STARTTLS no longer offered'),
          reason: 'fell from SSL ok to no SSL', decided_by: null, decided_at: null,
        }] : [];
        return route.fulfill({ json: holds });
      }
      if (path === '/api/admin/holds/mx.example.test/release' && req.method() === 'POST') {
        held = false;
        return route.fulfill({ status: 204, body: '' });
      }
      if (path === '/api/admin/servers/mx.example.test/observations') {
        return route.fulfill({ json: [observation(1_699_990_000, 'TLSv1.3', 'ssl_ok', 'first')] });
      }
      return route.fulfill({ status: 404, json: { error: 'no such API endpoint' } });
    });
    await page.goto(server.url + 'admin');
    await page.getByRole('heading', { name: 'Zurückgehaltene Server' }).waitFor({ timeout: 15_000 });
    await page.getByLabel('Admin-Token').fill(TOKEN);
    await page.getByRole('button', { name: 'Anmelden' }).click();
    const hold = page.getByTestId('hold');
    await hold.waitFor({ timeout: 5_000 });
    const text = await hold.innerText();
    assert.match(text, /mx\.example\.test/);
    assert.match(text, /fell from SSL ok to no SSL/);
    assert.match(text, /Vorher/);
    assert.match(text, /Unterschritten/);
    assert.match(text, /TLSv1\.3/);
    assert.match(text, /abababababababab…/);
    assert.equal(await page.evaluate(() => sessionStorage.getItem('sendguard.admin-token')), TOKEN);
    await page.screenshot({ path: join(artifacts, 'admin-hold.png'), fullPage: true });

    await hold.getByRole('button', { name: 'mx.example.test' }).click();
    await page.getByTestId('history').waitFor({ timeout: 5_000 });
    assert.match(await page.getByTestId('history').innerText(), /Beobachtungen von mx\.example\.test/);

    await hold.getByRole('button', { name: 'Freigeben' }).click();
    await page.getByTestId('no-holds').waitFor({ timeout: 5_000 });
    const post = seen.find((r) => r.method === 'POST');
    assert.equal(post.url, '/api/admin/holds/mx.example.test/release');
    assert.equal(post.token, TOKEN);
    assert.ok(seen.every((r) => r.token === TOKEN), 'every admin call carries the token');
    await context.close();
  });

  test('the real admin API answers the view with the token (needs the admin endpoints)', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.goto(server.url + 'admin');
    await page.getByLabel('Admin token').fill('wrong-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('admin-error').waitFor({ timeout: 5_000 });
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('[data-testid="no-holds"], [data-testid="hold"]').first().waitFor({ timeout: 5_000 });
    const hold = page.getByTestId('hold').first();
    if (await hold.count()) {
      await hold.getByRole('button', { name: 'Release' }).click();
      await page.waitForFunction(() => !document.querySelector('[data-testid="hold"][data-status="held"]'), null, { timeout: 5_000 });
    }
    await context.close();
  });
});
