// End to end against `sendguard demo`: the real binary runs the simulated internet (signed DNS,
// SMTP peers with real TLS on loopback), and headless Chromium shows each recipient's badge.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './support.mjs';

describe('security badges in the demo', () => {
  const demo = useServerAndBrowser(['demo']);
  let compose;

  before(async () => {
    compose = await demo.openCompose({ viewport: { width: 1100, height: 800 } });
  });

  /** Adds a recipient and waits until its badge is final (not pending). */
  async function finalBadge(address) {
    await compose.addRecipient('to', address);
    return compose.finalBadge(address);
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

  test('the DANE ok tooltip lists each mail server with TLS, certificate, DANE, check and hold', async () => {
    const text = await compose.tooltipText('user@dane-ee.test');
    assert.match(text, /DANE und DNSSEC/);
    assert.match(text, /Zertifikat: /);
    assert.match(text, /DANE: bestätigt/);
    assert.match(text, /Zuletzt geprüft: (gerade eben|vor \d+ Min\.)/);
    assert.match(text, /Zurückgehalten: nein/);
  });

  test('self-signed TLS shows "SSL ok" and says the certificate is not valid', async () => {
    const badge = await finalBadge('user@tls.test');
    assert.equal(await badge.getAttribute('data-class'), 'ssl-ok');
    assert.match(await badge.innerText(), /SSL ok/);
    const text = await compose.tooltipText('user@tls.test');
    assert.match(text, /SSL\/TLS-verschlüsselte Verbindung/);
    assert.match(text, /Verschlüsselung: TLSv1\.[23], \S+ \(\d+\/\d+ bits\)/);
    assert.match(text, /Zertifikat: nicht gültig/);
  });

  test('no STARTTLS shows "no SSL"', async () => {
    const badge = await finalBadge('user@plain.test');
    assert.equal(await badge.getAttribute('data-class'), 'no-ssl');
    assert.match(await badge.innerText(), /no SSL/);
    const text = await compose.tooltipText('user@plain.test');
    assert.match(text, /unverschlüsselt übertragen/);
    assert.match(text, /TLS: kein STARTTLS/);
  });

  test('broken DNSSEC shows the blocked state (class unknown) and says why in German', async () => {
    const badge = await finalBadge('user@bogus.test');
    assert.equal(await badge.getAttribute('data-class'), 'unknown');
    assert.equal(await badge.getAttribute('data-blocked'), 'true');
    assert.equal((await badge.innerText()).trim(), 'Versand gesperrt');
    const text = await compose.tooltipText('user@bogus.test');
    assert.match(text, /^Diese E-Mail wird an diesen Empfänger zurückgestellt/);
    assert.doesNotMatch(text, /Wir wissen noch nicht/);
    assert.match(text, /Versand gesperrt: Die DNSSEC-Prüfung ist fehlgeschlagen/);
  });

  test('a TLSA mismatch is shown as blocked', async () => {
    const badge = await finalBadge('user@wrong-tlsa.test');
    assert.equal(await badge.getAttribute('data-blocked'), 'true');
    assert.match(await badge.getAttribute('aria-label'), /gesperrt/);
    assert.match(await badge.innerText(), /Versand gesperrt/);
    // Blocked is its own state: no thumbs-up and no "SSL ok" beside "Versand gesperrt".
    assert.doesNotMatch(await badge.innerText(), /SSL ok|DANE ok/);
    assert.equal(await badge.locator('svg').getAttribute('data-icon'), 'blocked');
    const text = await compose.tooltipText('user@wrong-tlsa.test');
    assert.match(text, /^Diese E-Mail wird an diesen Empfänger nicht gesendet\./);
    assert.doesNotMatch(text, /SSL\/TLS-verschlüsselte Verbindung/);
    assert.match(text, /Versand gesperrt: Das Zertifikat des Mailservers passt nicht zu seinen DNSSEC-signierten TLSA-Einträgen/);
    assert.match(text, /Technische Angabe: mx\.wrong-tlsa\.test: the certificate does not match/);
    assert.match(text, /DANE: passt nicht zum Zertifikat/);
    await compose.screenshot('badges');
    assert.deepEqual(compose.errors, [], 'no console errors');
  });

  test('DANE behind an unsigned MX answer is "SSL ok" and says which part is unsigned', async () => {
    const badge = await finalBadge('user@unsigned-mx.test');
    assert.equal(await badge.getAttribute('data-class'), 'ssl-ok');
    assert.equal(await badge.getAttribute('data-blocked'), 'false');
    const text = await compose.tooltipText('user@unsigned-mx.test');
    assert.match(text, /mx\.dane-ee\.test/);
    assert.match(text, /DANE: TLSA passt, zählt aber nicht: die MX-Einträge der Domain sind nicht DNSSEC-signiert/);
    assert.doesNotMatch(text, /DANE und DNSSEC/);
  });

  test('a slow server shows a pending badge that turns final without a reload', async () => {
    await compose.addRecipient('cc', 'user@slow.test');
    const badge = compose.chip('user@slow.test').locator('.badge');
    await badge.waitFor({ timeout: 5_000 });
    assert.equal(await badge.getAttribute('data-pending'), 'true', 'pending while the 3 s greeting runs');
    assert.match(await badge.getAttribute('aria-label'), /wird geprüft/);
    const navigations = [];
    compose.page.on('framenavigated', (f) => navigations.push(f.url()));
    await compose.finalBadge('user@slow.test', 30_000);
    assert.notEqual(await badge.getAttribute('data-class'), null);
    assert.deepEqual(navigations, [], 'no reload');
  });

  test('the badge tooltip opens on keyboard focus', async () => {
    await compose.page.locator('[data-address="user@tls.test"] .badge-wrap').focus();
    const tip = compose.chip('user@tls.test').getByRole('tooltip');
    await tip.waitFor({ state: 'visible', timeout: 5_000 });
  });
});
