// `kvs run` with the official `apify` SDK (the version package.json pins) at home against a real
// server: an Actor written for the platform runs unchanged, its INPUT and OUTPUT in its run's
// default store; how it ends (exit, fail, a throw, an exit code, a timeout, an abort through the
// API, a signal to kvs) becomes the run's status and kvs's exit status. Also the README's example
// Actor (examples/actor), stdin passed through, and the input's sources.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { KVS_BIN, PNG_1X1, makeClient, makeTempDir, ms, request, startServer, uniqueName, waitFor } from '../lib/server.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ACTOR = path.join(REPO, 'tests', 'api', 'fixtures', 'sdk-actor.mjs');
const EXAMPLE = path.join(REPO, 'examples', 'actor');
const T = { timeout: ms(90_000) };

let server;
let client;
let admin;
let workDir;

before(async () => {
    server = await startServer();
    client = makeClient(server);
    admin = await client.user('me').get();
    workDir = await makeTempDir('kvs-run-');
}, { timeout: ms(30_000) });

after(async () => {
    await server?.stop();
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
});

/**
 * Starts `kvs run ARGS` (ARGS include `-- CMD ...`) against the server. Returns { proc, done }:
 * DONE resolves with { code, signal, stdout, stderr, runId } once kvs exits.
 */
