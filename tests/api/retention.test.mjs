// Retention of unnamed stores (--unnamed-retention): an unnamed store nobody touches disappears
// (404) soon after the retention passes; a named store stays; an unnamed store that is read
// regularly stays; naming an unnamed store makes it permanent. The server runs with a retention
// of 2 s, so the whole file takes a few seconds.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { NEEDS_SPAWN, makeClient, ms, request, runKvs, startServer, storePath, bearer, uniqueName } from '../lib/server.mjs';
import { ON_PG } from '../lib/pg.mjs';

const T = { timeout: ms(60_000) };
const sleep = (n) => new Promise((resolve) => setTimeout(resolve, n));

describe('unnamed store retention', { skip: NEEDS_SPAWN }, () => {
    let server, client;
    before(async () => {
        server = await startServer({ args: ['--unnamed-retention', '2s'] });
        client = makeClient(server);
    });
    after(async () => {
        await server?.stop();
    });

    // GET of a store counts as an access (it would keep the store alive), so presence is
    // checked in the store list, which touches nothing: 200 when listed, else 404.
    const status = async (id) => {
        const { items } = await client.keyValueStores().list({ unnamed: true, limit: 1000 });
        return items.some((s) => s.id === id) ? 200 : 404;
    };
    const getStatus = async (id) =>
        (await request(server.url, { path: storePath(id), headers: bearer(server.token) })).status;

    test('idle unnamed stores go; named, regularly read and renamed ones stay', T, async () => {
        const idle = await client.keyValueStores().getOrCreate();
        assert.equal(idle.name ?? null, null, 'created unnamed');
        await client.keyValueStore(idle.id).setRecord({ key: 'k', value: 'v', contentType: 'text/plain' });
        const named = await client.keyValueStores().getOrCreate(uniqueName('kept'));
        const readr = await client.keyValueStores().getOrCreate();
        await client.keyValueStore(readr.id).setRecord({ key: 'k', value: 'v', contentType: 'text/plain' });
        const renamed = await client.keyValueStores().getOrCreate();
        await client.keyValueStore(renamed.id).update({ name: uniqueName('named-later') });

        // For 5 s (2.5 retentions), read one store every 300 ms. (PostgreSQL allows 1.5 s more
        // for reads other nodes have not flushed: 2 s more here.)
        const until = Date.now() + (ON_PG ? 7000 : 5000);
        let idleGoneAt = null;
        const start = Date.now();
        while (Date.now() < until) {
            const rec = await client.keyValueStore(readr.id).getRecord('k');
            assert.equal(rec?.value, 'v', 'the regularly read store keeps its record');
            if (idleGoneAt === null && (await status(idle.id)) === 404) idleGoneAt = Date.now() - start;
            await sleep(300);
        }
        assert.notEqual(idleGoneAt, null, `the idle unnamed store is gone (404) within ${ON_PG ? 7 : 5} s`);
        assert.ok(idleGoneAt >= 1500, `not before its retention (gone after ${idleGoneAt} ms)`);
        assert.equal(await status(named.id), 200, 'a named store is kept');
        assert.equal(await status(readr.id), 200, 'a regularly read unnamed store is kept');
        assert.equal(await status(renamed.id), 200, 'a store named after creation is kept');
        assert.equal(await getStatus(idle.id), 404, 'GET of the expired store: 404');
        // Its records went with it.
        const res = await request(server.url, { path: `${storePath(idle.id)}/records/k`, headers: bearer(server.token) });
        assert.equal(res.status, 404);
    });

    test('a named store renamed to unnamed starts expiring from the rename', T, async () => {
        const s = await client.keyValueStores().getOrCreate(uniqueName('unnamed-later'));
        await sleep(2500);
        assert.equal(await status(s.id), 200, 'named: kept past the retention');
        await client.keyValueStore(s.id).update({ name: null });
        assert.equal(await status(s.id), 200, 'just unnamed: still there');
        let goneAfter = null;
        const start = Date.now();
        while (Date.now() - start < 6000) {
            await sleep(250);
            if ((await status(s.id)) === 404) {
                goneAfter = Date.now() - start;
                break;
            }
        }
        assert.notEqual(goneAfter, null, 'unnamed: gone within 6 s of the rename');
        assert.ok(goneAfter >= 1500, `not before its retention (gone after ${goneAfter} ms)`);
        assert.equal(await getStatus(s.id), 404);
    });

    test('--unnamed-retention rejects a bad duration', T, async () => {
        const r = await runKvs(['serve', '--unnamed-retention', '7 days']);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /--unnamed-retention/);
    });
});
