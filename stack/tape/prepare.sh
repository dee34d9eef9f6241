#!/bin/bash
# XRootD's prepare handler (ofs.preplib libXrdOfsPrepGPI.so -run <this>), called as
# `[options] -- <request id> stage|evict|cancel|query <lfn>...`.
#   stage   records the request; drive.sh recalls the file after the mount+seek delay.
#   evict   removes disk-buffer copies of files that are on tape (they go OFFLINE); prints
#           each lfn evicted (the stack's purge_buffer reads them).
#   cancel  withdraws the request id; a recall left with no request is discarded.
#   query   prints CTA's prepare-query JSON (only this output reaches the client).
# shellcheck source=lib.sh
. "${0%/*}/lib.sh"

stage() {
    local reqid=$1 lfn=$2 state=$TAPE_REQUESTS$2
    lock
    if online "$lfn"; then
        : # already on disk: nothing to recall
    elif on_tape "$lfn"; then
        mkdir -p -- "$(dirname -- "$state")"
        if ! grep -qxF -- "$reqid" "$state.req" 2>/dev/null; then
            printf '%s\n' "$reqid" >>"$state.req"
        fi
        rm -f -- "$state.err"
    else
        log "stage $reqid: $lfn is not on tape"
    fi
    unlock
}

evict() {
    local lfn=$2
    lock
    if online "$lfn" && on_tape "$lfn"; then
        rm -f -- "$TAPE_BUFFER$lfn"
        printf '%s\n' "$lfn"
    elif online "$lfn"; then
        log "evict: $lfn has no tape copy yet, so it stays in the disk buffer"
    fi
    unlock
}

cancel() {
    local reqid=$1 state=$TAPE_REQUESTS$2 rest
    lock
    if [[ -f $state.req ]]; then
        rest=$(grep -vxF -- "$reqid" "$state.req" || true)
        if [[ -n $rest ]]; then printf '%s\n' "$rest" >"$state.req"; else rm -f -- "$state.req"; fi
    fi
    unlock
}

json_string() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    printf '"%s"' "${s//[[:cntrl:]]/?}"
}

flag() { if "$@"; then printf true; else printf false; fi; }

# Whether a request id is pending (.req) or ended in failure (.err, after its first line).
has_reqid() { grep -qsxF -- "$1" "${@:2}"; }

# One response of CTA's prepare-query JSON, from the buffer, the tape folder and the
# request state. Kept compact: the whole answer must fit XRootD's ~2 KB reply.
query_one() {
    local reqid=$1 lfn=$2 state=$TAPE_REQUESTS$2 error="" exists=false
    local tape=false disk=false requested=false mine=false
    if ! check_lfn "$lfn"; then
        error="invalid path"
    elif online "$lfn" || [[ -f $TAPE_MEDIA$lfn ]]; then
        exists=true
        tape=$(flag on_tape "$lfn")
        disk=$(flag online "$lfn")
        requested=$(flag test -f "$state.req")
        mine=$(flag has_reqid "$reqid" "$state.req" "$state.err")
        if [[ -f $state.err ]]; then read -r -n 300 error <"$state.err" || true; fi
    else
        error="file does not exist"
    fi
    printf '{"path":%s,"path_exists":%s,"on_tape":%s,"online":%s,"requested":%s,' \
        "$(json_string "$lfn")" "$exists" "$tape" "$disk" "$requested"
    printf '"has_reqid":%s,"error_text":%s}' "$mine" "$(json_string "$error")"
}

query() {
    local reqid=$1 separator="" lfn
    shift
    printf '{"request_id":%s,"responses":[' "$(json_string "$reqid")"
    for lfn in "$@"; do
        printf '%s' "$separator"
        query_one "$reqid" "$lfn"
        separator=,
    done
    printf ']}\n'
}

while (($#)) && [[ $1 != -- ]]; do shift; done # -p <priority>, -w, ...: not used
(($# >= 3)) || { log "expected: [options] -- <request id> <request> <lfn>..."; exit 1; }
reqid=$2 request=$3
shift 3
case $request in
    query) query "$reqid" "$@" ;;
    stage | evict | cancel)
        for lfn in "$@"; do
            if check_lfn "$lfn"; then "$request" "$reqid" "$lfn"; else log "invalid path ${lfn@Q}"; fi
        done
        ;;
    *) log "ignoring $request request $reqid" ;;
esac
