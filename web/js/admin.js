// admin.js — the admin's pages: users (create one; its token is shown once) and API tokens
// (list a user's tokens by prefix with their limits, create one, limited or not, revoke one).

import { api, getToken } from './api.js';
import { formatBytes, formatDate, formatNumber, h, replace, uid } from './dom.js';
import { button, confirmDialog, copyButton, dialog, emptyState, errorNotice, field, notice, spinner, toast } from './ui.js';
import { scopeSummary } from './model.js';

const USERNAME_RE = /^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]{0,61}[a-zA-Z0-9])$/;

function adminOnly(ctx, title) {
    if (ctx.me.isAdmin) return null;
    document.title = `${title} · kvstore`;
    return h('div', { class: 'page' }, h('h1', {}, title), errorNotice({ status: 403, message: 'Only admins can see this page.' }));
}

/** The box that shows a new token once, with a copy button. */
function tokenReveal(username, token) {
    return notice(
        'success',
        h('strong', {}, `API token for ${username}`),
        h('p', {}, 'Copy it now: it is shown only this once. Whoever holds it acts as ', h('strong', {}, username), '.'),
        h('div', { class: 'token-reveal' }, h('code', { class: 'token-value', 'data-testid': 'new-token' }, token), copyButton(token, 'Copy token', 'Token copied')),
    );
}

/** Whether the token listed by PREFIX is the one this console is signed in with. */
function isOwnToken(prefix) {
    const token = getToken();
    return Boolean(prefix && token && token.startsWith(prefix));
}

/** Asks before deleting user U, saying what goes with them (their stores and records, from
 *  GET /v2/users/{user}/usage) and, for the user signed in, that it signs them out; the
 *  username must be typed. Resolves true to delete. */
async function confirmDeleteUser(ctx, u) {
    let what = 'their stores with all their records';
    try {
        const usage = await api.usage(u.username);
        what = `their ${formatNumber(usage.stores)} store(s) with ${formatNumber(usage.records)} record(s) (${formatBytes(usage.storageBytes)})`;
    } catch {
        // say it without the numbers
    }
    const self = u.id === ctx.me.id;
    const input = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false' });
    const status = h('div');
    return dialog(
        `Delete user ${u.username}?`,
        [
            h('p', {}, 'This deletes ', h('strong', {}, u.username), `, their API tokens, the shares they were given, and ${what}. Stores of theirs shared with others go too. It cannot be undone.`),
            self ? notice('warning', h('strong', {}, 'This is you. '), 'Your token stops working with it: you will be signed out.') : null,
            field('Type the username to confirm', input, { hint: u.username }),
            status,
        ],
        (close) => [
            button('Cancel', () => close(false)),
            button('Delete user', () => {
                if (input.value.trim() !== u.username) {
                    replace(status, notice('error', `Type “${u.username}” exactly to confirm.`));
                    input.focus();
                    return;
                }
                close(true);
            }, { kind: 'danger', type: 'submit' }),
        ],
    );
}

