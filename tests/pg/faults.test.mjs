// faults.test.mjs — PostgreSQL going away under running nodes. Each test starts a cluster of
// its own (tests/pg/cluster.sh), since it crashes or stops it.
//   - `pg_ctl stop -m immediate` (a crash: no shutdown checkpoint, crash recovery at the next
//     start) in the middle of a write storm, then a restart: every acknowledged write and
//     delete is there, with its exact bytes — the kill -9 test's checker (tests/crash/crash.mjs),
//     pointed at PostgreSQL, over several rounds on the same node, which is never restarted;
//   - the database restarted while two nodes run: 503 service-unavailable with Retry-After
//     during the outage, and service again afterwards without restarting the nodes;
//   - a database that cannot be reached at start: one line on stderr, exit status 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { runCrash, summaryText } from '../crash/crash.mjs';
import { startCluster, storageFor } from '../lib/pg.mjs';
import { NEEDS_SPAWN, dataOf, ms, randomToken, recordPath, request, runKvs, startServer, storePath, uniqueName } from '../lib/server.mjs';

const sleep = (n) => new Promise((r) => setTimeout(r, n));
const ROUNDS = Number(process.env.CRASH_SHORT_ROUNDS) || 3;

test(`pg_ctl stop -m immediate during a write storm, ${ROUNDS} rounds: every acknowledged write is there`, { skip: NEEDS_SPAWN, timeout: ms(300_000) }, async (t) => {
    const cluster = await startCluster();
    try {
        const storage = await storageFor(uniqueName('crash'), cluster.uri);
        const S = await runCrash({
            rounds: ROUNDS,
            keys: 400,
            killMin: 400,
            killMax: 1500,
            storage,
            crash: () => cluster.crash(), // while the storm goes on
            recover: async (server) => {
                // The node stayed up: requests fail with 503, not worse.
                const res = await request(server, { path: '/v2/key-value-stores' });
                assert.equal(res.status, 503, res.text);
                await cluster.restart();
                // It serves again by itself within a second (it tries a new connection every
                // 500 ms while the database is down), as a client retrying after Retry-After sees.
                const t0 = Date.now();
                while ((await request(server, { path: '/v2/key-value-stores' })).status === 503) {
                    assert.ok(Date.now() - t0 < 5000, 'serving again within 5 s of the restart');
                    await sleep(100);
                }
                return server;
            },
            log: (line) => t.diagnostic(line),
        });
        for (const line of summaryText(S).split('\n')) t.diagnostic(line);
        assert.deepEqual(S.violations, [], `violations (seed ${S.seed})`);
        assert.equal(S.rounds, ROUNDS);
        assert.ok(S.putsAcked > 0 && S.deletesAcked > 0, 'the storms acknowledged writes and deletes');
        assert.ok(S.ackedPutsReadBack > 0, 'acknowledged writes were read back');
    } finally {
        await cluster.stop();
    }
});

test('the database restarted under two running nodes: 503 with Retry-After meanwhile, then service again', { skip: NEEDS_SPAWN, timeout: ms(120_000) }, async () => {
    const cluster = await startCluster();
    const token = randomToken();
    let a = null;
    let b = null;
    try {
        const storage = await storageFor(uniqueName('restart'), cluster.uri);
        [a, b] = await Promise.all([startServer({ storage, token }), startServer({ storage, token })]);
        const pids = [a.proc.pid, b.proc.pid];
        const id = dataOf(await request(a, { method: 'POST', path: `/v2/key-value-stores?name=${uniqueName('rs')}` }), 201).id;
        const put = (node, v) =>
            request(node, { method: 'PUT', path: recordPath(id, 'k'), headers: { 'Content-Type': 'text/plain' }, body: v });
        assert.equal((await put(a, 'before')).status, 201);

        await cluster.crash();
        for (const node of [a, b]) {
            for (const res of [
                await request(node, { path: recordPath(id, 'k') }),
                await put(node, 'during'),
                await request(node, { path: storePath(id) }),
            ]) {
                assert.equal(res.status, 503, res.text);
                assert.equal(res.json().error.type, 'service-unavailable');
                assert.match(res.headers['retry-after'] ?? '', /^[1-9]\d*$/);
            }
            assert.equal((await request(node, { path: '/health', token: false })).status, 200, 'the node itself is up');
        }

        await cluster.restart();
        // Back within a few seconds, on both nodes, for reads and writes, as they were.
        for (const [i, node] of [a, b].entries()) {
            let res = null;
            for (let tries = 0; tries < 50; tries++) {
                res = await request(node, { path: recordPath(id, 'k') });
                if (res.status === 200) break;
                await sleep(100);
            }
            assert.equal(res.status, 200, res.text);
            assert.equal(res.text, i === 0 ? 'before' : 'after a');
            assert.equal((await put(node, i === 0 ? 'after a' : 'after b')).status, 201);
        }
        assert.equal((await request(a, { path: recordPath(id, 'k') })).text, 'after b');
        assert.deepEqual([a.proc.pid, b.proc.pid], pids);
        assert.equal(a.proc.exitCode, null);
        assert.equal(b.proc.exitCode, null);
    } finally {
        await a?.stop();
        await b?.stop();
        await cluster.stop();
    }
});

test('a database that cannot be reached at start: one line on stderr, exit 1', { skip: NEEDS_SPAWN, timeout: ms(30_000) }, async () => {
    const r = await runKvs([
        'serve',
        '--listen',
        '127.0.0.1:0',
        '--storage',
        'postgresql://kvs:secret@/kvs?host=/nonexistent-kvs-socket-dir&connect_timeout=2',
    ]);
    assert.equal(r.code, 1, r.stderr);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^kvs serve: cannot open the storage postgresql:\/\/kvs:\*\*\*@\/kvs\?host=\/nonexistent-kvs-socket-dir.*: cannot connect: /);
    assert.ok(!r.stderr.includes('secret'), 'the password is not shown');
});
