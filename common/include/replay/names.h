/*
 * names: the file names Replay writes and reads, shared by the creator-worker
 * (which makes them), the loader (which picks files by them), the loader-worker
 * (which dispatches on them) and replay-ctl.
 *
 * The names are upstream's (formats.md §3, decisions.md §8):
 *   alert_<alert_id>.al_bundle          a bundle made from an alert
 *   submission_<sid>.al_bundle          a bundle made from a submission
 *   <collection>_<iso time>.al_json.cart  a batch of badlist, safelist, signature
 *                                       or workflow documents (CaRT of a JSON array)
 *   <collection>_<anything>.al_json     the same, not CaRTed (older exports)
 *   replay_manifest_<time>_<seq>.json   a manifest (docs/trust.md; not upstream's),
 *                                       with its signature <name>.sig beside it
 * An id goes into a name only when it is safe as a file name: 1 to
 * REPLAY_NAMES_MAX_ID characters of [0-9A-Za-z_-] (Assemblyline's random ids are
 * base62). Anything else is bad input, refused, never used to build a path.
 *
 * The loader skips what is not a Replay file: names starting with '.' (dot-files,
 * rsync's and our own temporary names), and names without one of the suffixes.
 *
 * Pure functions; thread-safe.
 */
#ifndef REPLAY_NAMES_H
#define REPLAY_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "replay/config.h"
#include "replay/error.h"
#include "replay/isotime.h"

#define REPLAY_NAMES_MAX_ID 128
/* Room for any name built here, terminator included. */
#define REPLAY_NAMES_LEN 192

#define REPLAY_NAMES_BUNDLE_SUFFIX ".al_bundle"
#define REPLAY_NAMES_JSON_SUFFIX ".al_json"
#define REPLAY_NAMES_JSON_CART_SUFFIX ".al_json.cart"
#define REPLAY_NAMES_MANIFEST_PREFIX "replay_manifest_"
#define REPLAY_NAMES_MANIFEST_SUFFIX ".json"

/* True when id may be part of a file name (see above). */
bool replay_names_id_is_safe(const char *id);

/* "alert_<id>.al_bundle" or "submission_<id>.al_bundle" into buf (size >=
 * REPLAY_NAMES_LEN). REPLAY_EINVAL for another input type, REPLAY_EUNSAFE for an
 * id that is not safe (the message shows it, cut and with control characters
 * replaced). */
REPLAY_MUST_CHECK int replay_names_bundle(enum replay_input_type t, const char *id, char *buf,
                                          size_t size, struct replay_err *err);

/* "<collection>_<time>.al_json.cart" for a list input (badlist, safelist,
 * signature, workflow) into buf (size >= REPLAY_NAMES_LEN). REPLAY_EINVAL for
 * alert or submission. */
REPLAY_MUST_CHECK int replay_names_batch(enum replay_input_type t,
                                         const struct replay_isotime *when, char *buf,
                                         size_t size, struct replay_err *err);

enum replay_names_kind {
    REPLAY_NAMES_IGNORED = 0, /* not a Replay file: left alone */
    REPLAY_NAMES_BUNDLE,      /* .al_bundle */
    REPLAY_NAMES_JSON,        /* .al_json */
    REPLAY_NAMES_JSON_CART,   /* .al_json.cart */
    REPLAY_NAMES_MANIFEST,    /* replay_manifest_*.json */
};

/* What the loader makes of a base name (no '/'): dot-files (temporary names among
 * them) and names without a Replay suffix (or with nothing before it) are IGNORED. */
enum replay_names_kind replay_names_classify(const char *base);

/* The collection of a JSON export: its base name up to the first '_' must be
 * badlist, safelist, signature or workflow. REPLAY_EFORMAT otherwise, naming it. */
REPLAY_MUST_CHECK int replay_names_collection(const char *base, enum replay_input_type *out,
                                              struct replay_err *err);

/* The base name of a path: what follows its last '/' (the path itself if none). */
const char *replay_names_basename(const char *path);

#endif
