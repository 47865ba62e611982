// End to end: every page passes axe-core (npm), a real accessibility checker, with no violation:
// the sign-in page, the compose page with a chip of every badge and an open tooltip, the
// settings, the Sent page with a message, and the admin view with a hold; in German and English.
// axe-core checks WCAG 2.x A and AA rules and its best practices (names, roles and their
// required children, colour contrast, headings, landmarks) on the page as the browser drew it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { axeViolations, useServerAndBrowser, waitUntil } from './support.mjs';

describe('accessibility (axe-core)', () => {
  // Re-probing at every lookup lets the demo's downgrade.test raise a real hold for the admin view.
  const demo = useServerAndBrowser(['demo', '--verdict-max-age', '0', '--min-reprobe-interval', '0']);

  /** Asserts that axe finds nothing on `page` now; `what` names the view. */
  async function accessible(page, what) {
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], `${what}: ${violations.length} violations`);
  }

  for (const locale of ['de-DE', 'en-US']) {
    test(`the sign-in page (${locale})`, async () => {
      const page = await demo.newPage({ locale, as: null });
      await page.goto(demo.url);
      await page.locator('input[type="password"]').waitFor({ timeout: 15_000 });
      await accessible(page, 'sign-in');
      // An error shown on the page is checked too.
      await page.locator('input[type="password"]').fill('not the password');
      await page.locator('input[autocomplete="username"], input[type="text"]').first().fill('maxima');
      await page.locator('form button[type="submit"]').click();
      await page.getByRole('alert').waitFor({ timeout: 10_000 });
      await accessible(page, 'sign-in with an error');
    });

    test(`the compose page with every badge and a tooltip (${locale})`, async () => {
      const compose = await demo.openCompose({ locale });
      await accessible(compose.page, 'compose, empty');
      for (const address of ['user@dane-ee.test', 'user@tls.test', 'user@plain.test', 'user@wrong-tlsa.test']) {
        await compose.addRecipient('to', address);
        await compose.finalBadge(address);
      }
      await compose.addRecipient('cc', 'not an address');
      await accessible(compose.page, 'compose with chips');
      await compose.tooltipText('user@dane-ee.test');
      await accessible(compose.page, 'compose with a tooltip open');
    });

    test(`settings, Sent and admin (${locale})`, async () => {
      const api = await demo.api('user');
      const account = await api.json('api/account');
      await api.json('api/messages', {
        method: 'POST',
        json: { from: account.addresses[0].address, to: ['user@dane-ee.test', 'user@plain.test'], subject: 'axe', body: 'checked\n' },
      });
      const page = await demo.newPage({ locale });
      await page.goto(demo.url + 'settings');
      await page.locator('main h1').waitFor({ timeout: 15_000 });
      await accessible(page, 'settings');
      await page.goto(demo.url + 'sent');
      await page.locator('[data-testid="sent-message"]').first().waitFor({ timeout: 15_000 });
      await accessible(page, 'sent');

      // downgrade.test offers STARTTLS to its first session only: looked up until it is held.
      const adminApi = await demo.api('admin');
      await waitUntil(async () => {
        await api.json('api/recipients/security', { method: 'POST', json: { addresses: ['user@downgrade.test'] } });
        return (await adminApi.json('api/admin/holds')).length > 0;
      }, 'a hold on mx.downgrade.test');
      const admin = await demo.newPage({ locale, as: 'admin' });
      await admin.goto(demo.url + 'admin');
      await admin.locator('[data-testid="hold"]').first().waitFor({ timeout: 15_000 });
      await accessible(admin, 'admin with a hold');
    });
  }
});
