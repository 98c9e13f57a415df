// An admin sets up the global on-call rota: a bad time zone is shown next to its field, the
// saved rota shows who is on call now and a calendar of the coming weeks, and a holiday
// override appears in the list and puts its person on call.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callApi, startSignedIn, visit, step } from '../lib/steward.mjs';

let session;
let steward;
let page;

before(async () => {
  session = await startSignedIn();
  ({ steward, page } = session);
  for (const name of ['alice', 'bob']) {
    await callApi(page, 'create_user', {
      username: name, display_name: name, email: `${name}@example.org`, role: 'member', password: '',
    });
  }
});

after(async () => {
  await session?.close();
});

test('the global rota: turns, calendar and an override', async () => {
  await step(page, 'rota', async () => {
    await visit(page, `${steward.url}/rota`);
    const form = page.locator('[data-test=rota-form]');
    await form.locator('#rota-members').fill('alice\nbob');
    await form.locator('#rota-tz').fill('Mars/Olympus');
    await form.getByRole('button', { name: 'Save the rota' }).click();
    const tzError = form.locator('#rota-tz ~ .field-error');
    await tzError.waitFor();
    assert.match(await tzError.innerText(), /not a time zone/);

    await form.locator('#rota-tz').fill('UTC');
    await form.locator('#rota-starts').fill(new Date().toISOString().slice(0, 10));
    await form.locator('#rota-hour').fill('0');
    await form.getByRole('button', { name: 'Save the rota' }).click();
    await page.locator('[data-test=primary-now]').waitFor();
    assert.equal((await page.locator('[data-test=primary-now]').innerText()).trim(), 'alice');
    assert.equal((await page.locator('[data-test=secondary-now]').innerText()).trim(), 'bob');
    const weeks = page.locator('[data-test=rota-calendar] tbody tr');
    assert.equal(await weeks.count(), 8);
    assert.match(await weeks.nth(1).innerText(), /bob\s+alice/);

    const now = new Date();
    const local = (d) => d.toISOString().slice(0, 16);
    const overrides = page.locator('[data-test=override-form]');
    await overrides.locator('#override-user').fill('bob');
    await overrides.locator('#override-from').fill(local(new Date(now.getTime() - 3600_000)));
    await overrides.locator('#override-until').fill(local(new Date(now.getTime() + 86400_000)));
    await overrides.locator('#override-note').fill('Alice on holiday');
    await overrides.getByRole('button', { name: 'Add the override' }).click();
    await page.locator('[data-test=rota-overrides] tbody tr').waitFor();
    assert.match(await page.locator('[data-test=rota-overrides] tbody tr').innerText(), /bob\s+primary.*Alice on holiday/s);
    assert.equal((await page.locator('[data-test=primary-now]').innerText()).trim(), 'bob');
  });
});
