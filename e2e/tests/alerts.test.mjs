// A host goes down: the on-call person gets a mail, follows its link and acknowledges the
// alert without signing in; the alert shows as acknowledged; the host comes back and the
// "resolved" mail arrives.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callApi, startSignedIn, visit, step } from '../lib/steward.mjs';
import { addTrustedHost, startFleetHost } from '../lib/fleet.mjs';
import { startSmtp } from '../lib/smtp.mjs';

let session;
let steward;
let browser;
let page;
let smtp;
let host;
let hostId;

const api = (name, params) => callApi(page, name, params);

before(async () => {
  smtp = await startSmtp();
  session = await startSignedIn({ env: smtp.env });
  ({ steward, browser, page } = session);
});

after(async () => {
  host?.stop();
  await session?.close();
  smtp?.stop();
});

test('a study with an on-call person and a watched host', async () => {
  await step(page, 'alerts-setup', async () => {
    await api('store_secret', { name: 'smtp', kind: 'smtp-password', secret: smtp.password });
    const key = await api('generate_ssh_key', { name: 'steward' });
    const study = await api('create_study', { name: 'CamCOPS clinic', description: '', contact: '' });
    const instance = await api('create_instance', {
      study_id: study.id, 'input[name]': 'camcops-prod', 'input[stack]': 'camcops', 'input[environment]': 'production',
    });
    await api('create_user', { username: 'olga', display_name: 'Olga', email: 'olga@clinic.example.org', role: 'member', password: '' });
    await api('set_member', { study_id: study.id, username: 'olga', role: 'on-call' });
    host = await startFleetHost(key.public_key);
    hostId = await addTrustedHost(api, instance.id, 'web01', key, host);
    assert.equal((await api('check_host', { host_id: hostId })).state, 'reachable');
  });
});

test('the host goes down; on call gets the mail and acknowledges by its link', async () => {
  await step(page, 'alerts-ack', async () => {
    host.down();
    await visit(page, `${steward.url}/hosts/${hostId}`);
    await page.locator('[data-test=host-health]').getByRole('button', { name: 'Check now' }).click();
    await page.locator('[data-test=host-health] [data-state=refused]').waitFor();

    const mail = await smtp.waitFor(/Subject: \[Steward\] CRITICAL: web01 \(CamCOPS clinic\/camcops-prod\): not reachable/);
    assert.match(mail, /To: olga@clinic\.example\.org/);
    const body = mail.replace(/=\r?\n/g, '').replace(/=3D/g, '=');
    const link = body.match(/https?:\/\/\S+\/alerts\/ack\?token=[A-Za-z0-9_-]+/)[0];

    // Olga has no session in this browser: the link alone lets her acknowledge this alert.
    const olga = await browser.newContext();
    const olgaPage = await olga.newPage();
    await visit(olgaPage, link);
    await olgaPage.locator('[data-test=alert]', { hasText: 'web01' }).waitFor();
    await olgaPage.getByRole('button', { name: 'Acknowledge' }).click();
    await olgaPage.locator('[data-test=acknowledged]').waitFor();
    await olga.close();

    await visit(page, `${steward.url}/alerts?state=all`);
    const row = page.locator('[data-test=alerts-table] tbody tr', { hasText: 'web01 (CamCOPS clinic/camcops-prod): not reachable' });
    assert.match(await row.locator('[data-test=alert-state]').innerText(), /acknowledged by olga@clinic\.example\.org \(mail link\)/);

    // Filters narrow the list: the critical alert is not among the info ones, and is found by name.
    const filters = page.locator('[data-test=alert-filters]');
    await filters.locator('#a-severity').selectOption('info');
    await filters.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/severity=info/);
    await page.locator('[data-test=alerts-table] tbody tr', { hasText: 'not reachable' }).waitFor({ state: 'detached' });
    await visit(page, `${steward.url}/alerts?state=all&severity=critical&q=web01`);
    await page.locator('[data-test=alerts-table] tbody tr', { hasText: 'not reachable' }).waitFor();
  });
});

test('the host comes back: the alert resolves and the resolved mail arrives', async () => {
  await step(page, 'alerts-resolve', async () => {
    await host.up();
    await visit(page, `${steward.url}/hosts/${hostId}`);
    await page.locator('[data-test=host-health]').getByRole('button', { name: 'Check now' }).click();
    await page.locator('[data-test=host-health] [data-state=reachable]').waitFor();
    await smtp.waitFor(/Subject: \[Steward\] RESOLVED: web01/);
    await visit(page, `${steward.url}/alerts?state=resolved`);
    await page.locator('[data-test=alerts-table] tbody tr', { hasText: 'not reachable' }).waitFor();
  });
});
