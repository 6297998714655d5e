/*
 * filestore: one interface to the places a bundle can be written to or read
 * from, addressed by Assemblyline's filestore URLs (formats.md §5):
 *
 *   file:///dir              local or NFS directory
 *   ftp://u:p@host/dir       FTP; ftps:// (or ?use_tls=true) for explicit FTPS
 *   sftp://u:p@host/dir      SFTP (password and/or ?private_key=PATH)
 *   s3://key:secret@host     S3 or compatible, SigV4 (?s3_bucket=, ?aws_region=, ...)
 *   azure://host/container   Azure Blob (?access_key= account key or SAS token)
 *   http(s)://host/dir       read-only
 *
 * A URL is parsed as upstream parses it (last '@' splits the userinfo, the
 * password is percent-decoded, '+' in a query value is a space, a boolean option
 * is true only when it reads "true"); docs/filestore.md lists every option, its
 * default, and what we do differently from upstream.
 *
 * What it owns: a store opened from one URL, holding at most one connection
 * (a handle of the shared http transport, or nothing for file://) and the URL's
 * parsed parts.
 *
 * Invariants:
 *  - upload never overwrites: a name that exists is left alone and the call
 *    reports REPLAY_FILESTORE_SKIPPED_EXISTS (upstream's "first bundle wins");
 *  - upload is atomic: readers see the whole object or nothing. Backends with a
 *    rename write the project's temporary name (replay/atomicfile.h) in the
 *    destination directory and rename it (file, ftp, sftp); listings leave such
 *    names out; S3 is one PUT, or a multipart upload visible only once
 *    completed; Azure is one Put Blob, or a committed block list;
 *  - a streamed upload (replay_filestore_upload_stream) keeps both promises
 *    without a local copy: the caller's producer writes the bytes into a
 *    descriptor; the object appears under its name only if the producer
 *    succeeded and the whole upload completed, and no temporary is left by a
 *    failure the store can still clean up (a crash or a dead server may leave
 *    a hidden temporary, as for upload);
 *  - download is atomic on the local side (an atomic file beside the
 *    destination, put in place whole); it overwrites the local file;
 *  - names are relative, '/'-separated, without '.', '..' or empty components,
 *    without control characters or '\'; other names fail with REPLAY_EUNSAFE;
 *  - memory stays flat whatever the object size (streams with fixed buffers);
 *  - no secret (password, key, token) appears in an error message or log line:
 *    URLs are shown through replay_redact_url(), and opening a store registers
 *    the URL's secrets with replay_redact_add_url_secrets();
 *  - every network operation has connect and low-speed timeouts, reports
 *    replay_progress() while bytes move, and returns REPLAY_ECANCELED soon after
 *    the cancel token given in the options is requested.
 *
 * Errors: REPLAY_EINVAL/ECONFIG (bad URL or option), REPLAY_EUNSAFE (bad name),
 * REPLAY_ENOTFOUND, REPLAY_EAUTH (login refused, 401/403, a server certificate
 * that fails verification), REPLAY_ECONN (cannot connect), REPLAY_ETIMEDOUT,
 * REPLAY_EAGAIN (server busy, 5xx), REPLAY_EHTTP and REPLAY_EPROTO (other server
 * answers, a failed TLS handshake), REPLAY_EIO (local I/O),
 * REPLAY_EUNSUPPORTED (operation the scheme cannot do, e.g. upload to http),
 * REPLAY_ECANCELED. ECONN, ETIMEDOUT and EAGAIN are transient: the store already
 * retried them opts.max_attempts times, a caller may retry later.
 *
 * Thread-safety: a store is used by one thread at a time (it holds one
 * connection); open one store per worker thread. Different stores are
 * independent. A streamed upload to a network store runs the transfer on a
 * helper thread of its own, joined before the call returns. The libcurl layer (one global init per process, timeouts, TLS,
 * progress, cancel, the retry loop) is the http module's, shared with alclient,
 * so a store and a REST client can work in one thread.
 *
 * Ownership: replay_filestore_open() returns a store the caller closes with
 * replay_filestore_close(). Strings passed in are borrowed for the call only.
 */
#ifndef REPLAY_FILESTORE_H
#define REPLAY_FILESTORE_H

#include <stdbool.h>
#include <stdint.h>

#include "replay/error.h"
#include "replay/lifecycle.h"

struct replay_filestore;

