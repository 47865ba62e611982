// End to end: Speichern stores the draft on the server (PUT /api/draft) and says when; a reload
// brings everything back (chips with their badges, the invalid entry still an error chip,
// subject, message, From); Verwerfen clears the page and deletes the draft (DELETE /api/draft).
// A draft over the server's limit is refused with its message and the page keeps everything.
// Runs `sendguard demo`, so the badges of restored chips come from the simulated internet.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { enableSecureSending, useServerAndBrowser } from './support.mjs';

describe('draft', () => {
  const server = useServerAndBrowser(['demo']);

  /** Each test starts without a saved draft. */
  async function deleteDraft() {
    const response = await (await server.api()).fetch('api/draft', { method: 'DELETE' });
    assert.equal(response.status, 204);
  }

  function openCompose(locale) {
    return server.openCompose({ locale, viewport: { width: 1100, height: 800 } });
  }

  /** The answer of the next request of `method` on /api/draft. */
  function draftRequest(page, method) {
    return page.waitForResponse(
      (r) => r.url().endsWith('/api/draft') && r.request().method() === method,
      { timeout: 15_000 },
    );
  }

  /** Reloads and waits until the page has asked for the draft; returns the server's answer. */
  async function reload(compose) {
    const loaded = draftRequest(compose.page, 'GET');
    await compose.page.reload();
    const answer = await (await loaded).json();
    await compose.field('to').waitFor({ timeout: 15_000 });
    return answer;
  }

  function chipsIn(compose, field) {
    return compose.page.locator(`[data-testid="field-${field}"] [data-testid="chip"]`);
  }

  /** Verwerfen empties the page, deletes the draft, and a reload stays empty. */
  async function discardAndReload(compose, name) {
    const deleted = draftRequest(compose.page, 'DELETE');
    await compose.page.getByRole('button', { name, exact: true }).click();
    assert.equal((await deleted).status(), 204);
    assert.equal(await compose.page.locator('[data-testid="chip"]').count(), 0);
    assert.equal(await compose.field('subject').inputValue(), '');
    assert.equal(await reload(compose), null, 'no draft on the server');
    assert.equal(await compose.page.locator('[data-testid="chip"]').count(), 0);
    assert.equal(await compose.field('subject').inputValue(), '');
    assert.equal(await compose.field('body').inputValue(), '');
  }

  test('Speichern keeps the draft over a reload, Verwerfen deletes it (German)', async () => {
    await deleteDraft();
    // Secure sending on, so that From offers a second address to choose and restore.
    assert.equal(await enableSecureSending(await server.api()), 200);
    const compose = await openCompose('de-DE');
    const { page } = compose;
    const secure = page.locator('#from option', { hasText: /\(sicher\)/ }).first();
    await secure.waitFor({ state: 'attached', timeout: 10_000 });
    const secureAddress = await secure.getAttribute('value');
    await page.locator('#from').selectOption(secureAddress);
    await compose.addRecipient('to', 'user@tls.test');
    await compose.addRecipient('cc', 'kaputt');
    await compose.field('subject').fill('Grüße aus dem Entwurf');
    await compose.field('body').fill('Erste Zeile\nZweite Zeile');

    const saved = draftRequest(page, 'PUT');
    await page.getByRole('button', { name: 'Speichern', exact: true }).click();
    assert.equal((await saved).status(), 200);
    await page.getByTestId('draft-note').getByText(/^Entwurf gespeichert um \d{2}:\d{2}$/)
      .waitFor({ timeout: 5_000 });

    const stored = await reload(compose);
    assert.deepEqual([stored.to, stored.cc, stored.from], [['user@tls.test'], ['kaputt'], secureAddress]);
    await chipsIn(compose, 'to').first().waitFor({ timeout: 10_000 });
    const badge = await compose.finalBadge('user@tls.test');
    assert.equal(await badge.getAttribute('data-class'), 'ssl-ok');
    const broken = chipsIn(compose, 'cc');
    assert.equal(await broken.count(), 1);
    assert.equal(await broken.getAttribute('data-address'), 'kaputt');
    assert.match(await broken.getAttribute('class'), /chip-invalid/);
    assert.equal(await broken.getByTestId('chip-error').innerText(), 'Das @ fehlt');
    assert.equal(await chipsIn(compose, 'to').count(), 1);
    assert.equal(await compose.field('subject').inputValue(), 'Grüße aus dem Entwurf');
    assert.equal(await compose.field('body').inputValue(), 'Erste Zeile\nZweite Zeile');
    assert.equal(await page.locator('#from').inputValue(), secureAddress);
    // The restored sender is known as secure (the account's flag, not the draft's text).
    await page.getByTestId('secure-note').waitFor({ timeout: 5_000 });
    await compose.screenshot('draft-restored');

    await discardAndReload(compose, 'Verwerfen');
    assert.deepEqual(compose.errors, [], 'no console errors');
    await page.context().close();
  });

  test('Save says when; an oversized draft is refused and nothing is lost (English)', async () => {
    await deleteDraft();
    const compose = await openCompose('en-US');
    const { page } = compose;
    await compose.addRecipient('to', '"Doe, Jane" <jane@dane-ee.test>');
    await compose.addRecipient('bcc', 'nobody@');
    await compose.field('subject').fill('Draft in English');
    await compose.field('body').fill('Short message.');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByTestId('draft-note').getByText(/^Draft saved at \d{2}:\d{2}$/)
      .waitFor({ timeout: 5_000 });
    await compose.screenshot('draft-saved-en');

    // Longer than the server's 1 MiB limit for a draft: refused, said, and kept on the page.
    const long = 'x'.repeat(1024 * 1024 + 1);
    await compose.field('body').fill(long);
    const refused = draftRequest(page, 'PUT');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    assert.equal((await refused).status(), 413);
    const note = page.getByTestId('draft-note');
    await note.getByText('Draft not saved: the draft is larger than 1024 KiB (HTTP 413)')
      .waitFor({ timeout: 5_000 });
    assert.match(await note.getAttribute('class'), /notice-error/);
    assert.equal((await compose.field('body').inputValue()).length, long.length);
    assert.equal(await compose.field('subject').inputValue(), 'Draft in English');
    assert.equal(await compose.chip('jane@dane-ee.test').count(), 1);
    assert.equal(await compose.chip('nobody@').count(), 1);

    // The stored draft is still the one saved before.
    const stored = await reload(compose);
    assert.equal(stored.body, 'Short message.');
    await compose.chip('jane@dane-ee.test').waitFor({ timeout: 10_000 });
    const badge = await compose.finalBadge('jane@dane-ee.test');
    assert.equal(await badge.getAttribute('data-class'), 'dane-ok');
    assert.equal(await compose.chip('nobody@').getByTestId('chip-error').innerText(), 'Nothing after the @');
    assert.equal(await compose.field('body').inputValue(), 'Short message.');

    await discardAndReload(compose, 'Discard');
    await page.context().close();
  });
});
