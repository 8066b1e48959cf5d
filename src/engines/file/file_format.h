/*
 * Constants of the file engine's on-disk format. Every number here is
 * explained, byte by byte, in docs/file-format.md; change both together,
 * and bump the version when an old reader would misread the new bytes.
 */
#ifndef STRATA_ENGINES_FILE_FORMAT_H
#define STRATA_ENGINES_FILE_FORMAT_H

#include <stdint.h>

/* Segment and hint header: magic:4 | version:2 | reserved:2 | id:8 |
 * crc:4 (masked CRC-32C of the first 16 bytes). */
enum {
    FILE_HEADER_LEN = 20,
    FILE_HEADER_CRC_OFF = 16,
    FILE_VERSION = 1,
};
static const uint8_t FILE_SEG_MAGIC[4] = {'S', 'T', 'F', 'L'};
static const uint8_t FILE_HINT_MAGIC[4] = {'S', 'T', 'F', 'H'};

/* Record: crc:4 | type:1 | seq:8 | key_len:4 | val_len:4 | key | value.
 * The CRC covers every byte after itself (docs/file-format.md, "Record"). */
enum {
    FILE_REC_HEADER_LEN = 21,
};

/* Hint entry: crc:4 | type:1 | seq:8 | key_len:4 | val_len:4 | off:8 |
 * key (docs/file-format.md, "Hint file"). */
enum {
    FILE_HINT_ENTRY_LEN = 29,
};

/* Record and hint entry types. 0 is invalid so zero-filled bytes never
 * decode as a record. */
enum file_rec_type {
    FILE_REC_PUT = 1,
    FILE_REC_TOMBSTONE = 2,
    FILE_HINT_END = 3, /* hint files only */
};

/* Lengths are 32-bit on disk. */
static const uint64_t FILE_MAX_LEN = UINT32_MAX;

/* File names: a 12-digit zero-padded id and a suffix. */
enum {
    FILE_ID_DIGITS = 12,
};
#define FILE_SEG_SUFFIX ".log"
#define FILE_HINT_SUFFIX ".hint"
#define FILE_TMP_SUFFIX ".tmp"

/* Start-up logs its progress every this many bytes read. */
static const uint64_t FILE_REPLAY_PROGRESS_BYTES = 256u << 20;

#endif
