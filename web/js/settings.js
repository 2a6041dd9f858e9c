// settings.js — a store's Settings tab (its owner's or an admin's): rename, general access,
// sharing with other users, a new URL-signing key, and deleting the store.

import { NAME_RE, api, serverInfo } from './api.js';
import { formatDuration, formatNumber, h, replace, uid } from './dom.js';
import { button, confirmDialog, dialog, emptyState, errorNotice, field, notice, spinner, toast } from './ui.js';
import { ACCESS_LABELS, followsText, storeLabel } from './model.js';

const ACCESS_HELP = {
    FOLLOW_USER_SETTING: 'Use the owner’s default general access, an account setting (Restricted unless the owner changes it on their account page).',
    RESTRICTED: 'Only the owner, admins and the users it is shared with can read it.',
    ANYONE_WITH_ID_CAN_READ: 'Anyone who knows the store’s ID can read its records and keys, without a token.',
    ANYONE_WITH_NAME_CAN_READ: 'As above, and also by its name (username~store-name).',
};

function section(title, description, ...content) {
    const id = uid('sec');
    return h('section', { class: 'card settings-section', 'aria-labelledby': id }, h('h2', { id }, title), description ? h('p', { class: 'muted' }, description) : null, ...content);
}

function renameSection(ctx) {
    const s = ctx.getStore();
    const input = h('input', { type: 'text', value: s.name || '', autocomplete: 'off', spellcheck: 'false', maxlength: '63', placeholder: 'Unnamed' });
    const status = h('div');
    const save = button('Rename', null, { kind: 'primary', type: 'submit' });
    const form = h(
        'form',
        { class: 'inline-form', novalidate: true },
        field('Store name', input, { hint: 'Letters, digits and hyphens (not first or last), up to 63 characters.' }),
        h('div', { class: 'form-actions' }, save),
        status,
    );
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const name = input.value.trim();
        if (name && !NAME_RE.test(name)) {
            replace(status, notice('error', 'That name is not valid: use letters, digits and inner hyphens only.'));
            return;
        }
        const before = ctx.getStore().name || '';
        if (name === before) {
            replace(status, notice('info', 'The name is unchanged.'));
            return;
        }
        if (!name && !(await confirmUnname(ctx.getStore()))) {
            replace(status);
            return;
        }
        save.disabled = true;
        try {
            await api.updateStore(s.id, { name: name || null });
            replace(status, notice('success', name ? (before ? `Renamed to “${name}”.` : `Named “${name}”: the store is now kept until you delete it.`) : `The store is now unnamed: it ${await unnamedFate()}.`));
            await ctx.refresh();
        } catch (err) {
            replace(status, errorNotice(err));
        } finally {
            save.disabled = false;
        }
    });
    const about = h('p', { class: 'muted' }, 'Named stores are kept until they are deleted; unnamed ones expire when unused. Naming an unnamed store makes it permanent; removing the name makes it expire.');
    unnamedFate().then((fate) => replace(about, `Named stores are kept until they are deleted. An unnamed store ${fate}. Naming an unnamed store makes it permanent; removing the name makes it expire.`));
    return section('Name', null, about, form);
}

/** What becomes of an unnamed store on this server (its --unnamed-retention, GET /health), as
 *  a predicate: "is deleted, with its records, once it has not been read or written for 7
 *  days". */
async function unnamedFate() {
    try {
        const ms = (await serverInfo()).unnamedRetentionMillis;
        if (ms === 0) return 'is kept until it is deleted (this server keeps unnamed stores)';
        if (ms > 0) return `is deleted, with its records, once it has not been read or written for ${formatDuration(ms)}`;
    } catch {
        // fall through: the server did not say
    }
    return 'is deleted, with its records, once unused for the server’s retention period';
}

/** Asks before a store loses its name: an unnamed store expires (and says when). */
async function confirmUnname(store) {
    const records = formatNumber(store.stats?.recordCount ?? 0);
    return confirmDialog(
        `Remove the name “${store.name}”?`,
        `The store becomes unnamed: it ${await unnamedFate()}; its ${records} record(s) would go with it. Give it a name again to keep it.`,
        'Remove the name',
    );
}

function accessSection(ctx) {
    const s = ctx.getStore();
    const name = uid('ga');
    const status = h('div');
    const radios = Object.keys(ACCESS_LABELS).map((value) => {
        const input = h('input', { type: 'radio', name, value, checked: s.generalAccess === value });
        const id = uid('ga-opt');
        input.id = id;
        const help = h('span', { class: 'radio-help muted' }, ACCESS_HELP[value]);
        if (value === 'FOLLOW_USER_SETTING') followsText(s, ctx.me).then((t) => t && replace(help, t, s.userId === ctx.me.id ? [' ', ctx.link('/console/account', 'Change it')] : null));
        return h('div', { class: 'radio' }, input, h('label', { for: id }, h('span', { class: 'radio-label' }, ACCESS_LABELS[value]), help));
    });
    const save = button('Save access', null, { kind: 'primary', type: 'submit' });
    const form = h('form', { novalidate: true }, h('fieldset', { class: 'radios' }, h('legend', {}, 'General access'), radios), h('div', { class: 'form-actions' }, save), status);
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const value = form.querySelector(`input[name="${name}"]:checked`)?.value;
        if (!value) return;
        save.disabled = true;
        try {
            await api.updateStore(s.id, { generalAccess: value });
            replace(status, notice('success', `General access is now “${ACCESS_LABELS[value]}”.`));
            await ctx.refresh();
        } catch (err) {
            replace(status, errorNotice(err));
        } finally {
            save.disabled = false;
        }
    });
    return section('General access', 'Who may read this store without it being shared with them. Writing always needs the owner, an admin, or a WRITE share.', form);
}

