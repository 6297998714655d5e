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
/* Prefix of temporary upload names: dot-files, which the loader ignores. */
#define REPLAY__FS_TMP_PREFIX ".replay-tmp-"

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
/* True for names made by replay__fs_tmp_name(). */
bool replay__fs_is_tmp_name(const char *base_name);
/* A fresh random temporary base name (".replay-tmp-<32 hex>") in out (>= 64). */
void replay__fs_tmp_name(char *out, size_t outsz);
/* Random hex string of 2*nbytes characters (getrandom, never fails). */
void replay__fs_random_hex(char *out, size_t nbytes);
/* mkdir -p (mode 0777 & ~umask). */
REPLAY_MUST_CHECK int replay__fs_mkdirs(const char *dir, struct replay_err *err);
/* fsync of a directory; file systems that cannot do it count as success. */
int replay__fs_fsync_dir(const char *dir);

/* ---- backends -------------------------------------------------------------- */

struct replay_filestore;

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

struct replay_filestore {
    const struct replay__fs_ops *ops;
    struct replay__fs_url url;
    struct replay_filestore_opts opts; /* defaults filled in */
    char shown[REPLAY__FS_SHOWN_MAX];  /* the URL, redacted, for messages */
    bool read_only;
    void *impl; /* the backend's state */
    void *curl; /* the store's libcurl easy handle (filestore_curl.c), or NULL */
};

/* Frees the store's libcurl handle, if any (filestore_curl.c). */
void replay__fs_curl_free(struct replay_filestore *fs);

/* ---- shared libcurl plumbing (filestore_curl.c) ----------------------------- */

#ifdef REPLAY__FS_WITH_CURL
#include <curl/curl.h>

/* A capped in-memory sink for small responses (listings, error bodies). */
struct replay__fs_buf {
    char *data; /* NUL-terminated when not NULL */
    size_t len, cap;
    size_t max;    /* the cap; 0 means 64 KiB */
    bool truncate; /* past max: keep the first max bytes (else the request fails) */
    bool overflow; /* more than max bytes arrived */
};
void replay__fs_buf_free(struct replay__fs_buf *b);

/* Receives body bytes instead of out_fd/body; returns 0 to go on or a negative
 * REPLAY_E* code to stop the transfer (replay__fs_perform then returns it). */
typedef int (*replay__fs_sink_fn)(const char *p, size_t len, void *ctx);

/* What one request sends and receives. Zero-initialise (in_fd and out_fd to
 * -1), then set what applies. */
struct replay__fs_req {
    const char *in_mem; /* upload source in memory (wins over in_fd), or NULL */
    int in_fd;       /* upload source (pread), -1 for none */
    uint64_t in_off; /* first byte to send */
    uint64_t in_len; /* bytes to send */
    int out_fd;      /* download sink (write at the current offset), -1 for none */
    struct replay__fs_buf *body; /* body sink when out_fd < 0, or for a non-2xx
                                    HTTP answer when out_fd >= 0 (may be NULL) */
    replay__fs_sink_fn sink;     /* body sink that wins over the two above */
    void *sink_ctx;
    struct curl_slist *headers;  /* request headers (owned by the caller) */
    const char *want_header;     /* response header to capture (any case, no ':') */
    char header_value[256];
    char reason[64]; /* HTTP reason phrase of the final status line */
    long status;     /* HTTP status, or FTP/SFTP response code, after perform */
    bool is_http;
    /* Internal state of replay__fs_perform. */
    struct replay_filestore *fs;
    uint64_t in_sent, last_bytes;
    int sys_errno;
    int sink_rc;
    bool canceled, read_failed, shrunk;
};
void replay__fs_req_init(struct replay__fs_req *req);

/* The store's handle, reset, with the options every request has: timeouts,
 * low speed, TCP keep-alive, TLS verification (off when verify is false),
 * bandwidth cap, allowed protocols. NULL with REPLAY_ENOMEM. */
CURL *replay__fs_curl(struct replay_filestore *fs, bool verify, struct replay_err *err);
/* Sets the data callbacks of req on h and runs the request. Maps transport
 * failures to REPLAY_E* with "<what> <shown>: <libcurl's reason>". Any HTTP
 * answer is success here: the caller reads req->status. */
int replay__fs_perform(CURL *h, struct replay__fs_req *req, const char *what,
                       const char *shown, struct replay_err *err);
/* Runs a download of `url` into fd on h (ftp RETR, sftp get): a request with
 * only an output, performed as replay__fs_perform does. */
int replay__fs_get_to_fd(struct replay_filestore *fs, CURL *h, const char *url, int fd,
                         const char *what, struct replay_err *err);
/* Maps an HTTP status to a code with message "<what> <shown>: [<status>]
 * <Code>: <Message>" (the XML error of the body when there is one). */
int replay__fs_http_error(const struct replay__fs_req *req, const struct replay__fs_buf *body,
                          const char *what, const char *shown, struct replay_err *err);
/* "scheme://host:port" with an IPv6 host in brackets (filestore_ftp.c). */
int replay__fs_origin(const char *scheme, const char *host, int port, char *out, size_t outsz,
                      struct replay_err *err);
/* Sets the HTTP method on h: HEAD (no body), GET, DELETE, or PUT/POST sending
 * req->in_len bytes from req (an empty body when it has no source). */
void replay__fs_set_method(CURL *h, const char *method, struct replay__fs_req *req);
/* Appends s to the curl list; false on ENOMEM (list unchanged). */
bool replay__fs_slist_add(struct curl_slist **list, const char *s);
/* Size of a remote file by a body-less request on `url` with a handle the
 * backend prepared (ftp, sftp): *found is false on "no such file". */
int replay__fs_remote_size(struct replay_filestore *fs, CURL *h, const char *url,
                           bool *found, uint64_t *size, struct replay_err *err);
/* Streams the long-format listing of directory `url` (ftp LIST, sftp) through a
 * prepared handle and calls fn(name, ctx) for each regular file. */
int replay__fs_list_dir(struct replay_filestore *fs, CURL *h, const char *url,
                        replay_filestore_list_fn fn, void *ctx, struct replay_err *err);
#endif

/* Parses one line of a Unix "ls -l" style or DOS style directory listing.
 * Returns 1 and points *name at the name (inside line, which is modified) for a
 * regular file, 0 for anything else (directories, links, "total", junk). */
int replay__fs_parse_list_line(char *line, const char **name);

/* Percent-encodes bytes of s for a URL path: unreserved characters and '/'
 * (when keep_slash) stay, everything else becomes %XX (upper-case hex).
 * REPLAY_ETOOBIG when the result does not fit in out. */
REPLAY_MUST_CHECK int replay__fs_url_encode(const char *s, bool keep_slash, char *out,
                                            size_t outsz, struct replay_err *err);

/* ---- small XML reading for S3 and Azure answers (filestore_xml.c) ----------- */

/* Finds the first element <tag> (with or without attributes) in [xml, xml+len)
 * and copies its text, entity-decoded, into out (size outsz, NUL-terminated).
 * Returns the pointer just past </tag>, or NULL when absent or malformed, or
 * when the text does not fit. */
const char *replay__xml_text(const char *xml, size_t len, const char *tag, char *out,
                             size_t outsz);
/* Calls fn(text, ctx) for the text of <inner> inside each <outer> element of the
 * document, in order; stops at the first non-zero return and returns it.
 * Elements whose text is malformed or longer than maxlen are skipped. */
int replay__xml_each(const char *xml, size_t len, const char *outer, const char *inner,
                     size_t maxlen, int (*fn)(const char *text, void *ctx), void *ctx);

#endif
