// The short mode of the kill -9 crash test (crash.mjs), run by `make test`: three rounds of a
// storm of concurrent PUT/DELETE, SIGKILL, restart and a check of every key. `make crashtest`
// runs the long mode. A second test damages records behind the checker's back and expects it
// to notice, so a checker that cannot fail does not pass unnoticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { NEEDS_SPAWN, ms, recordPath } from '../lib/server.mjs';
import { runCrash, summaryText } from './crash.mjs';

const ROUNDS = Number(process.env.CRASH_SHORT_ROUNDS) || 3;

test(`kill -9 during a write storm, ${ROUNDS} rounds: no acknowledged write or delete is lost, nothing torn`, { skip: NEEDS_SPAWN, timeout: ms(120_000) }, async (t) => {
    const S = await runCrash({ rounds: ROUNDS, keys: 400, killMax: 1200, log: (line) => t.diagnostic(line) });
    for (const line of summaryText(S).split('\n')) t.diagnostic(line);
    assert.deepEqual(S.violations, [], `violations (seed ${S.seed}, data in ${S.dataDir})`);
    assert.equal(S.rounds, ROUNDS);
    assert.ok(S.putsAcked > 0 && S.deletesAcked > 0, 'the storms acknowledged writes and deletes');
    assert.ok(S.ackedPutsReadBack > 0, 'acknowledged writes were read back');
});

test('the checker reports a lost write, a foreign value and a deleted record that came back', { skip: NEEDS_SPAWN, timeout: ms(60_000) }, async (t) => {
    let damaged = null;
    const tamper = async ({ port, token, stores, ops, send }) => {
        if (damaged) return;
        // Keys with exactly one operation in the storm, acknowledged.
        const count = new Map();
        for (const o of ops) count.set(`${o.si}\n${o.key}`, (count.get(`${o.si}\n${o.key}`) ?? 0) + 1);
        const alone = ops.filter((o) => o.ack !== null && count.get(`${o.si}\n${o.key}`) === 1);
        const puts = alone.filter((o) => o.kind === 'put');
        const del = alone.find((o) => o.kind === 'delete');
        assert.ok(puts.length >= 2 && del, 'the storm left keys with a single acknowledged operation');
        const auth = { Authorization: `Bearer ${token}` };
        const path = (o) => recordPath(stores[o.si], encodeURIComponent(o.key));
        const r1 = await send(undefined, port, { method: 'DELETE', path: path(puts[0]), headers: auth });
        const r2 = await send(undefined, port, { method: 'PUT', path: path(puts[1]), headers: auth, body: Buffer.from('not what was written') });
        const r3 = await send(undefined, port, { method: 'PUT', path: path(del), headers: auth, body: Buffer.from('back from the dead') });
        assert.deepEqual([r1.status, r2.status, r3.status], [204, 201, 201]);
        damaged = { lost: puts[0].key, foreign: puts[1].key, back: del.key };
    };
    // A storm long enough, over enough keys, that many keys get exactly one acknowledged
    // operation (a 300-500 ms storm over 200 keys on a busy machine sometimes left none).
    const S = await runCrash({ rounds: 1, keys: 1000, killMin: 1200, killMax: 1500, tamper, log: () => {} });
    assert.ok(damaged, `the records were damaged; violations: ${S.violations.join('\n')}`);
    const about = (key) => S.violations.filter((v) => v.includes(` key ${key}: read back`));
    assert.equal(about(damaged.lost).length, 1, `the lost write is reported: ${S.violations.join('\n')}`);
    assert.match(about(damaged.lost)[0], /read back absent \(404\)/);
    assert.equal(about(damaged.foreign).length, 1, 'the foreign value is reported');
    assert.match(about(damaged.foreign)[0], /no operation header/);
    assert.equal(about(damaged.back).length, 1, 'the deleted record that came back is reported');
    for (const v of S.violations) t.diagnostic(v.slice(0, 400));
});
