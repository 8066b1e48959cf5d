/*
 * Constants of the WAL's batch payload; the byte table, the worked example
 * and the replay rules are in docs/wal-format.md ("WAL batch payload").
 * The file header and the frame around each batch belong to
 * engines/lsm/log_record.h, shared with the manifest.
 */
#ifndef STRATA_ENGINES_LSM_WAL_FORMAT_H
#define STRATA_ENGINES_LSM_WAL_FORMAT_H

#include <stdint.h>

/* "STWL": the first bytes of every WAL file. */
static const uint8_t LSM_WAL_MAGIC[4] = {0x53, 0x54, 0x57, 0x4c};

/* The kind byte of an entry. Spelled out rather than casting
 * enum lsm_value_type, so the disk format cannot move with the enum. */
enum {
    LSM_WAL_KIND_DELETE = 0,
    LSM_WAL_KIND_PUT = 1,
};

/* Smallest entry: kind, and one byte each for seq, key_len, val_len. It
 * bounds 'count' by the payload size before anything trusts it. */
enum { LSM_WAL_MIN_ENTRY_LEN = 4 };

#endif
