// An admin puts a multi-tier e-mission deployment into Steward and gives a researcher access
// to the study; the researcher sees the study's name but is refused its instance pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSignedIn, visit, step } from '../lib/steward.mjs';

const RESEARCHER = { username: 'rosa', password: 'blue heron at the lake' };
const STUDY = 'E-mission pilot';
// Text that would break out of a textarea or run a shell if anything interpreted it.
const DESCRIPTION = 'Travel diaries </textarea><b id="injected">x</b> & "$(reboot)" `id`';

let steward;
let browser;
let page;
let instanceUrl;

let session;

before(async () => {
  session = await startSignedIn();
  ({ steward, browser, page } = session);
});

after(async () => {
  await session?.close();
});

test('an admin creates a study', async () => {
  await step(page, 'create-study', async () => {
    await visit(page, `${steward.url}/studies`);
    await page.getByText('No studies yet').waitFor();
    await page.fill('#name', STUDY);
    await page.fill('#contact', 'lab@example.org');
    await page.fill('#description', DESCRIPTION);
    await page.click('form.form-grid button[type=submit]');
    await page.getByRole('link', { name: STUDY }).click();
    await page.getByRole('heading', { name: STUDY }).waitFor();
  });
});

test('hostile text is shown as text, in the page and in the edit form', async () => {
  await step(page, 'hostile-text', async () => {
    await visit(page, page.url());
    assert.equal(await page.locator('#injected').count(), 0, 'markup from a description reached the page');
    assert.equal(await page.inputValue('#edit-study-description'), DESCRIPTION);
    assert.match(await page.locator('p.prewrap').first().innerText(), /<\/textarea><b id="injected">/);
  });
});

test('the admin adds a multi-tier instance', async () => {
  await step(page, 'add-instance', async () => {
    await page.waitForSelector('body[data-hydrated="true"]');
    const form = page.locator('[data-test=add-instance]');
    await form.locator('#input-name').fill('multi-tier');
    await form.locator('#input-stack').fill('emission');
    await form.locator('#input-environment').fill('production');
    await form.locator('#input-tags').fill('eu, wave1');
    await form.locator('button[type=submit]').click();
    await page.getByRole('link', { name: 'multi-tier' }).click();
    await page.getByRole('heading', { name: 'multi-tier' }).waitFor();
    instanceUrl = page.url();
  });
});

async function addHost(name, roles, address, jump = '') {
  const form = page.locator('[data-test=add-host]');
  await form.locator('#input-name').fill(name);
  await form.locator('#input-roles').fill(roles);
  await form.locator('#input-address').fill(address);
  await form.locator('#input-ssh_user').fill('emission');
  if (jump) await form.locator('#input-jump_host').selectOption({ label: jump });
  await form.locator('button[type=submit]').click();
  await page.locator(`tr[data-host="${name}"]`).waitFor();
}

test('a bad address is refused next to the field and the form keeps what was typed', async () => {
  await step(page, 'bad-address', async () => {
    await page.waitForSelector('body[data-hydrated="true"]');
    const form = page.locator('[data-test=add-host]');
    await form.locator('#input-name').fill('webapp');
    await form.locator('#input-roles').fill('web');
    await form.locator('#input-address').fill('web app; reboot');
    await form.locator('#input-ssh_user').fill('emission');
    await form.locator('button[type=submit]').click();
    await page.locator('#input-address-error').waitFor();
    assert.match(await page.locator('#input-address-error').innerText(), /not a DNS name/);
    assert.equal(await form.locator('#input-name').inputValue(), 'webapp');
  });
});

test('the admin adds the four hosts of the deployment', async () => {
  await step(page, 'add-hosts', async () => {
    await addHost('webapp', 'web', 'webapp.example.org');
    await addHost('database', 'database', '10.0.0.2', 'webapp');
    await addHost('analysis', 'analysis', '10.0.0.3', 'webapp');
    await addHost('notebook', 'notebook', 'notebook.example.org');
    const rows = await page.locator('[data-test=hosts-table] tbody tr').count();
    assert.equal(rows, 4);
    const db = await page.locator('tr[data-host="database"]').innerText();
    assert.match(db, /emission@10\.0\.0\.2:22/);
    assert.match(db, /webapp/);
  });
});

