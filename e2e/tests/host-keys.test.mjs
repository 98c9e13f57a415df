// An admin adds a real SSH host, compares and trusts its host key fingerprint, and sees the
// facts Steward's agent collected there; Steward never connects to a key nobody confirmed.

import os from 'node:os';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSignedIn, visit, step } from '../lib/steward.mjs';
import { startFleetHost } from '../lib/fleet.mjs';


let steward;
let browser;
let page;
let fleet;
let publicKey;

let session;

before(async () => {
  session = await startSignedIn();
  ({ steward, browser, page } = session);
});

after(async () => {
  fleet?.stop();
  await session?.close();
});

test('an admin generates Steward\'s SSH key and a host accepts it', async () => {
  await step(page, 'generate-key', async () => {
    await visit(page, `${steward.url}/credentials`);
    const form = page.locator('[data-test=generate-key]');
    await form.locator('#name').fill('steward');
    await form.locator('button[type=submit]').click();
    publicKey = (await page.locator('[data-test=new-key] code.public-key').innerText()).trim();
    assert.match(publicKey, /^ssh-ed25519 AAAA/);
    fleet = await startFleetHost(publicKey);
  });
});

test('the admin adds the host to an instance', async () => {
  await step(page, 'add-host', async () => {
    await visit(page, `${steward.url}/studies`);
    await page.fill('#name', 'Fleet');
    await page.click('form.form-grid button[type=submit]');
    await page.getByRole('link', { name: 'Fleet' }).click();
    await page.getByRole('heading', { name: 'Fleet' }).waitFor();
    await page.waitForSelector('body[data-hydrated="true"]');
    const instance = page.locator('[data-test=add-instance]');
    await instance.locator('#input-name').fill('prod');
    await instance.locator('#input-environment').fill('production');
    await instance.locator('button[type=submit]').click();
    await page.getByRole('link', { name: 'prod' }).click();
    await page.getByRole('heading', { name: 'prod' }).waitFor();
    await page.waitForSelector('body[data-hydrated="true"]');
    const form = page.locator('[data-test=add-host]');
    await form.locator('#input-name').fill('web');
    await form.locator('#input-roles').fill('web');
    await form.locator('#input-address').fill('127.0.0.1');
    await form.locator('#input-ssh_port').fill(String(fleet.port));
    await form.locator('#input-ssh_user').fill(fleet.user);
    await form.locator('#input-credential').selectOption({ label: 'steward' });
    await form.locator('button[type=submit]').click();
    await page.locator('tr[data-host="web"]').getByRole('link', { name: 'web' }).click();
    await page.getByRole('heading', { name: 'web' }).waitFor();
  });
});

test('the host key is scanned, compared, trusted, and the host shows its facts', async () => {
  await step(page, 'host-key', async () => {
    await page.waitForSelector('body[data-hydrated="true"]');
    const keys = page.locator('[data-test=host-keys]');
    const health = page.locator('[data-test=host-health]');
    assert.equal((await keys.locator('[data-test=key-status]').innerText()).trim(), 'no key pinned');
    await health.getByRole('button', { name: 'Check now' }).click();
    await health.locator('[data-test=health-message]', { hasText: 'no host key is pinned' }).waitFor();

    await keys.getByRole('button', { name: 'Scan host key' }).click();
    const row = page.locator(`tr[data-fingerprint="${fleet.fingerprint()}"]`);
    await row.waitFor();
    await row.getByRole('button', { name: 'Trust this key' }).click();
    await page.locator('[data-test=key-status]', { hasText: 'pinned' }).waitFor();

    await health.getByRole('button', { name: 'Check now' }).click();
    await health.locator('[data-state=reachable]').waitFor();
    // The facts are the host's own: same kernel and root disk as this machine reports.
    assert.equal((await health.locator('[data-test=fact-kernel]').innerText()).trim(), os.release());
    assert.equal((await health.locator('[data-test=fact-cpus]').innerText()).trim(), String(os.availableParallelism()));
    await health.locator('[data-test=mounts-table] tr[data-mount="/"]').waitFor();
  });
});

test('the instance page checks all its hosts with live progress', async () => {
  await step(page, 'fleet', async () => {
    await page.getByRole('link', { name: /^Instance: prod/ }).click();
    await page.getByRole('heading', { name: 'prod' }).waitFor();
    await page.waitForSelector('body[data-hydrated="true"]');
    const row = page.locator('tr[data-host="web"]');
    assert.equal((await row.locator('[data-test=host-state]').innerText()).trim(), 'reachable');
    await page.getByRole('button', { name: 'Check all hosts now' }).click();
    await page.locator('[data-test=check-progress][data-done=true]').waitFor();
    assert.match(await page.locator('[data-test=check-progress]').innerText(), /1 of 1 checked · 1 reachable · 0 failing/);
    assert.match(await row.locator('[data-test=host-disk]').innerText(), /\d+% \//);
  });
});
