/*
 * Constants of CURRENT and the manifest's edit payload; byte tables, the
 * worked example and the open/roll rules are in docs/manifest-format.md.
 * The file header and the frames around edits belong to
 * engines/lsm/log_record.h, shared with the WAL.
 */
#ifndef STRATA_ENGINES_LSM_MANIFEST_FORMAT_H
#define STRATA_ENGINES_LSM_MANIFEST_FORMAT_H

#include <stdint.h>

/* "STMF": the first bytes of every MANIFEST-NNNNNN file. */
static const uint8_t LSM_MANIFEST_MAGIC[4] = {0x53, 0x54, 0x4d, 0x46};

/* Field tags of an edit (docs/manifest-format.md, "Edit payload"). 0 and
 * unknown tags are corruption. */
enum lsm_manifest_tag {
    LSM_MANIFEST_TAG_LOG_NUMBER = 1,
    LSM_MANIFEST_TAG_NEXT_FILE = 2,
    LSM_MANIFEST_TAG_LAST_SEQ = 3,
    LSM_MANIFEST_TAG_ADD_TABLE = 4,
    LSM_MANIFEST_TAG_REMOVE_TABLE = 5,
};

enum {
    /* An apply that leaves the manifest this big starts a new one with a
     * snapshot, so open never replays more than a few MiB. */
    LSM_MANIFEST_ROLL_BYTES = 4 << 20,
    /* "MANIFEST-" + up to 20 digits + "\n", with room to spare. */
    LSM_MANIFEST_CURRENT_MAX = 64,
};

#define LSM_MANIFEST_PREFIX "MANIFEST-"
#define LSM_MANIFEST_CURRENT "CURRENT"
#define LSM_MANIFEST_CURRENT_TMP "CURRENT.tmp"

#endif
