// model.js — what the pages share about stores: labels, and what the signed-in user may do.

export const ACCESS_LABELS = {
    FOLLOW_USER_SETTING: 'Follows the owner’s setting',
    RESTRICTED: 'Restricted',
    ANYONE_WITH_ID_CAN_READ: 'Anyone with the ID can read',
    ANYONE_WITH_NAME_CAN_READ: 'Anyone with the ID or name can read',
};

/** What user ME may do with STORE. Only those who may write are given the URL-signing secret. */
export function rightsOf(store, me) {
    const owner = store.userId === me.id;
    return {
        owner,
        manage: owner || me.isAdmin,
        write: typeof store.urlSigningSecretKey === 'string',
    };
}

export function storeLabel(store) {
    return store.name || 'Unnamed store';
}
