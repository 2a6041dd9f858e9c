// stores.js — the key-value stores page: usage totals, the caller's stores and those shared
// with them, searchable, sortable and paginated, and creating a store.
//
// The API lists stores by creation time, up to 1,000 a request: the page asks for one such
// window (newest first) and sorts and pages it in the browser; more than 1,000 stores are
// reached window by window.

import { NAME_RE, api } from './api.js';
import { formatBytes, formatNumber, h, replace, timeEl } from './dom.js';
import { button, copyButton, dialog, emptyState, errorNotice, field, notice, spinner, toast } from './ui.js';
import { scopeSummary } from './model.js';

const WINDOW = 1000;
const PAGE_SIZES = [10, 25, 50, 100];
const UNNAMED_KEY = 'kvs.console.unnamed';

const COLUMNS = [
    { key: 'name', label: 'Name', get: (s) => (s.name || '').toLowerCase() || '\uffff' },
    { key: 'id', label: 'Store ID', get: (s) => s.id },
    { key: 'records', label: 'Records', get: (s) => s.stats?.recordCount ?? 0, num: true },
    { key: 'size', label: 'Size', get: (s) => s.stats?.storageBytes ?? 0, num: true },
    { key: 'modified', label: 'Modified', get: (s) => s.modifiedAt, num: true },
];

/** Asks for a name and creates the store; resolves with the store or undefined. */
export async function createStoreDialog() {
    const input = h('input', { type: 'text', name: 'name', autocomplete: 'off', spellcheck: 'false', maxlength: '63', placeholder: 'my-store' });
    const status = h('div');
    return dialog(
        'Create a key-value store',
        [
            field('Store name', input, {
                hint: 'Letters, digits and hyphens (not first or last), up to 63 characters. Leave it empty for an unnamed store, which is deleted after the retention period when unused.',
            }),
            status,
        ],
        (close) => [
            button('Cancel', () => close()),
            button(
                'Create',
                async (e) => {
                    const btn = e.currentTarget;
                    const name = input.value.trim();
                    if (name && !NAME_RE.test(name)) {
                        replace(status, notice('error', 'That name is not valid: use letters, digits and inner hyphens only.'));
                        input.focus();
                        return;
                    }
                    btn.disabled = true;
                    try {
                        const store = await api.createStore(name || undefined);
                        close(store);
                    } catch (err) {
                        btn.disabled = false;
                        replace(status, errorNotice(err));
                    }
                },
                { kind: 'primary', type: 'submit' },
            ),
        ],
    );
}

function accessLabel(store) {
    if (store.sharedWithMe) return h('span', { class: 'badge badge-shared', title: `Shared with you by ${store.username}` }, `Shared · ${store.access}`);
    return null;
}

