// server.mjs — helpers for the black-box API tests of kvstore.
//
// startServer() spawns `build/kvs serve` on a free loopback port with a fresh data directory
// and a random admin token, and waits until GET /health answers. Set KVS_TEST_URL and
// KVS_TEST_TOKEN to run the API tests against a server that is already running instead (the
// tests that need to start their own server are then skipped, see CAN_SPAWN).
//
// The raw HTTP helpers use node:http so that the tests control every header (Accept-Encoding,
// Content-Length, chunked bodies) and still see a response that arrives while a large body
// is being uploaded.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

import { ApifyClient } from 'apify-client';

import { ON_PG, storageFor } from './pg.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The server binary under test. */
export const KVS_BIN = process.env.KVS_BIN || path.join(REPO, 'build', 'kvs');

/** Set when the tests run against an already running server (KVS_TEST_URL). */
export const EXTERNAL_URL = process.env.KVS_TEST_URL ? process.env.KVS_TEST_URL.replace(/\/+$/, '') : null;

/** Whether tests may spawn servers of their own (false against an external server). */
export const CAN_SPAWN = !EXTERNAL_URL;

/** Skip reason for tests that need a server of their own, or false. Never set in CI. */
export const NEEDS_SPAWN = CAN_SPAWN ? false : 'needs a server of its own (KVS_TEST_URL is set)';

const SCALE = Number(process.env.KVS_TEST_TIMEOUT_SCALE) > 0 ? Number(process.env.KVS_TEST_TIMEOUT_SCALE) : 1;

/** A time limit in milliseconds, stretched for slow builds (KVS_TEST_TIMEOUT_SCALE, e.g. ASan). */
export function ms(n) {
    return Math.round(n * SCALE);
}

export const MiB = 1024 * 1024;

const sleep = (n) => new Promise((resolve) => setTimeout(resolve, n));

/** A random token of the kind an operator would put in $KVS_ADMIN_TOKEN. */
export function randomToken() {
    return `test_${randomBytes(24).toString('hex')}`;
}

/** A store name that is valid and unique: PREFIX-<10 random lowercase alphanumerics>. */
export function uniqueName(prefix = 'store') {
    const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (const b of randomBytes(10)) s += alphabet[b % alphabet.length];
    return `${prefix}-${s}`;
}