test('the admin edits a host on its page', async () => {
  await step(page, 'edit-host', async () => {
    await visit(page, instanceUrl);
    await page.locator('tr[data-host="database"]').getByRole('link', { name: 'database' }).click();
    await page.getByRole('heading', { name: 'database' }).waitFor();
    await page.waitForSelector('body[data-hydrated="true"]');
    const form = page.locator('[data-test=edit-host]');
    assert.equal(await form.locator('#input-address').inputValue(), '10.0.0.2');
    await form.locator('#input-ssh_port').fill('99999');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.locator('#input-ssh_port-error').waitFor();
    await form.locator('#input-ssh_port').fill('2222');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByText('emission@10.0.0.2:2222').waitFor();
    assert.match(await page.locator('[data-test=host-facts]').innerText(), /webapp/);
  });
});

test('the admin previews and imports an Ansible inventory', async () => {
  await step(page, 'ansible-import', async () => {
    await visit(page, `${steward.url}/studies`);
    await page.getByRole('link', { name: STUDY }).click();
    await page.getByRole('heading', { name: STUDY }).waitFor();
    await page.waitForSelector('body[data-hydrated="true"]');
    const form = page.locator('[data-test=import-form]');
    await form.locator('#input-inventory').fill(
      "[web]\nstaging-web.example.org ansible_user=emission\n[db]\nstaging-db ansible_host=10.1.0.2 ansible_ssh_common_args='-J staging-web.example.org'\n",
    );
    await form.locator('#import-instance').fill('staging');
    await form.locator('#import-environment').fill('staging');
    await form.getByRole('button', { name: 'Preview' }).click();
    await page.getByText('Preview: this is what an import would create').waitFor();
    assert.match(await page.locator('[data-test=import-result]').innerText(), /staging-db[\s\S]*staging-web/);
    await form.getByRole('button', { name: 'Import' }).click();
    await page.getByText('Imported: 1 instance(s) and 2 host(s) created.').waitFor();
    await page.locator('[data-test=study-instances]').getByRole('link', { name: 'staging' }).waitFor();
  });
});

test('the admin adds a researcher to the study', async () => {
  await step(page, 'add-researcher', async () => {
    await visit(page, `${steward.url}/users`);
    await page.fill('#username', RESEARCHER.username);
    await page.fill('#password', RESEARCHER.password);
    await page.click('form.form-grid button[type=submit]');
    await page.locator(`tr[data-user="${RESEARCHER.username}"]`).waitFor();

    await visit(page, `${steward.url}/studies`);
    await page.getByRole('link', { name: STUDY }).click();
    await page.getByRole('heading', { name: STUDY }).waitFor();
    await page.waitForSelector('body[data-hydrated="true"]');
    const form = page.locator('[data-test=add-member]');
    await form.locator('#username').fill(RESEARCHER.username);
    await form.locator('#member-role').selectOption('researcher');
    await form.locator('button[type=submit]').click();
    await page.locator(`tr[data-member="${RESEARCHER.username}"]`).waitFor();
    assert.match(await page.locator(`tr[data-member="${RESEARCHER.username}"]`).innerText(), /researcher/);
  });
});

test('the researcher sees the study but is refused its instance pages', async () => {
  await step(page, 'researcher-refused', async () => {
    await page.click('[data-test=logout]');
    await page.waitForURL(/\/login/);
    await visit(page, `${steward.url}/login`);
    await page.fill('#username', RESEARCHER.username);
    await page.fill('#password', RESEARCHER.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${steward.url}/`);

    await visit(page, `${steward.url}/studies`);
    await page.getByRole('link', { name: STUDY }).waitFor();

    await visit(page, instanceUrl);
    await page.getByText('You are not allowed to do that').waitFor();
    assert.equal(await page.locator('[data-test=hosts-table]').count(), 0);

    await visit(page, `${steward.url}/instances`);
    await page.getByText('No instances yet').waitFor();
  });
});
