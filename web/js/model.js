// model.js — what the pages share about stores: labels, and what the signed-in user may do.

import { api } from './api.js';

export const ACCESS_LABELS = {
    FOLLOW_USER_SETTING: 'Follows the owner’s setting',
    RESTRICTED: 'Restricted',
    ANYONE_WITH_ID_CAN_READ: 'Anyone with the ID can read',
    ANYONE_WITH_NAME_CAN_READ: 'Anyone with the ID or name can read',
};

/**
 * The signed-in user ME (GET /v2/users/me) as the pages see it: what the token of the session
 * may do. A token whose scope withholds administration makes even an admin an ordinary user
 * here, and manages no store (the API refuses it all the same).
 */
export function withTokenRights(me) {
    const scope = me.currentToken?.scope ?? null;
    const administer = !scope || scope.administration === true;
    return { ...me, isAdmin: me.isAdmin && administer, administer, scope };
}

/** What user ME may do with STORE. Only those who may write are given the URL-signing secret. */
export function rightsOf(store, me) {
    const owner = store.userId === me.id;
    return {
        owner,
        manage: (owner || me.isAdmin) && me.administer !== false,
        write: typeof store.urlSigningSecretKey === 'string',
    };
}

const LEVEL = { READ: 'read', WRITE: 'read and write' };

/** A token's SCOPE (as the API shows it; null: none) in words, for SELF's tokens. */
export function scopeSummary(scope, self) {
    if (!scope) return 'Everything the user may do';
    const stores = Array.isArray(scope.stores)
        ? scope.stores.length === 0
            ? 'no store'
            : scope.stores
                  .map((s) => {
                      const owner = s.username && s.username !== self ? `${s.username}~` : s.userId && !s.username ? `${s.userId}~` : '';
                      const what = s.id ?? (s.name !== undefined ? `${owner}${s.name}` : `${owner}${s.namePrefix}*`);
                      return `${what} (${LEVEL[s.access] ?? s.access})`;
                  })
                  .join(', ')
        : `every store (${LEVEL[scope.access] ?? scope.access})`;
    return `${stores}${scope.administration ? '; administration' : '; no administration'}`;
}

export function storeLabel(store) {
    return store.name || 'Unnamed store';
}

/** The default general access of STORE's owner, as user ME can know it (ME's own, or, for an
 *  admin, read from the owner); resolves null when ME cannot see it. */
export async function ownerDefault(store, me) {
    if (store.userId === me.id) return me.defaultGeneralAccess;
    if (!me.isAdmin) return null;
    try {
        return (await api.getUser(store.userId)).defaultGeneralAccess || null;
    } catch {
        return null;
    }
}

/** What FOLLOW_USER_SETTING means for STORE, as a sentence, or null (see ownerDefault). */
export async function followsText(store, me) {
    const value = await ownerDefault(store, me);
    if (!value) return null;
    const whose = store.userId === me.id ? 'your' : `${store.username}’s`;
    return `Follows ${whose} default general access, an account setting: now “${ACCESS_LABELS[value]}”.`;
}
