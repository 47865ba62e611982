// Shared by the end-to-end tests: starts the real `sendguard` binary on a free loopback port,
// launches Debian's headless Chromium through playwright-core, offers both to a suite as a
// fixture (`useServer`, `useServerAndBrowser`), and a page object for the compose page.
// Every API route but health and sign-in needs a session: the harness knows the logins (the
// demo prints them; for `serve` it makes a temporary database with a user), signs browser
// contexts in through the API, and gives node-side calls an `ApiClient` that sends the session
// cookie and the CSRF token. Screenshots go to tests/e2e/artifacts/.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const binary = process.env.SENDGUARD_BIN ?? join(here, '..', '..', 'target', 'release', 'sendguard');

/** The user `sendguard demo` makes, and the one the harness adds for `serve`. */
export const MAXIMA = {
  login: 'maxima',
  name: 'Maxima Mustermann',
  address: 'maxima.mustermann@sendguard.example',
};

/** The logins `sendguard demo` prints: `{ user: {login, password}, admin: {login, password} }`. */
export function demoLogins(output) {
  const logins = {};
  for (const m of output.matchAll(/^Demo (user|admin): (\S+), password: (\S+)$/gm)) {
    logins[m[1]] = { login: m[2], password: m[3] };
  }
  return logins;
}

/**
 * A temporary database with maxima in it (`sendguard user add --password-file`), for `serve`;
 * resolves with { env, logins, remove }.
 */
async function databaseWithUser() {
  const dir = mkdtempSync(join(tmpdir(), 'sendguard-e2e-'));
  const password = randomBytes(12).toString('hex');
  const file = join(dir, 'password');
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  const env = { ...process.env, SENDGUARD_DATABASE: join(dir, 'sendguard.db') };
  await promisify(execFile)(binary, [
    'user', 'add', MAXIMA.login, '--name', MAXIMA.name, '--address', MAXIMA.address,
    '--password-file', file,
  ], { env });
  return {
    env: { SENDGUARD_DATABASE: env.SENDGUARD_DATABASE },
    logins: { user: { login: MAXIMA.login, password } },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Starts `sendguard <args>` on 127.0.0.1:0 and resolves with { url, logins, stop } once it
 * listens. `env` adds environment variables (e.g. SENDGUARD_ADMIN_TOKEN). `logins` are the
 * demo's printed logins, or for `serve` (without a database in `env`) the user the harness
 * added to a temporary database, removed again by `stop`.
 */
export async function startServer(args = ['serve'], env = {}) {
  const db = args[0] === 'serve' && !env.SENDGUARD_DATABASE ? await databaseWithUser() : null;
  try {
    return await listen(args, { ...env, ...db?.env }, db);
  } catch (e) {
    db?.remove();
    throw e;
  }
}

function listen(args, env, db) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [...args, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sendguard did not start within 20 s; output:\n${out}`));
    }, 20_000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/open (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) {
        clearTimeout(timer);
        resolve({
          url: m[1],
          logins: db?.logins ?? demoLogins(out),
          stop: () => new Promise((done) => {
            child.once('exit', () => { db?.remove(); done(); });
            child.kill('SIGTERM');
          }),
        });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => { out += c; });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sendguard exited with ${code} before listening; output:\n${out}`));
    });
  });
}

/** Headless Chromium from Debian, with the flags the closed network needs. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-dev-shm-usage',
    ],
  });
}

/**
 * A signed-in session for node-side calls: `fetch(path, options)` is `fetch(url + path)` with
 * the session cookie, the CSRF token on every change, and `json` as a JSON body.
 */
