// End to end: a real hold, raised by `sendguard demo` itself and decided in the admin view at
// /admin. The demo's downgrade.test offers STARTTLS to its first SMTP session only; the demo
// runs here with `--verdict-max-age 0 --min-reprobe-interval 0`, so every lookup of a known
// domain re-probes it in the background and the second one finds STARTTLS gone: the server is put
// on hold. maxima's page shows the hold, the demo's admin releases it in the admin view, and
// maxima's page shows the new level. The other tests check that the admin view is the admin
// role's: a user without it gets no link and a clear refusal, in English and German.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, useServerAndBrowser, waitUntil } from './support.mjs';

const ADDRESS = 'user@downgrade.test';
const HOST = 'mx.downgrade.test';

describe('admin view against a hold the demo raises', () => {
  const demo = useServerAndBrowser(['demo', '--verdict-max-age', '0', '--min-reprobe-interval', '0']);

  /** The open holds, from the real admin API, signed in as the demo's admin. */
  async function openHolds() {
    return (await demo.api('admin')).json('api/admin/holds');
  }

  /** Opens the compose page afresh (the page asks about a domain once), adds ADDRESS. */
  async function lookUp(compose) {
    await compose.open();
    await compose.addRecipient('to', ADDRESS);
    return compose.finalBadge(ADDRESS);
  }

  test('a downgrade is held, shown with its evidence, released, and the page follows', async () => {
    const compose = await demo.openCompose({ viewport: { width: 1100, height: 900 } });
    const { page } = compose;

    // First lookup: unknown, probed, STARTTLS with TLS.
    let badge = await lookUp(compose);
    assert.equal(await badge.getAttribute('data-class'), 'ssl-ok');
    assert.equal(await badge.getAttribute('data-blocked'), 'false');
    assert.deepEqual(await openHolds(), []);

    // Second lookup: known, so answered at once as it was (marked as being checked again), and
    // re-probed in the background; that probe finds no STARTTLS and the server is put on hold.
    // The open page hears the new verdict on its event stream and blocks the chip, no reload.
    badge = await lookUp(compose);
    await waitUntil(async () => (await openHolds()).length > 0, 'the re-probe raises a hold');
    const [held] = await openHolds();
    assert.equal(held.host, HOST);
    assert.match(held.reason, /no longer offers STARTTLS/);
    await page.waitForFunction(
      (a) => document.querySelector(`[data-address="${a}"] .badge`)?.dataset.blocked === 'true',
      ADDRESS,
      { timeout: 30_000 },
    );
    assert.match(await badge.innerText(), /Versand gesperrt/);
    let tip = await compose.tooltipText(ADDRESS);
    assert.match(tip, /Versand gesperrt: Ein Mailserver ist unter sein bekanntes Sicherheitsniveau gefallen/);
    assert.match(tip, /Technische Angabe: .*on hold/);
    assert.match(tip, /TLS: kein STARTTLS/);
    assert.match(tip, /Zurückgehalten: ja, bis die Administration entscheidet/);
    await compose.screenshot('compose-held');

    // The admin view, in the admin's own browser: the hold with its evidence.
    const admin = await demo.newPage({ as: 'admin', viewport: { width: 1100, height: 900 } });
    await admin.goto(demo.url);
    await admin.getByRole('navigation').getByRole('link', { name: 'Administration' }).click();
    await admin.getByRole('heading', { name: 'Zurückgehaltene Server' }).waitFor({ timeout: 15_000 });
    const hold = admin.getByTestId('hold');
    await hold.waitFor({ timeout: 5_000 });
    assert.equal(await hold.getAttribute('data-host'), HOST);
    assert.equal(await hold.getAttribute('data-status'), 'held');
    assert.match(await hold.innerText(), /no longer offers STARTTLS/);
    const evidence = hold.getByTestId('observation');
    assert.equal(await evidence.count(), 2);
    assert.equal(await hold.getByTestId('hold-summary').innerText(), 'Gefallen von SSL ok auf no SSL.');
    const before = await evidence.nth(0).innerText();
    assert.match(before, /^Vorher/);
    assert.match(before, /TLSv1\.[23]/);
    assert.match(before, /SSL ok/);
    const fellShort = await evidence.nth(1).innerText();
    assert.match(fellShort, /^Unterschritten/);
    assert.doesNotMatch(fellShort, /TLSv1/);
    assert.match(fellShort, /no SSL/);
    assert.match(fellShort, /STARTTLS/);
    await admin.screenshot({ path: join(artifacts, 'admin-hold.png'), fullPage: true });

    // The server's history: its observations, both probes among them.
    await hold.getByRole('button', { name: HOST }).click();
    const history = admin.getByTestId('history');
    await history.waitFor({ timeout: 5_000 });
    assert.match(await history.innerText(), /Beobachtungen von mx\.downgrade\.test/);
    assert.ok(await history.getByTestId('observation').count() >= 2, 'both probes are listed');

    // Release: the new level becomes the floor, the list is empty.
    await hold.getByRole('button', { name: 'Freigeben' }).click();
    await admin.getByTestId('no-holds').waitFor({ timeout: 5_000 });
    assert.deepEqual(await openHolds(), []);
    await admin.context().close();

    // Back on the compose page: the domain has its new level and is no longer blocked.
    badge = await lookUp(compose);
    assert.equal(await badge.getAttribute('data-class'), 'no-ssl');
    assert.equal(await badge.getAttribute('data-blocked'), 'false');
    tip = await compose.tooltipText(ADDRESS);
    assert.match(tip, /Zurückgehalten: nein/);
    assert.deepEqual(compose.errors, [], 'no console errors');
    await page.context().close();
  });

  test('a user without the admin role gets no admin view; the admin does (English)', async () => {
    const page = await demo.newPage({ locale: 'en-US' });
    await page.goto(demo.url);
    const nav = page.getByRole('navigation');
    await nav.getByRole('link', { name: 'Settings' }).waitFor({ timeout: 15_000 });
    assert.equal(await nav.getByRole('link', { name: 'Administration' }).count(), 0, 'no admin link for maxima');
    await page.goto(demo.url + 'admin');
    const refusal = page.getByTestId('admin-forbidden');
    await refusal.waitFor({ timeout: 15_000 });
    assert.equal(await refusal.innerText(),
      'This page is for administrators only: you are signed in without administrator rights.');
    assert.equal(await page.locator('[data-testid="no-holds"], [data-testid="hold"]').count(), 0);
    // The server refuses maxima too, whatever the page shows.
    const api = await demo.api();
    assert.equal((await api.fetch('api/admin/holds')).status, 403);
    assert.equal((await api.fetch('metrics')).status, 403);
    await page.context().close();

    const admin = await demo.newPage({ locale: 'en-US', as: 'admin' });
    await admin.goto(demo.url);
    await admin.getByRole('navigation').getByRole('link', { name: 'Administration' }).click();
    await admin.getByRole('heading', { name: 'Servers on hold' }).waitFor({ timeout: 15_000 });
    await admin.locator('[data-testid="no-holds"], [data-testid="hold"]').first().waitFor({ timeout: 5_000 });
    assert.equal(await admin.getByTestId('admin-forbidden').count(), 0);
    assert.equal(await admin.getByTestId('admin-error').count(), 0);
    await admin.context().close();
  });

  test('a user without the admin role who opens /admin is told so (German)', async () => {
    const page = await demo.newPage();
    await page.goto(demo.url + 'admin');
    const refusal = page.getByTestId('admin-forbidden');
    await refusal.waitFor({ timeout: 15_000 });
    assert.equal(await refusal.innerText(),
      'Diese Seite ist nur für die Administration: Sie sind ohne Administrationsrechte angemeldet.');
    assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Administration' }).count(), 0);
    await page.context().close();
  });
});
