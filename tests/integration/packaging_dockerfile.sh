#!/usr/bin/env bash
# docker/Dockerfile without a Docker engine: its structure (a Debian 12 build
# stage running scripts/setup and the CMake build without tests and test hooks;
# a Debian 12 slim runtime stage as uid/gid 1000 with Replay's directories, no
# compiler or headers, and the chart's liveness test as HEALTHCHECK), and that
# every shared library the built executables load comes from a package the
# runtime stage installs (ldd + dpkg -S on this Debian 12 machine).
. "$REPLAY_SOURCE_DIR/tests/integration/lib.sh"

DF=$REPLAY_SOURCE_DIR/docker/Dockerfile
FIX=$REPLAY_SOURCE_DIR/tests/integration/packaging
[ -f "$DF" ] || fail "no $DF"
/usr/bin/python3 -c 'import yaml' 2>/dev/null || fail "/usr/bin/python3 with python3-yaml is needed (run scripts/setup)"

# Instructions one per line as "STAGE<TAB>INSTRUCTION<TAB>ARGUMENTS": comment
# lines dropped, continuation lines joined, stage 0 = before the first FROM.
awk '
  /^[[:space:]]*#/ { next }
  { line = line $0 }
  /\\[[:space:]]*$/ { sub(/\\[[:space:]]*$/, " ", line); next }
  {
    gsub(/[[:space:]]+/, " ", line); sub(/^ /, "", line); sub(/ $/, "", line)
    if (line != "") {
      split(line, w, " "); ins = toupper(w[1]); args = substr(line, length(w[1]) + 2)
      if (ins == "FROM") stage++
      printf "%d\t%s\t%s\n", stage, ins, args
    }
    line = ""
  }' "$DF" >"$T/instructions"
# Package names that mean a compiler, build tool or headers.
is_build_tool() { [[ "$1" =~ -dev$ || "$1" =~ ^(gcc|g\+\+|cpp|clang|llvm)(-[0-9]+)?$ || "$1" =~ ^(build-essential|cmake|make|binutils|binutils-.*|pkg-config|pkgconf|libclang.*)$ ]]; }
ins() { awk -F'\t' -v s="$1" -v i="$2" '$1 == s && $2 == i { print $3 }' "$T/instructions"; }

note "stages"
assert_eq "2" "$(awk -F'\t' '$2 == "FROM"' "$T/instructions" | wc -l)" "number of stages"
# Base images pinned by digest, each with its tag in the comment line above it.
assert_eq 'DEBIAN_IMAGE=debian:12@ DEBIAN_SLIM_IMAGE=debian:12-slim@' \
  "$(ins 0 ARG | sed 's/sha256:[0-9a-f]\{64\}$//' | tr '\n' ' ' | sed 's/ $//')" "base image arguments (tag@sha256:digest)"
for tag in debian:12 debian:12-slim; do
  grep -B1 "^ARG [A-Z_]*=$tag@sha256:" "$DF" | head -1 | grep -qxF "# $tag" ||
    fail "the base image $tag has no '# $tag' comment line above its pinned ARG"
done
assert_eq '${DEBIAN_IMAGE} AS build' "$(ins 1 FROM)" "build stage"
assert_eq '${DEBIAN_SLIM_IMAGE} AS runtime' "$(ins 2 FROM)" "final (runtime) stage"

note "build stage runs CI's commands"
build_run=$(ins 1 RUN)
assert_contains "$build_run" "/src/scripts/setup --build-only" "build stage"
grep -q -- '--build-only)' "$REPLAY_SOURCE_DIR/scripts/setup" || fail "scripts/setup has no --build-only option"
cmake_line=$(printf '%s\n' "$build_run" | grep 'cmake -S /src -B /build') || fail "build stage does not configure with CMake"
for opt in -DREPLAY_BUILD_TESTS=OFF -DREPLAY_TEST_HOOKS=OFF -DCMAKE_BUILD_TYPE=Release; do
  assert_contains "$cmake_line" "$opt" "build stage cmake command"
done
# The build stage has only what `scripts/setup --build-only` installs: the
# pkg-config modules a configure without tests requires (read from its cache)
# must each come from a package in that list, and every -dev package there must
# serve one of them.
setup_pkgs=" $(sed -n '/^build_packages=(/,/^)/p' "$REPLAY_SOURCE_DIR/scripts/setup" | sed 's/#.*//; s/build_packages=(//; s/)//' | tr -s ' \n' '  ') "
[ "$setup_pkgs" != "  " ] || fail "no build_packages list in scripts/setup"
cmake -S "$REPLAY_SOURCE_DIR" -B "$T/cfg" -DREPLAY_BUILD_TESTS=OFF -DREPLAY_TEST_HOOKS=OFF >"$T/cfg.log" 2>&1 ||
  fail "cmake configure without tests failed: $(tail -3 "$T/cfg.log")"
