// End to end: a pasted list of recipients makes the compose page ask in one request and wait on
// one event stream for all their domains (not one per domain, which would meet the browser's
// six-connections limit), counted in the browser and at the server (`GET /metrics`).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser, waitUntil } from './support.mjs';

describe('event streams', () => {
  const demo = useServerAndBrowser(['demo']);

  async function metric(name) {
    // /metrics is for administrators.
    const text = await (await (await demo.api('admin')).fetch('metrics')).text();
    const line = text.split('\n').find((l) => l.startsWith(name + ' '));
    return Number(line?.split(' ')[1]);
  }

  test('pasting many recipients opens one event stream for all their domains', async () => {
    const health = await (await fetch(demo.url + 'api/health')).json();
    const domains = health.demo_domains.map((d) => d.domain);
    assert.ok(domains.length >= 8, `enough domains to exceed six connections: ${domains}`);
    const compose = await demo.openCompose();
    const { page } = compose;
    const streams = [];
    const posts = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/recipients/events')) streams.push(r.url());
      if (r.url().includes('/api/recipients/security')) posts.push(r.url());
    });
    await compose.field('to').focus();
    await page.evaluate((list) => {
      const data = new DataTransfer();
      data.setData('text/plain', list.map((d) => `user@${d}`).join(', '));
      document.getElementById('to').dispatchEvent(
        new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, domains);
    for (const d of domains) await compose.finalBadge(`user@${d}`, 60_000);
    assert.equal(posts.length, 1, 'one request for the pasted list');
    assert.equal(streams.length, 1, `one event stream: ${streams.join('\n')}`);
    assert.equal(await metric('sendguard_event_streams_opened_total'), 1, 'one stream at the server');
    await waitUntil(async () => (await metric('sendguard_event_streams_open')) === 0,
      'the stream is closed once every verdict arrived');
    assert.deepEqual(compose.errors, [], 'no console errors');
    await page.context().close();
  });
});