/** A free TCP port on 127.0.0.1 (bound and released; the server binds it right after). */
export async function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/** A new empty directory under the system's temp directory. */
export async function makeTempDir(prefix = 'kvs-test-') {
    return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Accumulates a child's output. */
class OutputLog {
    constructor(stream) {
        this.text = '';
        stream.setEncoding('utf8');
        stream.on('data', (chunk) => {
            this.text += chunk;
        });
    }
}

/**
 * Spawns the server and waits until GET /health answers 200.
 *
 * options:
 *   args      extra command-line arguments after `serve --listen ... --data ...`
 *   env       extra environment variables (a value of undefined removes the variable)
 *   token     the admin token put in KVS_ADMIN_TOKEN (default: a random one); null = leave
 *             KVS_ADMIN_TOKEN unset so that the server generates one
 *   dataDir   an existing data directory to reuse (default: a fresh temp directory)
 *   keepData  do not remove the data directory in stop() (default: false; always kept when
 *             dataDir was given)
 *   port      the port to listen on (default: a free one)
 *   tls       { cert, key, ca }: serve HTTPS with the PEM files cert and key (--tls-cert,
 *             --tls-key); ca is the PEM text that the test clients trust. The URL is https://.
 *   storage   a --storage SPEC to serve from instead of the data directory (a postgres:// URI);
 *             with $KVS_TEST_BACKEND=pg the default is a schema named after the data
 *             directory in the run's PostgreSQL cluster (pg.mjs), so a server started again on
 *             the same dataDir finds its data
 *
 * Returns { url, token, dataDir, port, proc, stdout(), stderr(), exited, stop(opts) }.
 * stop({ expectCleanExit = true, signal = 'SIGTERM' }) signals the server, waits for it to
 * exit (SIGKILL after a time limit), asserts exit code 0 when asked, and removes the data
 * directory unless it is kept.
 *
 * With KVS_TEST_URL set, nothing is spawned: the external URL and KVS_TEST_TOKEN are
 * returned and stop() does nothing.
 */
export async function startServer(options = {}) {
    if (EXTERNAL_URL) {
        if (!process.env.KVS_TEST_TOKEN) throw new Error('KVS_TEST_URL is set but KVS_TEST_TOKEN is not');
        return {
            url: EXTERNAL_URL,
            token: process.env.KVS_TEST_TOKEN,
            dataDir: null,
            proc: null,
            external: true,
            stdout: () => '',
            stderr: () => '',
            stop: async () => {},
        };
    }

    const { args: extraArgs = [], env = {}, dataDir: givenDir, keepData = false, tls = null } = options;
    const args = tls ? ['--tls-cert', tls.cert, '--tls-key', tls.key, ...extraArgs] : extraArgs;
    const token = options.token === undefined ? randomToken() : options.token;
    const port = options.port ?? (await freePort());
    const dataDir = givenDir ?? path.join(await makeTempDir(), 'data'); // the server creates it
    const ownsDir = !givenDir && !keepData;

    const childEnv = { ...process.env };
    delete childEnv.KVS_ADMIN_TOKEN;
    if (token !== null) childEnv.KVS_ADMIN_TOKEN = token;
    for (const [k, v] of Object.entries(env)) {
        if (v === undefined) delete childEnv[k];
        else childEnv[k] = v;
    }

    const listen = `127.0.0.1:${port}`;
    const storage = options.storage ?? (ON_PG ? await storageFor(dataDir) : null);
    const where = storage ? ['--storage', storage] : ['--data', dataDir];
    const proc = spawn(KVS_BIN, ['serve', '--listen', listen, ...where, ...args], {
        env: childEnv,
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = new OutputLog(proc.stdout);
    const err = new OutputLog(proc.stderr);
    let spawnError = null;
    proc.on('error', (e) => {
        spawnError = e;
    });
    const exited = new Promise((resolve) => {
        proc.on('exit', (code, signal) => resolve({ code, signal }));
    });
    let exitInfo = null;
    exited.then((info) => {
        exitInfo = info;
    });

    const url = `${tls ? 'https' : 'http'}://${listen}`;
    const server = {
        url,
        ca: tls?.ca,
        token,
        port,
        dataDir,
        storage,
        proc,
        external: false,
        exited,
        stdout: () => out.text,
        stderr: () => err.text,
        /** Resolves with { code, signal } once the process has exited. */
        async stop({ expectCleanExit = true, signal = 'SIGTERM', timeoutMs = ms(10_000) } = {}) {
            let result = exitInfo;
            if (!result) {
                proc.kill(signal);
                const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
                result = await exited;
                clearTimeout(timer);
            }
            if (ownsDir) await fs.rm(path.dirname(dataDir), { recursive: true, force: true });
            if (expectCleanExit) {
                assert.deepEqual(
                    result,
                    { code: 0, signal: null },
                    `server should exit with code 0 after ${signal}; stderr:\n${err.text.slice(-4000)}`,
                );
            }
            return result;
        },
    };

    // Wait for GET /health → 200, bounded; fail early with the server's output if it exits.
    const deadline = Date.now() + ms(10_000);
    for (;;) {
        if (spawnError) throw new Error(`cannot start ${KVS_BIN}: ${spawnError.message}`);
        if (exitInfo) {
            throw new Error(
                `server exited before answering /health (code ${exitInfo.code}, signal ${exitInfo.signal})\n` +
                    `stdout:\n${out.text}\nstderr:\n${err.text}`,
            );
        }
        try {
            const res = await request(url, { path: '/health', timeoutMs: 1000, ca: tls?.ca });
            if (res.status === 200) return server;
        } catch {
            // not listening yet
        }
        if (Date.now() > deadline) {
            proc.kill('SIGKILL');
            await exited;
            throw new Error(`server did not answer GET /health with 200 in time\nstdout:\n${out.text}\nstderr:\n${err.text}`);
        }
        await sleep(50);
    }
}

/**
 * Runs `kvs ARGS` to completion (for --help and bad options). Returns { code, signal, stdout,
 * stderr }; kills the process after timeoutMs.
 */
export async function runKvs(args, { env = {}, timeoutMs = ms(10_000) } = {}) {
    const childEnv = { ...process.env, ...env };
    return new Promise((resolve, reject) => {
        const proc = spawn(KVS_BIN, args, { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        proc.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
        proc.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
        const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
        proc.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        proc.on('close', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr });
        });
    });
}

/**
 * One raw HTTP request with node:http.
 *
 * base     the server URL (http://HOST:PORT) or a server object from startServer()
 * options:
 *   method     default GET
 *   path       the request target exactly as sent (already percent-encoded), e.g. '/v2/...'
 *   headers    request headers, sent as given (nothing is added except Host and, with a
 *              Buffer body, Content-Length unless chunked is set)
 *   token      a string adds `Authorization: Bearer <token>`; with a server object as base the
 *              server's token is used unless token is false
 *   body       a Buffer or string, or undefined
 *   chunked    send the body with Transfer-Encoding: chunked (no Content-Length)
 *   chunkSize  size of the writes of the body (default 64 KiB)
 *   timeoutMs  the whole exchange (default 30 s)
 *   ca         for an https:// base: the PEM text of the CA to trust (default: the server
 *              object's ca)
 *
 * Resolves with { status, headers, body: Buffer, text, json, uploadError } once the response
 * is complete. A response that arrives while the body is still being sent is kept: the
 * upload stops and the error of the interrupted upload, if any, is in uploadError. Rejects
 * when no response arrives (e.g. the connection is reset before a response).
 */
export function request(base, options = {}) {
    const baseUrl = typeof base === 'string' ? base : base.url;
    let token = options.token;
    if (token === undefined && typeof base === 'object') token = base.token;
    const { method = 'GET', path: target = '/', body, chunked = false, chunkSize = 64 * 1024 } = options;
    const timeoutMs = options.timeoutMs ?? ms(30_000);
    const headers = { ...(options.headers || {}) };
    if (token) headers.Authorization = `Bearer ${token}`;
    const bodyBuf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
    const hasHeader = (name) => Object.keys(headers).some((h) => h.toLowerCase() === name);
    if (bodyBuf && !chunked && !hasHeader('content-length')) headers['Content-Length'] = String(bodyBuf.length);
    if (chunked) headers['Transfer-Encoding'] = 'chunked';

    const u = new URL(baseUrl);
    const tls = u.protocol === 'https:';
    const ca = options.ca ?? (typeof base === 'object' ? base.ca : undefined);
    return new Promise((resolve, reject) => {
        let settled = false;
        let response = null;
        let uploadError = null;
        const finish = (fn, v) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            fn(v);
        };
        const req = (tls ? https : http).request({
            host: u.hostname,
            port: u.port,
            method,
            path: target,
            headers,
            agent: false,
            setHost: true,
            ...(tls ? { ca } : {}),
        });
        const timer = setTimeout(() => {
            req.destroy(new Error(`request timed out after ${timeoutMs} ms: ${method} ${target}`));
        }, timeoutMs);
        req.on('response', (res) => {
            response = res;
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const buf = Buffer.concat(chunks);
                const out = {
                    status: res.statusCode,
                    headers: res.headers,
                    body: buf,
                    get text() {
                        return buf.toString('utf8');
                    },
                    json() {
                        return JSON.parse(buf.toString('utf8'));
                    },
                    uploadError,
                };
                finish(resolve, out);
                req.destroy();
            });
            res.on('error', (e) => finish(reject, e));
        });
        req.on('error', (e) => {
            if (response) {
                uploadError = e;
                return; // the response is being read; keep it
            }
            finish(reject, new Error(`${method} ${target}: no response (${e.code || e.message})`));
        });

        if (!bodyBuf) {
            req.end();
            return;
        }
        // Write the body in chunks, respecting backpressure; stop once a response is in.
        let offset = 0;
        const writeMore = () => {
            while (offset < bodyBuf.length) {
                if (response || req.destroyed) return;
                const end = Math.min(offset + chunkSize, bodyBuf.length);
                const ok = req.write(bodyBuf.subarray(offset, end));
                offset = end;
                if (!ok) {
                    req.once('drain', writeMore);
                    return;
                }
            }
            if (!response && !req.destroyed) req.end();
        };
        writeMore();
    });
}

