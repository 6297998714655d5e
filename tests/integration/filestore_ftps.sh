#!/usr/bin/env bash
# Filestore integration test for ftps:// (the body and the table are in filestore_suite.sh).
SCHEME=ftps
. "$(dirname "${BASH_SOURCE[0]}")/filestore_suite.sh"
