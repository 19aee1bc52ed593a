// Test helpers: start the real meridian binary on a free port with a temporary data directory.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import net from 'node:net';
import { deflateSync, crc32 } from 'node:zlib';

export const BIN = resolve(process.env.MERIDIAN_BIN || 'build/meridian');
// h2o keeps per-thread buffers until exit; the sanitizer build is told so (as scripts/run-tests.sh does)
process.env.LSAN_OPTIONS ||= `suppressions=${resolve('tests/lsan.supp')}:print_suppressions=0`;

export function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.unref();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// PostgreSQL mode (tests/pg/api.sh): with MERIDIAN_TEST_PG_URL set, every fresh data directory gets its own
// databases in that cluster (the catalogue and each region), named in the environment of every process
// started on that directory (MERIDIAN_CATALOG_DB / MERIDIAN_REGION_DB); without it nothing changes.
const PG_URL = process.env.MERIDIAN_TEST_PG_URL;
// true when the stores are PostgreSQL databases: a test of something only SQLite has (its files, its
// write-ahead log) is skipped with { skip: PG && 'reason' }
export const PG = Boolean(PG_URL);
const pgEnv = new Map(); // data directory -> environment
const pgUrls = new Map(); // data directory -> { catalog: URL, <region>: URL }
let pgSeq = 0;
function pgDatabases(dataDir, cluster = PG_URL) {
  if (!cluster && !pgEnv.has(dataDir)) return {};
  if (!pgEnv.has(dataDir)) {
    const base = cluster.replace(/\/[^/]*$/, '');
    const prefix = `t${process.pid}_${++pgSeq}`;
    const names = ['cat', 'sg', 'in', 'ru', 'eu'];
    for (const n of names) execFileSync('psql', ['-q', cluster, '-c', `CREATE DATABASE ${prefix}_${n}`]);
    pgUrls.set(dataDir, Object.fromEntries(names.map((n) => [n === 'cat' ? 'catalog' : n, `${base}/${prefix}_${n}`])));
    pgEnv.set(dataDir, {
      MERIDIAN_CATALOG_DB: `${base}/${prefix}_cat`,
      MERIDIAN_REGION_DB: names.slice(1).map((n) => `${n}=${base}/${prefix}_${n}`).join(','),
    });
  }
  return pgEnv.get(dataDir);
}
// A data directory whose stores are fresh databases in another cluster (cluster: a URL of its "meridian"
// database), for tests that stop and start their own PostgreSQL; returns the directory.
export function pgDataDir(cluster) {
  const dataDir = mkdtempSync(join(tmpdir(), 'meridian-test-'));
  pgDatabases(dataDir, cluster);
  return dataDir;
}

// Several nodes on one PostgreSQL and one Redis, both started by the test (tests/pg/pg.sh, tests/redis/redis.sh):
// why such a test cannot run here, for { skip } (false when it can). The PostgreSQL phase of make test
// (tests/pg/api.sh) would hand the nodes its own databases: these tests run once, in the default phase.
export function sharedStackMissing() {
  if (PG_URL) return 'runs in the default phase of the API tests (it starts its own PostgreSQL)';
  try { execFileSync('sh', ['-c', 'command -v redis-server']); } catch { return 'redis-server is not installed (scripts/install-deps.sh test)'; }
  if (!existsSync('/usr/lib/postgresql') || readdirSync('/usr/lib/postgresql').length === 0) return 'postgresql is not installed (scripts/install-deps.sh test)';
  return false;
}
// Starts both; every store of this process's nodes goes to a database `${prefix}_<store>` of that cluster
// (MERIDIAN_CATALOG_DB / MERIDIAN_REGION_DB). Returns { redis, redisDir, urls: {catalog, in, ...}, stop() }.
export function startSharedStack(prefix) {
  const [pg, pgDir] = execFileSync('tests/pg/pg.sh', ['start'], { encoding: 'utf8' }).trim().split(' ');
  const [redis, redisDir] = execFileSync('tests/redis/redis.sh', ['start'], { encoding: 'utf8' }).trim().split(' ');
  const base = pg.replace(/\/[^/]*$/, '');
  const names = ['cat', 'sg', 'in', 'ru', 'eu'];
  for (const n of names) execFileSync('psql', ['-q', pg, '-c', `CREATE DATABASE ${prefix}_${n}`]);
  process.env.MERIDIAN_CATALOG_DB = `${base}/${prefix}_cat`;
  process.env.MERIDIAN_REGION_DB = names.slice(1).map((n) => `${n}=${base}/${prefix}_${n}`).join(',');
  return {
    redis, redisDir,
    urls: Object.fromEntries(names.map((n) => [n === 'cat' ? 'catalog' : n, `${base}/${prefix}_${n}`])),
    stop() {
      execFileSync('tests/redis/redis.sh', ['stop', redisDir]);
      execFileSync('tests/pg/pg.sh', ['stop', pgDir]);
    },
  };
}

