#!/usr/bin/env bash
# Filestore benchmark (issue 6): uploads one 1 GiB file (random bytes, generated
# here, never kept) with our filestore and, in the same run and to the same
# server, with the reference tool of each scheme:
#
#   file://   cp (and cp followed by sync of the file: we fsync before renaming)
#   ftp://    curl -T                         (vsftpd)
#   sftp://   curl -T, key login              (OpenSSH sshd, internal-sftp)
#   s3://     curl -T --aws-sigv4             (s3rver)
#   azure://  curl -T with a SAS token        (azurite)
#
# Streamed uploads (replay_filestore_upload_stream, issue 11), the same 1 GiB
# read from a pipe (cat |) for file:// and sftp://, and the creator-worker's
# hand-off of a 1 GiB bundle from al-sim to file:// in one process
# (bench_stream_bundle: streamed, and the old way through a working-directory
# file) against `curl -o` of the same bundle URL followed by `cp`.
#
# Each figure is the best wall time of REPEAT runs, taken in turns with the
# reference (the machine is shared), with that run's peak RSS (/usr/bin/time -v). The ratio is our throughput over the
# reference's. Not a test: nothing passes or fails.
#
#   bench/filestore/run.sh RESULTS_FILE   (REPLAY_BUILD_DIR: a Release build with
#                                          -DREPLAY_BUILD_BENCH=ON; needs root for
#                                          the local users of vsftpd and sshd)
# Environment: REPEAT (3), FILESTORE_BENCH_MIB (1024), FILESTORE_BENCH_SCHEMES
# ("file ftp sftp s3 azure alsim"; alsim needs al-sim: -DREPLAY_BUILD_TESTS=ON).
set -euo pipefail
results=${1:?usage: run.sh RESULTS_FILE}
: "${REPLAY_BUILD_DIR:?set REPLAY_BUILD_DIR to a Release build with -DREPLAY_BUILD_BENCH=ON}"
REPEAT=${REPEAT:-3}
MIB=${FILESTORE_BENCH_MIB:-1024}
SCHEMES=" ${FILESTORE_BENCH_SCHEMES:-file ftp sftp s3 azure alsim} "
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../tests/integration/lib.sh"
. "$here/../../tests/integration/servers.sh"
tool=$REPLAY_BUILD_DIR/bench/filestore/bench_filestore_tool
handoff=$REPLAY_BUILD_DIR/bench/filestore/bench_stream_bundle
for exe in "$tool" "$handoff" /usr/bin/time curl openssl jq; do
  command -v "$exe" >/dev/null || fail "missing $exe (build with -DREPLAY_BUILD_BENCH=ON)"
done

head -c $((MIB << 20)) /dev/urandom >"$T/big"
rows=()
declare -A best_secs=()

# Commands of one scheme are registered with add, then run_round runs them
# REPEAT times in turns (ours, reference, ours, ...), so that both see the same
# load on this shared machine; each keeps its best wall time and that run's RSS.
keys=() labels=() cleanups=() cmds=()
add() { # KEY LABEL CLEANUP CMD...: CLEANUP is a shell string run before each run
  keys+=("$1")
  labels+=("$2")
  cleanups+=("$3")
  shift 3
  cmds+=("$(printf '%q ' "$@")")
}

run_rounds() {
  local i r t m best_t=() best_m=()
  for ((r = 0; r < REPEAT; r++)); do
    for i in "${!keys[@]}"; do
      eval "${cleanups[$i]}" >/dev/null 2>&1 || true
      sync
      eval "/usr/bin/time -v -o '$T/time.txt' ${cmds[$i]}" >"$T/cmd.out" 2>&1 ||
        fail "${labels[$i]} failed: $(tail -3 "$T/cmd.out")"
      t=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0;
            for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s}' "$T/time.txt")
      m=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$T/time.txt")
      if [ -z "${best_t[$i]:-}" ] || awk -v a="$t" -v b="${best_t[$i]}" 'BEGIN {exit !(a < b)}'; then
        best_t[$i]=$t
        best_m[$i]=$m
      fi
    done
  done
  for i in "${!keys[@]}"; do
    best_secs[${keys[$i]}]=${best_t[$i]}
    local line
    line=$(printf '%-44s %8.2f s %8.1f MiB/s %8.1f MiB' "${labels[$i]}" "${best_t[$i]}" \
      "$(awk -v m="$MIB" -v t="${best_t[$i]}" 'BEGIN {print (t > 0 ? m / t : 0)}')" \
      "$(awk -v k="${best_m[$i]}" 'BEGIN {print k / 1024}')")
    rows+=("$line")
    echo "$line"
  done
  keys=() labels=() cleanups=() cmds=()
}

