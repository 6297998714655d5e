/*
 * filestore internals shared by filestore.c, the URL parser and the scheme
 * backends (filestore_<scheme>.c). Nothing here is public API.
 *
 * A backend exports one const struct replay__fs_ops; filestore.c picks it by
 * the URL's scheme, checks names, and implements the FileStore semantics
 * (exists-then-upload, read-only skips, local atomic download, retries), so a
 * backend only moves bytes.
 */
#ifndef REPLAY_FILESTORE_INT_H
#define REPLAY_FILESTORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "replay/error.h"
#include "replay/filestore.h"

/* Limits on what a URL may hold (outside input: each has a test). */
#define REPLAY__FS_MAX_URL 8192
#define REPLAY__FS_MAX_QUERY 64
/* Limits on names. */
#define REPLAY__FS_MAX_NAME 1024
#define REPLAY__FS_MAX_COMPONENT 255
/* Longest path or URL a backend builds from a base and a name. */
#define REPLAY__FS_MAX_PATH 4096

/* ---- URL (filestore_url.c) ------------------------------------------------ */

struct replay__fs_query {
    char *key;   /* percent-decoded, '+' as space */
    char *value; /* same; never empty (empty values are dropped, as parse_qs) */
};

/* A filestore URL split as Python's urlparse does (formats.md §5.1). */
struct replay__fs_url {
    char scheme[16];  /* lower-cased, one of the known schemes */
    char *user;       /* as written, not decoded; "" when absent */
    char *password;   /* percent-decoded; "" when absent */
    char *host;       /* lower-cased, brackets removed; "" when absent */
    int port;         /* 1..65535, or 0 when absent (or written as 0) */
    char *base;       /* path as written, "/" when empty, "./..." for host "." */
    size_t n_query;
    struct replay__fs_query query[REPLAY__FS_MAX_QUERY];
};

/* Parses url into *u (cleared first). On failure *u is left empty. */
REPLAY_MUST_CHECK int replay__fs_url_parse(const char *url, struct replay__fs_url *u,
                                           struct replay_err *err);
void replay__fs_url_clear(struct replay__fs_url *u);
/* First value of option `key`, or NULL. */
const char *replay__fs_url_opt(const struct replay__fs_url *u, const char *key);
/* Upstream's boolean: true iff the value lower-cased is "true"; `dflt` if unset. */
bool replay__fs_url_bool(const struct replay__fs_url *u, const char *key, bool dflt);
/* Percent-decodes s[0..len) into a new string ('+' → ' ' when plus_is_space). */
char *replay__fs_pct_decode(const char *s, size_t len, bool plus_is_space);

/* ---- names (filestore.c) -------------------------------------------------- */

/* 0 when `name` is an acceptable relative object name, else REPLAY_EUNSAFE. */
REPLAY_MUST_CHECK int replay__fs_check_name(const char *name, struct replay_err *err);
/* Upstream's location of a name under a POSIX base (file, ftp, sftp, http):
 * base/name, and base/c0/c1/c2/c3/name for a 64-character name without '/'.
 * Writes into out (size outsz); REPLAY_ETOOBIG when it does not fit. */
REPLAY_MUST_CHECK int replay__fs_join(const char *base, const char *name, char *out,
                                      size_t outsz, struct replay_err *err);
/* Last component of a checked name. */
const char *replay__fs_basename(const char *name);
/* A fresh temporary path beside `path` (same directory, the project's temporary
 * name: replay/atomicfile.h), for remote stores. REPLAY_ETOOBIG when too long. */
REPLAY_MUST_CHECK int replay__fs_tmp_path(const char *path, char *out, size_t outsz,
                                          struct replay_err *err);

/* ---- backends -------------------------------------------------------------- */

struct replay_filestore;

/* The caller's producer of a streamed upload (replay_filestore_upload_stream). */
struct replay__fs_producer {
    replay_filestore_produce_fn fn;
    void *ctx;
};

/* Calls the producer once with fd; a failure is reported as "the producer
 * failed: <its message>" with its code (REPLAY_EIO for a code that is not a
 * REPLAY_E* one). */
REPLAY_MUST_CHECK int replay__fs_produce(const struct replay__fs_producer *p, int fd,
                                         struct replay_err *err);

/* Each operation gets a checked name; errors carry a message naming the URL
 * (redacted) and the cause. */