/** Sets the generalAccess of store REF (e.g. 'ANYONE_WITH_ID_CAN_READ') as TOKEN (default:
 * BASE's own), and returns the store as the server answered. */
export async function setGeneralAccess(base, ref, generalAccess, token) {
    const res = await request(base, {
        method: 'PUT',
        path: storePath(ref),
        token,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ generalAccess }),
    });
    return dataOf(res, 200);
}

/** The Authorization header for TOKEN. */
export function bearer(token) {
    return { Authorization: `Bearer ${token}` };
}

/** The request path of store REF (an ID or a name form), already percent-encoded. */
export function storePath(ref) {
    return `/v2/key-value-stores/${encodeURIComponent(ref).replace(/%7E/gi, '~')}`;
}

/** The request path of record KEY_ENCODED (pass the key percent-encoded as wanted) in store REF. */
export function recordPath(ref, keyEncoded) {
    return `${storePath(ref)}/records/${keyEncoded}`;
}

/** An ApifyClient for SERVER, without retries unless asked (so errors surface at once). */
export function makeClient(server, options = {}) {
    return new ApifyClient({
        baseUrl: server.url,
        publicBaseUrl: server.url,
        token: server.token,
        maxRetries: 0,
        minDelayBetweenRetriesMillis: 100,
        timeoutSecs: Math.ceil(ms(60_000) / 1000),
        ...options,
    });
}