function startKvsRun(args, { cwd = workDir, stdin = null, env = {} } = {}) {
    const childEnv = { ...process.env, KVS_URL: server.url, KVS_TOKEN: server.token, ...env };
    for (const k of Object.keys(childEnv)) if (/^(APIFY|ACTOR|CRAWLEE)_/.test(k)) delete childEnv[k];
    const proc = spawn(KVS_BIN, ['run', ...args], { cwd, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (c) => (stdout += c));
    proc.stderr.setEncoding('utf8').on('data', (c) => (stderr += c));
    if (stdin !== null) proc.stdin.end(stdin);
    else proc.stdin.end();
    const timer = setTimeout(() => proc.kill('SIGKILL'), ms(80_000));
    const done = new Promise((resolve, reject) => {
        proc.on('error', reject);
        proc.on('close', (code, signal) => {
            clearTimeout(timer);
            const m = /kvs: run ([A-Za-z0-9]{17}) of Actor/.exec(stderr);
            resolve({ code, signal, stdout, stderr, runId: m ? m[1] : null });
        });
    });
    return {
        proc,
        done,
        stderr: () => stderr,
        stdout: () => stdout,
    };
}

/** Runs the fixture Actor with INPUT (and kvs options OPTS) to its end. */
function runActor(input, opts = []) {
    return startKvsRun(['--input-json', JSON.stringify(input), ...opts, '--', process.execPath, ACTOR]).done;
}

describe('the apify SDK at home under kvs run', () => {
    test('init, getInput, setValue (JSON and PNG), getValue, a named store, status messages, exit', T, async () => {
        const named = uniqueName('from-actor');
        const input = { mode: 'full', png: PNG_1X1.toString('base64'), named };
        const r = await runActor(input, ['--actor', 'sdk-full']);
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.runId, r.stderr);
        assert.match(r.stderr, new RegExp(`kvs: run ${r.runId} SUCCEEDED \\(exit code 0\\)`));
        assert.match(r.stderr, /kvs: {3}console {2}http:\/\/.*\/console\/runs\//);
        assert.match(r.stderr, /kvs: {3}OUTPUT {3}http:\/\/.*\/records\/OUTPUT\?signature=/);

        const run = await client.run(r.runId).get();
        assert.equal(run.status, 'SUCCEEDED');
        assert.equal(run.exitCode, 0);
        assert.equal(run.actorName, 'sdk-full');
        assert.equal(run.meta.origin, 'CLI');
        assert.ok(run.finishedAt instanceof Date);
        // Actor.exit('All done') sends its message without waiting for the answer
        await waitFor(async () => (await client.run(r.runId).get()).statusMessage === 'All done', {
            timeoutMs: ms(5000),
            message: 'the final status message',
        });
        assert.equal((await client.run(r.runId).get()).isStatusMessageTerminal, true);

        const kvs = client.run(r.runId).keyValueStore();
        assert.deepEqual((await kvs.getRecord('INPUT')).value, input);
        const out = await kvs.getRecord('OUTPUT');
        assert.deepEqual(out.value, { got: input, env: r.runId });
        const png = await kvs.getRecord('shot.png');
        assert.equal(png.contentType, 'image/png');
        assert.ok(Buffer.from(png.value).equals(PNG_1X1));
        // the named store is the user's, by name, and outlives the run's
        const namedStore = await client.keyValueStore(`${admin.username}~${named}`).get();
        assert.ok(namedStore, 'the named store exists');
        assert.deepEqual((await client.keyValueStore(namedStore.id).getRecord('from-run')).value, { run: r.runId });
        // the link the SDK made points at kvstore, and anyone can follow it
        const m = /^public (\S+)$/m.exec(r.stdout);
        assert.ok(m, r.stdout);
        assert.ok(m[1].startsWith(`${server.url}/v2/key-value-stores/${run.defaultKeyValueStoreId}/records/OUTPUT`), m[1]);
        const u = new URL(m[1]);
        const pub = await request(server.url, { path: u.pathname + u.search, token: null });
        assert.equal(pub.status, 200, pub.text);
        // no timeout given: none for the SDK
        assert.match(r.stdout, /^timeoutAt none$/m);
        // the Actor's last run by name, as a client elsewhere reads it
        const last = await client.actor(`${admin.username}~sdk-full`).lastRun({ status: 'SUCCEEDED' }).keyValueStore().getRecord('OUTPUT');
        assert.deepEqual(last.value, out.value);
    });

    test('Actor.fail() → FAILED, exit code 1, its message', T, async () => {
        const r = await runActor({ mode: 'fail' });
        assert.equal(r.code, 1, r.stderr);
        const run = await client.run(r.runId).get();
        assert.equal(run.status, 'FAILED');
        assert.equal(run.exitCode, 1);
        await waitFor(async () => (await client.run(r.runId).get()).statusMessage === 'Could not do it', {
            timeoutMs: ms(5000),
            message: 'the status message of fail()',
        });
    });

    test('a throw → FAILED with the exit code; process.exit(N) → FAILED with N', T, async () => {
        const r = await runActor({ mode: 'throw' });
        assert.notEqual(r.code, 0);
        let run = await client.run(r.runId).get();
        assert.equal(run.status, 'FAILED');
        assert.equal(run.exitCode, r.code);
        assert.equal((await client.run(r.runId).keyValueStore().getRecord('OUTPUT')).value, 'partial');
        const e = await runActor({ mode: 'exit-code', code: 5 });
        assert.equal(e.code, 5);
        run = await client.run(e.runId).get();
        assert.equal(run.status, 'FAILED');
        assert.equal(run.exitCode, 5);
    });

    test('--timeout → TIMED-OUT; the SDK knows its time', T, async () => {
        const began = Date.now();
        const r = await runActor({ mode: 'sleep' }, ['--timeout', '3']);
        assert.equal(r.code, 143, r.stderr); // SIGTERM
        assert.ok(Date.now() - began < ms(40_000));
        assert.match(r.stderr, /timed out/);
        const run = await client.run(r.runId).get();
        assert.equal(run.status, 'TIMED-OUT');
        assert.equal(run.exitCode, 143);
        assert.equal(run.options.timeoutSecs, 3);
        // the SDK was told when its time would be up (when it got that far on a busy machine;
        // the environment itself is checked below)
        const started = await client.run(r.runId).keyValueStore().getRecord('STARTED');
        if (started) assert.equal(new Date(started.value.timeoutAt).getTime(), run.startedAt.getTime() + 3000);
    });

    test('an abort through the API stops the Actor: ABORTED, its process gone', T, async () => {
        const k = startKvsRun(['--input-json', '{"mode":"sleep"}', '--', process.execPath, ACTOR]);
        const runId = await waitFor(() => /kvs: run ([A-Za-z0-9]{17}) of/.exec(k.stderr())?.[1], {
            timeoutMs: ms(20_000),
            message: 'the run to start',
        });
        const started = await waitFor(async () => (await client.run(runId).keyValueStore().getRecord('STARTED'))?.value, {
            timeoutMs: ms(45_000), // node and the SDK starting, on a busy machine
            intervalMs: 100,
            message: 'the Actor to start',
        });
        const pid = started.pid;
        process.kill(pid, 0); // alive
        const aborting = await client.run(runId).abort();
        assert.equal(aborting.status, 'ABORTING');
        const finished = await client.run(runId).waitForFinish({ waitSecs: 30 });
        assert.equal(finished.status, 'ABORTED');
        const r = await k.done;
        assert.equal(r.code, 143, r.stderr);
        assert.match(r.stderr, /was aborted/);
        assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the Actor process is gone');
    });

    test('SIGTERM to kvs goes to the Actor: ABORTED, kvs exits with its status', T, async () => {
        const k = startKvsRun(['--input-json', '{"mode":"sleep"}', '--', process.execPath, ACTOR]);
        const runId = await waitFor(() => /kvs: run ([A-Za-z0-9]{17}) of/.exec(k.stderr())?.[1], {
            timeoutMs: ms(20_000),
            message: 'the run to start',
        });
        const started = await waitFor(async () => (await client.run(runId).keyValueStore().getRecord('STARTED'))?.value, {
            timeoutMs: ms(45_000), // node and the SDK starting, on a busy machine
            intervalMs: 100,
            message: 'the Actor to start',
        });
        k.proc.kill('SIGTERM');
        const r = await k.done;
        assert.equal(r.code, 143, r.stderr);
        assert.equal((await client.run(runId).get()).status, 'ABORTED');
        assert.throws(() => process.kill(started.pid, 0), { code: 'ESRCH' });
    });
});

describe('kvs run itself', () => {
    test('the README\'s example Actor, its name from .actor/actor.json', T, async () => {
        const r = await startKvsRun(['--input-json', '{"text": "kvstore", "times": 2}', '--', process.execPath, 'main.js'], {
            cwd: EXAMPLE,
        }).done;
        assert.equal(r.code, 0, r.stderr);
        const run = await client.run(r.runId).get();
        assert.equal(run.actorName, 'example-repeat');
        assert.equal(run.status, 'SUCCEEDED');
        const out = await client.actor(`${admin.username}~example-repeat`).lastRun().keyValueStore().getRecord('OUTPUT');
        assert.deepEqual(out.value.words, ['1: kvstore', '2: kvstore']);
    });

    test('stdin, stdout and stderr pass through; the environment of an Actor at home', T, async () => {
        const r = await startKvsRun(['--actor', 'echo', '--', 'sh', '-c', 'cat; echo "$APIFY_IS_AT_HOME $ACTOR_INPUT_KEY" >&2; env'], {
            stdin: 'line one\nline two\n',
        }).done;
        assert.equal(r.code, 0, r.stderr);
        assert.ok(r.stdout.startsWith('line one\nline two\n'), r.stdout);
        assert.match(r.stderr, /^1 INPUT$/m);
        const env = Object.fromEntries(
            r.stdout
                .split('\n')
                .filter((l) => /^[A-Z_]+=/.test(l))
                .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
        const run = await client.run(r.runId).get();
        for (const [name, value] of [
            ['ACTOR_RUN_ID', run.id],
            ['APIFY_ACTOR_RUN_ID', run.id],
            ['ACTOR_ID', run.actId],
            ['APIFY_ACTOR_ID', run.actId],
            ['APIFY_USER_ID', run.userId],
            ['ACTOR_DEFAULT_KEY_VALUE_STORE_ID', run.defaultKeyValueStoreId],
            ['APIFY_DEFAULT_KEY_VALUE_STORE_ID', run.defaultKeyValueStoreId],
            ['ACTOR_DEFAULT_DATASET_ID', run.defaultDatasetId],
            ['APIFY_API_BASE_URL', server.url],
            ['APIFY_API_PUBLIC_BASE_URL', server.url],
            ['APIFY_TOKEN', server.token],
            ['APIFY_INPUT_KEY', 'INPUT'],
            ['ACTOR_STARTED_AT', run.startedAt.toISOString()],
        ])
            assert.equal(env[name], value, name);
        assert.ok(!('ACTOR_EVENTS_WEBSOCKET_URL' in env) && !('APIFY_ACTOR_EVENTS_WS_URL' in env), 'no events websocket');
        assert.ok(!('ACTOR_TIMEOUT_AT' in env), 'no timeout: none for the Actor');
        // with one: the start plus the timeout, in both spellings
        const t = await startKvsRun(['--actor', 'echo', '--timeout', '2h', '--', 'sh', '-c', 'echo "$ACTOR_TIMEOUT_AT $APIFY_TIMEOUT_AT"']).done;
        assert.equal(t.code, 0, t.stderr);
        const timed = await client.run(t.runId).get();
        assert.equal(timed.options.timeoutSecs, 7200);
        const at = new Date(timed.startedAt.getTime() + 7200 * 1000).toISOString();
        assert.equal(t.stdout.trim(), `${at} ${at}`);
    });

    test('the input: a file (its type from its name), apify run\'s INPUT.json, none', T, async () => {
        const dir = await makeTempDir('kvs-run-input-');
        try {
            await fs.writeFile(path.join(dir, 'pic.png'), PNG_1X1);
            let r = await startKvsRun(['--input', 'pic.png', '--actor', 'in', '--', 'true'], { cwd: dir }).done;
            assert.equal(r.code, 0, r.stderr);
            let rec = await client.run(r.runId).keyValueStore().getRecord('INPUT');
            assert.equal(rec.contentType, 'image/png');
            assert.ok(Buffer.from(rec.value).equals(PNG_1X1));
            // no input given: apify run's file, when there is one
            r = await startKvsRun(['--actor', 'in', '--', 'true'], { cwd: dir }).done;
            assert.equal(await client.run(r.runId).keyValueStore().getRecord('INPUT'), undefined);
            await fs.mkdir(path.join(dir, 'storage', 'key_value_stores', 'default'), { recursive: true });
            await fs.writeFile(path.join(dir, 'storage', 'key_value_stores', 'default', 'INPUT.json'), '{"from": "apify run"}');
            r = await startKvsRun(['--actor', 'in', '--', 'true'], { cwd: dir }).done;
            assert.match(r.stderr, /input from storage\/key_value_stores\/default\/INPUT.json/);
            rec = await client.run(r.runId).keyValueStore().getRecord('INPUT');
            assert.deepEqual(rec.value, { from: 'apify run' });
            assert.match(rec.contentType, /^application\/json/);
            // the Actor's name defaults to the directory's
            const run = await client.run(r.runId).get();
            assert.equal(run.actorName, 'in');
            r = await startKvsRun(['--', 'true'], { cwd: dir }).done;
            assert.equal((await client.run(r.runId).get()).actorName, path.basename(dir).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''));
        } finally {
            await fs.rm(dir, { recursive: true, force: true });
        }
    });

    test('mistakes: no command, a bad name, a missing file, bad JSON, a command that is not there', T, async () => {
        const before = (await client.runs().list()).total;
        let r = await startKvsRun([]).done;
        assert.equal(r.code, 2);
        assert.match(r.stderr, /give the command to run/);
        r = await startKvsRun(['--actor', 'Not_A_Name', '--', 'true']).done;
        assert.equal(r.code, 2);
        r = await startKvsRun(['--input', 'no-such-file.json', '--', 'true']).done;
        assert.equal(r.code, 1);
        assert.match(r.stderr, /no-such-file.json/);
        r = await startKvsRun(['--input-json', '{nope', '--', 'true']).done;
        assert.equal(r.code, 2);
        r = await startKvsRun(['--timeout', 'soon', '--', 'true']).done;
        assert.equal(r.code, 2);
        r = await startKvsRun(['--', 'true'], { env: { KVS_TOKEN: '' } }).done;
        assert.equal(r.code, 2);
        assert.equal((await client.runs().list()).total, before, 'none of these made a run');
        // a command that cannot be run: the run is made, and FAILED with 127
        r = await startKvsRun(['--actor', 'missing', '--', 'no-such-command-kvs']).done;
        assert.equal(r.code, 127);
        assert.match(r.stderr, /cannot run no-such-command-kvs/);
        const run = await client.run(r.runId).get();
        assert.equal(run.status, 'FAILED');
        assert.equal(run.exitCode, 127);
        // a bad token: nothing starts
        r = await startKvsRun(['--', 'true'], { env: { KVS_TOKEN: 'kvs_wrong' } }).done;
        assert.equal(r.code, 1);
        assert.match(r.stderr, /cannot start a run/);
    });
});