struct replay__fs_ops {
    const char *scheme;
    /* Options this scheme reads (besides read_only), NULL-terminated; the
     * others are reported as ignored. */
    const char *const *options;
    /* Reads fs->url and its options into fs->impl, without I/O. */
    int (*parse)(struct replay_filestore *fs, struct replay_err *err);
    /* Creation-time I/O (may be NULL). */
    int (*connect)(struct replay_filestore *fs, struct replay_err *err);
    /* Frees fs->impl (fs->impl may be NULL). */
    void (*close)(struct replay_filestore *fs);
    /* Uploads `size` bytes read from fd (with pread, from offset 0) under name,
     * atomically. Sets *outcome to SKIPPED_EXISTS when it finds the name taken
     * at commit time (a concurrent writer won). */
    int (*upload)(struct replay_filestore *fs, int fd, uint64_t size, const char *name,
                  enum replay_filestore_outcome *outcome, struct replay_err *err);
    /* Streams the object the producer writes under name, atomically, calling
     * the producer exactly once (replay_filestore_upload_stream's contract);
     * NULL when the scheme cannot write (http). Sets *outcome to SKIPPED_EXISTS
     * when the name is found taken at commit time. */
    int (*upload_stream)(struct replay_filestore *fs, const char *name,
                         const struct replay__fs_producer *p,
                         enum replay_filestore_outcome *outcome, struct replay_err *err);
    /* The producer of upload_stream gets a seekable file (file://), not a pipe. */
    bool stream_seekable;
    /* Writes the object to fd (a fresh, empty temporary file). */
    int (*download)(struct replay_filestore *fs, const char *name, int fd,
                    struct replay_err *err);
    int (*exists)(struct replay_filestore *fs, const char *name, bool *exists,
                  struct replay_err *err);
    /* A missing name is success. */
    int (*remove)(struct replay_filestore *fs, const char *name, struct replay_err *err);
    /* Calls fn for each object directly under the base (filestore.c filters). */
    int (*list)(struct replay_filestore *fs, replay_filestore_list_fn fn, void *ctx,
                struct replay_err *err);
};

extern const struct replay__fs_ops replay__fs_file_ops;
extern const struct replay__fs_ops replay__fs_ftp_ops;
extern const struct replay__fs_ops replay__fs_sftp_ops;
extern const struct replay__fs_ops replay__fs_s3_ops;
extern const struct replay__fs_ops replay__fs_azure_ops;
extern const struct replay__fs_ops replay__fs_http_ops;

#define REPLAY__FS_SHOWN_MAX 1024

struct replay__http;

struct replay_filestore {
    const struct replay__fs_ops *ops;
    struct replay__fs_url url;
    struct replay_filestore_opts opts; /* defaults filled in */
    char shown[REPLAY__FS_SHOWN_MAX];  /* the URL, redacted, for messages */
    bool read_only;
    void *impl; /* the backend's state */
    struct replay__http *http; /* the store's transport (filestore_curl.c), or NULL */
};

/* Closes the store's transport, if any (filestore_curl.c). */
void replay__fs_http_close(struct replay_filestore *fs);

/* True for the failures worth another attempt: ECONN, ETIMEDOUT, EAGAIN. */
bool replay__fs_transient(int code);
/* Runs fn(ctx, err) until it succeeds or fails for good, at most
 * opts.max_attempts times while it fails with a transient code, with the
 * store's back-off and cancel token (filestore.c); `what` names the operation
 * in the retry warnings. */
REPLAY_MUST_CHECK int replay__fs_retry(struct replay_filestore *fs, const char *what,
                                       int (*fn)(void *ctx, struct replay_err *err), void *ctx,
                                       struct replay_err *err);

/* ---- streamed uploads through a pipe (filestore_stream.c) ------------------------ */

/* The read end of a stream: what the producer writes, for a backend's consumer. */
struct replay__fs_pipe;

/* A backend's consumer: reads the object with replay__fs_pipe_read()/_fill()
 * until they report its end, and stores it. It runs on a helper thread, which
 * has the store (and its transport) to itself until replay__fs_pipe_run()
 * returns. It may return 0 only after the end was read: the end is reported
 * only when the producer returned 0, so a consumer never commits a stream
 * whose producer failed. */
typedef int (*replay__fs_consume_fn)(struct replay_filestore *fs, struct replay__fs_pipe *in,
                                     void *arg, struct replay_err *err);

/* Makes a pipe, runs consume(fs, in, arg) on a helper thread reading one end
 * and the producer on the calling thread writing the other, and returns once
 * both are done. When the consumer stops first (failure, cancellation) it
 * closes its end, so that the producer's writes fail with EPIPE (SIGPIPE is
 * blocked on the calling thread meanwhile and a SIGPIPE it raised is
 * discarded). 0 when both succeeded. Otherwise the consumer's error, unless
 * the consumer stopped because the producer failed: then the producer's
 * ("the producer failed: ..."). No thread or descriptor outlives the call. */
REPLAY_MUST_CHECK int replay__fs_pipe_run(struct replay_filestore *fs,
                                          const struct replay__fs_producer *p,
                                          replay__fs_consume_fn consume, void *arg,
                                          struct replay_err *err);