// The environment for a meridian command line: on a --data directory in PostgreSQL mode, its databases.
export function envFor(args) {
  const i = args.indexOf('--data');
  return i >= 0 && (PG_URL || pgEnv.has(args[i + 1])) ? { ...process.env, ...pgDatabases(args[i + 1]) } : process.env;
}

// Runs a query on a store database of a data directory (db: 'catalog' or a region's name) beside the running
// server, whatever the backend, and returns its rows as objects.
export function sqlRows(dataDir, db, query) {
  if (PG || pgUrls.has(dataDir)) {
    pgDatabases(dataDir);
    const out = execFileSync('psql', ['-qAtX', pgUrls.get(dataDir)[db], '-c',
      `SELECT COALESCE(json_agg(q), '[]') FROM (${query}) q`], { encoding: 'utf8' });
    return JSON.parse(out);
  }
  const file = join(dataDir, db === 'catalog' ? 'catalog.db' : `region-${db}.db`);
  const out = execFileSync('sqlite3', ['-readonly', '-json', file, query], { encoding: 'utf8' });
  return out.trim() ? JSON.parse(out) : [];
}

// The URL of a store database in PostgreSQL mode (db as for sqlRows); undefined otherwise.
export function pgUrl(dataDir, db) {
  if (!PG) return undefined;
  pgDatabases(dataDir);
  return pgUrls.get(dataDir)[db];
}

export function run(args, opts = {}) {
  return execFileSync(BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: envFor(args), ...opts }).trim();
}

// Starts a node. opts: { regions, seed (default true, also on a given dataDir that has none yet: pgDataDir), args,
// dataDir, env, nofile (RLIMIT_NOFILE soft and hard), port (default: a free one) }
// A client of an HTTP base URL: api(method, path, {body, token, headers, raw}) -> {status, headers, json, text}.
export function client(base) {
  const c = {
    base,
    async api(method, path, { body, token, headers = {}, raw } = {}) {
      const h = { ...headers };
      if (token) h.authorization = `Bearer ${token}`;
      let payload;
      if (raw !== undefined) payload = raw;
      else if (body !== undefined) { payload = JSON.stringify(body); h['content-type'] = 'application/json'; }
      const r = await fetch(base + path, { method, headers: h, body: payload });
      const text = await r.text();
      let json = null;
      try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
      return { status: r.status, headers: r.headers, json, text };
    },
    get(path, o) { return c.api('GET', path, o); },
  };
  return c;
}

export async function startServer(opts = {}) {
  const dataDir = opts.dataDir || mkdtempSync(join(tmpdir(), 'meridian-test-'));
  if (opts.seed === true || (opts.seed !== false && !opts.dataDir)) run(['seed', '--data', dataDir, ...(opts.regions ? ['--regions', opts.regions] : [])]);
  const adminToken = opts.noToken ? null : run(['admin', 'token', '--data', dataDir]);
  const port = opts.port || await freePort();
  const args = ['serve', '--data', dataDir, '--port', String(port), '--threads', '2', ...(opts.args || [])];
  if (opts.regions) args.push('--regions', opts.regions);
  // with nofile, a shell lowers the limit and execs the server (same pid)
  const [cmd, argv] = opts.nofile ? ['sh', ['-c', `ulimit -n ${opts.nofile} && exec "$0" "$@"`, BIN, ...args]] : [BIN, args];
  const { child, exited, base, log } = await spawnReady('server', cmd, argv, { ...envFor(args), ...(opts.env || {}) }, port, '/healthz');
  const srv = {
    ...client(base), port, dataDir, adminToken, child, exited, log,
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null) child.kill('SIGTERM');
      const r = await exited;
      if (process.env.MERIDIAN_TEST_LOG_DIR) { // keep each server's log (tests/pg/api.sh sets it)
        mkdirSync(process.env.MERIDIAN_TEST_LOG_DIR, { recursive: true });
        writeFileSync(join(process.env.MERIDIAN_TEST_LOG_DIR, `${process.pid}-${port}.log`), log());
      }
      if (!keepData && !opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return r;
    },
  };
  return srv;
}

// Spawns a process that serves HTTP on port and waits (20 s at most) until readyPath answers 2xx; its stdout and
// stderr are kept for log(). A process that exits or never gets ready is an error carrying its log (what: the
// error's words), and one that never got ready is killed.
async function spawnReady(what, cmd, argv, env, port, readyPath) {
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20000;
  for (;;) {
    try { if ((await fetch(`${base}${readyPath}`)).ok) break; } catch { /* not up yet */ }
    if (child.exitCode !== null) throw new Error(`${what} exited early:\n${out}`);
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`${what} did not start:\n${out}`); }
    await wait(50);
  }
  return { child, exited, base, log: () => out };
}

// Starts `meridian gateway` on a free port with args (--region ... and the rest) and waits until it is ready
// (it has the country list). Returns a client of it with log() (its stdout and stderr) and stop().
export async function startGateway(args, env = {}) {
  const port = await freePort();
  const { child, exited, base, log } = await spawnReady('gateway', BIN, ['gateway', '--port', String(port), '--threads', '2', ...args],
    { ...process.env, ...env }, port, '/readyz');
  return Object.assign(client(base), {
    port, child, log,
    async stop() { if (child.exitCode === null) child.kill('SIGTERM'); return exited; },
  });
}

