// A real SMTP server for browser tests: scripts/test-smtp.py (aiosmtpd) with STARTTLS from a
// throw-away CA, AUTH required, messages stored in a Maildir; like the Rust tests' server.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

const SCRIPT = new URL('../../scripts/test-smtp.py', import.meta.url).pathname;

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => { const { port } = server.address(); server.close(() => resolve(port)); });
  });
}

export async function startSmtp() {
  const dir = mkdtempSync(join(tmpdir(), 'steward-smtp-'));
  const ssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl('req', '-x509', ...ec, '-days', '2', '-subj', '/CN=Test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  ssl('req', '-new', ...ec, '-subj', '/CN=127.0.0.1', '-keyout', 'key.pem', '-out', 'req.pem');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'req.pem', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'ext.cnf', '-out', 'cert.pem');
  const port = await freePort();
  const user = 'steward';
  const password = 'mail server secret 42';
  const server = spawn('python3', [SCRIPT, '--port', String(port), '--maildir', join(dir, 'Maildir'),
    '--cert', join(dir, 'cert.pem'), '--key', join(dir, 'key.pem'), '--user', user, '--password', password],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    server.stdout.once('data', (chunk) => (String(chunk).includes('ready') ? resolve() : reject(new Error(String(chunk)))));
    server.once('exit', (code) => reject(new Error(`test SMTP server exited with ${code}`)));
  });
  const messages = () => ['new', 'cur'].flatMap((sub) => {
    try { return readdirSync(join(dir, 'Maildir', sub)).map((f) => readFileSync(join(dir, 'Maildir', sub, f), 'utf8')); } catch { return []; }
  });
  return {
    /** Settings that point Steward at this server (the password goes in the vault as "smtp"). */
    env: {
      STEWARD_MAIL__SMTP_URL: `smtp://127.0.0.1:${port}`,
      STEWARD_MAIL__USERNAME: user,
      STEWARD_MAIL__PASSWORD_CREDENTIAL: 'smtp',
      STEWARD_MAIL__FROM: 'Steward <steward@study.example.org>',
      STEWARD_MAIL__CA_FILE: join(dir, 'ca.pem'),
    },
    password,
    messages,
    /** Waits for a message whose Subject line matches `subject`. */
    async waitFor(subject, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        // Header lines may be folded (a long Subject continues on the next line).
        const found = messages().find((m) => subject.test(m.split(/\r?\n\r?\n/)[0].replace(/\r?\n[ \t]+/g, ' ')));
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no mail matching ${subject} arrived`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stop() {
      server.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
