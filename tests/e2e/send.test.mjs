// End to end: pressing Send. Nothing is ever sent (there is no send API yet): the page checks
// the recipients, refuses with a message that names the ones a secure sender may not reach, and
// otherwise says honestly that sending is not connected. The secure-sender test needs the
// account and settings endpoints (GET /api/account, GET/PUT /api/settings).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { enableSecureSending, useServerAndBrowser } from './support.mjs';

describe('send check', () => {
  const demo = useServerAndBrowser(['demo']);
  const openCompose = () => demo.openCompose({ viewport: { width: 1100, height: 800 } });

  test('Send with an invalid address is refused and names it', async () => {
    const compose = await openCompose();
    await compose.addRecipient('to', 'user@tls.test');
    await compose.addRecipient('cc', 'kaputt');
    await compose.page.getByRole('button', { name: 'Senden', exact: true }).click();
    const result = compose.page.getByTestId('send-result');
    assert.match(await result.innerText(), /Nicht gesendet: diese Adressen sind ungültig: kaputt/);
    await compose.page.context().close();
  });

  test('Send that passes the check says that sending is not connected yet', async () => {
    const compose = await openCompose();
    await compose.addRecipient('to', 'user@tls.test');
    await compose.finalBadge('user@tls.test');
    await compose.page.getByRole('button', { name: 'Senden', exact: true }).click();
    assert.match(await compose.page.getByTestId('send-result').innerText(), /noch nicht angeschlossen/);
    await compose.page.context().close();
  });

  test('a secure sender refuses recipients below the required level, naming them', async () => {
    // Turn secure sending on, so that the account lists the secure aliases.
    assert.equal(await enableSecureSending(demo.url), 200, 'PUT /api/settings');
    const compose = await openCompose();
    const { page } = compose;
    const from = page.locator('#from');
    const secure = page.locator('#from option', { hasText: /\(sicher\)/ }).first();
    await secure.waitFor({ state: 'attached', timeout: 10_000 });
    await from.selectOption(await secure.getAttribute('value'));
    await page.getByTestId('secure-note').waitFor({ timeout: 5_000 });

    await compose.addRecipient('to', 'user@tls.test');
    await compose.addRecipient('to', 'user@plain.test');
    await compose.finalBadge('user@tls.test');
    await compose.finalBadge('user@plain.test');
    const short = compose.chip('user@plain.test');
    assert.equal(await short.getAttribute('data-short'), 'true', 'the chip is marked');
    assert.match(await short.getByTestId('shortfall').textContent(), /Erfüllt die Anforderung des sicheren Absenders nicht/);
    assert.equal(await compose.chip('user@tls.test').getAttribute('data-short'), 'false');

    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    const result = await page.getByTestId('send-result').innerText();
    assert.match(result, /Nicht gesendet: .*user@plain\.test/);
    assert.doesNotMatch(result, /user@tls\.test/);
    await compose.screenshot('secure-sender-refused');

    await short.getByRole('button', { name: /Empfänger entfernen/ }).click();
    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    assert.match(await page.getByTestId('send-result').innerText(), /noch nicht angeschlossen/);
    await page.context().close();
  });
});