export function expectError(res, status, code, field) {
  if (res.status !== status || !res.json || !res.json.error || res.json.error.code !== code ||
      (field !== undefined && res.json.error.field !== field)) {
    throw new Error(`expected ${status} ${code}${field ? ' field=' + field : ''}, got ${res.status} ${res.text}`);
  }
  if (typeof res.json.error.message !== 'string' || res.json.error.message.length === 0)
    throw new Error(`error without message: ${res.text}`);
}

// A customer in a country: registered, logged in, with a default address. Returns { token, user, address }.
export const ADDRESSES = {
  IN: { name: 'Asha Rao', line1: '12 MG Road', city: 'Mumbai', state: 'MH', postal_code: '400001', phone: '+919812345678' },
  ES: { name: 'Lucía García', line1: 'Calle Mayor 5', city: 'Madrid', postal_code: '28013', phone: '+34612345678' },
  VN: { name: 'Nguyễn An', line1: '12 Lê Lợi', city: 'Hồ Chí Minh', state: 'HCM', postal_code: '700000', phone: '+84912345678' },
};

let userSeq = 0;
export async function customer(srv, country, { address = ADDRESSES[country], email } = {}) {
  const mail = email || `u${process.pid}-${Date.now()}-${++userSeq}@example.test`;
  const reg = await srv.api('POST', '/api/v1/users', { body: { email: mail, password: 'correct horse battery', country, name: 'Test' } });
  if (reg.status !== 201) throw new Error(`register: ${reg.status} ${reg.text}`);
  const login = await srv.api('POST', '/api/v1/sessions', { body: { email: mail, password: 'correct horse battery', country } });
  if (login.status !== 201) throw new Error(`login: ${login.status} ${login.text}`);
  const token = login.json.token;
  let addr = null;
  if (address) {
    const a = await srv.api('POST', '/api/v1/users/me/addresses', { token, body: address });
    if (a.status !== 201) throw new Error(`address: ${a.status} ${a.text}`);
    addr = a.json;
  }
  return { token, user: login.json.user, address: addr, email: mail };
}

// Fresh accessory SKUs sold in IN, one per call, each with `units` in Mumbai and none in Bengaluru (so an order
// of it ships from one warehouse): a function that returns the next one's SKU object.
export function skuSupply(srv, units) {
  let next = 0;
  return async () => {
    const list = await srv.get('/api/v1/products?country=IN&category=accessories&per_page=50');
    const p = await srv.get(`/api/v1/products/${list.json.items[next++].id}?country=IN`);
    const sku = p.json.skus[0];
    for (const [wh, n] of [['WH-IN-MUM', units], ['WH-IN-BLR', 0]]) {
      const r = await srv.api('PUT', '/api/v1/admin/stock', { token: srv.adminToken, body: { sku: sku.code, warehouse: wh, country: 'IN', on_hand: n, reason: 'test setup' } });
      if (r.status !== 200) throw new Error(`stock: ${r.status} ${r.text}`);
    }
    return sku;
  };
}

export const wait = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn every 100 ms until it returns something truthy (returned), or throws after `tries` polls.
export async function until(fn, what, tries = 100) {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await wait(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

// A scripted translator for the translation workflow's XLIFF 2.0 exports: fills every unit's target (or only
// those for which only(id, source) is true) with a marked copy of its source.
export const xmlUnescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#13;/g, '\r').replace(/&amp;/g, '&');
export function translateXliff(xml, mark, only) {
  return xml.replace(/<unit id="([^"]+)">([\s\S]*?)<source>([\s\S]*?)<\/source>\n/g, (m, id, mid, src) =>
    (only && !only(id, xmlUnescape(src)) ? m : `<unit id="${id}">${mid}<source>${src}</source>\n    <target>${mark} ${src}</target>\n`));
}

// A PNG of w x h RGB pixels (a gradient, so the encoder has something to do). ihdr overrides the size the
// header claims (a decompression bomb claims more than it holds); cut drops bytes from the end.
export function png(w, h, { ihdr = [w, h], cut = 0 } = {}) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const hdr = Buffer.alloc(13);
  hdr.writeUInt32BE(ihdr[0], 0); hdr.writeUInt32BE(ihdr[1], 4);
  hdr[8] = 8; hdr[9] = 2; // 8 bits, RGB
  const rows = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = y * (w * 3 + 1) + 1 + x * 3;
      rows[o] = (x * 255 / w) | 0; rows[o + 1] = (y * 255 / h) | 0; rows[o + 2] = 128;
    }
  }
  const out = Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', hdr),
    chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
  return cut ? out.subarray(0, out.length - cut) : out;
}

// Local wall-clock time in a zone, "YYYY-MM-DDTHH:MM:SS", offset by ms from now (flash sales, coupons).
export function localTime(tz, offsetMs) {
  const d = new Date(Date.now() + offsetMs);
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
    .formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}`;
}
