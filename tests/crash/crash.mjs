// crash.mjs — kill -9 storms: every acknowledged write survives a crash of the server.
//
// Each round, on one data directory that lives on across rounds (so the state accumulates):
//   1. start build/kvs on a free loopback port (the first round creates two stores);
//   2. from the second round on, verify everything the previous rounds left (below);
//   3. run a storm: CLIENTS concurrent clients, each on its own keep-alive connection, PUT and
//      DELETE records of both stores (random keys of a bounded key space plus a few hot keys,
//      so overwrites and same-key races inside one group-commit batch happen; sizes 0..64 KiB
//      with occasional values up to 1 MiB and a few up to 3 MiB (above the inline size: blob
//      files, streamed in); random Content-Type, some uploads gzip-, deflate-
//      or br-encoded with Content-Encoding), logging when each request was sent and when its
//      answer came;
//   4. SIGKILL the server after a random 0.2–2 s, while requests are in flight.
// After the last round the server is started once more, verified, stopped with SIGTERM (exit
// status 0 required), started again and verified again.
//
// What "verified" means. For every key of the key space of both stores, the record read back
// (GET with Accept-Encoding: gzip, deflate, br, so the stored bytes come back as stored) must be
// one of the legal outcomes of that key's history:
//   - an operation X (PUT → its exact bytes, Content-Type and Content-Encoding; DELETE → 404)
//     is a legal final state unless some acknowledged operation Y on the key was sent after X's
//     acknowledgement arrived (Y then took effect after X). An operation never acknowledged
//     (in flight at the kill) may or may not have taken effect, so it is legal and supersedes
//     nothing;
//   - the state before the round is legal only when no operation on the key was acknowledged.
// So an acknowledged write that is missing, an acknowledged delete that came back, bytes of no
// operation at all (torn or mixed values), or a wrong Content-Type/Content-Encoding is a
// violation. Then the listing (GET /keys, paged) must hold exactly the keys that GET finds, with
// the same sizes; the store's storageBytes must equal the sum over listed keys of key length +
// size (storage.h); writeCount and deleteCount must lie between their previous values plus what
// was acknowledged and plus what was sent. The observed state then becomes the known state the
// next round starts from.
//
// Note on scope: SIGKILL kills the process, not the machine: the kernel's page cache survives.
// This shows that nothing is acknowledged before its transaction has committed and that a crash
// at any moment leaves a consistent database; it cannot show that the sync reached the medium.
//
// Use as a module (tests/crash/crash.test.mjs runs a short mode in `make test`) or as a program:
//   node tests/crash/crash.mjs [--rounds N] [--clients N] [--keys N] [--seed S] [--keep]
// (`make crashtest` runs the long mode). Exit status 0 when no violation was found.

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

import { dataOf, freePort, randomToken, recordPath, startServer, storePath, uniqueName } from '../lib/server.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const KiB = 1024;
const MiB = 1024 * KiB;
const INLINE_MAX = MiB; // larger records are blob files of the LMDB back-end (lmdb_internal.h)

/** Content types sent (null = no Content-Type header: the server stores application/octet-stream). */
const CONTENT_TYPES = [
    'application/octet-stream',
    'application/json; charset=utf-8',
    'text/plain',
    'text/html; charset=ISO-8859-1',
    'image/png',
    'application/x-kvs-crash; v="1 2"; q=x',
    null,
];
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const ACCEPT_ALL = 'gzip, deflate, br';

// ---- a small seeded PRNG, so a failing run can be repeated with --seed ------------------------

function prng(seed) {
    let s = seed >>> 0 || 1;
    return () => {
        // xorshift32
        s ^= s << 13;
        s >>>= 0;
        s ^= s >>> 17;
        s ^= s << 5;
        s >>>= 0;
        return s / 4294967296;
    };
}

const sha = (b) => createHash('sha256').update(b).digest('hex');

// ---- the key space -----------------------------------------------------------------------------

const KEY_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!-_.'()";

/** N keys: mostly short, some with every allowed punctuation, some long (up to 256). */
function makeKeys(n, rnd) {
    const keys = new Set();
    for (let i = 0; keys.size < n; i++) {
        let k;
        if (i % 10 === 0) {
            const len = 200 + Math.floor(rnd() * 57); // 200..256
            k = `long${i}-`;
            while (k.length < len) k += KEY_CHARS[Math.floor(rnd() * KEY_CHARS.length)];
        } else if (i % 10 === 1) {
            k = `p!${i}-(x)_'y'.z`;
        } else {
            k = `k${i}`;
        }
        keys.add(k);
    }
    return [...keys];
}

