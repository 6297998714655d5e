#!/usr/bin/env bash
# Filestore integration test for azure:// (the body and the table are in filestore_suite.sh).
SCHEME=azure
. "$(dirname "${BASH_SOURCE[0]}")/filestore_suite.sh"
