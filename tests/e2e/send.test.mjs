// End to end: pressing Send. The page checks the recipients first and refuses, before anything
// goes to the server, with a message that names invalid addresses or the recipients a secure
// sender may not reach; a message that passes is queued (POST /api/messages) and its recipients
// shown; a refusal by the server is shown and the form kept. The secure-sender test needs the
// account and settings endpoints (GET /api/account, GET/PUT /api/settings). The Sent page and the
// states after delivery: sent.test.mjs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { enableSecureSending, useServerAndBrowser } from './support.mjs';

/** Counts the page's POSTs to /api/messages. */
function countPosts(page) {
  const posts = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/api/messages')) posts.push(r.url());
  });
  return posts;
}

describe('send check', () => {
  const demo = useServerAndBrowser(['demo']);
  const openCompose = () => demo.openCompose({ viewport: { width: 1100, height: 800 } });

  test('Send with an invalid address is refused and names it', async () => {
    const compose = await openCompose();
    const posts = countPosts(compose.page);
    await compose.addRecipient('to', 'user@tls.test');
    await compose.addRecipient('cc', 'kaputt');
    await compose.page.getByRole('button', { name: 'Senden', exact: true }).click();
    const result = compose.page.getByTestId('send-result');
    assert.match(await result.innerText(), /Nicht gesendet: diese Adressen sind ungültig: kaputt/);
    assert.deepEqual(posts, [], 'nothing went to the server');
    assert.equal(await compose.chip('kaputt').count(), 1, 'the form is kept');
    await compose.page.context().close();
  });

  test('Send that passes the check queues the message and shows its recipient', async () => {
    const compose = await openCompose();
    const { page } = compose;
    await compose.addRecipient('to', 'Jane Doe <Jane@tls.test>');
    await compose.finalBadge('Jane@tls.test');
    await compose.field('subject').fill('Hallo');
    const posted = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/api/messages'));
    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    const request = (await posted).postDataJSON();
    assert.deepEqual(request.to, ['Jane@tls.test'], 'the bare address, without the display name');
    assert.equal(request.subject, 'Hallo');
    assert.match(request.from, /@/);
    const result = page.getByTestId('send-result');
    await result.getByText(/Angenommen/).waitFor();
    assert.equal(await result.locator('[data-testid="recipient-status"][data-address="Jane@tls.test"]').count(), 1);
    assert.equal(await result.getByRole('link', { name: 'Gesendet ansehen' }).getAttribute('href'), '/sent');
    assert.equal(await page.locator('[data-testid="chip"]').count(), 0, 'the form is cleared');
    await page.context().close();
  });

  test('a refusal by the server is shown and the form is kept', async () => {
    const compose = await openCompose();
    const { page } = compose;
    await compose.addRecipient('to', 'user@tls.test');
    await compose.finalBadge('user@tls.test');
    // A tab is a control character, which a subject may not contain: the server says 400.
    await compose.field('subject').fill('mit\tTabulator');
    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    const result = page.getByTestId('send-result');
    await result.getByText(/Nicht gesendet: .*\(HTTP 400\)/).waitFor();
    assert.equal(await compose.chip('user@tls.test').count(), 1, 'the form is kept');
    assert.equal(await compose.field('subject').inputValue(), 'mit\tTabulator');

    // A full queue answers 503 with a message (20,000 unfinished recipients are not queued here
    // to get there: the answer is stubbed, as settings.test.mjs does for a failing store).
    await page.route('**/api/messages', (route) => route.fulfill({
      status: 503, contentType: 'application/json',
      body: '{"error":"20000 recipients of yours are still waiting in the queue; at most 20000 may wait at once, please try again later"}',
    }));
    await compose.field('subject').fill('ohne Tabulator');
    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    await result.getByText(/^Nicht gesendet: 20000 recipients .* please try again later \(HTTP 503\)$/).waitFor();
    assert.equal(await compose.chip('user@tls.test').count(), 1, 'the form is kept');
    await page.context().close();
  });

  test('a secure sender refuses recipients below the required level, naming them', async () => {
    // Turn secure sending on, so that the account lists the secure aliases.
    assert.equal(await enableSecureSending(await demo.api()), 200, 'PUT /api/settings');
    const compose = await openCompose();
    const { page } = compose;
    const posts = countPosts(page);
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
    assert.deepEqual(posts, [], 'nothing went to the server');
    await compose.screenshot('secure-sender-refused');

    await short.getByRole('button', { name: /Empfänger entfernen/ }).click();
    await page.getByRole('button', { name: 'Senden', exact: true }).click();
    const queued = page.getByTestId('send-result');
    await queued.getByText(/Angenommen/).waitFor();
    assert.equal(posts.length, 1);
    const lines = queued.locator('[data-testid="recipient-status"]');
    assert.equal(await lines.count(), 1);
    assert.equal(await lines.first().getAttribute('data-address'), 'user@tls.test');
    await page.context().close();
  });
});
