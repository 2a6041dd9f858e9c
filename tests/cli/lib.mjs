// lib.mjs — helpers of the command-line tests: run kvs (or any program) with stdin and binary
// stdout, under a pseudo-terminal (script(1)) when a test needs a terminal, and a tiny fake
// API server for what a real kvs serve never answers (retries, hostile answers).
import { after, before } from 'node:test';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { KVS_BIN, makeClient, makeTempDir, ms, startServer } from '../lib/server.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The build directory of the binaries under test (build/ or build/asan/). */
export const BUILD = process.env.KVS_BUILD || path.join(REPO, 'build');

/**
 * Runs FILE ARGS. options: env (added to process.env; undefined removes), input (Buffer or
 * string for stdin; default: none), cwd, timeoutMs. Resolves with { code, signal, stdout
 * (Buffer), out (stdout as text), stderr (text) }.
 */
export function run(file, args, { env = {}, input, cwd, timeoutMs = ms(60_000) } = {}) {
    const childEnv = { ...process.env };
    for (const [k, v] of Object.entries(env)) {
        if (v === undefined) delete childEnv[k];
        else childEnv[k] = v;
    }
    return new Promise((resolve, reject) => {
        const p = spawn(file, args, { env: childEnv, cwd, stdio: ['pipe', 'pipe', 'pipe'] });
        const out = [];
        let stderr = '';
        p.stdout.on('data', (c) => out.push(c));
        p.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
        p.stdin.on('error', () => {}); // a program that does not read its stdin
        if (input !== undefined) p.stdin.end(input);
        else p.stdin.end();
        const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
        p.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        p.on('close', (code, signal) => {
            clearTimeout(timer);
            const stdout = Buffer.concat(out);
            resolve({ code, signal, stdout, out: stdout.toString('utf8'), stderr });
        });
    });
}

/** Runs kvs ARGS against SERVER (its URL and token in the environment unless env says else). */
export function kvs(server, args, options = {}) {
    const env = server ? { KVS_URL: server.url, KVS_TOKEN: server.token, ...(options.env || {}) } : options.env || {};
    return run(KVS_BIN, args, { ...options, env });
}

/** Quotes S for sh -c. */
export function shq(s) {
    return `'${String(s).replace(/'/g, `'\\''`)}'`;
}

/** Runs the shell command CMD under a pseudo-terminal (stdin, stdout and stderr all on it);
 *  resolves with { code, text } where text is everything the terminal showed. */
export async function onTerminal(cmd, { env = {} } = {}) {
    const r = await run('script', ['-qefc', cmd, '/dev/null'], { env });
    return { code: r.code, text: r.out };
}

/** A description of a finished run for assertion messages. */
export function show(r) {
    return `exit ${r.code}\nstdout: ${r.out?.slice(0, 2000)}\nstderr: ${r.stderr?.slice(0, 2000)}`;
}

/**
 * A fake API server on a free loopback port: HANDLER(req, body, res) answers each request;
 * every request is logged in .log as { method, url, headers }. Returns { url, log, close() }.
 */
export async function fakeServer(handler) {
    const log = [];
    const srv = http.createServer((req, res) => {
        const chunks = [];
        req.on('data', (c) => chunks.push(c));
        req.on('end', () => {
            log.push({ method: req.method, url: req.url, headers: req.headers });
            handler(req, Buffer.concat(chunks), res);
        });
    });
    await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
    return {
        url: `http://127.0.0.1:${srv.address().port}`,
        log,
        close: () => new Promise((resolve) => srv.close(resolve)),
    };
}

/** Answers RES with STATUS and the JSON BODY. */
export function sendJson(res, status, body, headers = {}) {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), ...headers });
    res.end(text);
}

/**
 * Registers before/after hooks of the calling suite: a temporary directory (PREFIX...), a server
 * started with OPTIONS (or OPTIONS(tmp) when it is a function) and an ApifyClient of it, all
 * removed afterwards. Returns an object whose { server, client, tmp } are set once before() ran.
 */
export function serverFixture(prefix, options = {}) {
    const ctx = {};
    before(async () => {
        ctx.tmp = await makeTempDir(prefix);
        ctx.server = await startServer(typeof options === 'function' ? options(ctx.tmp) : options);
        ctx.client = makeClient(ctx.server);
    });
    after(async () => {
        await ctx.server?.stop();
        if (ctx.tmp) await fs.rm(ctx.tmp, { recursive: true, force: true });
    });
    return ctx;
}