/* Reads up to n bytes into buf: *got > 0, or *got == 0 at the end of the object
 * (the producer closed its end and returned 0). A failed producer is its code
 * ("the producer failed"), a cancel token requested REPLAY_ECANCELED (looked
 * at while waiting for the producer), a failed read REPLAY_EIO. */
REPLAY_MUST_CHECK int replay__fs_pipe_read(struct replay__fs_pipe *in, void *buf, size_t n,
                                           size_t *got, struct replay_err *err);
/* Reads until buf holds n bytes or the object ends: *got < n only at its end. */
REPLAY_MUST_CHECK int replay__fs_pipe_fill(struct replay__fs_pipe *in, void *buf, size_t n,
                                           size_t *got, struct replay_err *err);
/* Bytes read from the pipe so far. */
uint64_t replay__fs_pipe_bytes(const struct replay__fs_pipe *in);

/* ---- what the curl-based backends share (filestore_curl.c) ------------------- */

#ifdef REPLAY__FS_WITH_CURL
#include "http_int.h"

/* Cap on an answer kept in memory unless a request sets its own (listings). */
#define REPLAY__FS_BODY_MAX (64u << 10)

/* The store's easy handle, reset for a new request, with the store's timeouts,
 * bandwidth caps, cancel token and TLS verification (off when `verify` is false;
 * fixed when the transport is made, at the store's first request). The
 * transport allows ftp, ftps, sftp, http and https. NULL on failure. */
CURL *replay__fs_curl(struct replay_filestore *fs, bool verify, struct replay_err *err);
/* Makes x's request body the stream `in`, read once with replay__fs_pipe_read()
 * (unknown length: ftp STOR, sftp put); a failed read stops the transfer with
 * the read's code and message. */
void replay__fs_pipe_body(struct replay__http_xfer *x, struct replay__fs_pipe *in);

/* Longest a clean-up request (removing a temporary, aborting a multipart
 * upload) may take: it runs even after a cancellation, so it is bounded. */
#define REPLAY__FS_CLEANUP_MS 10000L
/* Makes x a clean-up: not stopped by the cancel token, at most
 * REPLAY__FS_CLEANUP_MS long. */
void replay__fs_cleanup_request(struct replay__http_xfer *x);

/* A request body: len bytes from memory (mem) or from fd at off (pread). */
struct replay__fs_body {
    const char *mem;
    int fd;
    uint64_t off, len;
};
/* Sets x's request body to b. */
void replay__fs_body_set(struct replay__http_xfer *x, const struct replay__fs_body *b);

/* How a backend stores a stream in parts held in memory (S3, Azure); each
 * function gets the backend's arg. */
struct replay__fs_part_ops {
    const char *what;  /* a part in retry warnings ("PUT part") */
    unsigned max_parts; /* the service's limits: parts, and bytes of one */
    uint64_t min_part, max_part;
    /* The whole object, when it ends before filling one part. */
    int (*whole)(struct replay_filestore *fs, void *arg, const struct replay__fs_body *b,
                 struct replay_err *err);
    /* Before the first part (may be NULL). */
    int (*begin)(struct replay_filestore *fs, void *arg, struct replay_err *err);
    /* Part i (from 0), retried from memory while it fails with a transient code. */
    int (*part)(struct replay_filestore *fs, void *arg, unsigned i,
                const struct replay__fs_body *b, struct replay_err *err);
    /* After the n parts, the stream having ended well: makes the object visible. */
    int (*commit)(struct replay_filestore *fs, void *arg, unsigned n, struct replay_err *err);
};
/* Streams the producer's bytes (replay__fs_pipe_run()) in parts of
 * opts.stream_part_size (REPLAY_FILESTORE_STREAM_PART by default, kept within
 * ops' limits) read into one buffer and handed to ops as each fills; more than
 * ops->max_parts is REPLAY_ETOOBIG. */
REPLAY_MUST_CHECK int replay__fs_stream_parts(struct replay_filestore *fs,
                                              const struct replay__fs_producer *p,
                                              const struct replay__fs_part_ops *ops, void *arg,
                                              struct replay_err *err);

/* Runs x on the store's handle; failures read "<what> <store URL>: <cause>". Any
 * HTTP answer is success here: the caller reads x->status. */
REPLAY_MUST_CHECK int replay__fs_perform(struct replay_filestore *fs, struct replay__http_xfer *x,
                                         const char *what, struct replay_err *err);
/* Runs a download of `url` into fd on the handle the backend prepared (ftp RETR,
 * sftp get). */
REPLAY_MUST_CHECK int replay__fs_get_to_fd(struct replay_filestore *fs, const char *url, int fd,
                                           const char *what, struct replay_err *err);
/* Maps an HTTP status to a code with message "<what> <shown>: [<status>]
 * <Code>: <Message>" (the XML error of x->body when there is one). */
