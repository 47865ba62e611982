// End to end: the settings page "Verschlüsselter Versand" saves the choice with PUT
// /api/settings, confirms it, and shows the stored state after a reload (needs the settings
// endpoint).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, useServerAndBrowser } from './support.mjs';

describe('settings', () => {
  const demo = useServerAndBrowser(['demo']);

  test('expert settings are saved, confirmed and shown after a reload', async () => {
    const page = await demo.newPage({ viewport: { width: 1000, height: 800 } });
    await page.goto(demo.url + 'settings');
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
    await page.context().close();
  });

  test('a settings load failure is said in words', async () => {
    const page = await demo.newPage({ locale: 'en-US' });
    await page.route('**/api/settings', (route) => route.fulfill({
      status: 500, contentType: 'application/json', body: '{"error":"store unavailable"}',
    }));
    await page.goto(demo.url + 'settings');
    await page.getByTestId('settings-status')
      .getByText('The settings could not be loaded: store unavailable (HTTP 500)')
      .waitFor({ timeout: 15_000 });
    await page.context().close();
  });
});
