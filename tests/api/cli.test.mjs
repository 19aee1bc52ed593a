// The command line: help for every command, no side effects from --help, no store created by accident,
// and staff tokens that never carry more rights than were asked for.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, startServer, expectError, run, envFor } from './helpers.mjs';

const cli = (args, input) => spawnSync(BIN, args, { encoding: 'utf8', input, timeout: 30000, env: envFor(args) });

let srv, T, scratch;
before(async () => {
  srv = await startServer({ regions: 'in,sg' });
  T = srv.adminToken;
  scratch = mkdtempSync(join(tmpdir(), 'meridian-cli-'));
});
after(async () => { await srv.stop(); rmSync(scratch, { recursive: true, force: true }); });

test('help lists every command, and each command has its own --help', () => {
  const help = cli(['help']);
  assert.equal(help.status, 0);
  for (const c of ['serve', 'gateway', 'seed', 'migrate', 'admin token', 'admin create', 'admin provider-secret',
    'admin load-users', 'admin flash-reserve', 'version']) {
    assert.match(help.stdout, new RegExp(`^  ${c} `, 'm'), c);
    const one = cli([...c.split(' '), '--help']);
    assert.equal(one.status, 0, `${c} --help: ${one.stderr}`);
    assert.match(one.stdout, new RegExp(`^usage: meridian ${c} `), c);
  }
  assert.equal(cli([]).status, 2);
  assert.equal(cli(['sed']).status, 2, 'an unknown command is a usage error');
  const bad = cli(['seed', '--bogus', join(scratch, 'bogus')]);
  assert.equal(bad.status, 2, 'an unknown option is a usage error');
  assert.match(bad.stderr, /unknown option/);
});

test('--help never acts: seed --help seeds nothing, migrate --help migrates nothing', () => {
  const dir = join(scratch, 'help');
  assert.equal(cli(['seed', '--data', dir, '--help']).status, 0);
  assert.equal(existsSync(dir), false, 'seed --help created the data directory');
  assert.equal(cli(['migrate', '--data', dir, '--help']).status, 0);
  assert.equal(existsSync(dir), false);
});

test('commands other than seed refuse a folder without a store, and create nothing there', () => {
  const dir = join(scratch, 'empty');
  for (const args of [['admin', 'token'], ['migrate'], ['admin', 'provider-secret', 'wallet'],
    ['admin', 'load-users', '--country', 'IN', '--count', '1'], ['serve', '--port', '0']]) {
    const r = cli([...args, '--data', dir]);
    assert.notEqual(r.status, 0, `${args.join(' ')} succeeded on a folder without a store`);
    assert.match(r.stderr, /no Meridian store/, args.join(' '));
    assert.equal(existsSync(dir), false, `${args.join(' ')} created ${dir}`);
  }
  execFileSync('mkdir', [dir]);
  assert.notEqual(cli(['admin', 'token', '--data', dir]).status, 0);
  assert.deepEqual(readdirSync(dir), [], 'an empty folder stays empty');
});

test('an operator token has the operator\'s rights, never an admin\'s', async () => {
  // without --email, --role/--countries would have silently given admin@localhost's admin token
  const noEmail = cli(['admin', 'token', '--data', srv.dataDir, '--role', 'operator', '--countries', 'SG']);
  assert.notEqual(noEmail.status, 0);
  assert.match(noEmail.stderr, /--email/);
  assert.equal(noEmail.stdout, '');

  const op = run(['admin', 'token', '--data', srv.dataDir, '--email', 'Ops-SG@Example.test', '--role', 'operator', '--countries', 'sg']);
  const prices = (country) => srv.api('PUT', '/api/v1/admin/prices', { token: op, body: { prices: [{ sku: 'MER-001-01-1', country, amount: 123400 }] } });
  assert.equal((await prices('SG')).status, 200);
  expectError(await prices('IN'), 403, 'forbidden');
  expectError(await srv.api('PUT', '/api/v1/admin/countries/SG', { token: op, body: {} }), 403, 'forbidden');

  // the same staff member again: the same rights (any order, any case), or a refusal, never other rights
  assert.match(run(['admin', 'token', '--data', srv.dataDir, '--email', 'ops-sg@example.test']), /^mst_/);
  assert.match(run(['admin', 'token', '--data', srv.dataDir, '--email', 'ops-sg@example.test', '--role', 'operator', '--countries', 'SG']), /^mst_/);
  for (const extra of [['--role', 'admin'], ['--countries', 'SG,IN'], ['--countries', 'IN']]) {
    const r = cli(['admin', 'token', '--data', srv.dataDir, '--email', 'ops-sg@example.test', ...extra]);
    assert.notEqual(r.status, 0, extra.join(' '));
    assert.match(r.stderr, /admin create/);
  }
});

test('admin create on a known staff member keeps the rights it does not name: a password reset never promotes', async () => {
  const pw = 'a long enough password\n';
  const create = (...args) => cli(['admin', 'create', '--data', srv.dataDir, '--email', 'Reset-Op@Example.test', ...args], pw);
  assert.equal(create('--role', 'operator', '--countries', 'SG').status, 0);
  // a new password only (no --role, no --countries): still an operator of SG, not an admin
  const again = create();
  assert.equal(again.status, 0, again.stderr);
  const login = await srv.api('POST', '/api/v1/staff/sessions', { body: { email: 'reset-op@example.test', password: 'a long enough password' } });
  assert.equal(login.status, 201, login.text);
  const prices = (country) => srv.api('PUT', '/api/v1/admin/prices', { token: login.json.token, body: { prices: [{ sku: 'MER-001-01-1', country, amount: 123400 }] } });
  assert.equal((await prices('SG')).status, 200);
  expectError(await prices('IN'), 403, 'forbidden');
  // rights change only when named
  assert.equal(create('--role', 'operator', '--countries', 'SG,IN').status, 0);
  assert.equal((await prices('IN')).status, 200, 'the countries named were given');
  // a new staff member without --role is an admin, as before
  assert.equal(cli(['admin', 'create', '--data', srv.dataDir, '--email', 'new-admin@example.test'], pw).status, 0);
  const a = await srv.api('POST', '/api/v1/staff/sessions', { body: { email: 'new-admin@example.test', password: 'a long enough password' } });
  assert.notEqual((await srv.api('PUT', '/api/v1/admin/countries/SG', { token: a.json.token, body: {} })).status, 403);
});

test('contradictory or unknown staff rights are refused', () => {
  const cases = [
    [['--role', 'operator'], /at least one country/],
    [['--role', 'operator', '--countries', ','], /unknown country/],
    [['--role', 'operator', '--countries', 'IN,XX'], /unknown country/],
    [['--role', 'operator', '--countries', 'INDIA'], /unknown country/],
    [['--role', 'admin', '--countries', 'IN'], /every country/],
    [['--role', 'root'], /admin or operator/],
  ];
  let n = 0;
  for (const [args, why] of cases) {
    const r = cli(['admin', 'token', '--data', srv.dataDir, '--email', `bad${++n}@example.test`, ...args]);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, why, args.join(' '));
    const c = cli(['admin', 'create', '--data', srv.dataDir, '--email', `badc${n}@example.test`, ...args], 'a long enough password\n');
    assert.notEqual(c.status, 0, `create ${args.join(' ')}`);
    assert.match(c.stderr, why, `create ${args.join(' ')}`);
  }
});