export function storesPage(ctx) {
    document.title = 'Key-value stores · kvstore';
    const state = {
        unnamed: sessionStorage.getItem(UNNAMED_KEY) === '1',
        offset: 0,
        data: null,
        sort: { key: 'modified', desc: true },
        page: 0,
        pageSize: 25,
        search: '',
    };

    const usageEl = h('section', { class: 'usage', 'aria-label': 'Usage' });
    const listEl = h('section', { class: 'card', 'aria-label': 'Stores' });

    const unnamedBox = h('input', { type: 'checkbox', id: 'unnamed-toggle', checked: state.unnamed });
    unnamedBox.addEventListener('change', () => {
        state.unnamed = unnamedBox.checked;
        sessionStorage.setItem(UNNAMED_KEY, state.unnamed ? '1' : '0');
        state.offset = 0;
        state.page = 0;
        load();
    });

    const create = async () => {
        const store = await createStoreDialog();
        if (store) {
            toast(`Created ${store.name ? `“${store.name}”` : 'an unnamed store'}`);
            ctx.navigate(`/console/stores/${store.id}`);
        }
    };

    async function loadUsage() {
        if (!ctx.me.administer) {
            // a token without administration sees no account totals: say what it may do instead
            replace(usageEl, notice('info', h('strong', {}, 'A limited token. '), `It reaches: ${scopeSummary(ctx.me.scope, ctx.me.username)}.`));
            return;
        }
        try {
            // usage is over the stores the user owns; the list below shows shared ones too, so
            // the count of stores says both
            const [u, shared] = await Promise.all([api.usage(), api.listStores({ limit: 1, unnamed: true, ownership: 'sharedWithMe' }, ctx.signal)]);
            const card = (label, value, sub) => h('div', { class: 'stat-card' }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value), sub ? h('div', { class: 'stat-sub' }, sub) : null);
            const own = `${formatNumber(u.namedStores)} named · ${formatNumber(u.stores - u.namedStores)} unnamed`;
            replace(
                usageEl,
                card('Stores', formatNumber(u.stores + shared.total), shared.total ? `yours: ${own} · shared with you: ${formatNumber(shared.total)}` : own),
                card('Records', formatNumber(u.records), shared.total ? 'in your own stores' : null),
                card('Storage', formatBytes(u.storageBytes), `${formatNumber(u.storageBytes)} bytes${shared.total ? ' in your own stores' : ''}`),
            );
            state.usage = u;
        } catch (err) {
            if (err.name !== 'AbortError') replace(usageEl, errorNotice(err, loadUsage));
        }
    }

    async function load() {
        replace(listEl, spinner('Loading stores…'));
        try {
            state.data = await api.listStores({ offset: state.offset, limit: WINDOW, desc: true, unnamed: state.unnamed }, ctx.signal);
            draw();
        } catch (err) {
            if (err.name !== 'AbortError') replace(listEl, errorNotice(err, load));
        }
    }

    /** The stores of the window that the search matches: its words in the name, ID, owner or
     *  title (case-insensitive). */
    function matching() {
        const words = state.search.toLowerCase().split(/\s+/).filter(Boolean);
        if (words.length === 0) return state.data.items;
        return state.data.items.filter((s) => {
            const text = [s.name || 'unnamed store', s.id, s.username, s.title].filter(Boolean).join(' ').toLowerCase();
            return words.every((w) => text.includes(w));
        });
    }

    function sorted() {
        const col = COLUMNS.find((c) => c.key === state.sort.key);
        const items = [...matching()];
        items.sort((a, b) => {
            const x = col.get(a);
            const y = col.get(b);
            const c = x < y ? -1 : x > y ? 1 : 0;
            return state.sort.desc ? -c : c;
        });
        return items;
    }

    function headerCell(col) {
        const active = state.sort.key === col.key;
        const dir = active ? (state.sort.desc ? 'descending' : 'ascending') : 'none';
        return h(
            'th',
            { scope: 'col', 'aria-sort': dir, class: col.num ? 'num' : null },
            h(
                'button',
                {
                    type: 'button',
                    class: 'sort',
                    onclick: () => {
                        state.sort = { key: col.key, desc: active ? !state.sort.desc : Boolean(col.num) };
                        state.page = 0;
                        draw();
                    },
                },
                col.label,
                h('span', { class: `sort-icon sort-${dir}`, 'aria-hidden': 'true' }),
            ),
        );
    }

    function row(s) {
        const href = `/console/stores/${s.id}`;
        return h(
            'tr',
            {},
            h(
                'td',
                { class: 'cell-name' },
                ctx.link(href, s.name ? s.name : h('span', { class: 'unnamed' }, 'Unnamed store')),
                s.title ? h('div', { class: 'muted small' }, s.title) : null,
                s.sharedWithMe ? h('div', { class: 'small muted' }, `Owner: ${s.username}`) : null,
            ),
            h('td', { class: 'mono cell-id' }, h('span', {}, s.id), copyButton(s.id, 'Copy ID', 'Store ID copied')),
            h('td', { class: 'num' }, formatNumber(s.stats?.recordCount ?? 0)),
            h('td', { class: 'num' }, formatBytes(s.stats?.storageBytes ?? 0)),
            h('td', { class: 'num' }, timeEl(s.modifiedAt), h('div', {}, accessLabel(s))),
        );
    }

    function draw() {
        const d = state.data;
        if (d.total === 0 || d.items.length === 0) {
            const hidden = !state.unnamed && state.usage && state.usage.stores > state.usage.namedStores;
            replace(
                listEl,
                emptyState(
                    state.unnamed ? 'No key-value stores yet' : 'No named key-value stores yet',
                    hidden
                        ? `You have ${formatNumber(state.usage.stores - state.usage.namedStores)} unnamed store(s): tick “Include unnamed key-value stores” to see them.`
                        : 'A store holds records: any value under a string key. Create one here, or from code with the Apify client.',
                    button('Create store', create, { kind: 'primary' }),
                ),
            );
            return;
        }
        const items = sorted();
        if (items.length === 0) {
            replace(listEl, emptyState('No store matches', `No store in this list has “${state.search}” in its name, ID, owner or title.`, button('Clear the search', () => setSearch(''))));
            return;
        }
        const pages = Math.max(1, Math.ceil(items.length / state.pageSize));
        state.page = Math.min(state.page, pages - 1);
        const first = state.page * state.pageSize;
        const shown = items.slice(first, first + state.pageSize);
        const sizeSel = h('select', { 'aria-label': 'Stores per page', class: 'select-small' }, PAGE_SIZES.map((n) => h('option', { value: String(n), selected: n === state.pageSize ? true : null }, `${n} / page`)));
        sizeSel.addEventListener('change', () => {
            state.pageSize = Number(sizeSel.value);
            state.page = 0;
            draw();
        });
        const go = (p) => () => {
            state.page = p;
            draw();
        };
        const windowNote =
            d.total > WINDOW
                ? h(
                      'div',
                      { class: 'window-note' },
                      `Stores ${formatNumber(d.offset + 1)}–${formatNumber(d.offset + d.count)} of ${formatNumber(d.total)}, newest first; sorting applies to these. `,
                      d.offset > 0 ? button('Newer 1,000', () => ((state.offset = Math.max(0, d.offset - WINDOW)), load()), { kind: 'ghost' }) : null,
                      d.offset + d.count < d.total ? button('Older 1,000', () => ((state.offset = d.offset + WINDOW), load()), { kind: 'ghost' }) : null,
                  )
                : null;
        replace(
            listEl,
            windowNote,
            h(
                'div',
                { class: 'table-wrap' },
                h('table', { class: 'table table-stores' }, h('caption', { class: 'sr-only' }, 'Your key-value stores'), h('thead', {}, h('tr', {}, COLUMNS.map(headerCell))), h('tbody', {}, shown.map(row))),
            ),
            h(
                'div',
                { class: 'pager' },
                h('span', { class: 'pager-info' }, `${formatNumber(first + 1)}–${formatNumber(first + shown.length)} of ${formatNumber(items.length)}`),
                sizeSel,
                button('Previous', go(state.page - 1), { disabled: state.page === 0, 'aria-label': 'Previous page of stores' }),
                button('Next', go(state.page + 1), { disabled: state.page >= pages - 1, 'aria-label': 'Next page of stores' }),
            ),
        );
    }

    const searchInput = h('input', { type: 'search', placeholder: 'Search by name, ID or owner', 'aria-label': 'Search stores', autocomplete: 'off', spellcheck: 'false', class: 'search' });
    function setSearch(text) {
        state.search = text.trim();
        searchInput.value = text;
        state.page = 0;
        if (state.data) draw();
    }
    searchInput.addEventListener('input', () => setSearch(searchInput.value));

    loadUsage();
    load();
    return h(
        'div',
        { class: 'page' },
        h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Key-value stores'), h('p', { class: 'muted' }, 'Your stores and the stores other users shared with you.')), button('Create store', create, { kind: 'primary' })),
        usageEl,
        h('div', { class: 'toolbar' }, searchInput, h('label', { class: 'check', for: 'unnamed-toggle' }, unnamedBox, 'Include unnamed key-value stores')),
        listEl,
    );
}