modules=$(sed -n 's/^__pkg_config_arguments_[A-Z_]*:INTERNAL=REQUIRED;IMPORTED_TARGET;//p' "$T/cfg/CMakeCache.txt" | tr ';' '\n' | sort -u)
[ -n "$modules" ] || fail "found no pkg-config modules in the CMake cache"
used_devs=" "
for m in $modules; do
  pc=$(pkg-config --variable=pcfiledir "$m" 2>/dev/null)/$m.pc || true
  dev=$(dpkg -S "$pc" 2>/dev/null | head -1 | cut -d: -f1) || true
  [ -n "$dev" ] || fail "pkg-config module $m: no Debian package provides $pc here"
  used_devs+="$dev "
  case "$setup_pkgs" in *" $dev "*) ;; *)
    fail "the build needs pkg-config module $m ($dev), which scripts/setup --build-only does not install: the image's build stage would fail" ;;
  esac
done
for p in $setup_pkgs; do
  case "$p" in *-dev) case "$used_devs" in *" $p "*) ;; *)
    fail "scripts/setup --build-only installs $p, which no pkg-config module of the build needs" ;; esac ;; esac
done
for opt in REPLAY_BUILD_TESTS REPLAY_TEST_HOOKS; do
  grep -q "^option($opt " "$REPLAY_SOURCE_DIR/CMakeLists.txt" || fail "CMakeLists.txt has no option $opt"
done
assert_contains "$cmake_line" "cmake --build /build" "build stage"
assert_contains "$cmake_line" "cmake --install /build --prefix /opt/replay" "build stage"
for pat in '^build$' '^build-\*$' '^\.git$'; do
  grep -q "$pat" "$REPLAY_SOURCE_DIR/.dockerignore" || fail ".dockerignore does not exclude $pat"
done

note "runtime stage: user, directories, no build tools"
assert_eq "1000:1000" "$(ins 2 USER | tail -1)" "last USER of the final stage"
[ -z "$(ins 2 ENTRYPOINT)" ] || fail "final stage has an ENTRYPOINT (the chart and compose pass the executable as command)"
rt_run=$(ins 2 RUN)
assert_contains "$rt_run" "useradd --uid 1000 --gid 1000 --home-dir /var/lib/assemblyline" "runtime user"
assert_contains "$rt_run" "groupadd --gid 1000 assemblyline" "runtime group"
# The directories: docker/image-dirs.sh, copied in and run on /; the compose test
# runs it under a scratch root and checks who can reach what.
assert_contains "$(ins 2 COPY)" "docker/image-dirs.sh /usr/local/lib/replay/image-dirs.sh" "runtime stage copies image-dirs.sh"
assert_contains "$rt_run" "sh /usr/local/lib/replay/image-dirs.sh /" "runtime stage runs image-dirs.sh"
# Packages installed by the runtime stage.
pkgs=$(printf '%s\n' "$rt_run" | grep -o 'apt-get install [^&]*' | sed 's/apt-get install//' | tr ' ' '\n' | grep -v '^-' | grep -v '^$' | sort -u)
[ -n "$pkgs" ] || fail "the runtime stage installs no packages"
for p in $pkgs; do
  ! is_build_tool "$p" || fail "runtime stage installs a build tool or headers: $p"
done
copies=$(ins 2 COPY | grep -- '--from=build')
assert_eq "--from=build /opt/replay/bin/ /usr/local/bin/" "$copies" "what the runtime stage copies from the build"
# The build's install tree holds the executables and nothing else (no headers, no libraries).
cmake --install "$REPLAY_BUILD_DIR" --prefix "$T/inst" >"$T/install.log" 2>&1 ||
  fail "cmake --install of $REPLAY_BUILD_DIR failed: $(tail -3 "$T/install.log")"
assert_eq "replay-creator replay-creator-worker replay-ctl replay-loader replay-loader-worker" \
  "$(ls "$T/inst/bin" | tr '\n' ' ' | sed 's/ $//')" "installed executables (what the image copies)"
dev=$(cd "$T/inst" && find . \( -name '*.h' -o -name '*.a' -o -name '*.so*' -o -name '*.pc' -o -path './include*' \) -print)
[ -z "$dev" ] || fail "the install tree holds headers or libraries: $dev"

