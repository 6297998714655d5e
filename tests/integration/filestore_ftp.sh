#!/usr/bin/env bash
# Filestore integration test for ftp:// (the body and the table are in filestore_suite.sh).
SCHEME=ftp
. "$(dirname "${BASH_SOURCE[0]}")/filestore_suite.sh"
