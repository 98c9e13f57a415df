// Starts a real `steward serve` on a free loopback port with its own data directory, and a real
// headless Chromium to drive it.

import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const ARTIFACTS = new URL('../artifacts/', import.meta.url).pathname;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts Steward; resolves once it answers /readyz, with the setup link it printed. */
export async function startSteward({ env = {} } = {}) {
  const bin = process.env.STEWARD_BIN;
  if (!bin) throw new Error('STEWARD_BIN must point at the steward binary');
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'steward-e2e-'));
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(bin, ['serve'], {
    env: {
      PATH: process.env.PATH,
      STEWARD_SERVER__BIND: `127.0.0.1:${port}`,
      STEWARD_STORAGE__DATA_DIR: dataDir,
      STEWARD_LOG__LEVEL: 'info,steward=debug',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => { stdout += chunk; });
  child.stderr.on('data', (chunk) => { stderr += chunk; });

  const deadline = Date.now() + 30_000;
  let setupLink;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`steward exited early:\n${stdout}\n${stderr}`);
    setupLink = stdout.match(/https?:\/\/\S+\/setup\?token=\S+/)?.[0];
    if (setupLink) {
      try {
        const res = await fetch(`${url}/readyz`);
        if (res.ok) break;
      } catch { /* not listening yet */ }
    }
    if (Date.now() > deadline) throw new Error(`steward did not become ready:\n${stdout}\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    setupLink,
    logs: () => stdout + stderr,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
    ],
  });
}

/** Opens `path` and waits until the wasm has hydrated the page (clicks before do nothing). */
export async function visit(page, url) {
  await page.goto(url);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 20_000 });
}

/** Runs one user-visible step; on failure saves a screenshot named after it. */
export async function step(page, name, fn) {
  try {
    return await fn();
  } catch (err) {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, `${name.replace(/[^a-z0-9]+/gi, '-')}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => {});
    err.message += `\n(screenshot: ${file}; page: ${page.url()})`;
    throw err;
  }
}

export const ADMIN = { username: 'admin', password: 'correct horse battery staple' };

/** Creates the first admin through the setup link and leaves `page` signed in on the dashboard. */
export async function setUpAdmin(page, steward, admin = ADMIN) {
  await visit(page, steward.setupLink);
  await page.fill('#username', admin.username);
  await page.fill('#password', admin.password);
  await page.fill('#confirm', admin.password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${steward.url}/`);
}

/** A running Steward with its first admin set up, and a browser page signed in as them. */
export async function startSignedIn({ env = {} } = {}) {
  const steward = await startSteward({ env });
  const browser = await launchBrowser();
  const page = await browser.newPage();
  // Errors in the page (a failed hydration, a panic) show in the test output.
  page.on('console', (m) => {
    // Refused requests are part of the tests; anything else is worth seeing.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      console.log(`browser console: ${m.text().slice(0, 300)}`);
    }
  });
  await setUpAdmin(page, steward);
  return {
    steward,
    browser,
    page,
    async close() {
      await browser.close();
      await steward.stop();
    },
  };
}

/** Calls a server function from a signed-in page, as the browser bundle does; throws on refusal. */
export async function callApi(page, name, params) {
  return page.evaluate(async ([name, params]) => {
    const response = await fetch(`/api/${name}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params).toString(),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${name}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }, [name, params]);
}
