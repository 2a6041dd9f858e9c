// pg.mjs — PostgreSQL for the tests: the throw-away cluster of tests/pg/cluster.sh, a schema
// per server, and a little SQL through psql.
//
// $KVS_TEST_PG is the URI of a cluster started for the whole run (tests/pg/with-cluster.sh);
// with $KVS_TEST_BACKEND=pg, startServer() (server.mjs) serves each server from a schema of
// its own in it instead of an LMDB data directory, so the whole API suite runs against
// PostgreSQL. Tests that crash or restart PostgreSQL start a cluster of their own
// (startCluster), so as not to disturb the others.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLUSTER = path.join(REPO, 'tests', 'pg', 'cluster.sh');

/** The URI of the run's cluster, or null. */
export const PG_URI = process.env.KVS_TEST_PG || null;

/** Whether the API tests run against PostgreSQL-backed servers ($KVS_TEST_BACKEND=pg). */
export const ON_PG = process.env.KVS_TEST_BACKEND === 'pg';

/** Skip reason for a test that is about the LMDB data directory, on a PostgreSQL run (the
 * same test runs, and must pass, in the LMDB run of the suite). */
export const LMDB_ONLY = ON_PG ? 'about the LMDB data directory; this run serves from PostgreSQL' : false;

function run(file, args, { timeoutMs = 60_000 } = {}) {
    return new Promise((resolve, reject) => {
        execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
            if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
            else resolve(stdout);
        });
    });
}

/** Runs SQL (one or more statements) on URI with psql; resolves with its unaligned output. */
export async function psql(uri, sql) {
    return (await run('psql', ['-qAt', '-v', 'ON_ERROR_STOP=1', '-d', uri, '-c', sql])).trim();
}

/** URI with the search_path set to SCHEMA. */
export function withSchema(uri, schema) {
    return `${uri}${uri.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
}

/** The storage URI of a server whose data directory would be DIR (a path; it need not exist,
 * any unique name will do): a schema named after DIR in the cluster at BASE (default: the
 * run's; created when missing), so that a server started again on the same DIR finds its
 * data, as with LMDB. */
export async function storageFor(dir, base = PG_URI) {
    if (!base) throw new Error('KVS_TEST_BACKEND=pg needs $KVS_TEST_PG (tests/pg/with-cluster.sh)');
    const schema = `api_${createHash('sha256').update(path.resolve(dir)).digest('hex').slice(0, 20)}`;
    await psql(base, `SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS ${schema}`);
    return withSchema(base, schema);
}

/**
 * Starts a cluster of its own in a temporary directory (a few seconds). Returns { uri, dir,
 * crash(), restart(), stop(), pid() }: crash is `pg_ctl stop -m immediate`, stop stops it by
 * its PID and removes the directory.
 */
export async function startCluster({ durable = false } = {}) {
    const parent = await fs.mkdtemp(path.join(os.tmpdir(), 'kvs-pgc-'));
    await fs.chmod(parent, 0o755); // the server's user (postgres, when we are root) must get in
    const dir = path.join(parent, 'c');
    const uri = (await run(CLUSTER, ['start', dir, ...(durable ? ['--durable'] : [])], { timeoutMs: 120_000 })).trim();
    let stopped = false;
    return {
        uri,
        dir,
        crash: () => run(CLUSTER, ['crash', dir]),
        restart: () => run(CLUSTER, ['restart', dir], { timeoutMs: 120_000 }),
        pid: async () => Number((await run(CLUSTER, ['pid', dir])).trim()),
        stop: async () => {
            if (stopped) return;
            stopped = true;
            await run(CLUSTER, ['stop', dir], { timeoutMs: 60_000 });
            await fs.rm(parent, { recursive: true, force: true });
        },
    };
}
