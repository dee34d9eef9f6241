# Shared by the tape scripts: their settings, path checks, checksums and the state lock.
# Sourced, never run. Every script runs as the XRootD service account.
# shellcheck shell=bash
set -euo pipefail
umask 077  # the tape is the service account's alone (the stack's folders, D92)

# tape.env (written by the stack at start) sets TAPE_BUFFER, TAPE_MEDIA, TAPE_CATALOGUE,
# TAPE_REQUESTS, TAPE_TMP, TAPE_LOCK, TAPE_XROOTD_PIDFILE, TAPE_STAGE_DELAY, TAPE_DRIVES
# and TAPE_POLL.
# shellcheck source=/dev/null
. "${0%/*}/../tape.env"

TAPE_SCRIPT=${0##*/}
TAPE_SCRIPT=${TAPE_SCRIPT%.sh}

log() {
    printf '%s tape-%s[%d]: %s\n' "$(date -u +%FT%TZ)" "$TAPE_SCRIPT" "$$" "$*" >&2
}

# An lfn is an absolute path with no "." or ".." parts and no control characters.
check_lfn() {
    [[ $1 == /* && $1 != *[[:cntrl:]]* ]] || return 1
    case "$1/" in
        */./* | */../*) return 1 ;;
    esac
}

online() { [[ -f $TAPE_BUFFER$1 ]]; }

# A file is on tape once its tape copy and its catalogue entry exist; migrate.sh writes the
# entry before it renames the verified copy into place.
on_tape() { [[ -f $TAPE_MEDIA$1 && -f $TAPE_CATALOGUE$1 ]]; }

# adler32 of a file's bytes as 8 hex digits, computed afresh (never from a cached xattr).
adler32_of() {
    local out
    out=$(xrdadler32 <"$1")
    printf '%s\n' "${out%% *}"
}

# The adler32 recorded in the catalogue when the file was migrated.
recorded_adler32() {
    local entry
    entry=$(<"$TAPE_CATALOGUE$1")
    printf '%s\n' "${entry%% *}"
}

# One lock serialises every change of state (migration commit, recall commit, stage
# requests, eviction, rm and mv); the long copies run outside it. Opening fd 9 afresh
# releases any lock an earlier description held.
lock() {
    exec 9>>"$TAPE_LOCK"
    flock -w 60 9
}

unlock() {
    flock -u 9
    exec 9>&-
}
