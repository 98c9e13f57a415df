// Settings → Workers shows every background worker of Steward; when the mail server goes away,
// the mail worker shows that it is backing off and the error it met.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callApi, startSignedIn, visit, step } from '../lib/steward.mjs';
import { addTrustedHost, startFleetHost } from '../lib/fleet.mjs';
import { startSmtp } from '../lib/smtp.mjs';

let session;
let steward;
let page;
let smtp;
let host;

const api = (name, params) => callApi(page, name, params);

before(async () => {
  smtp = await startSmtp();
  session = await startSignedIn({ env: smtp.env });
  ({ steward, page } = session);
});

after(async () => {
  host?.stop();
  await session?.close();
  smtp?.stop();
});

test('the Workers panel lists every worker, and the mail worker shows its last error', async () => {
  await step(page, 'workers', async () => {
    await visit(page, `${steward.url}/settings`);
    const table = page.locator('[data-test=workers-table]');
    for (const name of ['jobs', 'schedules', 'mail', 'alerts', 'sessions', 'ssh']) {
      await table.locator(`tr[data-worker=${name}]`).waitFor();
    }

    // An alert to mail while the mail server is down.
    await api('store_secret', { name: 'smtp', kind: 'smtp-password', secret: smtp.password });
    const key = await api('generate_ssh_key', { name: 'steward' });
    const study = await api('create_study', { name: 'Diaries', description: '', contact: '' });
    const instance = await api('create_instance', {
      study_id: study.id, 'input[name]': 'prod', 'input[stack]': 'generic', 'input[environment]': 'production',
    });
    await api('create_user', { username: 'olga', display_name: 'Olga', email: 'olga@study.example.org', role: 'member', password: '' });
    await api('set_member', { study_id: study.id, username: 'olga', role: 'on-call' });
    host = await startFleetHost(key.public_key);
    const hostId = await addTrustedHost(api, instance.id, 'web01', key, host);
    smtp.stop();
    host.down();
    assert.equal((await api('check_host', { host_id: hostId })).state, 'refused');

    const mail = table.locator('tr[data-worker=mail]');
    const deadline = Date.now() + 30_000;
    for (;;) {
      await visit(page, `${steward.url}/settings`);
      const state = await mail.locator('[data-test=worker-state]').innerText();
      if (state === 'backing off') break;
      assert.ok(Date.now() < deadline, `the mail worker never backed off (state: ${state})`);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.ok((await mail.locator('[data-test=worker-error]').innerText()).trim().length > 0, 'the mail worker shows why');
    assert.match(await mail.innerText(), /again in \d+ s/);
  });
});
