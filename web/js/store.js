// store.js — one store's page: its name, ID, owner and access, its statistics, and the
// Records, Settings and API tabs.

import { api } from './api.js';
import { formatBytes, formatDate, formatDay, formatNumber, h, replace, timeEl } from './dom.js';
import { copyButton, errorNotice, spinner, tabs } from './ui.js';
import { recordsTab } from './records.js';
import { settingsTab } from './settings.js';
import { apiTab } from './apitab.js';
import { ACCESS_LABELS, followsText, ownerDefault, rightsOf, storeLabel } from './model.js';

/** The badge of STORE's general access. "Follows the owner's setting" says what the setting
 *  is, when the user can know it (their own, or as an admin), and how to change their own. */
function accessBadge(store, ctx) {
    const label = ACCESS_LABELS[store.generalAccess] || store.generalAccess;
    if (store.generalAccess !== 'FOLLOW_USER_SETTING') return h('span', { class: 'badge' }, label);
    const own = store.userId === ctx.me.id;
    const badge = own
        ? ctx.link('/console/account', `Follows your setting: ${ACCESS_LABELS[ctx.me.defaultGeneralAccess] || '…'}`)
        : h('span', {}, label);
    badge.setAttribute('class', 'badge badge-follows');
    badge.setAttribute('title', 'Who may read this store without a share follows the owner’s default general access, an account setting.');
    followsText(store, ctx.me).then((t) => t && badge.setAttribute('title', `${t} A store’s own setting (under Settings) overrides it.`));
    if (!own) ownerDefault(store, ctx.me).then((v) => v && (badge.textContent = `Follows ${store.username}’s setting: ${ACCESS_LABELS[v]}`));
    return badge;
}

function statsBar(store) {
    const s = store.stats || {};
    const item = (label, value, title) => h('div', { class: 'stat' }, h('dt', {}, label), h('dd', { title }, value));
    return h(
        'dl',
        { class: 'stats', 'aria-label': 'Statistics' },
        item('Records', formatNumber(s.recordCount ?? 0)),
        item('Size', formatBytes(s.storageBytes ?? 0), `${formatNumber(s.storageBytes ?? 0)} bytes`),
        item('Reads', formatNumber(s.readCount ?? 0)),
        item('Writes', formatNumber(s.writeCount ?? 0)),
        item('Deletes', formatNumber(s.deleteCount ?? 0)),
        item('Lists', formatNumber(s.listCount ?? 0)),
        item('Modified', timeEl(store.modifiedAt)),
        item('Created', formatDay(store.createdAt), formatDate(store.createdAt)),
    );
}

export function storePage(ctx) {
    const { id, tab } = ctx.params;
    const root = h('div', { class: 'page' }, spinner('Loading the store…'));
    const state = { store: null };

    async function load() {
        try {
            state.store = await api.getStore(id, ctx.signal);
            draw();
        } catch (err) {
            if (err.name === 'AbortError') return;
            document.title = 'Store · kvstore';
            replace(
                root,
                h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, ctx.link('/console/', 'Key-value stores')),
                h('h1', {}, 'Key-value store'),
                errorNotice(err.status === 404 ? Object.assign(err, { message: `There is no key-value store ${id}, or you may not see it.` }) : err, err.status === 0 ? load : null),
            );
        }
    }

    /** Reloads the store object (after a change) and redraws the header; TAB content stays. */
    async function refresh() {
        try {
            state.store = await api.getStore(id, ctx.signal);
            replace(headEl, ...headParts());
        } catch {
            // the tab reports its own errors
        }
    }

    const headEl = h('div', { class: 'store-head' });

    function headParts() {
        const s = state.store;
        const rights = rightsOf(s, ctx.me);
        document.title = `${storeLabel(s)} · kvstore`;
        return [
            h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, ctx.link('/console/', 'Key-value stores'), h('span', { 'aria-hidden': 'true' }, ' / '), h('span', {}, storeLabel(s))),
            h(
                'div',
                { class: 'page-head' },
                h(
                    'div',
                    {},
                    h('h1', { class: s.name ? null : 'unnamed' }, storeLabel(s)),
                    h(
                        'div',
                        { class: 'store-meta' },
                        h('span', { class: 'meta-item mono' }, s.id, copyButton(s.id, 'Copy ID', 'Store ID copied')),
                        h('span', { class: 'meta-item' }, rights.owner ? 'Owned by you' : `Owner: ${s.username}`),
                        accessBadge(s, ctx),
                        !rights.write ? h('span', { class: 'badge badge-muted' }, 'Read only') : null,
                        !s.name ? h('span', { class: 'badge badge-warning', title: 'Unnamed stores are deleted once unused for the retention period' }, 'Unnamed: expires when unused') : null,
                    ),
                    s.actRunId ? h('p', { class: 'run-link' }, 'The default store of run ', ctx.link(`/console/runs/${s.actRunId}`, h('span', { class: 'mono' }, s.actRunId)), ': it holds the run’s INPUT and OUTPUT, and goes with the run.') : null,
                ),
            ),
            statsBar(s),
        ];
    }

    function draw() {
        const s = state.store;
        const rights = rightsOf(s, ctx.me);
        const base = `/console/stores/${s.id}`;
        const items = [{ label: 'Records', href: base, current: tab === 'records' }];
        if (rights.manage) items.push({ label: 'Settings', href: `${base}/settings`, current: tab === 'settings' });
        items.push({ label: 'API', href: `${base}/api`, current: tab === 'api' });
        const sub = { ...ctx, store: s, rights, refresh, getStore: () => state.store };
        let body;
        if (tab === 'settings' && rights.manage) body = settingsTab(sub);
        else if (tab === 'settings') body = errorNotice({ status: 403, message: 'Only the store’s owner (or an admin) can change its settings.' });
        else if (tab === 'api') body = apiTab(sub);
        else body = recordsTab(sub);
        replace(headEl, ...headParts());
        replace(root, headEl, tabs(items, (e, href) => ctx.navigate(href, e), 'Store sections'), h('div', { class: 'tab-body' }, body));
    }

    load();
    return root;
}
