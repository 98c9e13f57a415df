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
    user,
    port,
    fingerprint: () => execFileSync('ssh-keygen', ['-lf', `${dir}/host_key.pub`]).toString().split(/\s+/)[1],
    stop() {
      sshd.kill();
      try { execFileSync('userdel', ['-r', user], { stdio: 'ignore' }); } catch { /* gone */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
