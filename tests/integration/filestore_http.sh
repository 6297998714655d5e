#!/usr/bin/env bash
# Filestore integration test for http:// (the body and the table are in filestore_suite.sh).
SCHEME=http
. "$(dirname "${BASH_SOURCE[0]}")/filestore_suite.sh"
