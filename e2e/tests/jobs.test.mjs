// An operator starts a fact check on the ten hosts of an instance and watches it: the job page
// shows the progress bar and the per-host table filling in and the log streaming, to the end.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callApi, startSignedIn, visit, step } from '../lib/steward.mjs';
import { addTrustedHost, startFleetHost } from '../lib/fleet.mjs';

const HOSTS = 10;
let session;
let steward;
let page;
const fleet = [];
let instanceId;

const api = (name, params) => callApi(page, name, params);

before(async () => {
  session = await startSignedIn();
  ({ steward, page } = session);
});

after(async () => {
  for (const host of fleet) host.stop();
  await session?.close();
});

test('an instance with ten real hosts, their keys trusted', async () => {
  await step(page, 'jobs-setup', async () => {
    const key = await api('generate_ssh_key', { name: 'steward' });
    const study = await api('create_study', { name: 'Travel diaries', description: '', contact: '' });
    const instance = await api('create_instance', {
      study_id: study.id, 'input[name]': 'emission-prod', 'input[stack]': 'emission', 'input[environment]': 'production',
    });
    instanceId = instance.id;
    for (let i = 0; i < HOSTS; i++) {
      const host = await startFleetHost(key.public_key);
      fleet.push(host);
      await addTrustedHost(api, instance.id, `web${String(i).padStart(2, '0')}`, key, host);
    }
  });
});

test('a fan-out fact check shows its progress and log live, to the end', async () => {
  await step(page, 'jobs-run', async () => {
    await visit(page, `${steward.url}/instances/${instanceId}`);
    const form = page.locator('[data-test=start-job]');
    await form.locator('#job-kind').selectOption('facts');
    await form.locator('#job-batch').fill('2');
    await form.getByRole('button', { name: 'Start job' }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    await page.waitForSelector('body[data-hydrated="true"]');

    // Watch until the stream says the job ended, noting what the page showed on the way.
    const seen = new Set();
    const progress = page.locator('[data-test=job-progress]');
    const deadline = Date.now() + 60_000;
    while ((await progress.getAttribute('data-ended')) !== 'true') {
      seen.add((await progress.innerText()).trim());
      assert.ok(Date.now() < deadline, `the job did not end; last seen: ${[...seen].pop()}`);
      await page.waitForTimeout(50);
    }
    const final = (await progress.innerText()).trim();
    assert.equal(final, `${HOSTS} of ${HOSTS} done · 0 failed · 0 remaining`);
    assert.ok([...seen].some((text) => !text.startsWith(`${HOSTS} of`)), `progress was shown on the way: ${[...seen]}`);
    assert.equal(await page.locator('progress').getAttribute('value'), '100');
    assert.equal((await page.locator('[data-test=job-state]').innerText()).trim(), 'succeeded');

    const rows = page.locator('[data-test=job-hosts] tbody tr');
    assert.equal(await rows.count(), HOSTS);
    assert.equal(await page.locator('[data-test=job-hosts] [data-state=succeeded]').count(), HOSTS);
    const log = await page.locator('[data-test=job-log]').innerText();
    assert.match(log, /Check facts on 10 host\(s\), 2 at a time/);
    for (let i = 0; i < HOSTS; i++) assert.match(log, new RegExp(`\\[web${String(i).padStart(2, '0')}\\] succeeded`));
    assert.match(log, /finished: 10 of 10 host\(s\) succeeded/);
  });
});

test('the job is in the jobs list, and reloading its page shows the whole log', async () => {
  await step(page, 'jobs-list', async () => {
    const jobUrl = page.url();
    await visit(page, `${steward.url}/jobs?state=succeeded`);
    const row = page.locator('[data-test=jobs-table] tbody tr').first();
    assert.match(await row.innerText(), /Check facts\s+instance emission-prod\s+succeeded\s+10\/10 \(0 failed\)/);
    await visit(page, jobUrl);
    await page.locator('[data-test=job-progress][data-ended=true]').waitFor();
    const log = await page.locator('[data-test=job-log]').innerText();
    assert.equal(log.match(/succeeded:/g).length, HOSTS, 'each line once, none repeated by the stream');
  });
});
