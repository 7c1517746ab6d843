#!/usr/bin/env bash
# Usage: core_example.sh BUILD_DIR SOURCE_DIR WORK_DIR [SANITIZERS]
# Installs the gguf library from BUILD_DIR into WORK_DIR/prefix, builds examples/core-usage against
# it with nothing but find_package(gguf), runs the program, and fails if its link line or the binary
# names OpenSSL, xxHash or pthread.
set -euo pipefail
build=$1 src=$2 work=$3 sanitize=${4:-}
flags=()
# A sanitized library needs its runtime in the program that links it.
[ -n "$sanitize" ] && flags=(-DCMAKE_CXX_FLAGS="-fsanitize=$sanitize" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$sanitize")
rm -rf "$work" && mkdir -p "$work"
cmake --install "$build" --prefix "$work/prefix" --component Unspecified >/dev/null
cmake -S "$src/examples/core-usage" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" "${flags[@]}" >/dev/null
cmake --build "$work/build" -v >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
link=$(grep -E 'gguf-core-usage( |$)' "$work/build.log" | grep -E ' -o ' | tail -1)
[ -n "$link" ] || { echo "no link line found"; cat "$work/build.log"; exit 1; }
if grep -Eq 'ssl|crypto|xxhash|pthread|Threads' <<<"${link//-fsanitize=$sanitize/}"; then
  echo "the core example links more than the core: $link"; exit 1
fi
if ldd "$work/build/gguf-core-usage" | grep -Eq 'libssl|libcrypto|libxxhash'; then
  echo "the core example loads OpenSSL or xxHash:"; ldd "$work/build/gguf-core-usage"; exit 1
fi
out=$("$work/build/gguf-core-usage" "$work/example.gguf")
echo "$out"
grep -q '^GGUF v3, 2 key-values, 1 tensors$' <<<"$out"
grep -q '^tensor weights, 16 bytes$' <<<"$out"
echo "core example OK"
