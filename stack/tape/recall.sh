#!/bin/bash
# Recall one requested file from tape into the disk buffer, started by drive.sh: wait the
# mount+seek delay, copy the tape file, check its adler32 against the catalogue, then rename
# the copy into the buffer (the file goes online). A failure is recorded as the file's
# error_text for prepare-query, and the request ends.
# shellcheck source=lib.sh
. "${0%/*}/lib.sh"

lfn=$1
check_lfn "$lfn"
state=$TAPE_REQUESTS$lfn
copy=""

# End the request: record why it failed (when it did) and for which request ids, release
# the drive.
finish() {
    lock
    if [[ -n ${1:-} && -f $state.req ]]; then
        { printf '%s\n' "$1"; cat -- "$state.req"; } >"$state.err"
        rm -f -- "$state.req"
        log "$1"
    fi
    rm -f -- "$state.active"
    unlock
}
# Stopped with the daemon: the request stays pending, and the next daemon recalls it again.
stopped=""
trap 'stopped=1; exit 143' TERM INT HUP
trap 'status=$?
rm -f -- "$copy"
if ((status)) && [[ -z $stopped ]]; then finish "recall of $lfn failed (exit $status)"; fi' EXIT

sleep "$TAPE_STAGE_DELAY" # the tape mount and seek
copy=$(mktemp "$TAPE_TMP/recall.XXXXXX")
cat -- "$TAPE_MEDIA$lfn" >"$copy"
read_back=$(adler32_of "$copy")
recorded=$(recorded_adler32 "$lfn")
if [[ $read_back != "$recorded" ]]; then
    finish "checksum mismatch: the tape copy of $lfn has adler32 $read_back, the catalogue $recorded"
    exit 0
fi
chmod 0444 -- "$copy"

lock
if [[ ! -f $state.req ]]; then
    log "recall of $lfn discarded: its request was cancelled or the file removed"
elif online "$lfn"; then
    rm -f -- "$state.req" "$state.err"
else
    mkdir -p -- "$(dirname -- "$TAPE_BUFFER$lfn")"
    mv -f -- "$copy" "$TAPE_BUFFER$lfn"
    copy=""
    rm -f -- "$state.req" "$state.err"
    log "recalled $lfn (adler32 $recorded)"
fi
rm -f -- "$state.active"
unlock
