// End to end: recipient chips by keyboard only, a pasted list, an error chip, and the compose
// page at 360 px wide, against `sendguard demo` in headless Chromium.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './support.mjs';

describe('recipient chips', () => {
  const demo = useServerAndBrowser(['demo']);

  async function addresses(compose, field) {
    return compose.page.locator(`[data-testid="field-${field}"] [data-testid="chip"]`)
      .evaluateAll((chips) => chips.map((c) => c.dataset.address));
  }

  test('keyboard only: Enter, comma, semicolon and Tab make chips; Backspace and × remove them', async () => {
    const compose = await demo.openCompose();
    const { page } = compose;
    await compose.field('to').focus();
    await page.keyboard.type('a@tls.test');
    await page.keyboard.press('Enter');
    await page.keyboard.type('b@plain.test,');
    await page.keyboard.type('c@dane-ee.test;');
    await page.keyboard.type('d@tls.test');
    await page.keyboard.press('Tab');
    assert.deepEqual(await addresses(compose, 'to'),
      ['a@tls.test', 'b@plain.test', 'c@dane-ee.test', 'd@tls.test']);
    // Back into the field: Backspace in the empty input removes the last chip.
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'to');
    await page.keyboard.press('Backspace');
    assert.deepEqual(await addresses(compose, 'to'), ['a@tls.test', 'b@plain.test', 'c@dane-ee.test']);
    // Tab backwards to the × of the last chip and press it with the keyboard.
    await page.keyboard.press('Shift+Tab');
    const focused = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
    assert.equal(focused, 'Empfänger entfernen: c@dane-ee.test');
    await page.keyboard.press('Enter');
    assert.deepEqual(await addresses(compose, 'to'), ['a@tls.test', 'b@plain.test']);
    // A duplicate typed again is merged.
    await compose.field('to').focus();
    await page.keyboard.type('A@TLS.test');
    await page.keyboard.press('Enter');
    assert.deepEqual(await addresses(compose, 'to'), ['a@tls.test', 'b@plain.test']);
    assert.deepEqual(compose.errors, [], 'no console errors');
    await page.context().close();
  });

  test('a pasted list becomes one chip per entry', async () => {
    const compose = await demo.openCompose();
    const { page } = compose;
    await compose.field('cc').focus();
    await page.evaluate(() => {
      const data = new DataTransfer();
      data.setData('text/plain',
        'Anna <anna@tls.test>, "Doe, Jane" <jane@dane-ee.test>;\nuser@plain.test\nanna@tls.test');
      document.getElementById('cc').dispatchEvent(
        new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    });
    await compose.chip('user@plain.test').waitFor({ timeout: 5_000 });
    assert.deepEqual(await addresses(compose, 'cc'), ['anna@tls.test', 'jane@dane-ee.test', 'user@plain.test']);
    await page.context().close();
  });

  test('an invalid address becomes an error chip that says what is wrong, in both languages', async () => {
    const compose = await demo.openCompose();
    await compose.addRecipient('bcc', 'user@localhost');
    const chip = compose.chip('user@localhost');
    await chip.waitFor({ timeout: 5_000 });
    assert.match(await chip.getAttribute('class'), /chip-invalid/);
    assert.equal(await chip.getByTestId('chip-error').innerText(), 'Die Domain hat keinen Punkt');
    await compose.page.getByRole('button', { name: 'EN', exact: true }).click();
    assert.equal(await chip.getByTestId('chip-error').innerText(), 'The domain has no dot');
    // The choice is remembered over a reload, although the browser prefers German.
    await compose.open();
    await compose.page.getByRole('button', { name: 'Send', exact: true }).waitFor({ timeout: 5_000 });
    assert.equal(await compose.page.locator('html').getAttribute('lang'), 'en');
    await compose.page.context().close();
  });

  test('the compose page is usable at 360 px wide', async () => {
    const compose = await demo.openCompose({ viewport: { width: 360, height: 740 } });
    const { page } = compose;
    await compose.addRecipient('to', 'maxima.mustermann@dane-ee.test');
    await compose.addRecipient('to', 'user@plain.test');
    await compose.addRecipient('cc', 'kaputt');
    await compose.finalBadge('maxima.mustermann@dane-ee.test');
    await compose.finalBadge('user@plain.test');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
    await page.getByRole('button', { name: 'Senden', exact: true }).waitFor();
    await compose.screenshot('compose-360');
    await page.context().close();
  });
});
