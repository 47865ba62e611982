// End to end: messages against `sendguard demo` and its delivery worker, followed on the page.
// The compose page shows each recipient queued first and then where it ended (sent over TLS,
// sent in plain text, deferred with the reason), the form and the saved draft are cleared, and
// the Sent page lists the message with the same states, in German and English; a message queued
// elsewhere appears on Refresh and is followed until final; a message to every demo domain ends
// as each badge predicted; a held recipient says why and goes out once an administrator releases
// its server. All without a reload (a recorder in the page would not survive one). The expected
// outcomes are the worker's contract (sim/src/world.rs).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { artifacts, useServerAndBrowser, waitUntil } from './support.mjs';

const TLS = 'user@tls.test';
const PLAIN = 'user@plain.test';
const WRONG = 'user@wrong-tlsa.test';
const SLOW = 'user@slow.test';
const FINAL = { [TLS]: 'sent', [PLAIN]: 'sent', [WRONG]: 'deferred', [SLOW]: 'sent' };

/**
 * Records, per recipient line, every state it showed, in order, under a key naming where it
 * was shown ("compose user@tls.test", "sent user@tls.test"). Installed once, it lives as long
 * as the document does: a reload would lose it.
 */
function installRecorder(page) {
  return page.evaluate(() => {
    window.seenStates = {};
    const record = () => {
      for (const el of document.querySelectorAll('[data-testid="recipient-status"]')) {
        const where = el.closest('[data-testid="send-result"]') ? 'compose' : 'sent';
        const list = (window.seenStates[`${where} ${el.dataset.address}`] ??= []);
        if (list[list.length - 1] !== el.dataset.state) list.push(el.dataset.state);
      }
    };
    new MutationObserver(record).observe(document.body, {
      subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'],
    });
  });
}

const seen = (page) => page.evaluate(() => window.seenStates);

/** The line of `address` inside `scope`: its state and text. */
async function line(scope, address) {
  const el = scope.locator(`[data-testid="recipient-status"][data-address="${address}"]`);
  return { state: await el.getAttribute('data-state'), plain: await el.getAttribute('data-plain'), text: await el.innerText() };
}

/** Waits until each of `addresses` inside `scope` shows its expected final state. */
async function settled(scope, what, addresses = [TLS, PLAIN, WRONG]) {
  await waitUntil(async () => {
    for (const address of addresses) {
      if ((await line(scope, address)).state !== FINAL[address]) return false;
    }
    return true;
  }, `${what}: ${addresses.map((a) => `${a} ${FINAL[a]}`).join(', ')}`, 60_000);
}

/** Checks the final lines inside `scope` in German. */
async function assertGermanOutcomes(scope) {
  const tls = await line(scope, TLS);
  assert.equal(tls.plain, 'false');
  assert.match(tls.text, /gesendet/);
  assert.match(tls.text, /angenommen von mx\.tls\.test \(127\.[\d.]+\) · TLSv1\.[23] · \S+ · Zertifikat/);
  assert.doesNotMatch(tls.text, /unverschlüsselt/);
  const plain = await line(scope, PLAIN);
  assert.equal(plain.plain, 'true');
  assert.match(plain.text, /angenommen von mx\.plain\.test \(127\.[\d.]+\) · unverschlüsselt/);
  const wrong = await line(scope, WRONG);
  assert.match(wrong.text, /zurückgestellt/);
  assert.match(wrong.text, /Grund: \S.*· nächster Versuch: \S/);
}

