// Power cuts during a write storm (crash.mjs with powerLoss): the server runs under
// tests/crash/powercut.c, which journals its writes and flushes; after the kill, the data
// directory becomes what a power cut at that moment may have left on the disk (everything
// flushed, and any part of what was not), and the next server must hold every acknowledged
// write and nothing torn. This is what a kill -9 cannot show: the page cache survives a kill.
// Rounds with half of the unflushed blocks, none of them, and all of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { NEEDS_SPAWN, ms } from '../lib/server.mjs';
import { runCrash, summaryText } from './crash.mjs';

const SHIM = process.env.KVS_POWERCUT; // build/powercut.so (make test-crash passes it)
const ROUNDS = Number(process.env.CRASH_SHORT_ROUNDS) || 3;

test(`power cut during a write storm, ${ROUNDS} rounds: no acknowledged write or delete is lost, nothing torn`, { skip: NEEDS_SPAWN || !SHIM, timeout: ms(180_000) }, async (t) => {
    const S = await runCrash({ rounds: ROUNDS, keys: 400, killMax: 1200, powerLoss: { shim: SHIM }, log: (line) => t.diagnostic(line) });
    for (const line of summaryText(S).split('\n')) t.diagnostic(line);
    assert.deepEqual(S.violations, [], `violations (seed ${S.seed}, data in ${S.dataDir})`);
    assert.equal(S.rounds, ROUNDS);
    assert.ok(S.putsAcked > 0 && S.deletesAcked > 0, 'the storms acknowledged writes and deletes');
    assert.ok(S.blocksLost > 0, 'the power cuts lost blocks that were written but not flushed');
});