ratio() { # LABEL OURS_KEY REF_KEY
  local line
  line=$(printf '%-44s %8.2f x' "$1" \
    "$(awk -v a="${best_secs[$2]}" -v b="${best_secs[$3]}" 'BEGIN {print (a > 0 ? b / a : 0)}')")
  rows+=("$line")
  echo "$line"
}

bench_file() {
mkdir -p "$T/dest"
add file.ours "ours file:// (fsync + rename)" "rm -rf '$T/dest/store'" \
  "$tool" "file://$T/dest/store" upload "$T/big" big.bin
add file.cp "cp" "rm -f '$T/dest/cp.bin'" cp "$T/big" "$T/dest/cp.bin"
add file.cpsync "cp + sync FILE" "rm -f '$T/dest/cp.bin'" \
  sh -c "cp '$T/big' '$T/dest/cp.bin' && sync '$T/dest/cp.bin'"
add file.stream "ours file:// streamed from a pipe" "rm -rf '$T/dest/store'" \
  sh -c "cat '$T/big' | '$tool' 'file://$T/dest/store' stream-upload - big.bin"
run_rounds
ratio "ratio file:// / cp" file.ours file.cp
ratio "ratio file:// / cp + sync" file.ours file.cpsync
ratio "ratio file:// stream / cp" file.stream file.cp
ratio "ratio file:// stream / cp + sync" file.stream file.cpsync
rm -rf "$T/dest"
}

bench_ftp() {
start_vsftpd
ftp="ftp://$FTP_USER:$FTP_PASS@127.0.0.1:$FTP_PORT/bench"
add ftp.ours "ours ftp:// (temp + RNFR/RNTO + SIZE)" "rm -rf '$FTP_ROOT/bench'" \
  "$tool" "$ftp" upload "$T/big" big.bin
add ftp.curl "curl -T ftp://" "rm -rf '$FTP_ROOT/bench'" \
  curl -sS --ftp-create-dirs -u "$FTP_USER:$FTP_PASS" -T "$T/big" \
  "ftp://127.0.0.1:$FTP_PORT/bench/ref.bin"
run_rounds
ratio "ratio ftp:// / curl -T" ftp.ours ftp.curl
_server_stop vsftpd
}

bench_sftp() {
start_sshd
add sftp.ours "ours sftp:// (temp + rename + stat)" "rm -rf '$SSH_HOME/bench'" \
  "$tool" "sftp://$SSH_USER@127.0.0.1:$SSH_PORT$SSH_HOME/bench?private_key=$SSH_KEY" \
  upload "$T/big" big.bin
add sftp.curl "curl -T sftp://" "rm -rf '$SSH_HOME/bench'" \
  curl -sS --ftp-create-dirs -u "$SSH_USER:" --key "$SSH_KEY" --pubkey "$SSH_KEY.pub" \
  -T "$T/big" "sftp://127.0.0.1:$SSH_PORT/~/bench/ref.bin"
add sftp.stream "ours sftp:// streamed from a pipe" "rm -rf '$SSH_HOME/bench'" \
  sh -c "cat '$T/big' | '$tool' 'sftp://$SSH_USER@127.0.0.1:$SSH_PORT$SSH_HOME/bench?private_key=$SSH_KEY' stream-upload - big.bin"
add sftp.curlpipe "curl -T - sftp:// from a pipe" "rm -rf '$SSH_HOME/bench'" \
  sh -c "cat '$T/big' | curl -sS --ftp-create-dirs -u '$SSH_USER:' --key '$SSH_KEY' --pubkey '$SSH_KEY.pub' -T - 'sftp://127.0.0.1:$SSH_PORT/~/bench/ref.bin'"
run_rounds
ratio "ratio sftp:// / curl -T" sftp.ours sftp.curl
ratio "ratio sftp:// stream / curl -T" sftp.stream sftp.curl
ratio "ratio sftp:// stream / curl -T - (pipe)" sftp.stream sftp.curlpipe
_server_stop sshd
}

bench_s3() {
start_s3rver
s3="s3://$S3_ACCESS:$S3_SECRET@127.0.0.1:$S3_PORT/?s3_bucket=$S3_BUCKET&use_ssl=false"
s3clean="rm -rf '$S3_DIR/data/$S3_BUCKET'/big.bin* '$S3_DIR/data/$S3_BUCKET'/ref.bin*"
add s3.ours "ours s3:// (one PUT, the default)" "$s3clean" \
  "$tool" "$s3" upload "$T/big" big.bin
add s3.multi "ours s3:// (multipart, 64 MiB parts)" "$s3clean" \
  "$tool" --multipart-threshold $((64 << 20)) "$s3" upload "$T/big" big.bin
add s3.curl "curl -T --aws-sigv4" "$s3clean" \
  curl -sS -f --aws-sigv4 "aws:amz:us-east-1:s3" -u "$S3_ACCESS:$S3_SECRET" \
  -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" -T "$T/big" \
  "http://127.0.0.1:$S3_PORT/$S3_BUCKET/ref.bin"
run_rounds
ratio "ratio s3:// one PUT / curl" s3.ours s3.curl
ratio "ratio s3:// multipart / curl" s3.multi s3.curl
_server_stop s3rver
}

