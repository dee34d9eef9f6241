#!/bin/bash
# XRootD's "remote storage system" command (oss.rsscmd): the tape namespace.
# Called as `<op> <tape path> [<tape path>]`; prints 0 or -errno first, as XRootD expects.
# A file found here but not in the disk buffer is what XRootD reports as OFFLINE.
# shellcheck source=lib.sh
. "${0%/*}/lib.sh"

# The lfn of a path under the tape folder, or failure.
lfn_of() {
    local lfn=${1#"$TAPE_MEDIA"}
    [[ $lfn != "$1" ]] && check_lfn "$lfn" && printf '%s\n' "$lfn"
}

statx() {
    local path=$TAPE_MEDIA$1 kind out
    if [[ -f $path ]]; then kind=f; elif [[ -d $path ]]; then kind=d; else echo -2; return; fi
    out=$(stat -c '%A %h %u %g %X %Z %Y %s %o %b' -- "$path") || { echo -2; return; }
    printf '0\n%s %s\n' "$kind" "${out:1}"
}

# Remove the folders left empty above a removed path, in each of the tape's trees.
prune() {
    local tree dir
    for tree in "$TAPE_MEDIA" "$TAPE_CATALOGUE" "$TAPE_REQUESTS"; do
        dir=$1
        while [[ $dir == /?* ]] && rmdir -- "$tree$dir" 2>/dev/null; do dir=${dir%/*}; done
    done
}

remove() {
    lock
    if [[ -d $TAPE_MEDIA$1 ]]; then
        prune "$1"
    else
        rm -f -- "$TAPE_MEDIA$1" "$TAPE_CATALOGUE$1" "$TAPE_REQUESTS$1.req" "$TAPE_REQUESTS$1.err"
        prune "${1%/*}"
    fi
    unlock
    echo 0
}

rename() {
    lock
    if [[ -f $TAPE_MEDIA$1 ]]; then
        mkdir -p -- "$(dirname -- "$TAPE_MEDIA$2")" "$(dirname -- "$TAPE_CATALOGUE$2")"
        mv -f -- "$TAPE_MEDIA$1" "$TAPE_MEDIA$2"
        if [[ -f $TAPE_CATALOGUE$1 ]]; then mv -f -- "$TAPE_CATALOGUE$1" "$TAPE_CATALOGUE$2"; fi
        rm -f -- "$TAPE_REQUESTS$1.req" "$TAPE_REQUESTS$1.err"
    fi
    unlock
    echo 0
}

op=${1:-}
lfn=$(lfn_of "${2:-}") || { log "refusing $op on ${2:-nothing}"; echo -22; exit 0; }
case $op in
    statx) statx "$lfn" ;;
    exists) if [[ -e $TAPE_MEDIA$lfn ]]; then echo 0; else echo -2; fi ;;
    rm) remove "$lfn" ;;
    mv)
        target=$(lfn_of "${3:-}") || { log "refusing mv to ${3:-nothing}"; echo -22; exit 0; }
        rename "$lfn" "$target"
        ;;
    *) echo -95 ;; # dlist, create, ...: the buffer is the namespace XRootD lists and creates in
esac