export function usersPage(ctx) {
    const denied = adminOnly(ctx, 'Users');
    if (denied) return denied;
    document.title = 'Users · kvstore';
    const listEl = h('section', { class: 'card', 'aria-label': 'Users' }, spinner('Loading users…'));
    const revealEl = h('div', { 'aria-live': 'polite' });

    async function load() {
        try {
            const data = await api.listUsers();
            replace(
                listEl,
                h(
                    'div',
                    { class: 'table-wrap' },
                    h(
                        'table',
                        { class: 'table' },
                        h('caption', { class: 'sr-only' }, 'Users'),
                        h('thead', {}, h('tr', {}, ['Username', 'Role', 'Default general access', 'Created', ''].map((t) => h('th', { scope: 'col' }, t || h('span', { class: 'sr-only' }, 'Actions'))))),
                        h(
                            'tbody',
                            {},
                            data.items.map((u) =>
                                h(
                                    'tr',
                                    {},
                                    h('td', {}, h('strong', {}, u.username), u.id === ctx.me.id ? h('span', { class: 'muted' }, ' (you)') : null),
                                    h('td', {}, u.isAdmin ? h('span', { class: 'badge' }, 'admin') : 'user'),
                                    h('td', { class: 'muted' }, u.defaultGeneralAccess),
                                    h('td', { class: 'muted' }, u.createdAt ? formatDate(u.createdAt) : '–'),
                                    h(
                                        'td',
                                        { class: 'num' },
                                        ctx.link(`/console/admin/tokens?user=${encodeURIComponent(u.username)}`, 'Tokens'),
                                        ' ',
                                        button('Delete', async () => {
                                            if (!(await confirmDeleteUser(ctx, u))) return;
                                            try {
                                                await api.deleteUser(u.username);
                                                if (u.id === ctx.me.id) {
                                                    ctx.signOut(`You deleted your user ${u.username}: sign in with another token.`);
                                                    return;
                                                }
                                                toast(`Deleted user ${u.username}`);
                                                load();
                                            } catch (err) {
                                                toast(err.message, 'error');
                                            }
                                        }, { kind: 'ghost', 'aria-label': `Delete user ${u.username}` }),
                                    ),
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

    const name = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', maxlength: '63' });
    const admin = h('input', { type: 'checkbox', id: 'new-user-admin' });
    const access = h('select', {}, h('option', { value: '' }, 'Server default'), ['RESTRICTED', 'ANYONE_WITH_ID_CAN_READ', 'ANYONE_WITH_NAME_CAN_READ'].map((v) => h('option', { value: v }, v)));
    const status = h('div');
    const create = button('Create user', null, { kind: 'primary', type: 'submit' });
    const form = h(
        'form',
        { class: 'create-user', novalidate: true },
        field('Username', name, { hint: 'Letters, digits and inner hyphens, up to 63 characters.' }),
        field('Default general access', access),
        h('label', { class: 'check', for: 'new-user-admin' }, admin, 'Administrator'),
        h('div', { class: 'form-actions' }, create),
        status,
    );
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const username = name.value.trim();
        if (!USERNAME_RE.test(username) || username === 'me') {
            replace(status, notice('error', 'Enter a valid username: letters, digits and inner hyphens (not “me”).'));
            name.focus();
            return;
        }
        create.disabled = true;
        replace(status);
        try {
            const body = { username, isAdmin: admin.checked };
            if (access.value) body.defaultGeneralAccess = access.value;
            const user = await api.createUser(body);
            replace(revealEl, tokenReveal(user.username, user.token));
            form.reset();
            load();
        } catch (err) {
            replace(status, errorNotice(err));
        } finally {
            create.disabled = false;
        }
    });

    load();
    return h(
        'div',
        { class: 'page' },
        h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Users'), h('p', { class: 'muted' }, 'Everyone who can sign in. Each user owns their stores and sees only those and the ones shared with them.'))),
        h('section', { class: 'card settings-section', 'aria-label': 'Create a user' }, h('h2', {}, 'Create a user'), form),
        revealEl,
        listEl,
    );
}

const EXPIRIES = [
    ['', 'Never'],
    ['86400', '1 day'],
    ['604800', '7 days'],
    ['2592000', '30 days'],
    ['7776000', '90 days'],
    ['31536000', '1 year'],
];

/**
 * What limits a new token (auth/scope.h on the server): everything the user may do (the
 * default), every store for reading or for writing, or only some stores (each by ID, name,
 * USER~NAME or a name prefix*, for reading or writing); administration or not; an expiry.
 * Returns { el, value() → { limits } | { error }, reset() }.
 */
function limitsForm() {
    const kind = uid('scope');
    const radio = (value, label, checked) => {
        const input = h('input', { type: 'radio', name: kind, value, checked: checked ? true : null });
        const id = uid('scope-opt');
        input.id = id;
        return h('div', { class: 'radio' }, input, h('label', { for: id }, h('span', { class: 'radio-label' }, label)));
    };
    const rowsEl = h('div', { class: 'scope-stores' });
    const addRow = () => {
        const store = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'ID, name, user~name or prefix*', 'aria-label': 'Store' });
        const access = h('select', { 'aria-label': 'Access' }, h('option', { value: 'READ' }, 'Read'), h('option', { value: 'WRITE' }, 'Read and write'));
        const row = h('div', { class: 'scope-store' }, store, access, button('Remove', () => row.remove(), { kind: 'ghost', 'aria-label': 'Remove this store' }));
        rowsEl.append(row);
        return row;
    };
    const storesEl = h('div', { class: 'scope-list', hidden: true }, rowsEl, button('Add a store', () => addRow().querySelector('input').focus(), { kind: 'ghost' }));
    const adminBox = h('input', { type: 'checkbox', id: uid('scope-admin') });
    const adminLabel = h('label', { class: 'check', for: adminBox.id }, adminBox, 'Administration: manage stores (settings, sharing, deleting), the account, users and tokens');
    const expires = h('select', {}, EXPIRIES.map(([v, label]) => h('option', { value: v }, label)));
    const fieldset = h(
        'fieldset',
        { class: 'radios' },
        h('legend', {}, 'The token may use'),
        radio('all', 'Everything the user may do', true),
        radio('READ', 'Every store the user may use, reading only'),
        radio('WRITE', 'Every store the user may use, reading and writing'),
        radio('some', 'Only these stores (present or future, by name or name prefix)'),
        storesEl,
    );
    const sync = () => {
        const v = fieldset.querySelector(`input[name="${kind}"]:checked`)?.value;
        storesEl.hidden = v !== 'some';
        adminBox.disabled = v === 'all';
        if (v === 'some' && rowsEl.children.length === 0) addRow();
    };
    fieldset.addEventListener('change', sync);
    const el = h('div', { class: 'token-limits' }, fieldset, adminLabel, field('Expires', expires));
    sync();
    return {
        el,
        value() {
            const v = fieldset.querySelector(`input[name="${kind}"]:checked`)?.value ?? 'all';
            const limits = {};
            if (expires.value) limits.expiresInSecs = Number(expires.value);
            if (v === 'all') return { limits: Object.keys(limits).length ? limits : null };
            const scope = { administration: adminBox.checked };
            if (v === 'some') {
                scope.stores = [...rowsEl.children]
                    .map((row) => ({ store: row.querySelector('input').value.trim(), access: row.querySelector('select').value }))
                    .filter((s) => s.store);
                if (scope.stores.length === 0) return { error: 'Name at least one store, or choose another scope.' };
            } else {
                scope.access = v;
            }
            limits.scope = scope;
            return { limits };
        },
        reset() {
            fieldset.querySelector(`input[value="all"]`).checked = true;
            replace(rowsEl);
            adminBox.checked = false;
            expires.value = '';
            sync();
        },
    };
}

export function tokensPage(ctx) {
    const denied = adminOnly(ctx, 'API tokens');
    if (denied) return denied;
    document.title = 'API tokens · kvstore';
    const userSel = h('select', { id: 'token-user' });
    const listEl = h('section', { class: 'card', 'aria-label': 'Tokens' }, spinner('Loading…'));
    const revealEl = h('div', { 'aria-live': 'polite' });

    async function loadTokens() {
        const username = userSel.value;
        const u = new URL(location.href);
        u.searchParams.set('user', username);
        history.replaceState(null, '', u);
        replace(listEl, spinner('Loading tokens…'));
        try {
            const data = await api.listTokens(username);
            if (data.items.length === 0) {
                replace(listEl, emptyState('No tokens', `${username} has no API token and cannot sign in. Create one.`));
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
                        h('caption', { class: 'sr-only' }, `API tokens of ${username}`),
                        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Token prefix'), h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, 'Expires'), h('th', { scope: 'col' }, 'Scope'), h('th', { scope: 'col', class: 'num' }, h('span', { class: 'sr-only' }, 'Actions')))),
                        h(
                            'tbody',
                            {},
                            data.items.map((t) =>
                                h(
                                    'tr',
                                    {},
                                    h('td', { class: 'mono' }, `${t.prefix ?? '?'}…`, isOwnToken(t.prefix) ? h('span', { class: 'badge badge-muted', title: 'This console is signed in with it' }, 'this session') : null),
                                    h('td', { class: 'muted' }, t.createdAt ? formatDate(t.createdAt) : 'before creation times were kept'),
                                    h('td', { class: t.expiresAt && Date.parse(t.expiresAt) <= Date.now() ? 'expired' : 'muted' }, t.expiresAt ? `${formatDate(t.expiresAt)}${Date.parse(t.expiresAt) <= Date.now() ? ' (expired)' : ''}` : 'Never'),
                                    h('td', {}, scopeSummary(t.scope, username)),
                                    h(
                                        'td',
                                        { class: 'num' },
                                        t.prefix
                                            ? button('Revoke', async () => {
                                                  const own = isOwnToken(t.prefix);
                                                  const text = own
                                                      ? `The token ${t.prefix}… is the one you are signed in with: revoking it signs you out of this console at once, and you will need another token to sign in again.`
                                                      : `Revoke the token ${t.prefix}… of ${username}? Whoever uses it is refused from the next request on.`;
                                                  if (!(await confirmDialog(own ? 'Revoke your own token?' : 'Revoke token', text, own ? 'Revoke and sign out' : 'Revoke token'))) return;
                                                  try {
                                                      await api.revokeToken(t.prefix);
                                                      if (own) {
                                                          ctx.signOut(`You revoked the token you were signed in with (${t.prefix}…). Sign in with another one.`);
                                                          return;
                                                      }
                                                      toast(`Revoked ${t.prefix}…`);
                                                      loadTokens();
                                                  } catch (err) {
                                                      toast(err.message, 'error');
                                                  }
                                              }, { kind: 'ghost', 'aria-label': `Revoke token ${t.prefix}` })
                                            : null,
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            );
        } catch (err) {
            replace(listEl, errorNotice(err, loadTokens));
        }
    }

    async function loadUsers() {
        try {
            const data = await api.listUsers();
            const want = ctx.query.get('user') || ctx.me.username;
            replace(userSel, data.items.map((u) => h('option', { value: u.username, selected: u.username === want ? true : null }, u.username)));
            loadTokens();
        } catch (err) {
            replace(listEl, errorNotice(err, loadUsers));
        }
    }
    userSel.addEventListener('change', () => {
        replace(revealEl);
        loadTokens();
    });

    const limits = limitsForm();
    const createBtn = button('Create token', async () => {
        const username = userSel.value;
        const body = limits.value();
        if (body.error) {
            replace(revealEl, notice('error', body.error));
            return;
        }
        createBtn.disabled = true;
        try {
            const t = await api.createToken(username, body.limits);
            replace(revealEl, tokenReveal(username, t.token));
            limits.reset();
            loadTokens();
        } catch (err) {
            replace(revealEl, errorNotice(err));
        } finally {
            createBtn.disabled = false;
        }
    }, { kind: 'primary' });

    loadUsers();
    return h(
        'div',
        { class: 'page' },
        h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'API tokens'), h('p', { class: 'muted' }, 'Tokens are listed by their first characters: the server keeps only a hash of each.'))),
        h('div', { class: 'toolbar' }, field('User', userSel)),
        h('section', { class: 'card settings-section', 'aria-label': 'Create a token' }, h('h2', {}, 'Create a token'), limits.el, h('div', { class: 'form-actions' }, createBtn)),
        revealEl,
        listEl,
    );
}