/** Creates a named store with a unique name (PREFIX-...) and returns { store, kvs } where kvs is its client. */
export async function createStore(client, prefix = 'store') {
    const store = await client.keyValueStores().getOrCreate(uniqueName(prefix));
    return { store, kvs: client.keyValueStore(store.id) };
}

/** Asserts that a raw response is an API error: STATUS, JSON content type, {"error": {type, message}}. */
export function assertApiError(res, status, type, context = '') {
    const where = context ? ` (${context})` : '';
    assert.equal(res.status, status, `status${where}; body: ${res.text.slice(0, 500)}`);
    const ct = res.headers['content-type'] || '';
    assert.match(ct, /^application\/json\b/i, `error Content-Type${where}`);
    let body;
    try {
        body = res.json();
    } catch {
        assert.fail(`error body is not JSON${where}: ${res.text.slice(0, 500)}`);
    }
    assert.equal(typeof body, 'object', `error body${where}`);
    assert.ok(body && body.error && typeof body.error === 'object', `error body has "error"${where}: ${res.text.slice(0, 500)}`);
    if (type !== undefined) assert.equal(body.error.type, type, `error type${where}; body: ${res.text.slice(0, 500)}`);
    else assert.equal(typeof body.error.type, 'string', `error.type is a string${where}`);
    assert.equal(typeof body.error.message, 'string', `error.message is a string${where}`);
    assert.ok(body.error.message.length > 0, `error.message is not empty${where}`);
    return body.error;
}

/**
 * Awaits PROMISE (a client call) and asserts it rejects with an ApifyApiError of STATUS and TYPE.
 * Returns the error.
 */
export async function assertClientError(promise, status, type) {
    let error;
    try {
        await promise;
    } catch (e) {
        error = e;
    }
    assert.ok(error, `expected the call to fail with ${status} ${type}, but it succeeded`);
    assert.equal(error.statusCode, status, `statusCode of ${error.name}: ${error.message}`);
    if (type !== undefined) assert.equal(error.type, type, `error type of ${error.name}: ${error.message}`);
    return error;
}

/** Parses a successful raw JSON response and returns its "data" (asserting the envelope). */
export function dataOf(res, status = 200) {
    assert.equal(res.status, status, `status; body: ${res.text.slice(0, 500)}`);
    assert.match(res.headers['content-type'] || '', /^application\/json\b/i, 'Content-Type of a JSON response');
    const body = res.json();
    assert.ok(body && typeof body === 'object' && 'data' in body, `response is wrapped in {"data": ...}: ${res.text.slice(0, 300)}`);
    return body.data;
}

/** Gets the raw store object (GET /v2/key-value-stores/REF) — no client date parsing. */
export async function getStoreRaw(server, ref) {
    return dataOf(await request(server, { path: storePath(ref) }));
}

/** Runs TASKS (functions returning promises) with at most LIMIT running at once. */
export async function mapLimit(items, limit, fn) {
    const results = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length) {
            const i = next++;
            results[i] = await fn(items[i], i);
        }
    };
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    return results;
}

/** Polls FN until it returns a truthy value; returns it, or throws MESSAGE after timeoutMs. */
export async function waitFor(fn, { timeoutMs = ms(5000), intervalMs = 25, message = 'condition' } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}`);
        await sleep(intervalMs);
    }
}

/** A tiny valid PNG (1×1, red pixel) as a Buffer. */
export const PNG_1X1 = Buffer.from(
    '89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de' +
        '0000000c49444154789c63f8cfc0000003010100c9fe92ef0000000049454e44ae426082',
    'hex',
);

/** A Buffer holding every byte value 0..255, REPEAT times. */
export function allBytes(repeat = 1) {
    const b = Buffer.alloc(256 * repeat);
    for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
    return b;
}
