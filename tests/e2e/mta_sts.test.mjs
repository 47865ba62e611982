// End to end against `sendguard demo`: the MTA-STS domains of the simulated internet (policy
// hosts over HTTPS with the sim CA, trusted as extra roots by the demo) in the compose page's
// tooltips, in German and English.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { useServerAndBrowser } from './support.mjs';

describe('MTA-STS in the demo', () => {
  const demo = useServerAndBrowser(['demo']);
  let compose;

  before(async () => {
    compose = await demo.openCompose({ viewport: { width: 1100, height: 800 } });
  });

  test('an enforce policy is shown with its MX pattern and until when it is cached', async () => {
    await compose.addRecipient('to', 'user@sts-enforce.test');
    const badge = await compose.finalBadge('user@sts-enforce.test');
    assert.equal(await badge.getAttribute('data-class'), 'ssl-ok');
    assert.equal(await badge.getAttribute('data-blocked'), 'false');
    const text = await compose.tooltipText('user@sts-enforce.test');
    assert.match(text, /MTA-STS: enforce · MX: mx\.sts-enforce\.test · gespeichert bis \S/);
    assert.match(text, /Zertifikat: gültig/);
    await compose.screenshot('mta-sts-enforce-tooltip');
  });

  test('a backup MX the policy does not name is marked as not used', async () => {
    await compose.addRecipient('to', 'user@sts-backup.test');
    const badge = await compose.finalBadge('user@sts-backup.test');
    assert.equal(await badge.getAttribute('data-class'), 'ssl-ok');
    const text = await compose.tooltipText('user@sts-backup.test');
    assert.match(text, /MTA-STS: nicht in der Richtlinie: wird nicht verwendet/);
  });

  test('an enforce policy naming none of the MX hosts blocks the recipient', async () => {
    await compose.addRecipient('to', 'user@sts-nomatch.test');
    const badge = await compose.finalBadge('user@sts-nomatch.test');
    assert.equal(await badge.getAttribute('data-blocked'), 'true');
    const text = await compose.tooltipText('user@sts-nomatch.test');
    assert.match(text, /MTA-STS-Richtlinie der Domain nennt keinen ihrer Mailserver/);
  });

  test('testing mode is shown in English too', async () => {
    const english = await demo.openCompose({ locale: 'en-US', viewport: { width: 1100, height: 800 } });
    await english.addRecipient('to', 'user@sts-testing.test');
    const badge = await english.finalBadge('user@sts-testing.test');
    assert.equal(await badge.getAttribute('data-blocked'), 'false');
    const text = await english.tooltipText('user@sts-testing.test');
    assert.match(text, /MTA-STS: testing · MX: mx\.other\.test · cached until \S/);
    assert.match(text, /MTA-STS: not in the policy \(testing: used anyway\)/);
    await english.page.context().close();
  });
});
