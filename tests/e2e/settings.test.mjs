// End to end: the settings page "Verschlüsselter Versand" saves the choice with PUT
// /api/settings, confirms it, and shows the stored state after a reload (needs the settings
// endpoint).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startServer, artifacts } from './support.mjs';
import { join } from 'node:path';

describe('settings', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer(['demo']);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('expert settings are saved, confirmed and shown after a reload', async () => {
    const context = await browser.newContext({ locale: 'de-DE', viewport: { width: 1000, height: 800 } });
    const page = await context.newPage();
    await page.goto(server.url + 'settings');
    await page.getByRole('heading', { name: 'Verschlüsselter Versand' }).waitFor({ timeout: 15_000 });
    for (const name of ['Ausschalten', 'Einschalten', 'Einschalten mit Profi-Einstellungen']) {
      await page.getByRole('radio', { name, exact: true }).waitFor();
    }
    await page.getByRole('radio', { name: 'Einschalten mit Profi-Einstellungen' }).check();
    await page.getByTestId('sending-auth-authenticated').check();
    await page.getByTestId('receiving-tls-13').check();
    await page.getByRole('button', { name: 'Speichern', exact: true }).click();
    await page.getByTestId('settings-status').getByText('Gespeichert.').waitFor({ timeout: 5_000 });
    await page.screenshot({ path: join(artifacts, 'settings-expert.png'), fullPage: true });

    await page.reload();
    await page.getByTestId('mode-expert').waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => document.querySelector('[data-testid="mode-expert"]').checked, null, { timeout: 5_000 });
    assert.equal(await page.getByTestId('sending-auth-authenticated').isChecked(), true);
    assert.equal(await page.getByTestId('sending-tls-12').isChecked(), true);
    assert.equal(await page.getByTestId('receiving-auth-any').isChecked(), true);
    assert.equal(await page.getByTestId('receiving-tls-13').isChecked(), true);
    await context.close();
  });

  test('a settings load failure is said in words', async () => {
    const context = await browser.newContext({ locale: 'en-US' });
    const page = await context.newPage();
    await page.route('**/api/settings', (route) => route.fulfill({
      status: 500, contentType: 'application/json', body: '{"error":"store unavailable"}',
    }));
    await page.goto(server.url + 'settings');
    await page.getByTestId('settings-status')
      .getByText('The settings could not be loaded: store unavailable (HTTP 500)')
      .waitFor({ timeout: 15_000 });
    await context.close();
  });
});