export class ApiClient {
  /** Signs in at `url` as `who` ({ login, password }); rejects unless the server says 200. */
  static async signIn(url, who) {
    const response = await fetch(url + 'api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login: who.login, password: who.password }),
    });
    if (response.status !== 200) {
      throw new Error(`signing in as ${who.login} failed: ${response.status} ${await response.text()}`);
    }
    const cookie = response.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    return new ApiClient(url, cookie, await response.json());
  }

  constructor(url, cookie, session) {
    this.url = url;
    this.cookie = cookie;
    this.session = session;
  }

  fetch(path, { method = 'GET', headers = {}, json, body } = {}) {
    const all = { cookie: this.cookie, ...headers };
    if (!['GET', 'HEAD'].includes(method)) all['x-csrf-token'] = this.session.csrf_token;
    if (json !== undefined) {
      all['content-type'] = 'application/json';
      body = JSON.stringify(json);
    }
    return fetch(this.url + path, { method, headers: all, body });
  }

  /** The JSON answer of a request that must succeed (2xx). */
  async json(path, options) {
    const response = await this.fetch(path, options);
    const text = await response.text();
    if (!response.ok) throw new Error(`${options?.method ?? 'GET'} ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  }
}

/**
 * Starts `sendguard <args>` (with `env` added) before the tests of the enclosing suite and stops
 * it after them. Call it inside `describe`; returns getters for the server's URL (ending in /)
 * and its `logins`, and `api(who = 'user')`: an `ApiClient` signed in as that login (one per
 * login and suite).
 */
export function useServer(args = ['serve'], env = {}) {
  let server;
  const clients = new Map();
  before(async () => { server = await startServer(args, env); });
  after(async () => { await server?.stop(); });
  return {
    get url() { return server.url; },
    get logins() { return server.logins; },
    api(who = 'user') {
      if (!clients.has(who)) clients.set(who, ApiClient.signIn(server.url, server.logins[who]));
      return clients.get(who);
    },
  };
}

/**
 * Signs the browser `context` in at `url` as `who` ({ login, password }) through the API: the
 * context's request API shares its cookies, so its pages start signed in.
 */
export async function signInContext(context, url, { login, password }) {
  const response = await context.request.post(url + 'api/session', { data: { login, password } });
  if (response.status() !== 200) {
    throw new Error(`signing in as ${login} failed: ${response.status()} ${await response.text()}`);
  }
}

/**
 * `useServer` (by default `sendguard demo`) and headless Chromium for the enclosing suite.
 * Returns getters for `url`, `logins` and `browser`, `api(who)` as `useServer`'s,
 * `newPage(options)` (a page in a fresh browser context: its own storage and cookies) and
 * `openCompose(options, path)` (a ComposePage, opened); options are `{ locale, viewport, as }`,
 * by default German at 1100 × 760, signed in as `as` = 'user' (maxima); 'admin' signs in as the
 * demo's admin, null stays signed out.
 */
export function useServerAndBrowser(args = ['demo'], env = {}) {
  const server = useServer(args, env);
  let browser;
  before(async () => { browser = await launchBrowser(); });
  after(async () => { await browser?.close(); });
  const fixture = {
    get url() { return server.url; },
    get logins() { return server.logins; },
    get browser() { return browser; },
    api: (who) => server.api(who),
    async newPage({ locale = 'de-DE', viewport = { width: 1100, height: 760 }, as = 'user' } = {}) {
      const context = await browser.newContext({ locale, viewport });
      if (as) await signInContext(context, server.url, server.logins[as]);
      return context.newPage();
    },
    async openCompose(options = {}, path = '') {
      const compose = new ComposePage(await fixture.newPage(options), server.url);
      await compose.open(path);
      return compose;
    },
  };
  return fixture;
}

/**
 * Turns secure sending on for the user of `api` (an ApiClient; PUT /api/settings, any TLS 1.2+
 * both ways), so that their account offers the secure aliases; resolves with the HTTP status.
 */
export async function enableSecureSending(api) {
  const response = await api.fetch('api/settings', {
    method: 'PUT',
    json: {
      mode: 'on',
      sending: { authentication: 'any_tls', tls_version: 'tls12' },
      receiving: { authentication: 'any_tls', tls_version: 'tls12' },
    },
  });
  return response.status;
}

/**
 * Calls `check` until it resolves truthy, at most `timeout` ms; a test waits this way for what
 * the server does in the background (it asserts nothing about how long that takes).
 */
export async function waitUntil(check, what, timeout = 30_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`gave up waiting after ${timeout} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A page object for the compose page; collects console errors. */
export class ComposePage {
  constructor(page, url) {
    this.page = page;
    this.url = url;
    this.errors = [];
    page.on('console', (m) => { if (m.type() === 'error') this.errors.push(m.text()); });
    page.on('pageerror', (e) => this.errors.push(String(e)));
  }

  async open(path = '') {
    await this.page.goto(this.url + path);
    await this.page.locator('#to').waitFor({ state: 'visible', timeout: 15_000 });
  }

  field(name) {
    return this.page.locator(`#${name}`);
  }

  /** Types an address into a recipient field and presses a key. */
  async addRecipient(field, text, key = 'Enter') {
    await this.field(field).fill(text);
    await this.field(field).press(key);
  }

  chip(address) {
    return this.page.locator(`[data-testid="chip"][data-address="${address}"]`);
  }

  /** Waits until the badge of `address` is final (not pending) and returns it. */
  async finalBadge(address, timeout = 30_000) {
    const badge = this.chip(address).locator('.badge');
    await badge.waitFor({ timeout: 5_000 });
    await this.page.waitForFunction(
      (a) => document.querySelector(`[data-address="${a}"] .badge`)?.dataset.pending === 'false',
      address,
      { timeout },
    );
    return badge;
  }

  /** The tooltip text of `address`, after hovering its badge. */
  async tooltipText(address) {
    await this.chip(address).locator('.badge-wrap').hover();
    const tip = this.chip(address).getByRole('tooltip');
    await tip.waitFor({ state: 'visible', timeout: 5_000 });
    return tip.innerText();
  }

  async screenshot(name) {
    await this.page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
  }
}

/** axe-core's engine, from npm (package-lock.json pins it). */
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Runs axe-core on what `page` shows now and resolves with its violations, each as
 * `id (impact): selector: what fails`, one line per element. The engine is evaluated through
 * the DevTools protocol, so the page's Content-Security-Policy stays as it is.
 */
export async function axeViolations(page) {
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.flatMap((v) => v.nodes.map(
      (n) => `${v.id} (${v.impact}): ${n.target.join(' ')}: ${n.failureSummary.replace(/\s+/g, ' ')}`,
    ));
  });
}
