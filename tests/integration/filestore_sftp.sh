#!/usr/bin/env bash
# Filestore integration test for sftp:// (the body and the table are in filestore_suite.sh).
SCHEME=sftp
. "$(dirname "${BASH_SOURCE[0]}")/filestore_suite.sh"
