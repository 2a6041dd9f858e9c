// account.js — the signed-in user's own page: who they are, and their default general access,
// the account setting that every store of theirs set to "Follows the owner's setting" (the
// setting of a new store) uses.

import { api } from './api.js';
import { formatDate, h, replace, uid } from './dom.js';
import { button, errorNotice, notice } from './ui.js';
import { ACCESS_LABELS } from './model.js';

const DEFAULT_HELP = {
    RESTRICTED: 'Only you, admins and the users you share a store with can read your stores.',
    ANYONE_WITH_ID_CAN_READ: 'Anyone who knows a store’s ID can read its records and keys, without a token.',
    ANYONE_WITH_NAME_CAN_READ: 'As above, and also by its name (your-username~store-name).',
};

export function accountPage(ctx) {
    document.title = 'Your account · kvstore';
    const me = ctx.me;
    const status = h('div');
    const name = uid('dga');
    const radios = Object.keys(DEFAULT_HELP).map((value) => {
        const id = uid('dga-opt');
        const input = h('input', { type: 'radio', name, value, id, checked: me.defaultGeneralAccess === value });
        return h('div', { class: 'radio' }, input, h('label', { for: id }, h('span', { class: 'radio-label' }, ACCESS_LABELS[value]), h('span', { class: 'radio-help muted' }, DEFAULT_HELP[value])));
    });
    const save = button('Save default', null, { kind: 'primary', type: 'submit' });
    const form = h('form', { novalidate: true }, h('fieldset', { class: 'radios' }, h('legend', {}, 'Default general access'), radios), h('div', { class: 'form-actions' }, save), status);
    form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const value = form.querySelector(`input[name="${name}"]:checked`)?.value;
        if (!value) return;
        if (value === me.defaultGeneralAccess) {
            replace(status, notice('info', 'That is your setting already.'));
            return;
        }
        save.disabled = true;
        try {
            const user = await api.updateMe({ defaultGeneralAccess: value });
            me.defaultGeneralAccess = user.defaultGeneralAccess; // the header and store pages read it
            replace(status, notice('success', `Your default general access is now “${ACCESS_LABELS[value]}”.`));
        } catch (err) {
            replace(status, errorNotice(err));
        } finally {
            save.disabled = false;
        }
    });
    return h(
        'div',
        { class: 'page' },
        h('div', { class: 'page-head' }, h('div', {}, h('h1', {}, 'Your account'), h('p', { class: 'muted' }, `Signed in as ${me.username}${me.isAdmin ? ' (admin)' : ''}${me.createdAt ? ` · since ${formatDate(me.createdAt)}` : ''}.`))),
        h(
            'section',
            { class: 'card settings-section', 'aria-label': 'Default general access' },
            h('h2', {}, 'Default general access'),
            h('p', { class: 'muted' }, 'Who may read your stores without a share, for every store whose general access is “Follows the owner’s setting”, which new stores have. A store’s own setting, under its Settings, overrides it.'),
            form,
        ),
    );
}
