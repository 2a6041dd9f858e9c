// The official Apify CLI (npm apify-cli, pinned in package.json) against a real kvs serve:
// `apify login`, then every `apify key-value-stores` subcommand (create, ls, info, rename, rm,
// keys, get-value, set-value, delete-value), checking what it prints and what the store holds.
// It runs with HOME in a temporary directory, telemetry, the update check and the OS keyring
// off, and APIFY_CLIENT_BASE_URL pointing at the server, whose access log must show every call
// the CLI made answered by a route of ours.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';

import { NEEDS_SPAWN, ms, uniqueName } from '../lib/server.mjs';
import { createUser, share } from '../lib/users.mjs';
import { REPO, run, serverFixture, show } from './lib.mjs';

const T = { timeout: ms(180_000) };
const APIFY = path.join(REPO, 'node_modules', 'apify-cli', 'dist', 'apify.js');

describe('the Apify CLI (apify key-value-stores) against kvs serve', { skip: NEEDS_SPAWN }, () => {
    let server, client, tmp, accessLog;
    const ctx = serverFixture('kvs-apify-cli-', (dir) => ({ args: ['--access-log', path.join(dir, 'access.log')] }));
    before(() => {
        ({ server, client, tmp } = ctx);
        accessLog = path.join(tmp, 'access.log');
    });

    /** Runs `apify ARGS` as the user whose HOME is HOME (a directory under tmp). */
    async function apify(home, args, { input } = {}) {
        const env = {
            HOME: home,
            APIFY_CLIENT_BASE_URL: server.url,
            APIFY_CLI_DISABLE_TELEMETRY: '1', // no telemetry (read in the CLI's useTelemetryEnabled)
            APIFY_CLI_SKIP_UPDATE_CHECK: '1', // no look at the npm registry
            APIFY_CLI_SKIP_RENTAL_SUNSET_NOTICE: '1',
            APIFY_DISABLE_KEYRING: '1', // the token goes to HOME/.apify/auth.json
            FORCE_COLOR: '0',
            NO_COLOR: '1',
        };
        for (const k of Object.keys(process.env)) if (k.startsWith('APIFY_') && !(k in env)) env[k] = undefined;
        return run(process.execPath, [APIFY, ...args], { env, input, timeoutMs: ms(60_000) });
    }

    function ok(r, what) {
        assert.equal(r.code, 0, `${what}\n${show(r)}`);
        return r;
    }

    test('login, then create, ls, info, set-value, keys, get-value, delete-value, rename, rm', T, async () => {
        const home = path.join(tmp, 'admin-home');
        await fs.mkdir(home);
        const login = ok(await apify(home, ['login', '--token', server.token]), 'login');
        assert.match(login.stderr + login.out, /You are logged in to Apify as admin/);
        const auth = JSON.parse(await fs.readFile(path.join(home, '.apify', 'auth.json'), 'utf8'));
        assert.equal(auth.username, 'admin');
        assert.equal(auth.token, server.token);

        // create
        const name = uniqueName('cli');
        const created = ok(await apify(home, ['key-value-stores', 'create', name]), 'create');
        const id = created.out.match(/Key-value store with ID (\w{17}) \(called (\S+)\) was created/)?.[1];
        assert.ok(id, created.out);
        assert.equal((await client.keyValueStore(id).get()).name, name);
        const again = await apify(home, ['key-value-stores', 'create', name]);
        assert.match(again.stderr, /Cannot create a key-value store with the same name/);
        const unnamed = JSON.parse(ok(await apify(home, ['kvs', 'create', '--json']), 'create unnamed').out);
        assert.equal(unnamed.name, null);
        assert.match(unnamed.id, /^\w{17}$/);

        // set-value: a value on the line, JSON by default or of the type given. (Not from stdin:
        // apify-cli 1.10 reads all of stdin when it starts, then uploads the drained stream, so
        // the record is empty whatever the server; README, "Using the Apify CLI".)
        ok(await apify(home, ['kvs', 'set-value', name, 'OUTPUT', '{"status":"done","n":[1,2]}']), 'set-value');
        const out = await client.keyValueStore(id).getRecord('OUTPUT');
        assert.deepEqual(out.value, { status: 'done', n: [1, 2] });
        assert.equal(out.contentType, 'application/json');
        const setText = ok(await apify(home, ['kvs', 'set-value', name, 'REPORT', 'a report', '--content-type', 'text/plain']), 'set-value text');
        assert.match(setText.out, /Value with key "REPORT" set in the key-value store/);
        const report = await client.keyValueStore(id).getRecord('REPORT');
        assert.equal(report.value, 'a report');
        assert.equal(report.contentType, 'text/plain');

        // ls: the store with its size, and --json as the API gives it
        const ls = ok(await apify(home, ['kvs', 'ls']), 'ls').out;
        const row = ls.split('\n').find((l) => l.includes(id));
        assert.ok(row && row.includes(`admin/${name}`), ls);
        assert.match(row, /\d+ B/, 'the size from stats.s3StorageBytes');
        const lsJson = JSON.parse(ok(await apify(home, ['kvs', 'ls', '--json']), 'ls --json').out);
        assert.ok(lsJson.items.some((s) => s.id === id));
        assert.ok(!lsJson.items.some((s) => s.id === unnamed.id), 'unnamed only with --unnamed');
        assert.ok(JSON.parse(ok(await apify(home, ['kvs', 'ls', '--unnamed', '--json']), 'ls --unnamed').out).items.some((s) => s.id === unnamed.id));

        // info, by name and by ID: reads the owner through GET /v2/users/{userId}
        for (const ref of [name, id]) {
            const info = ok(await apify(home, ['kvs', 'info', ref]), `info ${ref}`).out;
            assert.match(info, new RegExp(`admin/${name} +Owned by admin`));
            assert.match(info, new RegExp(`Store ID: ${id}`));
            assert.match(info, /Operations: \d+ reads? \/ \d+ writes? \/ \d+ deletes? \/ \d+ lists?/);
        }
        const infoJson = JSON.parse(ok(await apify(home, ['kvs', 'info', name, '--json']), 'info --json').out);
        assert.equal(infoJson.id, id);
        assert.equal(infoJson.user.username, 'admin');

        // keys
        const keys = ok(await apify(home, ['kvs', 'keys', name]), 'keys').out;
        assert.match(keys, /OUTPUT/);
        assert.match(keys, /REPORT/);
        const keysJson = JSON.parse(ok(await apify(home, ['kvs', 'keys', name, '--json']), 'keys --json').out);
        assert.deepEqual(keysJson.items.map((k) => k.key), ['OUTPUT', 'REPORT']);

        // get-value: JSON pretty-printed, other types as they are, the type on stderr
        const gotJson = ok(await apify(home, ['kvs', 'get-value', name, 'OUTPUT']), 'get-value json');
        assert.deepEqual(JSON.parse(gotJson.out), { status: 'done', n: [1, 2] });
        assert.match(gotJson.stderr, /application\/json/);
        const gotText = ok(await apify(home, ['kvs', 'get-value', name, 'REPORT']), 'get-value text');
        assert.equal(gotText.out, 'a report');
        const onlyType = ok(await apify(home, ['kvs', 'get-value', name, 'REPORT', '--only-content-type']), 'get-value --only-content-type');
        assert.equal(onlyType.out, '');
        assert.equal(onlyType.stderr.trim(), 'text/plain');

        // delete-value
        const del = ok(await apify(home, ['kvs', 'delete-value', name, 'REPORT', '--yes']), 'delete-value');
        assert.match(del.out, /Record with key "REPORT" deleted/);
        assert.equal(await client.keyValueStore(id).getRecord('REPORT'), undefined);
        const delMissing = await apify(home, ['kvs', 'delete-value', name, 'REPORT', '--yes']);
        assert.match(delMissing.stderr, /Item with key "REPORT" not found/);

        // rename, then unname
        const renamed = uniqueName('renamed');
        assert.match(ok(await apify(home, ['kvs', 'rename', name, renamed]), 'rename').out, new RegExp(`changed from ${name} to ${renamed}`));
        assert.equal((await client.keyValueStore(id).get()).name, renamed);
        ok(await apify(home, ['kvs', 'rename', renamed, '--unname']), 'rename --unname');
        assert.equal((await client.keyValueStore(id).get()).name, null);
        ok(await apify(home, ['kvs', 'rename', id, name]), 'rename back by ID');

        // rm
        assert.match(ok(await apify(home, ['kvs', 'rm', name, '--yes']), 'rm').out, new RegExp(`Key-value store with ID ${id} \\(called ${name}\\) has been deleted`));
        assert.equal(await client.keyValueStore(id).get(), undefined);
        const rmMissing = await apify(home, ['kvs', 'rm', name, '--yes']);
        assert.match(rmMissing.stderr, /not found/);
        ok(await apify(home, ['kvs', 'rm', unnamed.id, '--yes']), 'rm unnamed');
    });

    test('another user: info of a shared store shows its owner (the public part of GET /v2/users/{id})', T, async () => {
        const owner = 'admin';
        const name = uniqueName('shared');
        const store = await client.keyValueStores().getOrCreate(name);
        await client.keyValueStore(store.id).setRecord({ key: 'k', value: { a: 1 } });
        const bob = await createUser(server, 'bob');
        await share(server, server.token, store.id, bob.username, 'READ');
        const home = path.join(tmp, 'bob-home');
        await fs.mkdir(home);
        ok(await apify(home, ['login', '--token', bob.token]), 'login as bob');
        const info = ok(await apify(home, ['kvs', 'info', `${owner}~${name}`]), 'info of a shared store').out;
        assert.match(info, new RegExp(`${owner}/${name} +Owned by ${owner}`));
        const asJson = JSON.parse(ok(await apify(home, ['kvs', 'info', store.id, '--json']), 'info --json').out);
        assert.deepEqual(asJson.user, { id: store.userId, username: owner, profile: {} }, 'the public part only');
        assert.deepEqual(JSON.parse(ok(await apify(home, ['kvs', 'get-value', store.id, 'k']), 'get-value').out), { a: 1 });
        // bob may read but not write: the refusal comes through
        const refused = await apify(home, ['kvs', 'set-value', store.id, 'k', '2']);
        assert.match(refused.stderr, /Failed to set value.*\n.*Insufficient permissions/);
        // his own stores list does not hold it as his
        const mine = JSON.parse(ok(await apify(home, ['kvs', 'create', uniqueName('bobs'), '--json']), 'create').out);
        const own = ok(await apify(home, ['kvs', 'info', mine.id]), 'info of his own').out;
        assert.match(own, new RegExp(`Owned by ${bob.username}`));
    });

    test('every request the CLI made was answered by a route of ours', T, async () => {
        const lines = (await fs.readFile(accessLog, 'utf8')).trim().split('\n');
        const calls = lines.map((l) => l.split(' ')).map(([, , method, p, route, status]) => ({ method, path: p, route, status: Number(status) }));
        assert.ok(calls.length > 30, `${calls.length} requests logged`);
        // (GET /health is the test's own wait for the server, which may come before it is ready: 503)
        const unknown = calls.filter((c) => c.route !== 'health' && (c.route === 'none' || c.status === 405 || c.status >= 500));
        assert.deepEqual(unknown, [], 'no request fell outside the routes');
        const routes = new Set(calls.map((c) => c.route));
        for (const r of ['user.get', 'stores.create', 'stores.list', 'store.get', 'store.update', 'store.delete', 'keys.list', 'record.get', 'record.put', 'record.delete']) assert.ok(routes.has(r), `${r} in ${[...routes]}`);
        // GET /v2/users/{id} (info) found its user every time
        assert.deepEqual(calls.filter((c) => c.route === 'user.get' && c.status !== 200), []);
    });
});
