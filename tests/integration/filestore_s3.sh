#!/usr/bin/env bash
# Filestore integration test for s3:// (the body and the table are in filestore_suite.sh).
SCHEME=s3
. "$(dirname "${BASH_SOURCE[0]}")/filestore_suite.sh"