/** The path segment of KEY: every allowed character is safe in a path except none; encode anyway. */
const encKey = (key) => encodeURIComponent(key);

// ---- HTTP over one keep-alive connection per client -----------------------------------------------

/** One request over AGENT. Resolves { status, headers, body } or rejects on a network error. */
function send(agent, port, { method, path: p, headers = {}, body = null, timeoutMs = 60_000 }) {
    return new Promise((resolve, reject) => {
        const h = { ...headers };
        if (body) h['Content-Length'] = String(body.length);
        const req = http.request({ host: '127.0.0.1', port, method, path: p, headers: h, agent: agent ?? false });
        const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        req.on('response', (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                clearTimeout(timer);
                resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) });
            });
            res.on('error', (e) => {
                clearTimeout(timer);
                reject(e);
            });
        });
        req.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        req.end(body ?? undefined);
    });
}

// ---- record values ------------------------------------------------------------------------------

/** The size of a value's plain bytes: mostly small, often up to 64 KiB, sometimes up to 1 MiB,
 * now and then up to 3 MiB (larger than the inline size: a blob file, storage.h). */
function pickSize(rnd) {
    const r = rnd();
    if (r < 0.03) return 0;
    if (r < 0.6) return Math.floor(rnd() * 4 * KiB);
    if (r < 0.96) return 4 * KiB + Math.floor(rnd() * 60 * KiB);
    if (r < 0.985) return 64 * KiB + Math.floor(rnd() * (MiB - 64 * KiB + 1));
    return MiB + Math.floor(rnd() * 2 * MiB);
}

/** The Content-Encoding of an upload: null = no header. */
function pickEncoding(rnd) {
    const r = rnd();
    if (r < 0.7) return null;
    if (r < 0.75) return 'identity';
    if (r < 0.85) return 'gzip';
    if (r < 0.93) return 'deflate';
    return 'br';
}

/** Filler: random bytes (incompressible), and base64 text of random bytes (compressible). */
const POOL_RANDOM = randomBytes(4 * MiB);
const POOL_TEXT = Buffer.from(randomBytes(3 * MiB).toString('base64'));

/**
 * The body of PUT number OP of KEY in store SI: plain bytes that name the operation (so a
 * wrong value can be traced to the operation it came from), then filler: random bytes, or
 * base64 text (compressible) for encoded uploads. Returns { body, desc } where desc is what
 * must come back: sha and size of the bytes as uploaded, content type and stored encoding.
 */
