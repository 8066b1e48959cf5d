/*
 * The record framing shared by the LSM engine's two logs, the WAL and the
 * manifest: a small file header (magic, version), then frames of
 *
 *   masked crc32c:4 | len:4 | type:1 | payload:len     (little-endian)
 *
 * where the CRC covers len, type and payload. Byte tables, the worked
 * example and the torn-versus-corrupt rules: docs/wal-format.md, "File
 * header", "Frame" and "Replay". Both logs replay through
 * lsm_log_replay(), so a torn tail is cut the same way everywhere.
 *
 * Threads: a writer is used by one thread at a time; the other functions
 * keep no state and may run on several threads at once.
 */
#ifndef STRATA_ENGINES_LSM_LOG_RECORD_H
#define STRATA_ENGINES_LSM_LOG_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/slice.h"
#include "util/status.h"

/* docs/wal-format.md, "File header" and "Frame". */
enum {
    LSM_LOG_FILE_HEADER_LEN = 8,
    LSM_LOG_VERSION = 1,
    LSM_LOG_FRAME_HEADER_LEN = 9,
    LSM_LOG_MAX_PAYLOAD = 1 << 30, /* rejects absurd lengths early */
};

/* Frame types: which log a frame belongs to. 0 is invalid so zeros never
 * decode as a frame. */
enum lsm_log_frame_type {
    LSM_LOG_FRAME_WAL_BATCH = 1,
    LSM_LOG_FRAME_MANIFEST_EDIT = 2,
};

/* One kind of log file. */
struct lsm_log_kind {
    const char *name;     /* "wal", "manifest": the prefix of messages */
    const uint8_t *magic; /* 4 bytes: the file header's first bytes */
    uint8_t frame_type;
    bool cut_short_header; /* a file shorter than its header is an
                              unfinished create (WAL), not corruption */
};

/* Writes the file header of 'kind' into out[0 .. LSM_LOG_FILE_HEADER_LEN). */
void lsm_log_file_header_encode(const struct lsm_log_kind *kind, uint8_t *out);

/* Fills the frame header in front of a payload, in place: 'frame' holds
 * LSM_LOG_FRAME_HEADER_LEN bytes of room followed by 'payload_len' payload
 * bytes. REQUIRES: payload_len <= LSM_LOG_MAX_PAYLOAD. */
void lsm_log_frame_seal(uint8_t *frame, size_t payload_len, uint8_t type);

/* What lies at an offset of a log held in memory. */
enum lsm_log_read {
    LSM_LOG_FRAME,   /* a valid frame of the expected type */
    LSM_LOG_END,     /* no bytes left */
    LSM_LOG_TORN,    /* bad bytes, and no valid frame anywhere after them */
    LSM_LOG_CORRUPT, /* bad bytes followed by a valid frame, or a valid
                        frame of another type */
};

/* Classifies the bytes at buf[off .. len). On LSM_LOG_FRAME, *payload
 * borrows from 'buf' and *frame_len is the frame's whole size. Every
 * length is checked against the bytes really there. */
enum lsm_log_read lsm_log_frame_read(const uint8_t *buf, size_t len, size_t off,
                                     uint8_t type, st_slice *payload,
                                     size_t *frame_len);

/* Called once per valid frame, in file order, with the payload (borrowed
 * for the call), the file and the frame's offset (for messages). A
 * status other than ST_OK stops the replay with it. */
typedef st_status (*lsm_log_payload_fn)(void *arg, st_slice payload,
                                        const char *path, uint64_t off,
                                        struct st_error *err);

/* Replays the log at 'path': checks the header, then calls 'fn' for each
 * frame. A torn tail is cut (truncate to the end of the last good frame,
 * fsync, one log_warn naming file and offset); corruption is ST_CORRUPT
 * naming file and offset, with nothing cut. *frames (may be NULL) counts
 * the frames handed to 'fn'. */
st_status lsm_log_replay(const char *path, const struct lsm_log_kind *kind,
                         lsm_log_payload_fn fn, void *arg, uint64_t *frames,
                         struct st_error *err);

/* An open log being appended to. After the first failed write or fsync
 * it refuses every later append and sync with ST_READONLY: the kernel may
 * have dropped unsynced pages, so the file is not trusted again. The
 * caller owns the struct; fields are private to log_record.c. */
struct lsm_log_writer {
    int fd;
    char *path;     /* owned */
    uint64_t bytes; /* file size after the last whole append */
    bool failed;
    struct st_error failure; /* the first failure, for ST_READONLY */
};

/* Creates 'path' (it must not exist) holding the header of 'kind', and
 * makes it durable: fsync of the file, then of its directory. On ST_OK
 * the caller must lsm_log_writer_deinit() 'w'. */
st_status lsm_log_writer_create(struct lsm_log_writer *w, const char *path,
                                const struct lsm_log_kind *kind,
                                struct st_error *err);

/* Seals the frame in 'frame' (header room + payload, as for
 * lsm_log_frame_seal) and writes it with one write call, then fdatasyncs
 * when 'sync'. */
st_status lsm_log_writer_append(struct lsm_log_writer *w, uint8_t *frame,
                                size_t payload_len, uint8_t type, bool sync,
                                struct st_error *err);

/* fdatasyncs what was appended. */
st_status lsm_log_writer_sync(struct lsm_log_writer *w, struct st_error *err);

/* Closes the file and frees the path. Does not sync. Safe on a zeroed
 * writer with fd -1, and twice. */
st_status lsm_log_writer_deinit(struct lsm_log_writer *w, struct st_error *err);

/* Writes the directory part of 'path' ("." when none) into 'out' of 'cap'
 * bytes. false when it does not fit. */
bool lsm_log_dir_of(const char *path, char *out, size_t cap);

#endif