bench_azure() {
start_azurite
key=$(printf %s "$AZ_KEY" | sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
az="azure://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT/bench?use_ssl=false&access_key=$key"
"$tool" "$az" exists nothing >/dev/null 2>&1 # creates the container
key_hex=$(printf %s "$AZ_KEY" | base64 -d | od -An -tx1 -v | tr -d ' \n')
sig=$(printf 'racwdl\n\n2099-01-01T00:00:00Z\n/blob/%s/bench\n\n\n\n2018-11-09\nc\n\n\n\n\n\n' \
  "$AZ_ACCOUNT" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$key_hex" -binary | base64 -w0 |
  sed 's/+/%2B/g; s|/|%2F|g; s/=/%3D/g')
sas="sv=2018-11-09&sr=c&sp=racwdl&se=2099-01-01T00:00:00Z&sig=$sig"
azclean="'$tool' '$az' delete big.bin; curl -s -X DELETE 'http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT/bench/ref.bin?$sas'"
add az.ours "ours azure:// (one Put Blob, the default)" "$azclean" \
  "$tool" "$az" upload "$T/big" big.bin
add az.blocks "ours azure:// (blocks of 32 MiB)" "$azclean" \
  "$tool" --multipart-threshold $((64 << 20)) "$az" upload "$T/big" big.bin
add az.curl "curl -T (SAS, Put Blob)" "$azclean" \
  curl -sS -f -H "x-ms-blob-type: BlockBlob" -T "$T/big" \
  "http://127.0.0.1:$AZ_PORT/$AZ_ACCOUNT/bench/ref.bin?$sas"
run_rounds
ratio "ratio azure:// one Put Blob / curl" az.ours az.curl
ratio "ratio azure:// blocks / curl" az.blocks az.curl
_server_stop azurite
}

# The creator-worker's hand-off (issue 11): a 1 GiB bundle from al-sim to file://.
bench_alsim() {
. "$here/../../tests/integration/alsim.sh"
start_alsim --name source --bundle-gzip-level 1
local seed sid url work=$T/work
seed=$(alsim_seed source submissions=1 files=1 alerts=0 large_file=$((MIB << 20)))
sid=$(jq -r '.submissions[0]' <<<"$seed")
[ -n "$sid" ] && [ "$sid" != null ] || fail "the seeder made no submission: $seed"
url="$ALSIM_SOURCE_URL/api/v4/bundle/$sid/"
mkdir -p "$work" "$T/dest"
curl -sS -f -H "X-USER: $ALSIM_SOURCE_USER" -H "X-APIKEY: $ALSIM_SOURCE_APIKEY" -o "$work/ref" "$url"
rows+=("al-sim bundle of the ${MIB} MiB file: $(stat -c %s "$work/ref") bytes")
export ALCLIENT_APIKEY=$ALSIM_SOURCE_APIKEY
add alsim.stream "ours al-sim -> file:// streamed" "rm -rf '$T/dest/store'" \
  "$handoff" "$ALSIM_SOURCE_URL" "$sid" "file://$T/dest/store" "$sid.al_bundle"
add alsim.file "ours al-sim -> work file -> file://" "rm -rf '$T/dest/store'" \
  "$handoff" --via-dir "$work" "$ALSIM_SOURCE_URL" "$sid" "file://$T/dest/store" "$sid.al_bundle"
add alsim.curl "curl -o + cp" "rm -f '$work/ref' '$T/dest/ref.bin'" \
  sh -c "curl -sS -f -H 'X-USER: $ALSIM_SOURCE_USER' -H 'X-APIKEY: $ALSIM_SOURCE_APIKEY' -o '$work/ref' '$url' && cp '$work/ref' '$T/dest/ref.bin'"
run_rounds
ratio "ratio streamed hand-off / curl -o + cp" alsim.stream alsim.curl
ratio "ratio hand-off via a file / curl -o + cp" alsim.file alsim.curl
stop_alsim source
rm -rf "$work" "$T/dest"
}

for scheme in file ftp sftp s3 azure alsim; do
  case "$SCHEMES" in *" $scheme "*) "bench_$scheme" ;; esac
done

{
  echo "filestore upload of ${MIB} MiB, best of $REPEAT, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  printf '%s\n' "${rows[@]}"
} >"$results"
echo "results in $results"
