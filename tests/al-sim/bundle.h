/*
 * bundle: internals shared by al-sim's bundle download (bundle_create.c) and
 * import (bundle_import.c): Assemblyline bundles as formats.md §2 describes them,
 * a gzip'd tar of results.json and the files named by sha256, in a CaRT with
 * header {"al": {"type": "archive/bundle/al"}, "name": "<sid>.tgz"}.
 */
#ifndef ALSIM_BUNDLE_H
#define ALSIM_BUNDLE_H

#define ALSIM_BUNDLE_TYPE "archive/bundle/al"
#define ALSIM_BUNDLE_BLOCK (64 * 1024)
#define ALSIM_RESULTS_JSON_MAX (64 * 1024 * 1024)
#define ALSIM_MAX_EXTRACTION_DEPTH 6

#endif
