// The first hour of a new Steward: set up the first admin, add a colleague, log in and out,
// refuse a wrong password, and find all of it in the audit log.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startSteward, launchBrowser, visit, step } from '../lib/steward.mjs';

const ADMIN = { username: 'admin', password: 'correct horse battery staple' };
const RESEARCHER = { username: 'rita', name: 'Rita Researcher', password: 'orange kite under the bridge' };

let steward;
let browser;
let page;

before(async () => {
  steward = await startSteward();
  browser = await launchBrowser();
  page = await browser.newPage();
});

after(async () => {
  await browser?.close();
  await steward?.stop();
});

async function logIn(user) {
  await visit(page, `${steward.url}/login`);
  await page.fill('#username', user.username);
  await page.fill('#password', user.password);
  await page.click('button[type=submit]');
}

async function logOut() {
  await page.click('[data-test=logout]');
  await page.waitForURL(/\/login/);
}

test('first-run setup creates the admin and signs them in', async () => {
  await step(page, 'setup', async () => {
    await visit(page, steward.setupLink);
    await page.fill('#username', ADMIN.username);
    await page.fill('#password', ADMIN.password);
    await page.fill('#confirm', ADMIN.password);
    await page.click('button[type=submit]');
    await page.waitForURL(`${steward.url}/`);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  });
});

test('the setup link works only once', async () => {
  await step(page, 'setup-link-reuse', async () => {
    const other = await browser.newPage();
    await visit(other, steward.setupLink);
    await other.getByText('Steward is already set up').waitFor();
    await other.close();
  });
});

test('an admin creates a user', async () => {
  await step(page, 'create-user', async () => {
    await visit(page, `${steward.url}/users`);
    await page.fill('#username', RESEARCHER.username);
    await page.fill('#display_name', RESEARCHER.name);
    await page.fill('#email', 'rita@example.org');
    await page.selectOption('#role', 'member');
    await page.fill('#password', RESEARCHER.password);
    await page.click('form.form-grid button[type=submit]');
    await page.getByText(`User ${RESEARCHER.username} is ready to log in.`).waitFor();
    const row = page.locator(`tr[data-user="${RESEARCHER.username}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /Rita Researcher/);
  });
});

test('a bad username is refused next to the field and nothing is lost', async () => {
  await step(page, 'bad-username', async () => {
    await page.fill('#username', 'bad name$(id)');
    await page.fill('#display_name', 'Kept Name');
    await page.click('form.form-grid button[type=submit]');
    await page.locator('#username-error').waitFor();
    assert.match(await page.locator('#username-error').innerText(), /lower-case letters/);
    assert.equal(await page.inputValue('#display_name'), 'Kept Name');
  });
});

test('the admin logs out and the new user logs in', async () => {
  await step(page, 'login-as-user', async () => {
    await logOut();
    await logIn(RESEARCHER);
    await page.waitForURL(`${steward.url}/`);
    await page.getByText(`Welcome, ${RESEARCHER.name}`).waitFor();
    assert.equal(await page.locator('nav >> text=Users').count(), 0, 'members see no admin links');
  });
});

test('a member is refused the admin pages by the server', async () => {
  await step(page, 'member-refused', async () => {
    await visit(page, `${steward.url}/users`);
    await page.getByText('You are not allowed to do that').waitFor();
  });
});

test('a wrong password is refused', async () => {
  await step(page, 'wrong-password', async () => {
    await logOut();
    await logIn({ username: ADMIN.username, password: 'not the password at all' });
    await page.getByText('Wrong username or password').waitFor();
    assert.match(page.url(), /\/login/);
  });
});

test('the audit log shows what happened', async () => {
  await step(page, 'audit', async () => {
    await logIn(ADMIN);
    await page.waitForURL(`${steward.url}/`);
    await visit(page, `${steward.url}/audit`);
    const table = page.locator('[data-test=audit-table]');
    await table.waitFor();
    const text = await table.innerText();
    for (const action of ['setup.completed', 'user.created', 'user.login', 'user.logout', 'user.login_failed']) {
      assert.ok(text.includes(action), `audit log lacks ${action}:\n${text}`);
    }
    assert.ok(text.includes('user rita'), 'the created user is named');

    await page.fill('#action', 'user.login_failed');
    await page.click('form.filters button[type=submit]');
    await page.waitForURL(/action=user.login_failed/);
    const filtered = await page.locator('[data-test=audit-table] tbody').innerText();
    assert.ok(!filtered.includes('user.created'), 'filter keeps only failed logins');
    assert.ok(filtered.includes('user admin'));
  });
});
