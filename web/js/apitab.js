// apitab.js — a store's API tab: its endpoints, curl and apify-client snippets with the real
// base URL and ID, and signed links (for those who may write: only they hold the store's
// URL-signing secret).

import { API_BASE, KEY_RE } from './api.js';
import { h, replace, uid } from './dom.js';
import { button, codeBlock, copyable, field, notice } from './ui.js';
import { keysSignature, recordSignature } from './sign.js';

const EXPIRIES = [
    ['3600', '1 hour'],
    ['86400', '1 day'],
    ['604800', '7 days'],
    ['2592000', '30 days'],
    ['0', 'Never'],
];

function section(title, description, ...content) {
    const id = uid('api');
    return h('section', { class: 'card settings-section', 'aria-labelledby': id }, h('h2', { id }, title), description ? h('p', { class: 'muted' }, description) : null, ...content);
}

function endpoints(store) {
    const base = `${API_BASE}/v2/key-value-stores/${store.id}`;
    const rows = [
        ['GET', base, 'The store: name, access, statistics'],
        ['GET', `${base}/keys`, 'Keys, a page at a time (limit, exclusiveStartKey, prefix)'],
        ['GET', `${base}/records/{key}`, 'One record, with its content type'],
        ['PUT', `${base}/records/{key}`, 'Store a record (the body, with its Content-Type)'],
        ['DELETE', `${base}/records/{key}`, 'Delete a record'],
        ['GET', `${base}/records`, 'Every record as a ZIP archive (prefix)'],
    ];
    return h(
        'div',
        { class: 'table-wrap' },
        h(
            'table',
            { class: 'table endpoints' },
            h('caption', { class: 'sr-only' }, 'Endpoints'),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Method'), h('th', { scope: 'col' }, 'URL'), h('th', { scope: 'col' }, 'What'))),
            h('tbody', {}, rows.map(([m, url, what]) => h('tr', {}, h('td', {}, h('span', { class: `method method-${m.toLowerCase()}` }, m)), h('td', { class: 'mono break' }, url), h('td', { class: 'muted' }, what)))),
        ),
    );
}

function snippets(store) {
    const base = `${API_BASE}/v2/key-value-stores/${store.id}`;
    const curl = [
        '# your API token',
        'export KVS_TOKEN=kvs_...',
        '',
        '# list the first 100 keys',
        `curl -H "Authorization: Bearer $KVS_TOKEN" '${base}/keys?limit=100'`,
        '',
        '# store a record, then read it back',
        `curl -X PUT -H "Authorization: Bearer $KVS_TOKEN" -H 'Content-Type: application/json' \\`,
        `     --data '{"hello": "world"}' '${base}/records/greeting'`,
        `curl -H "Authorization: Bearer $KVS_TOKEN" '${base}/records/greeting'`,
    ].join('\n');
    const js = [
        "import { ApifyClient } from 'apify-client';",
        '',
        `const client = new ApifyClient({ baseUrl: '${API_BASE}', token: process.env.KVS_TOKEN });`,
        `const store = client.keyValueStore('${store.id}');`,
        '',
        "await store.setRecord({ key: 'greeting', value: { hello: 'world' } });",
        "const record = await store.getRecord('greeting');",
        'const { items } = await store.listKeys({ limit: 100 });',
    ].join('\n');
    return [codeBlock(curl, 'curl'), codeBlock(js, 'apify-client (JavaScript)')];
}

function signedLinks(store) {
    const secret = store.urlSigningSecretKey;
    const base = `${API_BASE}/v2/key-value-stores/${store.id}`;

    const expiry = h('select', {}, EXPIRIES.map(([v, label]) => h('option', { value: v, selected: v === '86400' ? true : null }, label)));
    const keysOut = h('div', { class: 'signed-out' });
    const keysForm = h('form', { class: 'inline-form', novalidate: true }, field('Link valid for', expiry), h('div', { class: 'form-actions' }, button('Create key list link', null, { kind: 'primary', type: 'submit' })));
    keysForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const secs = Number(expiry.value);
        const expiresAt = secs ? Date.now() + secs * 1000 : 0;
        const url = `${base}/keys?signature=${keysSignature(secret, store.id, expiresAt)}`;
        replace(
            keysOut,
            copyable(url, { label: 'Copy link', what: 'Link copied', cls: 'signed-url' }),
            h('p', { class: 'muted small' }, expiresAt ? `Valid until ${new Date(expiresAt).toLocaleString()}. ` : 'Never expires. ', 'It also opens the ZIP of all records (', h('code', {}, '/records?signature=…'), ').'),
        );
    });

    const keyInput = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'record key' });
    const recOut = h('div', { class: 'signed-out' });
    const recForm = h('form', { class: 'inline-form', novalidate: true }, field('Record key', keyInput), h('div', { class: 'form-actions' }, button('Create record link', null, { kind: 'primary', type: 'submit' })));
    recForm.addEventListener('submit', (e) => {
        e.preventDefault();
        const key = keyInput.value.trim();
        if (!KEY_RE.test(key)) {
            replace(recOut, notice('error', 'Enter a valid record key.'));
            return;
        }
        const url = `${base}/records/${encodeURIComponent(key)}?signature=${recordSignature(secret, key)}`;
        replace(recOut, copyable(url, { label: 'Copy link', what: 'Link copied', cls: 'signed-url' }), h('p', { class: 'muted small' }, 'Record links never expire: they stay valid while the record exists and the store’s secret is unchanged.'));
    });

    return section(
        'Signed links',
        'Links that let anyone who has them read, without a token, whatever the store’s general access. They are signed in your browser with the store’s URL-signing secret, as the Apify client signs them.',
        h('h3', {}, 'Key list'),
        keysForm,
        keysOut,
        h('h3', {}, 'One record'),
        recForm,
        recOut,
    );
}

export function apiTab(ctx) {
    const store = ctx.store;
    return h(
        'div',
        { class: 'settings' },
        section('Endpoints', h('span', {}, 'Base URL ', h('code', {}, API_BASE), '; send your token as ', h('code', {}, 'Authorization: Bearer …'), '.'), endpoints(store)),
        section('Examples', 'Replace kvs_... with your API token. The official Apify clients work unchanged against this server.', snippets(store)),
        ctx.rights.write ? signedLinks(store) : section('Signed links', 'Only users who may write to this store can create signed links.'),
    );
}
