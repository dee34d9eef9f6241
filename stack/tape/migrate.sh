#!/bin/bash
# Migrate one closed file from the disk buffer to tape: copy it, check that the copy has the
# adler32 of the buffer file, record the checksum in the catalogue, then rename the copy into
# the tape folder. The buffer copy becomes read-only: an archived file never changes.
# shellcheck source=lib.sh
. "${0%/*}/lib.sh"

lfn=$1
check_lfn "$lfn"
source=$TAPE_BUFFER$lfn
copy=""
trap 'rm -f -- "$copy" "${entry:-}"' EXIT

# size, mtime and inode: to notice a file written to or replaced while it was copied
before=$(stat -c '%s %Y %i' -- "$source" 2>/dev/null) || exit 0 # deleted meanwhile
copy=$(mktemp "$TAPE_TMP/migrate.XXXXXX")
sent=$(tee -- "$copy" <"$source" | xrdadler32)
sent=${sent%% *}
written=$(adler32_of "$copy")
if [[ $sent != "$written" ]]; then
    log "$lfn: tape copy has adler32 $written, the disk buffer $sent"
    exit 1
fi
chmod 0444 -- "$copy"
entry=$(mktemp "$TAPE_TMP/catalogue.XXXXXX")
printf '%s %s\n' "$sent" "${before%% *}" >"$entry"

lock
if [[ $(stat -c '%s %Y %i' -- "$source" 2>/dev/null) != "$before" ]]; then
    log "$lfn changed while it was migrated; it will be migrated again"
    exit 0
fi
mkdir -p -- "$(dirname -- "$TAPE_MEDIA$lfn")" "$(dirname -- "$TAPE_CATALOGUE$lfn")"
mv -f -- "$entry" "$TAPE_CATALOGUE$lfn"
mv -f -- "$copy" "$TAPE_MEDIA$lfn"
chmod a-w -- "$source"
unlock
log "migrated $lfn (${before%% *} bytes, adler32 $sent)"
