// A real SSH host for browser tests: its own unix user and home, its own sshd on a loopback
// port with its own host key, key-only authentication. Needs root and openssh-server, like the
// Rust test fleet (server/tests/common/fleet.rs).

import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

let next = 0;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function listening(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.on('connect', () => { socket.destroy(); resolve(true); });
    socket.on('error', () => resolve(false));
  });
}

/** Starts a host that accepts `authorizedKey` (an OpenSSH public key line). */
export async function startFleetHost(authorizedKey) {
  const user = `stwe${process.pid % 100000}h${next++}`;
  const root = '/tmp/steward-fleet';
  const home = `${root}/${user}`;
  const dir = `${root}/${user}-sshd`;
  mkdirSync(root, { recursive: true });
  mkdirSync('/run/sshd', { recursive: true });
  try { execFileSync('userdel', ['-r', user], { stdio: 'ignore' }); } catch { /* not there */ }
  execFileSync('useradd', ['-m', '-d', home, '-p', '*', '-s', '/bin/sh', user]);
  mkdirSync(`${home}/.ssh`, { recursive: true });
  writeFileSync(`${home}/.ssh/authorized_keys`, `${authorizedKey}\n`);
  execFileSync('chown', ['-R', `${user}:${user}`, `${home}/.ssh`]);
  execFileSync('chmod', ['700', `${home}/.ssh`]);
  execFileSync('chmod', ['600', `${home}/.ssh/authorized_keys`]);
  mkdirSync(dir, { recursive: true });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${dir}/host_key`]);
  const port = await freePort();
  writeFileSync(`${dir}/sshd_config`, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/host_key`, `PidFile ${dir}/sshd.pid`,
    'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PubkeyAuthentication yes',
    `AllowUsers ${user}`, 'AuthorizedKeysFile .ssh/authorized_keys', '',
  ].join('\n'));
  let sshd;
  const up = async () => {
    sshd = spawn('/usr/sbin/sshd', ['-D', '-f', `${dir}/sshd_config`, '-E', `${dir}/sshd.log`], { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await listening(port))) {
      if (Date.now() > deadline) throw new Error(`sshd did not listen on ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await up();
  return {
    /** The host goes down: sshd and every session of its user stop. */
    down() {
      sshd.kill();
      try { execFileSync('pkill', ['-KILL', '-u', user], { stdio: 'ignore' }); } catch { /* none left */ }
    },
    /** The host comes back. */
    up,
    /** Starts a real nginx run by the host's user (prefix ~/nginx, a loopback port) whose one
     *  location returns `body` (an nginx value such as `200 "hello"`). */
    async startNginx(body) {
      const prefix = `${home}/nginx`;
      for (const sub of ['conf', 'logs', 'tmp']) mkdirSync(`${prefix}/${sub}`, { recursive: true });
      const site = nginxSite(prefix, await freePort());
      writeFileSync(site.configPath, site.config(body));
      execFileSync('chown', ['-R', `${user}:${user}`, prefix]);
      execFileSync('runuser', ['-u', user, '--', ...site.command([])]);
      const deadline = Date.now() + 10_000;
      while (!(await listening(site.port))) {
        if (Date.now() > deadline) throw new Error(`nginx did not listen on ${site.port}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return site;
    },
    user,
    port,
    fingerprint: () => execFileSync('ssh-keygen', ['-lf', `${dir}/host_key.pub`]).toString().split(/\s+/)[1],
    stop() {
      sshd.kill();
      // Everything the user still runs (an nginx started by a test) goes too: userdel refuses
      // a user with processes, which would leave them behind.
      try { execFileSync('pkill', ['-KILL', '-u', user], { stdio: 'ignore' }); } catch { /* none left */ }
      try { execFileSync('userdel', ['-r', user], { stdio: 'ignore' }); } catch { /* gone */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An nginx site under `prefix` on 127.0.0.1:`port` (the same layout as the Rust test fleet's). */
function nginxSite(prefix, port) {
  const configPath = `${prefix}/conf/nginx.conf`;
  return {
    prefix,
    port,
    configPath,
    command: (extra) => ['/usr/sbin/nginx', '-p', prefix, '-e', `${prefix}/logs/error.log`, ...extra, '-c', configPath],
    config: (body) => [
      'worker_processes 1;', `pid ${prefix}/nginx.pid;`, `error_log ${prefix}/logs/error.log;`,
      'events { worker_connections 32; }', 'http {', '    access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${prefix}/tmp/${t};`),
      '    server {', `        listen 127.0.0.1:${port};`, '        location / {', '            default_type text/plain;',
      `            return ${body};`, '        }', '    }', '}', '',
    ].join('\n'),
    async get() {
      const response = await fetch(`http://127.0.0.1:${port}/`);
      return { status: response.status, body: await response.text() };
    },
  };
}

/**
 * Adds the running test `host` to an instance as `name` (role web), reached with the vault's
 * `key`, and trusts its host key. `api` calls a server function as the signed-in admin.
 * Returns the new host's id.
 */
export async function addTrustedHost(api, instanceId, name, key, host) {
  const added = await api('add_host', {
    instance_id: instanceId, 'input[name]': name, 'input[roles]': 'web', 'input[address]': '127.0.0.1',
    'input[ssh_port]': String(host.port), 'input[ssh_user]': host.user, 'input[credential]': String(key.id),
    'input[jump_host]': '',
  });
  await api('scan_host_key', { host_id: added.id });
  await api('pin_host_key', { host_id: added.id, fingerprint: host.fingerprint() });
  return added.id;
}