describe('Sent page', () => {
  const demo = useServerAndBrowser(['demo']);

  test('Send queues the message, and the compose page and the Sent page follow it live', async () => {
    const compose = await demo.openCompose({ viewport: { width: 1100, height: 900 } });
    const { page } = compose;
    let loads = 0;
    page.on('load', () => { loads += 1; });
    await installRecorder(page);

    for (const address of [TLS, PLAIN, WRONG]) await compose.addRecipient('to', address);
    for (const address of [TLS, PLAIN, WRONG]) await compose.finalBadge(address);
    await compose.field('subject').fill('Gesendet-Test');
    await compose.field('body').fill('Hallo,\nein Test der Seite „Gesendet“.\n');
    // A draft saved before Send is deleted once the message is accepted.
    await page.getByRole('button', { name: 'Speichern', exact: true }).click();
    await page.getByTestId('draft-note').getByText(/Entwurf gespeichert/).waitFor();

    const posted = page.waitForResponse((r) => r.url().endsWith('/api/messages') && r.request().method() === 'POST');
    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    const answer = await posted;
    assert.equal(answer.status(), 201);
    const { id } = await answer.json();

    const result = page.getByTestId('send-result');
    await result.getByText(/Angenommen: die Nachricht ist in der Warteschlange/).waitFor();
    assert.equal(await result.locator('[data-testid="recipient-status"]').count(), 3);
    // The form is empty and the draft gone, so the message cannot be sent twice by accident.
    assert.equal(await page.locator('[data-testid="chip"]').count(), 0);
    assert.equal(await compose.field('subject').inputValue(), '');
    assert.equal(await compose.field('body').inputValue(), '');
    const api = await demo.api();
    await waitUntil(async () => (await api.json('api/draft')) === null, 'the draft deleted');

    await settled(result, 'the compose page');
    await assertGermanOutcomes(result);
    const onCompose = await seen(page);
    for (const address of [TLS, PLAIN, WRONG]) {
      const states = onCompose[`compose ${address}`];
      assert.equal(states[0], 'queued', `${address} was shown queued first: ${states}`);
      assert.equal(states.at(-1), FINAL[address], `${address}: ${states}`);
    }
    await compose.screenshot('send-result');

    // The Sent page, reached by the navigation (no reload).
    await page.getByRole('navigation').getByRole('link', { name: 'Gesendet' }).click();
    await page.getByRole('heading', { level: 1, name: 'Gesendet', exact: true }).waitFor();
    const card = page.locator(`[data-testid="sent-message"][data-id="${id}"]`);
    await card.waitFor();
    assert.match(await card.innerText(), /Gesendet-Test/);
    assert.equal(await card.locator('[data-testid="recipient-status"]').count(), 3);
    await settled(card, 'the Sent page');
    await assertGermanOutcomes(card);
    await compose.screenshot('sent-page-de');

    // English, and back: the states and their details follow the language switch.
    await page.getByRole('button', { name: 'EN', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Sent', exact: true }).waitFor();
    assert.match((await line(card, TLS)).text, /sent[\s\S]*accepted by mx\.tls\.test/);
    assert.match((await line(card, PLAIN)).text, /plain text/);
    assert.match((await line(card, WRONG)).text, /deferred[\s\S]*Reason: \S.*· next attempt: \S/);
    assert.equal(await page.getByRole('navigation').getByRole('link', { name: 'Sent' }).getAttribute('aria-current'), 'page');
    await compose.screenshot('sent-page-en');
    await page.getByRole('button', { name: 'DE', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Gesendet', exact: true }).waitFor();
    assert.match((await line(card, PLAIN)).text, /unverschlüsselt/);

    assert.equal(loads, 0, 'no page load');
    assert.equal(await page.evaluate(() => typeof window.seenStates), 'object', 'the recorder survived: no reload');
    assert.deepEqual(compose.errors, []);
    await page.context().close();
  });

  test('the Sent page shows a message queued elsewhere before it is final, and follows it without reload', async () => {
    const page = await demo.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(demo.url + 'sent');
    let loads = 0;
    page.on('load', () => { loads += 1; });
    await page.getByRole('heading', { level: 1, name: 'Gesendet', exact: true }).waitFor();
    await installRecorder(page);

    // Queued through the API, as a script or another tab would; Refresh asks at once. The slow
    // recipient's server greets after 3 seconds, so the page sees it before it is final.
    const api = await demo.api();
    const account = await api.json('api/account');
    const response = await api.fetch('api/messages', {
      method: 'POST',
      json: { from: account.addresses[0].address, to: [TLS, PLAIN, WRONG, SLOW], subject: 'Von außen', body: 'Text\n' },
    });
    const queued = await response.json();
    assert.equal(response.status, 201, JSON.stringify(queued));
    assert.deepEqual(queued.recipients.map((r) => r.state), ['queued', 'queued', 'queued', 'queued']);
    await page.getByRole('button', { name: 'Aktualisieren', exact: true }).click();
    const card = page.locator(`[data-testid="sent-message"][data-id="${queued.id}"]`);
    await card.waitFor();
    assert.equal(await page.locator('[data-testid="sent-message"]').first().getAttribute('data-id'), String(queued.id), 'newest first');
    assert.match(await card.innerText(), /Von außen/);
    await settled(card, 'the Sent page', [TLS, PLAIN, WRONG, SLOW]);
    await assertGermanOutcomes(card);
    const states = await seen(page);
    const slow = states[`sent ${SLOW}`];
    assert.ok(['queued', 'sending'].includes(slow[0]), `${SLOW} was shown before it was final: ${slow}`);
    for (const address of [TLS, PLAIN, WRONG, SLOW]) {
      assert.equal(states[`sent ${address}`].at(-1), FINAL[address], `${address}: ${states[`sent ${address}`]}`);
    }
    assert.equal(loads, 0, 'no page load');
    assert.equal(await page.evaluate(() => typeof window.seenStates), 'object', 'the recorder survived: no reload');
    assert.deepEqual(errors, []);
    await page.context().close();
  });

  test('a message to every demo domain: the Sent page shows each recipient where its badge said it would end', async () => {
    // The worker's contract per demo domain (sim/src/world.rs), as the page words it.
    const DANE = /gesendet[\s\S]*angenommen von \S+ \(127\.[\d.]+\) · TLSv1\.[23] · \S+ · DANE bestätigt/;
    const TLS_ONLY = /gesendet[\s\S]*angenommen von \S+ \(127\.[\d.]+\) · TLSv1\.[23] · \S+ · Zertifikat nicht bestätigt/;
    const DEFERRED = /zurückgestellt[\s\S]*Grund: \S.* · nächster Versuch: \S/;
    const expected = {
      'dane-ee.test': ['sent', DANE],
      'dane-ta.test': ['sent', DANE],
      'mixed.test': ['sent', DANE],
      'dane-pair.test': ['sent', DANE],
      // Its TLSA records match, but its MX answer is unsigned: an attacker could have chosen the
      // host, so it is TLS without authentication, as its badge ("SSL ok") says.
      'unsigned-mx.test': ['sent', TLS_ONLY],
      'tls.test': ['sent', TLS_ONLY],
      'slow.test': ['sent', TLS_ONLY],
      'unsigned-tlsa.test': ['sent', TLS_ONLY],
      'plain.test': ['sent', /gesendet[\s\S]*angenommen von mx\.plain\.test \(127\.[\d.]+\) · unverschlüsselt/],
      'refuse.test': ['deferred', DEFERRED],
      'wrong-tlsa.test': ['deferred', DEFERRED],
      'bogus.test': ['deferred', DEFERRED],
      'nullmx.test': ['failed', /nicht zugestellt[\s\S]*Grund: \S/],
      // downgrade.test (held, then released): the next test.
    };
    const page = await demo.newPage({ viewport: { width: 1100, height: 1200 } });
    const api = await demo.api();
    const account = await api.json('api/account');
    const to = Object.keys(expected).map((d) => `demo@${d}`);
    const response = await api.fetch('api/messages', {
      method: 'POST',
      json: { from: account.addresses[0].address, to, subject: 'An alle Demo-Domains', body: 'Text\n' },
    });
    const queued = await response.json();
    assert.equal(response.status, 201, JSON.stringify(queued));
    await page.goto(demo.url + 'sent');
    const card = page.locator(`[data-testid="sent-message"][data-id="${queued.id}"]`);
    await card.waitFor();
    await waitUntil(async () => {
      for (const [domain, [state]] of Object.entries(expected)) {
        if ((await line(card, `demo@${domain}`)).state !== state) return false;
      }
      return true;
    }, 'every demo domain in its final state', 60_000);
    for (const [domain, [state, words]] of Object.entries(expected)) {
      const { text } = await line(card, `demo@${domain}`);
      assert.match(text, words, `demo@${domain} (${state})`);
    }
    await page.screenshot({ path: join(artifacts, 'sent-every-domain.png'), fullPage: true });
    await page.context().close();
  });

  test('a held recipient says why, and goes out once an administrator releases its server', async () => {
    const page = await demo.newPage();
    await page.goto(demo.url + 'sent');
    let loads = 0;
    page.on('load', () => { loads += 1; });
    const api = await demo.api();
    const account = await api.json('api/account');
    // mx.downgrade.test offers STARTTLS to the first session only: the delivery's session finds
    // none, which puts the server on hold, and the recipient waits.
    const response = await api.fetch('api/messages', {
      method: 'POST',
      json: { from: account.addresses[0].address, to: ['user@downgrade.test'], subject: 'Zurückgehalten', body: 'Text\n' },
    });
    const queued = await response.json();
    assert.equal(response.status, 201, JSON.stringify(queued));
    await page.getByRole('button', { name: 'Aktualisieren', exact: true }).click();
    const card = page.locator(`[data-testid="sent-message"][data-id="${queued.id}"]`);
    await waitUntil(async () => (await card.count()) === 1 && (await line(card, 'user@downgrade.test')).state === 'held',
      'user@downgrade.test held', 30_000);
    const held = (await line(card, 'user@downgrade.test')).text;
    assert.match(held, /zurückgehalten/);
    assert.match(held, /Die Administration muss den Mailserver prüfen, bevor die Nachricht zugestellt wird · Grund: .*mx\.downgrade\.test.*on hold/);
    await page.screenshot({ path: join(artifacts, 'sent-held.png'), fullPage: true });

    // The administrator, in their own browser, releases the server (its new level, no STARTTLS,
    // becomes the floor) ...
    const admin = await demo.newPage({ as: 'admin' });
    await admin.goto(demo.url + 'admin');
    const hold = admin.locator('[data-testid="hold"][data-host="mx.downgrade.test"]');
    await hold.getByRole('button', { name: 'Freigeben' }).click();
    await admin.getByTestId('no-holds').waitFor();
    await admin.context().close();

    // ... and the held recipient goes out at that level: in plain text, as maxima's open Sent
    // page says (Refresh asks at once instead of at the slow pace of held recipients; from
    // queued on, the page follows by itself).
    await waitUntil(async () => {
      if ((await line(card, 'user@downgrade.test')).state !== 'held') return true;
      await page.getByRole('button', { name: 'Aktualisieren', exact: true }).click();
      return false;
    }, 'user@downgrade.test no longer held after the release', 30_000);
    await waitUntil(async () => (await card.count()) === 1 && (await line(card, 'user@downgrade.test')).state === 'sent',
      'user@downgrade.test sent after the release', 60_000);
    const sent = await line(card, 'user@downgrade.test');
    assert.equal(sent.plain, 'true');
    assert.match(sent.text, /angenommen von mx\.downgrade\.test \(127\.[\d.]+\) · unverschlüsselt/);
    assert.equal(loads, 0, 'no page load');
    await page.context().close();
  });
});