/* Options the caller fills; zeroed fields take the defaults in brackets. */
struct replay_filestore_opts {
    const struct replay_cancel *cancel; /* borrowed, must outlive the store [none] */
    long connect_timeout_ms;            /* TCP+TLS+login [30000] */
    long low_speed_time_s;              /* abort a transfer slower than */
    long low_speed_bytes;               /*   low_speed_bytes/s for this long [60 s, 1 B/s] */
    uint64_t max_send_speed;            /* upload bandwidth cap in bytes/s [none] */
    uint64_t max_recv_speed;            /* download bandwidth cap in bytes/s [none] */
    int max_attempts;                   /* tries of a transient failure [3] */
    /* Objects above this size go as S3 multipart / Azure block uploads [the
     * services' limits for one request: S3 5 GiB, Azure 5000 MiB; also the caps]. */
    uint64_t multipart_threshold;
    uint64_t part_size; /* size of one part or block [S3: 64 MiB, Azure: 32 MiB] */
    /* Part or block of a streamed upload to S3 or Azure, held in memory while it
     * is sent, so it is the stream's memory cost [REPLAY_FILESTORE_STREAM_PART;
     * S3 raises it to its 5 MiB minimum]. */
    uint64_t stream_part_size;
};

/* Default part of a streamed S3/Azure upload: above S3's 5 MiB minimum, small
 * enough for flat memory, large enough that a part's round trip is noise. A
 * stream is limited to 10000 parts on S3 (78 GiB at this size) and 50000
 * blocks on Azure; set stream_part_size for larger objects. */
#define REPLAY_FILESTORE_STREAM_PART (8u << 20)

/* What an upload did. */
enum replay_filestore_outcome {
    REPLAY_FILESTORE_UPLOADED = 0,
    REPLAY_FILESTORE_SKIPPED_EXISTS,    /* the name existed: nothing written */
    REPLAY_FILESTORE_SKIPPED_READ_ONLY, /* ?read_only=true: nothing written */
};

/* Parses and checks `url` (scheme, port, options) without any I/O, so a
 * configuration can be validated at start. 0 or REPLAY_EINVAL/ECONFIG/
 * EUNSUPPORTED with a message that shows the URL redacted. */
REPLAY_MUST_CHECK int replay_filestore_check_url(const char *url, struct replay_err *err);

/* Opens a store. Registers the URL's secrets for redaction, then does what
 * upstream does at creation: S3 checks the bucket (creating it if missing and
 * writable), Azure checks the container (same), SFTP connects; file, ftp and
 * http do no I/O yet. `opts` may be NULL (defaults). *out is NULL on failure.
 * The caller closes the store with replay_filestore_close(). */
REPLAY_MUST_CHECK int replay_filestore_open(const char *url,
                                            const struct replay_filestore_opts *opts,
                                            struct replay_filestore **out,
                                            struct replay_err *err);
/* Closes the connection and frees the store. NULL does nothing. */
void replay_filestore_close(struct replay_filestore *fs);

/* The store's URL with its secrets masked (borrowed, valid until close). */
const char *replay_filestore_url(const struct replay_filestore *fs);
/* The scheme's name ("file", "ftp", "sftp", "s3", "azure", "http"). */
const char *replay_filestore_scheme(const struct replay_filestore *fs);
/* The directory of a file:// store as its URL gives it (absolute, or relative
 * to the working directory), so a service can check it at start; NULL for the
 * other schemes. Borrowed, valid until close. */
const char *replay_filestore_local_dir(const struct replay_filestore *fs);
/* True when uploads and deletes are skipped (?read_only=true). */
bool replay_filestore_read_only(const struct replay_filestore *fs);

/* Uploads the local file `local_path` under `name`, streaming it. If `name`
 * exists, or the store is read-only, nothing is written and 0 is returned; the
 * outcome (may be NULL) says which. A failed upload leaves no visible object. */
REPLAY_MUST_CHECK int replay_filestore_upload(struct replay_filestore *fs,
                                              const char *local_path, const char *name,
                                              enum replay_filestore_outcome *outcome,
                                              struct replay_err *err);

/* Writes the bytes of a streamed object into fd (borrowed for the call: not to
 * be closed). fd may be a pipe, which cannot seek (see
 * replay_filestore_stream_seekable()); a write to it fails with EPIPE once the
 * upload has failed. Returns 0 when every byte was written, else a negative
 * REPLAY_E* code with the reason in err: the upload is then abandoned. */