function sharingSection(ctx) {
    const s = ctx.getStore();
    const listEl = h('div', {}, spinner('Loading shares…'));
    const status = h('div');

    async function load() {
        try {
            const data = await api.listShares(s.id);
            if (data.items.length === 0) {
                replace(listEl, emptyState('Not shared with anyone', 'Share the store with a user to let them read it, or read and write its records.'));
                return;
            }
            replace(
                listEl,
                h(
                    'div',
                    { class: 'table-wrap' },
                    h(
                        'table',
                        { class: 'table' },
                        h('caption', { class: 'sr-only' }, 'Users this store is shared with'),
                        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'User'), h('th', { scope: 'col' }, 'Access'), h('th', { scope: 'col', class: 'num' }, h('span', { class: 'sr-only' }, 'Actions')))),
                        h(
                            'tbody',
                            {},
                            data.items.map((sh) =>
                                h(
                                    'tr',
                                    {},
                                    h('td', {}, sh.username),
                                    h('td', {}, h('span', { class: 'badge' }, sh.access === 'WRITE' ? 'Read and write' : 'Read')),
                                    h('td', { class: 'num' }, button('Remove', async () => {
                                        try {
                                            await api.deleteShare(s.id, sh.username);
                                            toast(`${sh.username} no longer has access`);
                                            load();
                                        } catch (err) {
                                            replace(status, errorNotice(err));
                                        }
                                    }, { kind: 'ghost', 'aria-label': `Stop sharing with ${sh.username}` })),
                                ),
                            ),
                        ),
                    ),
                ),
            );
        } catch (err) {
            replace(listEl, errorNotice(err, load));
        }
    }

    const user = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'username' });
    const access = h('select', {}, h('option', { value: 'READ' }, 'Read'), h('option', { value: 'WRITE' }, 'Read and write'));
    const add = button('Share', null, { kind: 'primary', type: 'submit' });
    const form = h('form', { class: 'share-form', novalidate: true }, field('Username', user), field('Access', access), h('div', { class: 'form-actions' }, add));
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const username = user.value.trim();
        if (!username) {
            replace(status, notice('error', 'Enter the username to share with.'));
            user.focus();
            return;
        }
        add.disabled = true;
        try {
            const sh = await api.setShare(s.id, username, access.value);
            replace(status, notice('success', `Shared with ${sh.username} (${sh.access === 'WRITE' ? 'read and write' : 'read'}).`));
            user.value = '';
            load();
        } catch (err) {
            replace(status, errorNotice(err));
        } finally {
            add.disabled = false;
        }
    });
    load();
    return section(
        'Sharing',
        'Users you share the store with see it in their list of stores. Users with read and write access can sign links to it: taking that access back (or lowering it to read) gives the store a new signing key, so links they made stop working.',
        form,
        status,
        listEl,
    );
}

function signingSection(ctx) {
    const s = ctx.getStore();
    const status = h('div');
    const open = async () => {
        const ok = await confirmDialog(
            'Rotate the signing key?',
            'Every signed link to this store’s keys, records or ZIP download made so far, by you or anyone you shared it with, stops working at once. New links are signed with the new key.',
            'Rotate signing key',
        );
        if (!ok) return;
        try {
            await api.rotateSigningKey(s.id);
            replace(status, notice('success', 'The store has a new signing key: links made before no longer work.'));
            await ctx.refresh();
        } catch (err) {
            replace(status, errorNotice(err));
        }
    };
    return section(
        'Signed links',
        'Links to the key list (with an expiry) and to records (permanent) are signed with the store’s URL-signing key. The only way to end links already handed out is a new key.',
        h('div', { class: 'form-actions' }, button('Rotate signing key', open, { kind: 'danger' })),
        status,
    );
}

function deleteSection(ctx) {
    const s = ctx.getStore();
    const label = storeLabel(s);
    const expected = s.name || s.id;
    const open = async () => {
        const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
        const status = h('div');
        const ok = await dialog(
            `Delete “${label}”?`,
            [
                h('p', {}, 'This deletes the key-value store ', h('strong', {}, label), ` (${s.id}) and its ${formatNumber(s.stats?.recordCount ?? 0)} record(s). It cannot be undone.`),
                field(`Type ${s.name ? 'the store’s name' : 'the store’s ID'} to confirm`, input, { hint: expected }),
                status,
            ],
            (close) => [
                button('Cancel', () => close(false)),
                button('Delete store', () => {
                    if (input.value.trim() !== expected) {
                        replace(status, notice('error', `Type “${expected}” exactly to confirm.`));
                        input.focus();
                        return;
                    }
                    close(true);
                }, { kind: 'danger', type: 'submit' }),
            ],
        );
        if (!ok) return;
        try {
            await api.deleteStore(s.id);
            toast(`Deleted “${label}”`);
            ctx.navigate('/console/');
        } catch (err) {
            toast(err.message, 'error');
        }
    };
    return h(
        'section',
        { class: 'card settings-section danger-zone', 'aria-label': 'Delete the store' },
        h('h2', {}, 'Delete the store'),
        h('p', { class: 'muted' }, 'The store and all its records are deleted at once, for everyone it is shared with.'),
        button(`Delete ${s.name ? `“${s.name}”` : 'this store'}`, open, { kind: 'danger' }),
    );
}

export function settingsTab(ctx) {
    return h('div', { class: 'settings' }, renameSection(ctx), accessSection(ctx), sharingSection(ctx), signingSection(ctx), deleteSection(ctx));
}