int replay__fs_http_error(const struct replay__http_xfer *x, const char *what, const char *shown,
                          struct replay_err *err);
/* One S3 or Azure request: the transfer, its headers, and an answer kept in
 * memory (error answers, cut at REPLAY__FS_BODY_MAX, unless the caller points
 * x.body elsewhere); `what` names it in messages ("PUT /bucket/key"). */
struct replay__fs_rest {
    struct replay__http_xfer x;
    struct replay__http_buf body;
    struct curl_slist *headers;
    char what[200];
};
void replay__fs_rest_init(struct replay__fs_rest *r);
void replay__fs_rest_free(struct replay__fs_rest *r);
/* Sends `method` on `url` with r's headers, on the handle the backend prepared
 * (replay__fs_curl() and its signing options). Any answer is success here. */
REPLAY_MUST_CHECK int replay__fs_rest_run(struct replay_filestore *fs, struct replay__fs_rest *r,
                                          const char *method, const char *url,
                                          struct replay_err *err);
/* The failure an unexpected status means (replay__fs_http_error() on r). */
int replay__fs_rest_fail(struct replay_filestore *fs, const struct replay__fs_rest *r,
                         struct replay_err *err);
/* "scheme://host:port" with an IPv6 host in brackets. */
REPLAY_MUST_CHECK int replay__fs_origin(const char *scheme, const char *host, int port, char *out,
                                        size_t outsz, struct replay_err *err);
/* Size of a remote file by a body-less request on `url` with the handle h the
 * backend prepared (ftp, sftp): *found is false on "no such file". */
REPLAY_MUST_CHECK int replay__fs_remote_size(struct replay_filestore *fs, CURL *h,
                                             const char *url, bool *found, uint64_t *size,
                                             struct replay_err *err);
/* Streams the long-format listing of directory `url` (ftp LIST, sftp) through the
 * handle the backend prepared and calls fn(name, ctx) for each regular file. */
REPLAY_MUST_CHECK int replay__fs_list_dir(struct replay_filestore *fs, const char *url,
                                          replay_filestore_list_fn fn, void *ctx,
                                          struct replay_err *err);
#endif

/* ---- FTP/SFTP listings (filestore_list.c): no I/O -------------------------------- */

/* Parses one line of a Unix "ls -l" style or DOS style directory listing.
 * Returns 1 and points *name at the name (inside line, which is modified; not
 * empty, not starting with a blank) for a regular file, 0 for anything else
 * (directories, links, "total", junk). */
int replay__fs_parse_list_line(char *line, const char **name);

#define REPLAY__FS_LIST_LINE_MAX 4096

/* Splits a listing into lines as it streams in and calls fn(name, ctx) for each
 * regular file (replay__fs_parse_list_line()). Lines longer than the buffer,
 * or holding a NUL, are skipped. The result does not depend on how the bytes
 * are cut into chunks. */
struct replay__fs_lister {
    char line[REPLAY__FS_LIST_LINE_MAX];
    size_t len;
    bool skipping; /* inside a line longer than the buffer */
    replay_filestore_list_fn fn;
    void *ctx;
};
void replay__fs_lister_init(struct replay__fs_lister *l, replay_filestore_list_fn fn, void *ctx);
/* Takes the next n bytes; returns 0, or what fn returned to stop. */
int replay__fs_lister_feed(struct replay__fs_lister *l, const char *p, size_t n);
/* The last line, when the listing does not end with a newline. */
int replay__fs_lister_end(struct replay__fs_lister *l);

/* replay_url_quote(s) into out: quote(s, safe='/') with keep_slash, else
 * quote(s, safe='') (AWS's URI encoding). REPLAY_ETOOBIG when it does not fit. */
REPLAY_MUST_CHECK int replay__fs_url_encode(const char *s, bool keep_slash, char *out,
                                            size_t outsz, struct replay_err *err);

/* ---- small XML reading for S3 and Azure answers (filestore_xml.c) ----------- */

/* Finds the first element <tag> (with or without attributes) in [xml, xml+len)
 * and copies its text, entity-decoded, into out (size outsz, NUL-terminated).
 * Returns the pointer just past </tag>, or NULL with out set to "" when absent
 * or malformed, or when the text does not fit. */
const char *replay__xml_text(const char *xml, size_t len, const char *tag, char *out,
                             size_t outsz);
/* Calls fn(text, ctx) for the text of <inner> inside each <outer> element of the
 * document, in order; stops at the first non-zero return and returns it.
 * Elements whose text is malformed or longer than maxlen are skipped. */
int replay__xml_each(const char *xml, size_t len, const char *outer, const char *inner,
                     size_t maxlen, int (*fn)(const char *text, void *ctx), void *ctx);

#endif
