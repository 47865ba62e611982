// End to end: the real release binary serves the embedded compose page to headless Chromium.
// The compose suite runs `sendguard demo`, so that every probe the page causes goes to the
// simulated internet on loopback, never to the real network.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MAXIMA, useServer, useServerAndBrowser } from './support.mjs';

describe('compose page', () => {
  const demo = useServerAndBrowser(['demo']);

  test('typing an address into To and pressing Enter makes a chip', async () => {
    const compose = await demo.openCompose();
    await compose.addRecipient('to', 'user@tls.test');
    const chip = compose.chip('user@tls.test');
    await chip.waitFor({ state: 'visible', timeout: 5_000 });
    assert.match(await chip.innerText(), /user@tls\.test/);
    assert.equal(await compose.field('to').inputValue(), '', 'the input is cleared');
    await compose.screenshot('compose-chip');
    assert.deepEqual(compose.errors, [], 'no console errors');
    await compose.page.context().close();
  });

  test('the frame shows the German labels of the seed', async () => {
    const compose = await demo.openCompose({ locale: 'de-DE' });
    for (const name of ['Senden', 'Speichern', 'Verwerfen']) {
      await compose.page.getByRole('button', { name, exact: true }).waitFor({ timeout: 5_000 });
    }
    for (const label of ['Von', 'An', 'CC', 'BCC', 'Betreff']) {
      assert.equal(await compose.page.getByText(label, { exact: true }).count() >= 1, true, label);
    }
    await compose.page.context().close();
  });

  test('an English browser gets English labels', async () => {
    const compose = await demo.openCompose({ locale: 'en-US' });
    await compose.page.getByRole('button', { name: 'Send', exact: true }).waitFor({ timeout: 5_000 });
    await compose.page.getByRole('button', { name: 'Discard', exact: true }).waitFor({ timeout: 5_000 });
    await compose.page.context().close();
  });

  test('the settings route survives a reload (single-page fallback)', async () => {
    const page = await demo.newPage();
    const response = await page.goto(demo.url + 'settings');
    assert.equal(response.status(), 200);
    await page.getByRole('heading', { name: 'Verschlüsselter Versand' }).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: new URL('./artifacts/settings.png', import.meta.url).pathname });
    await page.context().close();
  });

  test('the navigation switches pages without a reload, marks the current one and follows Back', async () => {
    const compose = await demo.openCompose({ locale: 'de-DE' });
    const { page } = compose;
    await compose.addRecipient('to', 'user@tls.test');
    // A full page load would lose this marker (and the chip).
    await page.evaluate(() => { window.sendguardMarker = 1; });
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Einstellungen' }).click();
    await page.getByRole('heading', { name: 'Verschlüsselter Versand' }).waitFor({ timeout: 5_000 });
    assert.equal(new URL(page.url()).pathname, '/settings');
    assert.equal(await nav.getByRole('link', { name: 'Einstellungen' }).getAttribute('aria-current'), 'page');
    assert.equal(await nav.getByRole('link', { name: 'Verfassen' }).getAttribute('aria-current'), null);
    await nav.getByRole('link', { name: 'Gesendet' }).click();
    await page.getByRole('heading', { level: 1, name: 'Gesendet', exact: true }).waitFor({ timeout: 5_000 });
    assert.equal(new URL(page.url()).pathname, '/sent');
    await page.goBack();
    await page.getByRole('heading', { name: 'Verschlüsselter Versand' }).waitFor({ timeout: 5_000 });
    await page.goBack();
    await compose.field('to').waitFor({ timeout: 5_000 });
    assert.equal(new URL(page.url()).pathname, '/');
    assert.equal(await page.evaluate(() => window.sendguardMarker), 1, 'no page load happened');
    await page.goto(demo.url + 'no-such-page');
    await page.getByText('Diese Seite gibt es nicht.').waitFor({ timeout: 15_000 });
    assert.deepEqual(compose.errors, [], 'no console errors');
    await page.context().close();
  });
});

describe('static serving', () => {
  // `serve` starts without users: the harness adds maxima to a temporary database.
  const server = useServer(['serve']);

  test('index.html is revalidated, hashed assets are immutable and compressed', async () => {
    const index = await fetch(server.url);
    assert.equal(index.status, 200);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const wasm = html.match(/\/(sendguard-frontend-[0-9a-f]{1,16}_bg\.wasm)/);
    assert.ok(wasm, 'index.html references the hashed wasm');
    const asset = await fetch(server.url + wasm[1], { headers: { 'accept-encoding': 'gzip' } });
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('content-type'), 'application/wasm');
    assert.match(asset.headers.get('cache-control'), /immutable/);
    assert.equal(asset.headers.get('content-encoding'), 'gzip');
    const etag = asset.headers.get('etag');
    const again = await fetch(server.url + wasm[1], { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
  });

  test('the health endpoint answers without a session; the rest of the API needs one', async () => {
    const health = await (await fetch(server.url + 'api/health')).json();
    assert.equal(health.status, 'ok');
    for (const path of ['api/account', 'api/settings', 'api/messages', 'api/session']) {
      const response = await fetch(server.url + path);
      assert.equal(response.status, 401, path);
      assert.deepEqual(await response.json(), { error: 'sign in first' }, path);
    }
  });

  test('the user added with `sendguard user add` signs in and gets their own account', async () => {
    const api = await server.api();
    assert.equal(api.session.login, MAXIMA.login);
    assert.equal(api.session.name, MAXIMA.name);
    assert.equal(api.session.role, 'user');
    const account = await api.json('api/account');
    assert.equal(account.name, MAXIMA.name);
    assert.deepEqual(account.addresses.map((a) => a.address), [MAXIMA.address]);
  });
});
