// End to end: signing in and out in the browser against `sendguard demo`, which makes maxima
// and prints her password. Signed out, the page shows only the sign-in page, whatever address
// was opened; a wrong password is said in words; after a sign-in the page asked for is shown
// with maxima's name in the top bar; the CSRF token stays out of web storage; Abmelden / Sign
// out ends the session at the server (the API answers 401) and shows the sign-in page; a
// session that ends elsewhere sends the page back to sign-in at its next request; a sign-out the
// server cannot be told of (unreachable) is said in words and the user stays signed in; too many
// failed attempts are refused with "try again later".
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { MAXIMA, artifacts, useServerAndBrowser } from './support.mjs';

/** The words of the sign-in page in each language. */
const WORDS = {
  'de-DE': {
    title: 'Bei Sendguard anmelden', login: 'Anmeldename', password: 'Passwort', submit: 'Anmelden',
    wrong: 'Anmeldename oder Passwort ist falsch.', signOut: 'Abmelden',
    page: 'Verschlüsselter Versand', nav: 'Einstellungen',
  },
  'en-US': {
    title: 'Sign in to Sendguard', login: 'Login', password: 'Password', submit: 'Sign in',
    wrong: 'Wrong login or password.', signOut: 'Sign out',
    page: 'Encrypted sending', nav: 'Settings',
  },
};

