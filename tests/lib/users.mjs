// users.mjs — helpers for the tests of users, tokens and shares (the access model, contract
// §3 and §10): create users through the admin API, clients acting as them, and shares.

import assert from 'node:assert/strict';

import { dataOf, makeClient, request, storePath, uniqueName } from './server.mjs';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/**
 * Creates a user through the admin API (POST /v2/users) with the admin token of SERVER.
 * BODY adds fields (isAdmin, defaultGeneralAccess). Returns { id, username, token, ... }.
 */
export async function createUser(server, prefix = 'user', body = {}) {
    const username = body.username ?? uniqueName(prefix);
    const res = await request(server, {
        method: 'POST',
        path: '/v2/users',
        headers: JSON_HEADERS,
        body: JSON.stringify({ ...body, username }),
    });
    const user = dataOf(res, 201);
    assert.equal(user.username, username);
    assert.match(user.token, /^kvs_[A-Za-z0-9]{40}$/, 'a generated token');
    return user;
}

/** An ApifyClient acting as the user holding TOKEN (null/undefined = no token at all). */
export function clientAs(server, token) {
    return makeClient(server, { token: token ?? undefined });
}

/** Sets the share of store REF for USERNAME to ACCESS ('READ' | 'WRITE'), as the holder of TOKEN. */
export async function share(server, token, ref, username, access) {
    const res = await request(server, {
        method: 'PUT',
        path: `${storePath(ref)}/shares/${encodeURIComponent(username)}`,
        token,
        headers: JSON_HEADERS,
        body: JSON.stringify({ access }),
    });
    return dataOf(res, 200);
}

/** Sets the default general access of the user holding TOKEN (PUT /v2/users/me). */
export async function setDefaultAccess(server, token, value) {
    const res = await request(server, {
        method: 'PUT',
        path: '/v2/users/me',
        token,
        headers: JSON_HEADERS,
        body: JSON.stringify({ defaultGeneralAccess: value }),
    });
    return dataOf(res, 200);
}

/** The first KVS_TOKEN_PREFIX_MAX (12) characters of a generated token: how it is listed. */
export function prefixOf(token) {
    return token.slice(0, 12);
}