note "HEALTHCHECK runs the chart's liveness test"
hc=$(ins 2 HEALTHCHECK)
[ -n "$hc" ] || fail "no HEALTHCHECK in the final stage"
json=${hc#*CMD }
opts=${hc%%CMD *}
echo "$json" | jq -e 'type == "array"' >/dev/null 2>&1 || fail "HEALTHCHECK CMD is not a JSON array: $json"
probe=$(/usr/bin/python3 "$FIX/yamlq.py" get replayLivenessCommand <"$REPLAY_SOURCE_DIR/helm/assemblyline-replay/values.yaml")
assert_eq "bash" "$(echo "$json" | jq -r '.[0]')" "HEALTHCHECK program"
assert_eq "-c" "$(echo "$json" | jq -r '.[1]')" "HEALTHCHECK flag"
assert_eq "$probe" "$(echo "$json" | jq -r '.[2]')" "HEALTHCHECK test vs chart replayLivenessCommand"
assert_eq "3" "$(echo "$json" | jq 'length')" "HEALTHCHECK arguments"
for o in --interval=30s --retries=3; do assert_contains "$opts" "$o" "HEALTHCHECK options"; done
grep -qx bash <<<"$pkgs" || fail "runtime stage does not install bash (liveness probe)"
grep -qx findutils <<<"$pkgs" || fail "runtime stage does not install findutils (liveness probe)"

note "runtime packages"
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in $pkgs; do
  installed "$p" || fail "runtime package $p is not a Debian package installed here (scripts/setup installs its -dev package)"
done
# closure_of PKG...: " p1 p2 ... " = the packages and, recursively, their
# Depends/Pre-Depends (the first installed alternative of each).
closure_of() {
  local seen=" " p deps g a queue=("$@") groups alts
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}; queue=("${queue[@]:1}")
    case "$seen" in *" $p "*) continue ;; esac
    seen+="$p "
    deps=$(dpkg-query -W -f='${Depends}, ${Pre-Depends}' "$p" 2>/dev/null || true)
    IFS=',' read -ra groups <<<"$deps"
    for g in "${groups[@]}"; do
      IFS='|' read -ra alts <<<"$g"
      for a in "${alts[@]}"; do
        a=$(echo "$a" | sed 's/(.*)//; s/:any//; s/[[:space:]]//g')
        [ -n "$a" ] || continue
        if installed "$a"; then queue+=("$a"); break; fi
      done
    done
  done
  echo "$seen"
}
closure=$(closure_of $pkgs)
for p in $closure; do
  ! is_build_tool "$p" || fail "runtime packages pull in a build tool or headers: $p"
done
# What debian:12-slim already holds: the Essential packages and their dependencies.
base=$(closure_of $(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" { print $1 }'))
in_base() { case "$base" in *" $1 "*) return 0 ;; esac; return 1; }

# pkg_of PATH: sets $pkg to the Debian package owning a library file
# (usrmerge-aware). Cached: the executables share most libraries, and each
# `dpkg -S` reads dpkg's whole database (about a second on a loaded machine).
declare -A _pkg_of=()
pkg_of() {
  local f cand
  pkg=${_pkg_of[$1]:-}
  [ -z "$pkg" ] || return 0
  for f in "$1" "$(readlink -f "$1")"; do
    for cand in "$f" "${f#/usr}" "/usr$f"; do
      pkg=$(dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1)
      if [ -n "$pkg" ]; then _pkg_of[$1]=$pkg; return 0; fi
    done
  done
  return 1
}
note "every library the executables load comes from those packages"
sanitized=no
grep -q '^REPLAY_SANITIZE:BOOL=ON' "$REPLAY_BUILD_DIR/CMakeCache.txt" 2>/dev/null && sanitized=yes
checked=0
linked=" "
for exe in replay-creator replay-creator-worker replay-loader replay-loader-worker replay-ctl; do
  path=$(bin "$exe")
  ldd "$path" >"$T/ldd.$exe" 2>&1 || { sleep 1; ldd "$path" >"$T/ldd.$exe" 2>&1; } ||
    fail "ldd $exe (exit $?): $(cat "$T/ldd.$exe")"
  ! grep -q 'not found' "$T/ldd.$exe" || fail "$exe: $(grep 'not found' "$T/ldd.$exe")"
  needed=$(readelf -d "$path" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
  while read -r lib _ file _; do
    case "$lib" in linux-vdso*|linux-gate*) continue ;; esac
    case "$lib" in /*) file=$lib; lib=$(basename "$lib") ;; esac
    if [ "$sanitized" = yes ]; then
      case "$lib" in libasan.so*|libubsan.so*|liblsan.so*|libtsan.so*) continue ;; esac
    fi
    pkg_of "$file" || fail "$exe: no Debian package owns $file"
    # Here-strings, not `printf | grep -q`: under pipefail a grep that quits at its
    # match can fail the pipeline with the writer's SIGPIPE.
    if grep -qxF "$lib" <<<"$needed"; then
      # A library the executable names itself: listed explicitly, or in the base image.
      grep -qxF "$pkg" <<<"$pkgs" || in_base "$pkg" ||
        fail "$exe links $lib from $pkg, which the runtime stage does not install"
      linked+="$pkg "
    else
      case "$closure" in *" $pkg "*) ;; *)
        in_base "$pkg" || fail "$exe loads $lib from $pkg, not installed by the runtime stage nor its dependencies" ;;
      esac
    fi
    checked=$((checked + 1))
  done < <(grep -v '^[[:space:]]*statically linked' "$T/ldd.$exe" | sed 's/^[[:space:]]*//')
done
[ "$checked" -gt 0 ] || fail "ldd listed no libraries"
# And nothing more: every runtime package but the probe's tools and the CA
# certificates holds a library some executable names.
for p in $pkgs; do
  case "$p" in ca-certificates|bash|findutils) continue ;; esac
  case "$linked" in *" $p "*) ;; *) fail "the runtime stage installs $p, which no executable links" ;; esac
done
note "Dockerfile OK ($checked library loads checked)"