describe('sign-in', () => {
  const demo = useServerAndBrowser(['demo']);

  /** The page's session as the server sees it (the context's cookies): the HTTP status. */
  async function sessionStatus(page) {
    return (await page.request.get(demo.url + 'api/session')).status();
  }

  /** Fills the sign-in form and submits it. */
  async function signIn(page, words, login, password) {
    await page.getByLabel(words.login, { exact: true }).fill(login);
    await page.getByLabel(words.password, { exact: true }).fill(password);
    await page.getByRole('button', { name: words.submit, exact: true }).click();
  }

  for (const locale of ['de-DE', 'en-US']) {
    const words = WORDS[locale];
    test(`signing in and out in the browser (${locale})`, async () => {
      const page = await demo.newPage({ locale, as: null });
      const errors = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      const csrfHeaders = [];
      page.on('request', (r) => {
        if (r.url().endsWith('/api/settings') && r.method() === 'PUT') csrfHeaders.push(r.headers()['x-csrf-token']);
      });

      // Signed out, /settings shows the sign-in page and nothing of the settings.
      await page.goto(demo.url + 'settings');
      await page.getByRole('heading', { name: words.title }).waitFor({ timeout: 15_000 });
      assert.equal(await page.getByRole('navigation').count(), 0, 'no navigation while signed out');
      assert.equal(await page.getByRole('heading', { name: words.page }).count(), 0);
      assert.equal(await sessionStatus(page), 401);

      // A wrong password is refused in words, and nothing else changes.
      await signIn(page, words, demo.logins.user.login, 'not-the-password');
      const error = page.getByTestId('sign-in-error');
      await error.waitFor({ timeout: 10_000 });
      assert.equal(await error.innerText(), words.wrong);
      assert.equal(await page.getByLabel(words.password, { exact: true }).inputValue(), '', 'the password is cleared');
      assert.equal(await sessionStatus(page), 401);
      await page.screenshot({ path: join(artifacts, `sign-in-wrong-${locale}.png`), fullPage: true });

      // The right one shows the page asked for, with maxima's name in the top bar.
      await signIn(page, words, demo.logins.user.login, demo.logins.user.password);
      await page.getByRole('heading', { name: words.page }).waitFor({ timeout: 10_000 });
      assert.equal(new URL(page.url()).pathname, '/settings');
      assert.equal(await page.getByTestId('user-name').innerText(), MAXIMA.name);
      await page.getByRole('navigation').getByRole('link', { name: words.nav }).waitFor();
      assert.equal(await page.getByTestId('sign-in-error').count(), 0);
      assert.equal(await sessionStatus(page), 200);

      // A change carries the session's CSRF token, which no web storage holds.
      const { csrf_token: token } = await (await page.request.get(demo.url + 'api/session')).json();
      await page.getByRole('button', { name: locale === 'de-DE' ? 'Speichern' : 'Save', exact: true }).click();
      await page.getByTestId('settings-status').getByText(locale === 'de-DE' ? 'Gespeichert.' : 'Saved.').waitFor({ timeout: 5_000 });
      assert.deepEqual(csrfHeaders, [token]);
      const stored = await page.evaluate(() => [localStorage, sessionStorage]
        .flatMap((s) => Object.keys(s).map((k) => s.getItem(k))));
      assert.ok(!stored.some((v) => v.includes(token)), `the CSRF token is in web storage: ${stored}`);
      await page.screenshot({ path: join(artifacts, `signed-in-${locale}.png`), fullPage: true });

      // Signing out ends the session at the server and shows the sign-in page.
      await page.getByRole('button', { name: words.signOut, exact: true }).click();
      await page.getByRole('heading', { name: words.title }).waitFor({ timeout: 10_000 });
      assert.equal(await page.getByTestId('user-name').count(), 0);
      assert.equal(await page.getByRole('navigation').count(), 0);
      assert.equal(await sessionStatus(page), 401);
      assert.equal((await page.request.get(demo.url + 'api/settings')).status(), 401);
      await page.reload();
      await page.getByRole('heading', { name: words.title }).waitFor({ timeout: 15_000 });
      assert.deepEqual(errors, []);
      await page.context().close();
    });
  }

  test('a session that ends elsewhere sends the page to sign-in; signing in again goes on', async () => {
    const page = await demo.newPage();
    await page.goto(demo.url);
    await page.locator('#to').waitFor({ timeout: 15_000 });
    // The session ends without the page knowing (as at its idle timeout, or sign-out in
    // another tab): signed out through the API with the context's own cookie.
    const { csrf_token: token } = await (await page.request.get(demo.url + 'api/session')).json();
    const ended = await page.request.delete(demo.url + 'api/session', { headers: { 'x-csrf-token': token } });
    assert.equal(ended.status(), 204);
    // The page's next request is answered 401: the sign-in page, on the address asked for.
    await page.getByRole('navigation').getByRole('link', { name: 'Einstellungen' }).click();
    await page.getByRole('heading', { name: WORDS['de-DE'].title }).waitFor({ timeout: 10_000 });
    assert.equal(new URL(page.url()).pathname, '/settings');
    await signIn(page, WORDS['de-DE'], demo.logins.user.login, demo.logins.user.password);
    await page.getByRole('heading', { name: 'Verschlüsselter Versand' }).waitFor({ timeout: 10_000 });
    await page.context().close();
  });

  test('a sign-out that cannot reach the server is said in words; the session goes on', async () => {
    const page = await demo.newPage();
    await page.goto(demo.url);
    await page.locator('#to').waitFor({ timeout: 15_000 });
    // The server is unreachable for the sign-out only: the request fails in the network.
    await page.route('**/api/session', (route) => (route.request().method() === 'DELETE'
      ? route.abort('connectionrefused') : route.continue()));
    await page.getByRole('button', { name: 'Abmelden', exact: true }).click();
    const error = page.getByTestId('sign-out-error');
    await error.waitFor({ timeout: 10_000 });
    assert.match(await error.innerText(), /^Abmelden fehlgeschlagen: \S/);
    assert.equal(await page.getByTestId('user-name').innerText(), MAXIMA.name, 'still signed in');
    assert.equal(await sessionStatus(page), 200, 'the session is still valid at the server');
    // Once the server is reachable again, signing out works.
    await page.unroute('**/api/session');
    await page.getByRole('button', { name: 'Abmelden', exact: true }).click();
    await page.getByRole('heading', { name: WORDS['de-DE'].title }).waitFor({ timeout: 10_000 });
    assert.equal(await sessionStatus(page), 401);
    await page.context().close();
  });

  test('too many failed sign-ins are refused with "try again later"', async () => {
    // A login of its own (unknown logins count too), so that maxima is not locked out.
    const login = 'nobody';
    for (let i = 0; i < 5; i += 1) {
      const response = await fetch(demo.url + 'api/session', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login, password: `wrong-${i}` }),
      });
      assert.equal(response.status, 401, `attempt ${i + 1}`);
    }
    const page = await demo.newPage({ locale: 'en-US', as: null });
    await page.goto(demo.url);
    await page.getByRole('heading', { name: WORDS['en-US'].title }).waitFor({ timeout: 15_000 });
    await signIn(page, WORDS['en-US'], login, 'wrong-again');
    const error = page.getByTestId('sign-in-error');
    await error.waitFor({ timeout: 10_000 });
    assert.equal(await error.innerText(), 'Too many failed sign-ins: please try again later.');
    await page.context().close();
  });
});
