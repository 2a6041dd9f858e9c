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

/** The ApiError of an answer with STATUS and body TEXT (the API's error JSON, or anything). */
function errorFrom(status, statusText, text) {
    let type = 'http-error';
    let message = `The server answered ${status} ${statusText}.`;
    try {
        const body = JSON.parse(text);
        if (body && body.error) {
            type = body.error.type || type;
            message = body.error.message || message;
        }
    } catch {
        // not JSON: keep the status line
    }
    return new ApiError(status, type, message);
}

async function errorOf(res) {
    let text = '';
    try {
        text = await res.text();
    } catch {
        // no body
    }
    return errorFrom(res.status, res.statusText, text);
}

const NETWORK_ERROR = 'The server could not be reached. Check that kvs serve is running, then try again.';

/** The data of a 2xx answer's TEXT (as call() gives it). */
function dataOf(status, text) {
    if (status === 204 || !text) return null;
    const parsed = JSON.parse(text);
    return parsed && typeof parsed === 'object' && 'data' in parsed ? parsed.data : parsed;
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
        throw new ApiError(0, 'network-error', NETWORK_ERROR);
    }
    if (!res.ok) {
        const err = await errorOf(res);
        if (res.status === 401 && token && options.token === undefined && onUnauthorized) onUnauthorized(err);
        throw err;
    }
    if (raw) return res;
    return dataOf(res.status, res.status === 204 ? '' : await res.text());
}

/**
 * PUT BODY (a Blob or string) as record KEY of store ID with CONTENT_TYPE, telling
 * ONPROGRESS(sent, total) as the body goes out: XMLHttpRequest, since fetch() reports no
 * upload progress. SIGNAL aborts it (an AbortError). Resolves and fails as call() does.
 */
export function putRecordWithProgress(id, key, body, contentType, onProgress, signal) {
    return new Promise((resolve, reject) => {
        const xhr = new XMLHttpRequest();
        const token = getToken();
        xhr.open('PUT', apiUrl(recordPath(id, key)));
        if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`);
        xhr.setRequestHeader('Content-Type', contentType);
        const total = typeof body === 'string' ? new Blob([body]).size : body.size;
        xhr.upload.addEventListener('progress', (e) => onProgress?.(e.loaded, e.lengthComputable ? e.total : total));
        xhr.addEventListener('load', () => {
            if (xhr.status >= 200 && xhr.status < 300) {
                resolve(dataOf(xhr.status, xhr.responseText));
                return;
            }
            const err = errorFrom(xhr.status, xhr.statusText, xhr.responseText);
            if (xhr.status === 401 && token && onUnauthorized) onUnauthorized(err);
            reject(err);
        });
        xhr.addEventListener('error', () => reject(new ApiError(0, 'network-error', NETWORK_ERROR)));
        xhr.addEventListener('abort', () => reject(new DOMException('The upload was cancelled.', 'AbortError')));
        if (signal) {
            if (signal.aborted) {
                reject(new DOMException('The upload was cancelled.', 'AbortError'));
                return;
            }
            signal.addEventListener('abort', () => xhr.abort(), { once: true });
        }
        xhr.send(body);
    });
}

let healthCache = null;

/** GET /health, once per page load: the server's version and limits (maxRecordSize,
 *  unnamedRetentionMillis), which the console checks before it sends anything. */
export function serverInfo() {
    if (!healthCache) {
        healthCache = call('GET', '/health', { token: null }).catch((err) => {
            healthCache = null; // ask again next time
            throw err;
        });
    }
    return healthCache;
}

// ---- the endpoints the console uses ------------------------------------------------------

export const api = {
    me: (token) => call('GET', '/v2/users/me', token === undefined ? {} : { token }),
    updateMe: (changes) => call('PUT', '/v2/users/me', { json: changes }),
    getUser: (user) => call('GET', `/v2/users/${encodeURIComponent(user)}`),
    usage: (user = 'me') => call('GET', `/v2/users/${encodeURIComponent(user)}/usage`),

    listStores: ({ offset = 0, limit = 1000, desc = true, unnamed = false, ownership } = {}, signal) =>
        call('GET', '/v2/key-value-stores', { query: { offset, limit, desc, unnamed, ownership }, signal }),
    createStore: (name) => call('POST', '/v2/key-value-stores', { query: { name } }),
    getStore: (id, signal) => call('GET', storePath(id), { signal }),
    updateStore: (id, changes) => call('PUT', storePath(id), { json: changes }),
    deleteStore: (id) => call('DELETE', storePath(id)),
    rotateSigningKey: (id) => call('POST', `${storePath(id)}/rotate-signing-key`),

    listKeys: (id, { limit, exclusiveStartKey, prefix } = {}, signal) =>
        call('GET', `${storePath(id)}/keys`, { query: { limit, exclusiveStartKey, prefix }, signal }),
    recordsZip: (id, prefix, signal) => call('GET', `${storePath(id)}/records`, { query: { prefix }, raw: true, signal }),
    getRecord: (id, key, signal) => call('GET', recordPath(id, key), { raw: true, signal }),
    putRecord: (id, key, body, contentType) => call('PUT', recordPath(id, key), { body, contentType }),
    deleteRecord: (id, key) => call('DELETE', recordPath(id, key)),

    listShares: (id) => call('GET', `${storePath(id)}/shares`),
    setShare: (id, username, access) =>
        call('PUT', `${storePath(id)}/shares/${encodeURIComponent(username)}`, { json: { access } }),
    deleteShare: (id, username) => call('DELETE', `${storePath(id)}/shares/${encodeURIComponent(username)}`),

    listUsers: () => call('GET', '/v2/users'),
    createUser: (body) => call('POST', '/v2/users', { json: body }),
    deleteUser: (username) => call('DELETE', `/v2/users/${encodeURIComponent(username)}`),
    listTokens: (username) => call('GET', `/v2/users/${encodeURIComponent(username)}/tokens`),
    createToken: (username, limits) => call('POST', `/v2/users/${encodeURIComponent(username)}/tokens`, limits ? { json: limits } : {}),
    revokeToken: (prefix) => call('DELETE', `/v2/tokens/${encodeURIComponent(prefix)}`),
};

/** Record keys the server accepts (contract §5). */
export const KEY_RE = /^[a-zA-Z0-9!\-_.'()]{1,256}$/;

/** Store names the server accepts. */
export const NAME_RE = /^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9])$/;
