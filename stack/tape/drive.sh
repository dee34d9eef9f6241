#!/bin/bash
# The tape drives of the local tape endpoint, run by the stack as a daemon (service account).
# Every TAPE_POLL seconds it
#   - migrates each closed file of the disk buffer that is not on tape yet (migrate.sh): a
#     file XRootD still holds open, or whose persist-on-close is pending, is not closed;
#   - starts a recall (recall.sh) for each requested file, at most TAPE_DRIVES at a time.
# Recalls run in the background in this process group, so stopping the daemon stops them.
# shellcheck source=lib.sh
. "${0%/*}/lib.sh"

# The loop must outlive a failed pass: errors are handled where they matter.
set +e
here=${0%/*}

# Paths the XRootD server holds open (none when it is not running).
open_files() {
    local pid
    pid=$(cat -- "$TAPE_XROOTD_PIDFILE" 2>/dev/null) || return 0
    find "/proc/$pid/fd" -type l -printf '%l\n' 2>/dev/null || true
}

migrate_pass() {
    local path lfn line
    local -a waiting=()
    local -A busy=()
    while IFS= read -r -d '' path; do
        lfn=${path#"$TAPE_BUFFER"}
        on_tape "$lfn" && continue
        [[ -k $path ]] && continue # sticky bit: XRootD's persist-on-successful-close pending
        waiting+=("$lfn")
    done < <(find "$TAPE_BUFFER" -type f -print0 2>/dev/null)
    ((${#waiting[@]})) || return 0
    while IFS= read -r line; do busy["$line"]=1; done < <(open_files)
    for lfn in "${waiting[@]}"; do
        [[ -n ${busy["$TAPE_BUFFER$lfn"]:-} ]] && continue
        "$here/migrate.sh" "$lfn" || log "migration of $lfn failed; it will be retried"
    done
}

recall_pass() {
    local path lfn active
    local -a requested=()
    local -A running=()
    while IFS= read -r -d '' path; do
        case $path in
            *.req) requested+=("${path%.req}") ;;
            *.active) running["${path%.active}"]=1 ;;
        esac
    done < <(find "$TAPE_REQUESTS" \( -name '*.req' -o -name '*.active' \) -print0 2>/dev/null)
    active=${#running[@]}
    for path in "${requested[@]}"; do
        ((active < TAPE_DRIVES)) || break
        [[ -n ${running["$path"]:-} ]] && continue
        : >"$path.active"
        lfn=${path#"$TAPE_REQUESTS"}
        "$here/recall.sh" "$lfn" &
        active=$((active + 1))
    done
}

mkdir -p -- "$TAPE_BUFFER" "$TAPE_MEDIA" "$TAPE_CATALOGUE" "$TAPE_REQUESTS"
rm -rf -- "$TAPE_TMP"
mkdir -p -- "$TAPE_TMP"
# Recalls in flight died with the previous daemon: their requests are started again.
find "$TAPE_REQUESTS" -name '*.active' -delete 2>/dev/null
# Waiting on a FIFO nobody writes to is a sleep that costs no process.
mkfifo -- "$TAPE_TMP/tick"
exec 8<>"$TAPE_TMP/tick"
log "started: stage delay ${TAPE_STAGE_DELAY}s, $TAPE_DRIVES drives"
while :; do
    recall_pass
    migrate_pass
    read -r -t "$TAPE_POLL" -u 8 _
done