function makePut(op, si, key, rnd) {
    const size = pickSize(rnd);
    const encoding = pickEncoding(rnd);
    const ct = CONTENT_TYPES[Math.floor(rnd() * CONTENT_TYPES.length)];
    const head = Buffer.from(`kvs-crash op=${op} store=${si} key=${key}\n`);
    let plain;
    if (size <= head.length) {
        plain = head.subarray(0, size);
    } else {
        // The head makes the value unique; the filler is a slice of a random pool at a random
        // offset (cheap, so the clients keep the server busy).
        const pool = encoding === null || encoding === 'identity' ? POOL_RANDOM : POOL_TEXT;
        const n = size - head.length;
        const at = Math.floor(rnd() * (pool.length - n));
        plain = Buffer.concat([head, pool.subarray(at, at + n)]);
    }
    let body = plain;
    if (encoding === 'gzip') body = zlib.gzipSync(plain, { level: 1 });
    else if (encoding === 'deflate') body = zlib.deflateSync(plain, { level: 1 });
    else if (encoding === 'br') body = zlib.brotliCompressSync(plain, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
    const headers = {};
    if (ct !== null) headers['Content-Type'] = ct;
    if (encoding !== null) headers['Content-Encoding'] = encoding;
    const stored = encoding === null || encoding === 'identity' ? null : encoding;
    return { body, headers, desc: { sha: sha(body), size: body.length, ct: ct ?? DEFAULT_CONTENT_TYPE, enc: stored } };
}

/** What a record read back tells about its origin, for messages: its first line, decoded. */
function originOf(body, enc) {
    try {
        let plain = body;
        if (enc === 'gzip') plain = zlib.gunzipSync(body);
        else if (enc === 'deflate') plain = zlib.inflateSync(body);
        else if (enc === 'br') plain = zlib.brotliDecompressSync(body);
        const line = plain.subarray(0, 400).toString('latin1').split('\n')[0];
        return line.startsWith('kvs-crash ') ? `"${line}"` : 'no operation header';
    } catch (e) {
        return `does not decode as ${enc} (${e.message})`;
    }
}

const describeState = (s) =>
    s.kind === 'absent' ? 'absent' : `PUT op ${s.op}: ${s.size} bytes sha ${s.sha.slice(0, 12)} ct "${s.ct}" enc ${s.enc ?? 'none'}`;

// ---- power cuts (tests/crash/powercut.c's journal) ---------------------------------------------

/**
 * The files of DIR (but LMDB's lock file, which holds no data): name → Buffer. Directories are
 * left out: blobs/ holds the files of large records, each written once and never changed, so
 * the one a power cut rebuilds from the journal is only that of its own run (powercut.c
 * journals them too: their bytes must be flushed before the commit that references them).
 */
async function readFiles(dir) {
    const files = new Map();
    let entries = [];
    try {
        entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (e) {
        if (e.code !== 'ENOENT') throw e;
    }
    for (const e of entries)
        if (e.isFile() && e.name !== 'lock.mdb') files.set(e.name, await fs.readFile(path.join(dir, e.name)));
    return files;
}

/**
 * The entries of a powercut.c journal. The server is killed at any moment, also while it
 * appends an entry (a write's bytes take several appends): an entry cut short at the end is
 * left out, as is the write it describes, which powercut.c makes only once it is journaled.
 */
function parseJournal(buf) {
    const entries = [];
    let at = 0;
    const has = (n) => at + n <= buf.length;
    while (has(5)) {
        const type = String.fromCharCode(buf[at]);
        const file = buf.readUInt32LE(at + 1);
        at += 5;
        if (type === 'N') {
            if (!has(4) || !has(4 + buf.readUInt32LE(at))) break;
            const n = buf.readUInt32LE(at);
            entries.push({ type, file, path: buf.subarray(at + 4, at + 4 + n).toString() });
            at += 4 + n;
        } else if (type === 'W') {
            if (!has(16) || !has(16 + Number(buf.readBigUInt64LE(at + 8)))) break;
            const off = Number(buf.readBigUInt64LE(at));
            const n = Number(buf.readBigUInt64LE(at + 8));
            entries.push({ type, file, off, data: buf.subarray(at + 16, at + 16 + n) });
            at += 16 + n;
        } else if (type === 'S' || type === 'T') {
            if (!has(8)) break;
            const v = Number(buf.readBigUInt64LE(at));
            entries.push(type === 'S' ? { type, file, from: v } : { type, file, size: v });
            at += 8;
        } else {
            throw new Error(`power cut: bad journal entry ${type} at ${at - 5}`);
        }
    }
    return entries;
}

/**
 * Replace the files of DIR by what a power cut may leave of them: BASE (the files when the
 * server started), then the journaled events in order: a write that came before the start of
 * its file's last completed flush in full, a later write block by block (4 KiB, at 4 KiB
 * boundaries of the file), each block kept with chance CHANCE. Returns counts of blocks.
 */
async function cutPower(dir, base, journalPath, chance, rnd) {
    const entries = parseJournal(await fs.readFile(journalPath));
    const names = new Map(); // file number → name in DIR
    const durable = new Map(); // file number → entries before this one are on the disk
    entries.forEach((e) => {
        if (e.type === 'N') names.set(e.file, path.relative(dir, e.path)); // data.mdb, blobs/HH/ID
        if (e.type === 'S') durable.set(e.file, Math.max(durable.get(e.file) ?? 0, e.from));
    });
    // name → { buf, len }: LEN bytes of the file in BUF, which grows by doubling
    const files = new Map([...base].map(([n, b]) => [n, { buf: Buffer.from(b), len: b.length }]));
    const grow = (name, size) => {
        const f = files.get(name) ?? { buf: Buffer.alloc(0), len: 0 };
        files.set(name, f);
        if (f.buf.length < size) {
            const g = Buffer.alloc(Math.max(size, 2 * f.buf.length));
            f.buf.copy(g, 0, 0, f.len);
            f.buf = g;
        }
        if (f.len < size) f.len = size;
        return f.buf;
    };
    const stats = { synced: 0, unsynced: 0, kept: 0, dropped: 0 };
    const BLOCK = 4096;
    entries.forEach((e, i) => {
        const name = names.get(e.file);
        if (e.type === 'T') {
            const b = grow(name, e.size);
            const f = files.get(name);
            b.fill(0, e.size, f.len); /* cut off: what follows reads as zeros if it grows again */
            f.len = e.size;
        } else if (e.type === 'W') {
            const flushed = i < (durable.get(e.file) ?? 0);
            const b = grow(name, e.off + e.data.length);
            for (let p = e.off; p < e.off + e.data.length; ) {
                const end = Math.min(e.off + e.data.length, (Math.floor(p / BLOCK) + 1) * BLOCK);
                let keep = true;
                if (flushed) stats.synced++;
                else {
                    stats.unsynced++;
                    keep = chance >= 1 || (chance > 0 && rnd() < chance);
                    if (keep) stats.kept++;
                    else stats.dropped++;
                }
                if (keep) e.data.copy(b, p, p - e.off, end - e.off);
                p = end;
            }
        }
    });
    for (const [name, f] of files) {
        await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
        await fs.writeFile(path.join(dir, name), f.buf.subarray(0, f.len));
    }
    return stats;
}

// ---- the run --------------------------------------------------------------------------------------

/**
 * Runs the crash rounds. Options (all optional):
 *   rounds    number of kill -9 rounds (default 3)
 *   clients   concurrent clients in a storm (default 16)
 *   keys      keys per store in the key space (default 1000; 6 of them are hot keys)
 *   killMin, killMax  the storm lasts a random time in [killMin, killMax] ms (200, 2000)
 *   seed      PRNG seed of keys, operations and timing (default random; printed)
 *   dir       the parent of the data directory (default build/crash-tmp in the repository)
 *   keep      keep the data directory afterwards (it is always kept after a violation)
 *   log       a function for progress lines (default console.log)
 *   tamper    async ({ port, token, stores, ops, send }) called after each restart, before the
 *             verification of a storm's log OPS: lets a test damage records to see the checker
 *             catch it
 *   storage   serve from this --storage SPEC instead of the data directory (a postgres://
 *             URI: the same checker, pointed at PostgreSQL)
 *   crash     async (server): what ends a storm instead of SIGKILL of the server (e.g. crash
 *             PostgreSQL), while the clients are still sending; answers of 503 after the crash
 *             began are unacknowledged operations, not violations
 *   recover   async (server) => server|null, once the storm's clients have stopped (e.g. start
 *             PostgreSQL again): the server to go on with, or null when it is gone and the next
 *             round starts one (the default)
 *   powerLoss { shim }: a power cut instead of a kill -9. The server runs with the LD_PRELOAD
 *             library SHIM (tests/crash/powercut.c), which journals its writes and flushes; at
 *             the end of the storm it is killed and the data directory replaced by what a power
 *             cut may have left: the files as they were when the server started, every write
 *             made before its file's last completed flush began, and of each later write each
 *             4 KiB block with chance 1/2 (all, or none, in some rounds)
 * Resolves with the summary { rounds, seed, acked..., violations: [strings] }; never rejects for
 * a violation (the caller decides), only for an error of the harness itself.
 */
export async function runCrash(options = {}) {
    const rounds = options.rounds ?? 3;
    const nClients = options.clients ?? 16;
    const nKeys = options.keys ?? 1000;
    const killMin = options.killMin ?? 200;
    const killMax = options.killMax ?? 2000;
    const seed = options.seed ?? randomBytes(4).readUInt32LE(0);
    const log = options.log ?? ((s) => console.log(s));
    const rnd = prng(seed);

    const parent = options.dir ?? path.join(REPO, 'build', 'crash-tmp');
    await fs.mkdir(parent, { recursive: true });
    const work = await fs.mkdtemp(path.join(parent, 'run-'));
    const dataDir = path.join(work, 'data');
    const token = randomToken();

    const S = {
        seed,
        dataDir,
        rounds: 0,
        opsSent: 0,
        putsAcked: 0,
        deletesAcked: 0,
        ackedPutsReadBack: 0, // acknowledged PUTs whose value was read back as the key's final state
        ackedPutsOverwritten: 0, // acknowledged PUTs followed on their key by a later acknowledged op
        ackedDeletesChecked: 0,
        inFlight: 0, // operations sent but not acknowledged when the server died
        inFlightTookEffect: 0, // ... of which the read-back state is the in-flight operation's
        inFlightLost: 0, // ... of which the read-back state is the earlier one
        keyChecks: 0, // GETs compared with the legal states
        recordsCarried: 0, // records present after the last round
        power: Boolean(options.powerLoss),
        blocksLost: 0, // power cuts: blocks written but not flushed that the image left out
        violations: [],
    };
    const violation = (msg) => {
        if (S.violations.length < 200) S.violations.push(msg);
        log(`VIOLATION: ${msg}`);
    };

    // Known state per store: key → { kind: 'absent' } | { kind: 'put', op, sha, size, ct, enc }.
    const keys = makeKeys(nKeys, rnd);
    const hot = keys.slice(2, 8); // a few keys hit by many clients at once
    const stores = [];
    let prevStats = null; // per store: { writeCount, deleteCount } at the last verification
    let opSeq = 0; // operation numbers, unique across the run
    let clock = 0; // event order: each send and each answer takes the next tick
    let server = null;

    // Power cuts (options.powerLoss): the files when the server started, and its journal.
    const power = options.powerLoss ?? null;
    let base = null;
    let journal = null;
    let cuts = 0;
    const start = async () => {
        let env = {};
        if (power) {
            base = await readFiles(dataDir);
            journal = path.join(work, `journal-${cuts}`);
            await fs.rm(journal, { force: true });
            env = { LD_PRELOAD: power.shim, KVS_POWERCUT_DIR: dataDir, KVS_POWERCUT_JOURNAL: journal };
            // A SANITIZE=1 build wants its runtime first among the libraries; the journal's
            // library only wraps libc's calls, so the order does not matter here.
            env.ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'verify_asan_link_order=0'].filter(Boolean).join(':');
        }
        return startServer({ token, dataDir, keepData: true, port: await freePort(), storage: options.storage, env });
    };
    const crash =
        options.crash ??
        (async (srv) => {
            srv.proc.kill('SIGKILL');
            await srv.exited;
        });
    const recover =
        options.recover ??
        (async () => {
            if (power) {
                const t = Date.now();
                const chance = [0.5, 0, 1][cuts % 3];
                const stats = await cutPower(dataDir, base, journal, chance, rnd);
                log(
                    `power cut ${++cuts}: ${stats.synced} blocks written before a flush kept; of ${stats.unsynced} written ` +
                        `after, ${stats.kept} kept and ${stats.dropped} lost (chance ${chance}; ${Date.now() - t} ms)`,
                );
                S.blocksLost += stats.dropped;
                await fs.rm(journal, { force: true });
            }
            return null;
        });

    /** Compare everything with the legal states; OPS is the last storm's log (empty: none). */
    const verify = async (srv, ops, label) => {
        // The legal final states of each key, from its history in OPS.
        const byKey = new Map();
        for (const o of ops) {
            const id = `${o.si}\n${o.key}`;
            if (!byKey.has(id)) byKey.set(id, []);
            byKey.get(id).push(o);
        }
        const agents = Array.from({ length: 8 }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
        const jobs = [];
        for (let si = 0; si < stores.length; si++) for (const key of keys) jobs.push({ si, key });
        let next = 0;
        const worker = async (agent) => {
            while (next < jobs.length) {
                const { si, key } = jobs[next++];
                const st = stores[si];
                const res = await send(agent, srv.port, {
                    method: 'GET',
                    path: recordPath(st.id, encKey(key)),
                    headers: { Authorization: `Bearer ${token}`, 'Accept-Encoding': ACCEPT_ALL },
                });
                S.keyChecks++;
                let seen;
                if (res.status === 404) seen = { kind: 'absent' };
                else if (res.status === 200) {
                    seen = {
                        kind: 'put',
                        sha: sha(res.body),
                        size: res.body.length,
                        ct: res.headers['content-type'],
                        enc: res.headers['content-encoding'] ?? null,
                        body: res.body,
                    };
                } else {
                    violation(`${label}: GET store ${si} key ${key}: status ${res.status}: ${res.body.toString().slice(0, 300)}`);
                    continue;
                }
                st.seen.set(key, seen);

                const hist = byKey.get(`${si}\n${key}`) ?? [];
                const acked = hist.filter((o) => o.ack !== null);
                // Legal: the state before the round when nothing on the key was acknowledged;
                // an operation X unless an acknowledged Y was sent after X's acknowledgement.
                const legal = [];
                if (acked.length === 0) legal.push({ state: st.known.get(key), op: null });
                for (const x of hist) {
                    const xAck = x.ack ?? Infinity;
                    if (acked.some((y) => y.sent > xAck)) continue;
                    legal.push({ state: x.kind === 'put' ? { kind: 'put', op: x.id, ...x.desc } : { kind: 'absent' }, op: x });
                }
                const match = legal.find(({ state }) =>
                    seen.kind === 'absent'
                        ? state.kind === 'absent'
                        : state.kind === 'put' && state.sha === seen.sha && state.size === seen.size && state.ct === seen.ct && state.enc === seen.enc,
                );
                if (!match) {
                    const what =
                        seen.kind === 'absent'
                            ? 'absent (404)'
                            : `${seen.size} bytes sha ${seen.sha.slice(0, 12)} ct "${seen.ct}" enc ${seen.enc ?? 'none'}, ${originOf(seen.body, seen.enc)}`;
                    const hs = hist.map((o) => `op ${o.id} ${o.kind.toUpperCase()} sent@${o.sent} ${o.ack === null ? 'not acknowledged' : `acknowledged@${o.ack}`}`);
                    violation(
                        `${label}: store ${si} key ${key}: read back ${what}; legal: ${legal.map((l) => describeState(l.state)).join(' | ') || 'none'}; ` +
                            `state before the round: ${describeState(st.known.get(key))}; history: ${hs.join(', ') || 'none'}`,
                    );
                    continue;
                }
                // Counting: the acknowledged operations whose effect is the state read back,
                // and those a later or racing acknowledged operation legally replaced.
                for (const o of acked) {
                    if (o.kind === 'delete') S.ackedDeletesChecked++;
                    else if (o === match.op) S.ackedPutsReadBack++;
                    else S.ackedPutsOverwritten++;
                }
                for (const o of hist) {
                    if (o.ack !== null) continue;
                    S.inFlight++;
                    if (match.op === o) S.inFlightTookEffect++;
                    else S.inFlightLost++;
                }
            }
        };
        await Promise.all(agents.map(worker));
        for (const a of agents) a.destroy();

        // The listing and the statistics agree with the records.
        let blobsListed = 0;
        for (let si = 0; si < stores.length; si++) {
            const st = stores[si];
            const listed = new Map();
            let start = null;
            for (let page = 0; page < 100; page++) {
                const q = `limit=1000${start === null ? '' : `&exclusiveStartKey=${encodeURIComponent(start)}`}`;
                const res = await send(undefined, srv.port, {
                    method: 'GET',
                    path: `${storePath(st.id)}/keys?${q}`,
                    headers: { Authorization: `Bearer ${token}` },
                });
                if (res.status !== 200) {
                    violation(`${label}: GET keys of store ${si}: status ${res.status}: ${res.body.toString().slice(0, 300)}`);
                    break;
                }
                const data = JSON.parse(res.body.toString()).data;
                for (const it of data.items) {
                    if (listed.has(it.key)) violation(`${label}: store ${si}: key ${it.key} listed twice`);
                    listed.set(it.key, it.size);
                }
                if (!data.isTruncated) break;
                start = data.nextExclusiveStartKey;
            }
            let bytes = 0;
            for (const [key, size] of listed) {
                bytes += Buffer.byteLength(key) + size;
                if (size > INLINE_MAX) blobsListed++;
                const seen = st.seen.get(key);
                if (!seen) violation(`${label}: store ${si}: listed key ${JSON.stringify(key)} was never written`);
                else if (seen.kind !== 'put') violation(`${label}: store ${si}: key ${key} is listed (size ${size}) but GET says 404`);
                else if (seen.size !== size) violation(`${label}: store ${si}: key ${key} listed with size ${size}, GET returned ${seen.size} bytes`);
            }
            for (const [key, seen] of st.seen) {
                if (seen.kind === 'put' && !listed.has(key)) violation(`${label}: store ${si}: key ${key} is readable but not listed`);
            }
            const storeRes = await send(undefined, srv.port, {
                method: 'GET',
                path: storePath(st.id),
                headers: { Authorization: `Bearer ${token}` },
            });
            if (storeRes.status !== 200) {
                violation(`${label}: GET store ${si}: status ${storeRes.status}`);
                continue;
            }
            const stats = JSON.parse(storeRes.body.toString()).data.stats;
            if (stats.storageBytes !== bytes)
                violation(`${label}: store ${si}: storageBytes ${stats.storageBytes}, but the listed keys and sizes add up to ${bytes}`);
            if (prevStats) {
                const p = prevStats[si];
                const mine = ops.filter((o) => o.si === si);
                const bound = (kind) => ({
                    lo: mine.filter((o) => o.kind === kind && o.ack !== null).length,
                    hi: mine.filter((o) => o.kind === kind).length,
                });
                const w = bound('put');
                if (stats.writeCount < p.writeCount + w.lo || stats.writeCount > p.writeCount + w.hi)
                    violation(`${label}: store ${si}: writeCount ${stats.writeCount}, expected ${p.writeCount} + [${w.lo}, ${w.hi}]`);
                // A delete of a missing key counts nothing, so only the upper bound is sure.
                const d = bound('delete');
                if (stats.deleteCount < p.deleteCount || stats.deleteCount > p.deleteCount + d.hi)
                    violation(`${label}: store ${si}: deleteCount ${stats.deleteCount}, expected ${p.deleteCount} + [0, ${d.hi}]`);
            }
            st.stats = { writeCount: stats.writeCount, deleteCount: stats.deleteCount };
        }
        prevStats = stores.map((st) => st.stats);

        // A blob file for every record above the inline size and no other: the uploads a kill
        // cut off were removed when the server started, and no committed record lost its file.
        if (!options.storage) {
            let files = 0;
            const root = path.join(dataDir, 'blobs');
            for (const dir of await fs.readdir(root)) files += (await fs.readdir(path.join(root, dir))).length;
            if (files !== blobsListed) violation(`${label}: ${files} blob files, but ${blobsListed} records are above the inline size`);
            S.blobsSeen = Math.max(S.blobsSeen ?? 0, blobsListed);
        }

        // What was read back is now the known state.
        for (const st of stores) {
            for (const [key, seen] of st.seen) {
                if (seen.kind === 'absent') st.known.set(key, { kind: 'absent' });
                else {
                    const { body: _b, ...rest } = seen;
                    // the op number is not known from the bytes; keep the one of the matching state
                    st.known.set(key, { ...rest, op: 'earlier' });
                }
            }
            st.seen.clear();
        }
    };

    /** One storm: CLIENTS clients until the kill; returns the operation log. */
    const storm = async (srv, durationMs) => {
        const ops = [];
        let crashing = false; // from now on a failure is an unacknowledged operation
        let killed = false; // the clients stop
        const clients = Array.from({ length: nClients }, (_, c) => ({
            c,
            agent: new http.Agent({ keepAlive: true, maxSockets: 1 }),
        }));
        const runClient = async ({ agent }) => {
            while (!killed) {
                const si = Math.floor(rnd() * stores.length);
                const key = rnd() < 0.15 ? hot[Math.floor(rnd() * hot.length)] : keys[Math.floor(rnd() * keys.length)];
                const id = ++opSeq;
                const isPut = rnd() < 0.75;
                const put = isPut ? makePut(id, si, key, rnd) : null;
                if (killed) break; // making a large value takes a while
                const o = { id, si, key, kind: isPut ? 'put' : 'delete', desc: put?.desc, sent: ++clock, ack: null };
                ops.push(o);
                S.opsSent++;
                const expected = isPut ? 201 : 204;
                try {
                    const res = await send(agent, srv.port, {
                        method: isPut ? 'PUT' : 'DELETE',
                        path: recordPath(stores[si].id, encKey(key)),
                        headers: { Authorization: `Bearer ${token}`, ...(put ? put.headers : {}) },
                        body: put ? put.body : null,
                    });
                    if (res.status === expected) {
                        o.ack = ++clock;
                        if (isPut) S.putsAcked++;
                        else S.deletesAcked++;
                    } else if (crashing && res.status === 503) {
                        // the database went away under it: not acknowledged (in flight)
                    } else {
                        // An answer other than success is a failure of the server: report it.
                        // The operation did not take effect as far as the client knows, but
                        // keep it as "not acknowledged" so the check stays about durability.
                        violation(`storm: op ${id} ${o.kind.toUpperCase()} store ${si} key ${key}: status ${res.status}: ${res.body.toString().slice(0, 300)}`);
                    }
                } catch (e) {
                    if (!crashing) {
                        violation(`storm: op ${id} ${o.kind.toUpperCase()} store ${si} key ${key}: network error before the kill: ${e.code || e.message}`);
                        // stop this client: its connection is gone
                        return;
                    }
                    // killed: the operation stays unacknowledged (in flight)
                }
            }
        };
        const running = clients.map(runClient);
        await new Promise((r) => setTimeout(r, durationMs));
        crashing = true;
        await crash(srv);
        killed = true;
        await Promise.all(running);
        for (const { agent } of clients) agent.destroy();
        return { ops, next: await recover(srv) };
    };

    // The checker's own test (crash.test.mjs) changes records behind its back here.
    const tamper = async (ops) => {
        if (options.tamper) await options.tamper({ port: server.port, token, stores: stores.map((st) => st.id), ops, send });
    };

    const t0 = Date.now();
    let lastOps = [];
    try {
        for (let round = 1; round <= rounds; round++) {
            if (!server) server = await start();
            if (round === 1) {
                for (let si = 0; si < 2; si++) {
                    const res = await send(undefined, server.port, {
                        method: 'POST',
                        path: `/v2/key-value-stores?name=${uniqueName(`crash${si}`)}`,
                        headers: { Authorization: `Bearer ${token}` },
                    });
                    const data = dataOf({ ...res, text: res.body.toString(), json: () => JSON.parse(res.body.toString()) }, 201);
                    stores.push({ id: data.id, known: new Map(keys.map((k) => [k, { kind: 'absent' }])), seen: new Map(), stats: null });
                }
                prevStats = stores.map(() => ({ writeCount: 0, deleteCount: 0 }));
            } else {
                await tamper(lastOps);
                const t = Date.now();
                await verify(server, lastOps, `after round ${round - 1}`);
                log(`verified after round ${round - 1} in ${Date.now() - t} ms`);
            }
            const duration = killMin + Math.floor(rnd() * (killMax - killMin + 1));
            const before = { p: S.putsAcked, d: S.deletesAcked, n: S.opsSent };
            const { ops, next } = await storm(server, duration);
            lastOps = ops;
            S.rounds = round;
            log(
                `round ${round}/${rounds}: killed after ${duration} ms: ${S.opsSent - before.n} ops sent, ` +
                    `${S.putsAcked - before.p} PUTs and ${S.deletesAcked - before.d} DELETEs acknowledged, ` +
                    `${lastOps.filter((o) => o.ack === null).length} in flight`,
            );
            server = next;
        }
        // Restart, verify, stop cleanly, restart, verify again.
        if (!server) server = await start();
        await tamper(lastOps);
        await verify(server, lastOps, `after round ${rounds}`);
        const stopped = await server.stop({ expectCleanExit: false });
        server = null;
        if (stopped.code !== 0 || stopped.signal !== null) violation(`SIGTERM: exit ${JSON.stringify(stopped)}`);
        server = await start();
        await verify(server, [], 'after a clean stop');
        const stopped2 = await server.stop({ expectCleanExit: false });
        server = null;
        if (stopped2.code !== 0 || stopped2.signal !== null) violation(`SIGTERM: exit ${JSON.stringify(stopped2)}`);
        for (const st of stores) for (const s of st.known.values()) if (s.kind === 'put') S.recordsCarried++;
    } catch (e) {
        violation(`harness error: ${e.stack || e}`);
        if (server) log(`server stderr (tail):\n${server.stderr().slice(-3000)}`);
    } finally {
        if (server) await server.stop({ signal: 'SIGKILL', expectCleanExit: false });
    }
    S.seconds = Math.round((Date.now() - t0) / 100) / 10;
    // Kept after a violation, for a post-mortem (not after a deliberate one, see tamper).
    if (!options.keep && (S.violations.length === 0 || options.tamper)) await fs.rm(work, { recursive: true, force: true });
    else log(`data directory kept: ${dataDir}`);
    return S;
}

/** The summary as lines of text. */
export function summaryText(S) {
    return [
        `crash test: ${S.rounds} rounds of ${S.power ? 'power cuts' : 'kill -9'} in ${S.seconds} s (seed ${S.seed})`,
        `  operations sent:                 ${S.opsSent}`,
        `  acknowledged PUTs:               ${S.putsAcked} (read back as the key's final value: ${S.ackedPutsReadBack}; ` +
            `overwritten by a later acknowledged operation: ${S.ackedPutsOverwritten})`,
        `  acknowledged DELETEs checked:    ${S.ackedDeletesChecked} of ${S.deletesAcked}`,
        `  in flight at the kill:           ${S.inFlight} (took effect: ${S.inFlightTookEffect}; did not: ${S.inFlightLost})`,
        `  record reads compared:           ${S.keyChecks}; records at the end: ${S.recordsCarried}`,
        ...(S.blocksLost ? [`  blocks written but not flushed, lost in the power cuts: ${S.blocksLost}`] : []),
        `  blob files checked (most at once): ${S.blobsSeen ?? 0}`,
        `  violations (lost, torn, extra):  ${S.violations.length}`,
    ].join('\n');
}

// ---- command line -----------------------------------------------------------------------------------

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
    const args = process.argv.slice(2);
    const opt = {};
    for (let i = 0; i < args.length; i++) {
        const a = args[i];
        const num = () => {
            const v = Number(args[++i]);
            if (!Number.isInteger(v) || v < 0) {
                console.error(`crash.mjs: ${a} needs a non-negative integer`);
                process.exit(2);
            }
            return v;
        };
        if (a === '--rounds') opt.rounds = num();
        else if (a === '--clients') opt.clients = num();
        else if (a === '--keys') opt.keys = num();
        else if (a === '--seed') opt.seed = num();
        else if (a === '--kill-min') opt.killMin = num();
        else if (a === '--kill-max') opt.killMax = num();
        else if (a === '--dir') opt.dir = args[++i];
        else if (a === '--keep') opt.keep = true;
        else if (a === '--power-loss') opt.powerLoss = { shim: args[++i] };
        else {
            console.error(
                'usage: node tests/crash/crash.mjs [--rounds N] [--clients N] [--keys N] [--seed S] [--kill-min MS] [--kill-max MS] [--dir DIR] [--keep] [--power-loss build/powercut.so]',
            );
            process.exit(2);
        }
    }
    const S = await runCrash(opt);
    console.log(summaryText(S));
    if (S.violations.length > 0) {
        console.error(`FAILED: ${S.violations.length} violation(s); first:\n  ${S.violations.slice(0, 10).join('\n  ')}`);
        process.exit(1);
    }
}
