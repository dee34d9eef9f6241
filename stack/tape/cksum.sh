#!/bin/bash
# XRootD's checksum program (xrootd.chksum adler32 <this>): called with an lfn, prints the
# adler32 as 8 hex digits. A file in the disk buffer is summed there (xrdadler32 caches the
# value in the file's xattrs, as XRootD does natively); a file only on tape reports the
# checksum recorded in the catalogue at migration, as a tape system's namespace does.
# XRootD turns the exit status into the client's error as an errno: 2 is ENOENT.
# shellcheck source=lib.sh
. "${0%/*}/lib.sh"

lfn=${1:-}
check_lfn "$lfn" || { log "invalid path ${lfn@Q}"; exit 22; }
if out=$(xrdadler32 "$TAPE_BUFFER$lfn" 2>/dev/null); then
    printf '%s\n' "${out%% *}"
elif [[ -f $TAPE_CATALOGUE$lfn ]]; then
    recorded_adler32 "$lfn"
else
    log "no checksum for $lfn: it is neither in the disk buffer nor on tape"
    exit 2
fi
