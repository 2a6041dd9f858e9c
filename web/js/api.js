// api.js — the console's only way to the server: the public API (/v2), with the user's token.
//
// The token lives in this tab's sessionStorage (gone when the tab closes) and is sent as a
// Bearer header, never in a URL. Every failure becomes an ApiError carrying the API's error
// type and message, so pages can say what went wrong in the server's own words.

const TOKEN_KEY = 'kvs.console.token';

/** Where the API is: the console is served by the same server. */
export const API_BASE = window.location.origin;

export class ApiError extends Error {
    constructor(status, type, message) {
        super(message);
        this.name = 'ApiError';
        this.status = status;
        this.type = type;
    }
}

export function getToken() {
    return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
    sessionStorage.removeItem(TOKEN_KEY);
}

let onUnauthorized = null;

/** Calls FN(error) when a request made with a stored token is refused with 401 (revoked). */
export function setUnauthorizedHandler(fn) {
    onUnauthorized = fn;
}

/** The path of a store (ID) and of one of its records; keys are percent-encoded. */
export function storePath(id) {
    return `/v2/key-value-stores/${encodeURIComponent(id)}`;
}

export function recordPath(id, key) {
    return `${storePath(id)}/records/${encodeURIComponent(key)}`;
}

/** A URL of the API with QUERY (undefined, null and '' values left out). */
export function apiUrl(path, query = {}) {
    const url = new URL(path, API_BASE);
    for (const [k, v] of Object.entries(query)) {
        if (v === undefined || v === null || v === '') continue;
        url.searchParams.set(k, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
    }
    return url;
}

async function errorOf(res) {
    let type = 'http-error';
    let message = `The server answered ${res.status} ${res.statusText}.`;
    try {
        const body = await res.json();
        if (body && body.error) {
            type = body.error.type || type;
            message = body.error.message || message;
        }
    } catch {
        // not JSON: keep the status line
    }
    return new ApiError(res.status, type, message);
}

/**
 * One request. options: query, json (sent as a JSON body), body + contentType (raw body),
 * token (default: the stored one; null = none), raw (return the Response), signal.
 * Resolves with the "data" of a JSON answer, null for 204, or the Response when raw.
 */
export async function call(method, path, options = {}) {
    const { query, json, raw = false, signal } = options;
    const token = options.token === undefined ? getToken() : options.token;
    const headers = new Headers();
    if (token) headers.set('Authorization', `Bearer ${token}`);
    let body = options.body;
    if (json !== undefined) {
        body = JSON.stringify(json);
        headers.set('Content-Type', 'application/json');
    } else if (options.contentType) {
        headers.set('Content-Type', options.contentType);
    }
    let res;
    try {
        res = await fetch(apiUrl(path, query), { method, headers, body, signal, cache: 'no-store' });
    } catch (e) {
        if (e.name === 'AbortError') throw e;
        throw new ApiError(0, 'network-error', 'The server could not be reached. Check that kvs serve is running, then try again.');
    }
    if (!res.ok) {
        const err = await errorOf(res);
        if (res.status === 401 && token && options.token === undefined && onUnauthorized) onUnauthorized(err);
        throw err;
    }
    if (raw) return res;
    if (res.status === 204) return null;
    const text = await res.text();
    if (!text) return null;
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === 'object' && 'data' in parsed ? parsed.data : parsed;
}

// ---- the endpoints the console uses ------------------------------------------------------

export const api = {
    me: (token) => call('GET', '/v2/users/me', token === undefined ? {} : { token }),
    usage: () => call('GET', '/v2/users/me/usage'),

    listStores: ({ offset = 0, limit = 1000, desc = true, unnamed = false, ownership } = {}, signal) =>
        call('GET', '/v2/key-value-stores', { query: { offset, limit, desc, unnamed, ownership }, signal }),
    createStore: (name) => call('POST', '/v2/key-value-stores', { query: { name } }),
    getStore: (id, signal) => call('GET', storePath(id), { signal }),
    updateStore: (id, changes) => call('PUT', storePath(id), { json: changes }),
    deleteStore: (id) => call('DELETE', storePath(id)),
    rotateSigningKey: (id) => call('POST', `${storePath(id)}/rotate-signing-key`),

    listKeys: (id, { limit, exclusiveStartKey, prefix } = {}, signal) =>
        call('GET', `${storePath(id)}/keys`, {
            query: { limit, exclusiveStartKey, prefix, includeContentTypes: true },
            signal,
        }),
    getRecord: (id, key, signal) => call('GET', recordPath(id, key), { raw: true, signal }),
    putRecord: (id, key, body, contentType) => call('PUT', recordPath(id, key), { body, contentType }),
    deleteRecord: (id, key) => call('DELETE', recordPath(id, key)),

    listShares: (id) => call('GET', `${storePath(id)}/shares`),
    setShare: (id, username, access) =>
        call('PUT', `${storePath(id)}/shares/${encodeURIComponent(username)}`, { json: { access } }),
    deleteShare: (id, username) => call('DELETE', `${storePath(id)}/shares/${encodeURIComponent(username)}`),

    listUsers: () => call('GET', '/v2/users'),
    createUser: (body) => call('POST', '/v2/users', { json: body }),
    listTokens: (username) => call('GET', `/v2/users/${encodeURIComponent(username)}/tokens`),
    createToken: (username) => call('POST', `/v2/users/${encodeURIComponent(username)}/tokens`),
    revokeToken: (prefix) => call('DELETE', `/v2/tokens/${encodeURIComponent(prefix)}`),
};

/** Record keys the server accepts (contract §5). */
export const KEY_RE = /^[a-zA-Z0-9!\-_.'()]{1,256}$/;

/** Store names the server accepts. */
export const NAME_RE = /^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9])$/;
