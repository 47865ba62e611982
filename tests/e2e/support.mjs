// Shared by the end-to-end tests: starts the real `sendguard` binary on a free loopback port,
// launches Debian's headless Chromium through playwright-core, offers both to a suite as a
// fixture (`useServer`, `useServerAndBrowser`), and a page object for the compose page.
// Screenshots go to tests/e2e/artifacts/.
import { spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

const binary = process.env.SENDGUARD_BIN ?? join(here, '..', '..', 'target', 'release', 'sendguard');

/**
 * Starts `sendguard <args>` on 127.0.0.1:0 and resolves with { url, stop } once it listens.
 * `env` adds environment variables (e.g. SENDGUARD_ADMIN_TOKEN).
 */
export function startServer(args = ['serve'], env = {}) {
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
          stop: () => new Promise((done) => {
            child.once('exit', done);
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
 * Starts `sendguard <args>` (with `env` added) before the tests of the enclosing suite and stops
 * it after them. Call it inside `describe`; returns a getter for the server's URL (ending in /).
 */
export function useServer(args = ['serve'], env = {}) {
  let server;
  before(async () => { server = await startServer(args, env); });
  after(async () => { await server?.stop(); });
  return { get url() { return server.url; } };
}

/**
 * `useServer` (by default `sendguard demo`) and headless Chromium for the enclosing suite.
 * Returns getters for `url` and `browser`, `newPage(options)` (a page in a fresh browser
 * context: its own storage) and `openCompose(options, path)` (a ComposePage, opened);
 * options are `{ locale, viewport }`, by default German at 1100 × 760.
 */
export function useServerAndBrowser(args = ['demo'], env = {}) {
  const server = useServer(args, env);
  let browser;
  before(async () => { browser = await launchBrowser(); });
  after(async () => { await browser?.close(); });
  const fixture = {
    get url() { return server.url; },
    get browser() { return browser; },
    async newPage({ locale = 'de-DE', viewport = { width: 1100, height: 760 } } = {}) {
      const context = await browser.newContext({ locale, viewport });
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
 * Turns secure sending on for the server at `url` (PUT /api/settings, any TLS 1.2+ both ways),
 * so that the account offers the secure aliases; resolves with the HTTP status.
 */
export async function enableSecureSending(url) {
  const response = await fetch(url + 'api/settings', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      mode: 'on',
      sending: { authentication: 'any_tls', tls_version: 'tls12' },
      receiving: { authentication: 'any_tls', tls_version: 'tls12' },
    }),
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