typedef int (*replay_filestore_produce_fn)(void *ctx, int fd, struct replay_err *err);

/* Streams an object into the store under `name`, without a local copy: no
 * overwrite, as upload. If `name` exists, or the store is read-only, produce
 * is not called, 0 is returned and the outcome (may be NULL) says which.
 * Otherwise produce(ctx, fd, err) is called once, on the calling thread, and
 * the object appears under `name` only if produce returned 0 and the upload
 * completed; on any failure (the producer's, the server's, a cancellation)
 * nothing appears under `name` and no temporary object is left that the store
 * could remove. A failure before the stream starts (no pipe, no thread) does
 * not call produce. How each scheme streams:
 *
 *   file   produce writes straight into an atomic file beside the name
 *          (seekable: it may rewind and write again), fsynced and linked into
 *          place without replacing (replay/atomicfile.h); the bandwidth cap
 *          does not apply (the producer sets the pace);
 *   ftp(s), sftp   produce writes into a pipe; a helper thread sends what it
 *          reads, of unknown size, to the temporary name, which is renamed
 *          into place (and its size checked) only after produce returned 0
 *          and the transfer completed, and removed on failure;
 *   s3     parts of stream_part_size read from the pipe into memory, sent as a
 *          multipart upload completed only after success and aborted
 *          otherwise; a stream shorter than one part is one PUT;
 *   azure  blocks of stream_part_size, committed by one Put Block List only
 *          after success (uncommitted blocks are invisible, and dropped by the
 *          service); a stream shorter than one block is one Put Blob;
 *   http(s)  REPLAY_EUNSUPPORTED, without any I/O.
 *
 * Parts and blocks are retried as opts.max_attempts says; the stream as a
 * whole is not (produce runs once): a transient code (ECONN, ETIMEDOUT,
 * EAGAIN) tells the caller that the whole call may be repeated later. When the
 * upload fails first, produce's writes fail (EPIPE) and the upload's error is
 * returned; when produce fails first, its error is, as "the producer failed:
 * <its message>" with its code. Cancellation (opts.cancel) stops the upload
 * within about a second, and the producer at its next write; the clean-up of
 * what was written still runs, for at most 10 s. While the producer writes into
 * a pipe, SIGPIPE is blocked on the calling thread and one its writes raised is
 * discarded, so a process that does not ignore SIGPIPE is safe too. */
REPLAY_MUST_CHECK int replay_filestore_upload_stream(struct replay_filestore *fs,
                                                     const char *name,
                                                     replay_filestore_produce_fn produce,
                                                     void *ctx,
                                                     enum replay_filestore_outcome *outcome,
                                                     struct replay_err *err);
/* True when produce gets a seekable file descriptor (file://), false when it
 * gets a pipe (every other scheme). False for NULL. */
bool replay_filestore_stream_seekable(const struct replay_filestore *fs);

/* Downloads `name` to `local_path` (parent directories are created, an
 * existing file is replaced atomically). REPLAY_ENOTFOUND when it is missing. */
REPLAY_MUST_CHECK int replay_filestore_download(struct replay_filestore *fs, const char *name,
                                                const char *local_path,
                                                struct replay_err *err);

/* Sets *exists. A server error is an error, not "missing". */
REPLAY_MUST_CHECK int replay_filestore_exists(struct replay_filestore *fs, const char *name,
                                              bool *exists, struct replay_err *err);

/* Deletes `name`; a missing name is success. Skipped on a read-only store. */
REPLAY_MUST_CHECK int replay_filestore_delete(struct replay_filestore *fs, const char *name,
                                              struct replay_err *err);

/* Called once per listed name (borrowed, valid during the call). Return 0 to
 * go on, or a negative REPLAY_E* code to stop: replay_filestore_list() then
 * returns that code. */
typedef int (*replay_filestore_list_fn)(const char *name, void *ctx);

/* Lists the objects directly under the store's base (not in subdirectories),
 * without temporary upload names and without names this module would refuse.
 * S3 lists every key of the bucket (keys are flat there). Streams: pages of at
 * most 1000 names. REPLAY_EUNSUPPORTED for http(s). */
REPLAY_MUST_CHECK int replay_filestore_list(struct replay_filestore *fs,
                                            replay_filestore_list_fn fn, void *ctx,
                                            struct replay_err *err);

#endif
