// An operator edits a setting of an instance's configuration, sees what would change on the
// host, pushes, watches the push live, and finds the new revision on the host; the host runs a
// real nginx that the push checks, reloads and health-checks.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { callApi, startSignedIn, visit, step } from '../lib/steward.mjs';
import { addTrustedHost, startFleetHost } from '../lib/fleet.mjs';

let session;
let steward;
let page;
let host;
let site;
let instanceId;

const api = (name, params) => callApi(page, name, params);

/** The generic stack's settings that manage the site's nginx.conf. */
function settings(body, expect) {
  return {
    path: site.configPath,
    content: site.config(body),
    validate_command: site.command(['-t', '-q']).map((a) => (a === site.configPath ? `${a}.steward-new` : a)).join('\n'),
    reload_command: site.command(['-s', 'reload']).join('\n'),
    health_url: `http://127.0.0.1:${site.port}/`,
    health_expect: expect,
  };
}

before(async () => {
  session = await startSignedIn();
  ({ steward, page } = session);
});

after(async () => {
  host?.stop();
  await session?.close();
});

test('an instance whose host runs nginx, with a first revision of its settings', async () => {
  await step(page, 'config-setup', async () => {
    const key = await api('generate_ssh_key', { name: 'steward' });
    const study = await api('create_study', { name: 'Web front', description: '', contact: '' });
    const instance = await api('create_instance', {
      study_id: study.id, 'input[name]': 'site', 'input[stack]': 'generic', 'input[environment]': 'production',
    });
    instanceId = instance.id;
    host = await startFleetHost(key.public_key);
    await addTrustedHost(api, instance.id, 'web1', key, host);
    site = await host.startNginx('200 "hello from nginx\\n"');
    const values = Object.fromEntries(
      Object.entries(settings('200 "hello from nginx\\n"', 'hello')).map(([k, v]) => [`input[values][${k}]`, v]),
    );
    const first = await api('save_settings', { 'input[instance_id]': instanceId, 'input[message]': 'As it runs today', ...values });
    assert.equal(first.number, 1);
  });
});

test('a bad value is shown next to its field and nothing is saved', async () => {
  await step(page, 'config-bad-input', async () => {
    await visit(page, `${steward.url}/instances/${instanceId}/config`);
    await page.locator('#setting-health_url').fill('ftp://example.org/');
    await page.getByRole('button', { name: 'Save as a new revision' }).click();
    const error = page.locator('[data-setting=health_url] .field-error');
    await error.waitFor();
    assert.match(await error.innerText(), /Use a http URL/);
    assert.equal(await page.locator('[data-test=revisions] tbody tr').count(), 1);
  });
});

test('edit a setting, see the diff, push, watch it live, see the new revision', async () => {
  await step(page, 'config-push', async () => {
    await visit(page, `${steward.url}/instances/${instanceId}/config`);
    await page.locator('#setting-content').fill(site.config('200 "hello, pushed by Steward\\n"'));
    await page.locator('#setting-health_expect').fill('pushed by Steward');
    await page.locator('#settings-message').fill('New greeting');
    await page.getByRole('button', { name: 'Save as a new revision' }).click();
    await page.getByText('Saved revision #2').waitFor();
    await page.locator('[data-test=revisions] tr[data-revision="2"]').waitFor();
    assert.match(await page.locator('[data-test=revisions] tr[data-revision="2"]').innerText(), /New greeting\s+admin/);

    // The diff against what is live on the host.
    await page.getByRole('button', { name: 'Show the changes' }).click();
    const file = page.locator(`[data-test=diffs] details[data-file="${site.configPath}"]`);
    await file.waitFor();
    assert.match(await page.locator('[data-test=diffs] [data-host=web1] h3').innerText(), /1 file\(s\) change/);
    assert.equal((await file.locator('.diff-del').innerText()).trim(), '-            return 200 "hello from nginx\\n";');
    assert.equal((await file.locator('.diff-add').innerText()).trim(), '+            return 200 "hello, pushed by Steward\\n";');
    assert.equal((await site.get()).body, 'hello from nginx\n', 'looking changes nothing');

    // The push opens its job page, which follows it live to the end.
    await page.locator('[data-test=push-form]').getByRole('button', { name: 'Push' }).click();
    await page.waitForURL(/\/jobs\/\d+$/);
    await page.waitForSelector('body[data-hydrated="true"]');
    const progress = page.locator('[data-test=job-progress]');
    const deadline = Date.now() + 60_000;
    while ((await progress.getAttribute('data-ended')) !== 'true') {
      assert.ok(Date.now() < deadline, 'the push did not end');
      await page.waitForTimeout(100);
    }
    assert.equal((await page.locator('[data-test=job-state]').innerText()).trim(), 'succeeded');
    const log = await page.locator('[data-test=job-log]').innerText();
    assert.match(log, /\[web1\] revision 2: 1 file\(s\) to change/);
    assert.match(log, /\[web1\] .*nginx\.conf: validated/);
    assert.match(log, /\[web1\] apply: reloaded/);
    assert.match(log, /\[web1\] healthy: http:\/\/127\.0\.0\.1:\d+\//);
    assert.deepEqual(await site.get(), { status: 200, body: 'hello, pushed by Steward\n' });

    // The host now carries revision 2, in sync.
    await visit(page, `${steward.url}/instances/${instanceId}/config`);
    const row = page.locator('[data-test=host-configs] tr[data-host=web1]');
    assert.equal((await row.locator('[data-test=revision]').innerText()).trim(), '#2');
    assert.equal((await row.locator('[data-test=drift]').innerText()).trim(), 'in sync');
  });
});
