# kvs-completion.bash — bash completion for kvs (installed by `make install` as
# $(PREFIX)/share/bash-completion/completions/kvs; or: source tools/kvs-completion.bash).
#
# The words come from kvs itself (`kvs __complete WORD...` prints what may follow the words
# typed so far), so commands and options are listed in one place, the binary's own tables.
# "__files__" in its answer asks for file names.

_kvs() {
    local cur="${COMP_WORDS[COMP_CWORD]}"
    local words
    words=$("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null) || return 0
    local IFS=$'\n'
    COMPREPLY=($(compgen -W "$(printf '%s\n' "$words" | grep -v '^__files__$')" -- "$cur"))
    if printf '%s\n' "$words" | grep -qx '__files__'; then
        COMPREPLY+=($(compgen -f -- "$cur"))
        compopt -o filenames 2>/dev/null
    fi
    return 0
}

complete -F _kvs kvs
