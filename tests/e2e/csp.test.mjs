// End to end: the page runs under its Content-Security-Policy (default-src 'self', the wasm
// module by 'wasm-unsafe-eval', trunk's inline start script by its hash, no framing): the header
// is on the page, and loading it reports no violation and no console error from the policy.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './support.mjs';

describe('content security policy', () => {
  const demo = useServerAndBrowser(['demo']);

  test('the page loads under its policy with no violation', async () => {
    const page = await demo.newPage();
    await page.addInitScript(() => {
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => {
        window.__violations.push(`${e.violatedDirective} ${e.blockedURI}`);
      });
    });
    const errors = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const response = await page.goto(demo.url);
    const csp = response.headers()['content-security-policy'];
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self' 'wasm-unsafe-eval' 'sha256-/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    // The app has started: the wasm module drew into the empty body.
    await page.waitForFunction(() => document.body.children.length > 0, null, { timeout: 15_000 });
    await page.waitForTimeout(500);
    assert.deepEqual(await page.evaluate(() => window.__violations), []);
    assert.deepEqual(errors.filter((e) => /Content Security Policy|Refused to/.test(e)), []);
  });
});
