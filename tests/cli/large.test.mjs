// A large record through the command line (issue 20): `kvs set` streams a file up and `kvs get`
// streams it back down (both through libkvs: kvs_record_put_fd, kvs_record_get_fd), byte for
// byte, neither holding the value (their peak memory is measured), with a progress bar on a
// terminal.
//
// Size: 256 MiB by default; KVS_TEST_LARGE=1 runs the 3 GiB, KVS_TEST_LARGE_SIZE=N[KMG]
// any size. The file is sparse (holes read as zeros) with marks written at its start, middle
// and end, so that it costs no disk and a misplaced byte still shows.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

import { parseSize } from '../lib/bigdata.mjs';
import { ON_PG } from '../lib/pg.mjs';
import { KVS_BIN, MiB, NEEDS_SPAWN, ms, uniqueName } from '../lib/server.mjs';
import { kvs, onTerminal, run, serverFixture, shq, show } from './lib.mjs';

const SIZE = process.env.KVS_TEST_LARGE_SIZE
    ? parseSize(process.env.KVS_TEST_LARGE_SIZE)
    : process.env.KVS_TEST_LARGE === '1'
      ? 3 * 1024 * MiB
      : 256 * MiB;
const T = {
    timeout: ms(Math.max(300_000, (SIZE / MiB) * 400)),
    skip: NEEDS_SPAWN || (ON_PG && 'PostgreSQL keeps values in its rows (large values there: issue 20, PostgreSQL part)'),
};

async function sha256File(file) {
    const h = createHash('sha256');
    for await (const chunk of createReadStream(file, { highWaterMark: 4 * MiB })) h.update(chunk);
    return h.digest('hex');
}

/** A sparse file of SIZE bytes with marks at its start, middle and end. */
async function sparseFile(file, size) {
    const fh = await fs.open(file, 'w');
    await fh.truncate(size);
    for (const at of [0, Math.floor(size / 2) - 7, size - 64]) await fh.write(Buffer.from(`mark at ${at} of ${size}`.padEnd(64, '.')), 0, 64, at);
    await fh.close();
}

/** Runs kvs ARGS under GNU time: { ...result, maxRssKiB }. */
async function kvsTimed(server, args, options = {}) {
    const r = await run('/usr/bin/time', ['-f', 'MAXRSS %M', KVS_BIN, ...args], {
        ...options,
        env: { KVS_URL: server.url, KVS_TOKEN: server.token, ...(options.env || {}) },
    });
    const m = /MAXRSS (\d+)/.exec(r.stderr);
    return { ...r, maxRssKiB: m ? Number(m[1]) : NaN };
}

describe('a large record through kvs set and kvs get', () => {
    let server, tmp;
    const ctx = serverFixture('kvs-cli-large-');
    before(() => ({ server, tmp } = ctx));

    test(`${SIZE / MiB} MiB up and down, byte-exact, in flat memory; a progress bar on a terminal`, T, async (t) => {
        const store = uniqueName('large');
        assert.equal((await kvs(server, ['create', store])).code, 0);
        const src = path.join(tmp, 'big.bin');
        await sparseFile(src, SIZE);
        const want = await sha256File(src);

        const set = await kvsTimed(server, ['set', store, 'big', src, '--content-type', 'application/x-big'], { timeoutMs: T.timeout });
        assert.equal(set.code, 0, show(set));
        assert.match(set.out, /^stored big in .* \(application\/x-big\)\n$/);
        const back = path.join(tmp, 'back.bin');
        const get = await kvsTimed(server, ['get', store, 'big', '-o', back], { timeoutMs: T.timeout });
        assert.equal(get.code, 0, show(get));
        assert.equal((await fs.stat(back)).size, SIZE);
        assert.equal(await sha256File(back), want, 'SHA-256 of what came back');
        t.diagnostic(`peak RSS of kvs set ${(set.maxRssKiB / 1024).toFixed(1)} MiB, kvs get ${(get.maxRssKiB / 1024).toFixed(1)} MiB for ${SIZE / MiB} MiB`);
        assert.ok(set.maxRssKiB < 64 * 1024, `kvs set held ${set.maxRssKiB} KiB`);
        assert.ok(get.maxRssKiB < 64 * 1024, `kvs get held ${get.maxRssKiB} KiB`);

        // from a pipe (no length: sent chunked) and to stdout
        const piped = await run('sh', ['-c', `cat ${shq(src)} | ${shq(KVS_BIN)} set ${shq(store)} piped && ${shq(KVS_BIN)} get ${shq(store)} piped | sha256sum`], {
            env: { KVS_URL: server.url, KVS_TOKEN: server.token },
            timeoutMs: T.timeout,
        });
        assert.equal(piped.code, 0, show(piped));
        assert.match(piped.out, new RegExp(`\\b${want}\\b`));

        // on a terminal, the transfer shows its progress (and erases it at the end)
        const shown = await onTerminal(`${shq(KVS_BIN)} get ${shq(store)} big -o ${shq(path.join(tmp, 'tty.bin'))}`, {
            env: { KVS_URL: server.url, KVS_TOKEN: server.token },
        });
        assert.equal(shown.code, 0, shown.text);
        assert.match(shown.text, /get\s+[\d.]+ [KMG]iB \/ [\d.]+ [KMG]iB\s+\d+%/);
        await fs.rm(path.join(tmp, 'tty.bin'), { force: true });
        await fs.rm(back);
        await fs.rm(src);
    });
});
