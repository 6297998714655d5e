#!/usr/bin/env bash
# Filestore integration test for file:// (the body and the table are in filestore_suite.sh).
SCHEME=file
. "$(dirname "${BASH_SOURCE[0]}")/filestore_suite.sh"
