// Benchmark (not part of the test run): time from Enter in the To field to a painted final badge,
// measured inside headless Chromium with performance.now(), against `sendguard demo` on loopback.
//
//   known:  the domain was probed before (server cache warm); the page is reloaded before each
//           run so that the browser's own verdict store is empty and the request really goes out.
//   cached: the same page, the chip removed and typed again (the page's store answers).
//   unseen: a fresh server per run, so the domain has never been probed (a real probe of the
//           simulated internet: DNS with DNSSEC, STARTTLS, TLS handshake, DANE).
//
// Usage: SENDGUARD_BIN=$PWD/target/release/sendguard node tests/bench/badge_latency.mjs [runs] [unseenRuns]
import { ComposePage, launchBrowser, signInContext, startServer } from '../e2e/support.mjs';

const runs = Number(process.argv[2] ?? 50);
const unseenRuns = Number(process.argv[3] ?? 10);
const DOMAIN = process.env.BENCH_DOMAIN ?? 'tls.test';

/** In the page: type the address, press Enter, and resolve with the ms until the badge is final and painted. */
function measure(compose, address) {
  return compose.page.evaluate((address) => new Promise((resolve, reject) => {
    const input = document.getElementById('to');
    input.value = address;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    const selector = `[data-address="${address}"] .badge[data-pending="false"]`;
    let firstBadge = null;
    const start = performance.now();
    const done = () => {
      const dom = performance.now() - start;
      requestAnimationFrame(() => {
        // The frame after the DOM change has been painted once this callback's frame is produced.
        const final = performance.now() - start;
        // Where the time went: the verdict request as the browser's Resource Timing saw it.
        const request = performance.getEntriesByType('resource')
          .filter((r) => r.name.includes('/api/recipients/security') && r.startTime >= start).at(-1);
        resolve({
          final,
          first: firstBadge ?? final,
          dom,
          sent: request ? request.startTime - start : null,
          answered: request ? request.responseEnd - start : null,
          server: request ? request.responseStart - request.requestStart : null,
        });
      });
    };
    const check = () => {
      if (firstBadge === null && document.querySelector(`[data-address="${address}"] .badge`)) {
        firstBadge = performance.now() - start;
      }
      if (document.querySelector(selector)) { observer.disconnect(); done(); return true; }
      return false;
    };
    const observer = new MutationObserver(check);
    observer.observe(document.body, { subtree: true, childList: true, attributes: true });
    setTimeout(() => { observer.disconnect(); reject(new Error('no final badge within 30 s')); }, 30_000);
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
    check();
  }), address);
}

function stats(name, samples) {
  if (samples.length === 0) return;
  const sorted = [...samples].sort((a, b) => a - b);
  const q = (p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  console.log(`${name.padEnd(22)} n=${sorted.length}  min ${sorted[0].toFixed(1)}  p50 ${q(0.5).toFixed(1)}  mean ${mean.toFixed(1)}  p95 ${q(0.95).toFixed(1)}  max ${sorted.at(-1).toFixed(1)} ms`);
}

async function removeChip(compose, address) {
  await compose.chip(address).getByRole('button').click();
  await compose.chip(address).waitFor({ state: 'detached' });
}

// The benchmark reloads the page for each of its runs, far faster than a person: the
// per-session request budget (600 a minute) is lifted so that it measures the badge, not a 429.
const UNLIMITED = { SENDGUARD_RATE_PER_SESSION: '0', SENDGUARD_RATE_PER_CLIENT: '0' };

const browser = await launchBrowser();
try {
  // known + cached
  const server = await startServer(['demo'], UNLIMITED);
  try {
    const context = await browser.newContext({ locale: 'de-DE' });
    await signInContext(context, server.url, server.logins.user);
    const compose = new ComposePage(await context.newPage(), server.url);
    await compose.open();
    await measure(compose, `warmup@${DOMAIN}`); // probes the domain once
    const known = [];
    const knownFirst = [];
    const parts = { sent: [], request: [], server: [], render: [], paint: [] };
    for (let i = 0; i < runs; i += 1) {
      await compose.open();
      const r = await measure(compose, `user${i}@${DOMAIN}`);
      known.push(r.final);
      knownFirst.push(r.first);
      if (r.sent !== null) {
        parts.sent.push(r.sent);
        parts.request.push(r.answered - r.sent);
        parts.server.push(r.server);
        parts.render.push(r.dom - r.answered);
      }
      parts.paint.push(r.final - r.dom);
    }
    const cached = [];
    for (let i = 0; i < runs; i += 1) {
      const address = `again${i}@${DOMAIN}`;
      cached.push((await measure(compose, address)).final);
      await removeChip(compose, address);
    }
    stats(`known ${DOMAIN}`, known);
    stats('  (first badge)', knownFirst);
    // The known runs split: Enter to the request's start, the request (start to the last byte
    // of the answer; of it, request sent to first byte of the answer), the answer to the final
    // badge in the DOM (JSON, the store, the view), and the DOM to the next frame.
    stats('  Enter to request', parts.sent);
    stats('  request', parts.request);
    stats('  (to first byte)', parts.server);
    stats('  answer to DOM', parts.render);
    stats('  DOM to frame', parts.paint);
    stats(`cached ${DOMAIN}`, cached);
    await context.close();
  } finally {
    await server.stop();
  }
  // unseen
  const unseen = [];
  const unseenFirst = [];
  for (let i = 0; i < unseenRuns; i += 1) {
    const fresh = await startServer(['demo'], UNLIMITED);
    try {
      const context = await browser.newContext({ locale: 'de-DE' });
      await signInContext(context, fresh.url, fresh.logins.user);
      const compose = new ComposePage(await context.newPage(), fresh.url);
      await compose.open();
      const r = await measure(compose, `new${i}@${DOMAIN}`);
      unseen.push(r.final);
      unseenFirst.push(r.first);
      await context.close();
    } finally {
      await fresh.stop();
    }
  }
  stats(`unseen ${DOMAIN}`, unseen);
  stats('  (first badge)', unseenFirst);
} finally {
  await browser.close();
}
