#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS - builds every tests/fuzz/fuzz_*.c with clang's
# libFuzzer (plus ASan and UBSan) in build-fuzz/ and runs each for SECONDS,
# starting from its corpus (tests/fuzz/corpus/<name>/) and, when present, the
# real files of ../shared/data. Fails when any target crashes.
set -u
cd "$(dirname "$0")/../.."
secs=${1:-60}
PKGS="libpq jansson libcurl lua5.4 libarchive libmicrohttpd openssl avro-c"
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -I. $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lm -pthread"
SRC=$(ls runtime/*.c crawler/*.c scheduler/*.c 2>/dev/null)
mkdir -p build-fuzz
status=0
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    short=${name#fuzz_}
    echo "== $name: building"
    # shellcheck disable=SC2086
    if ! clang $CFLAGS -o "build-fuzz/$name" "$t" $SRC $LIBS; then
        echo "$name: build failed"; status=1; continue
    fi
    work=$(mktemp -d /tmp/sluice-fuzz-XXXXXX)
    seeds=("tests/fuzz/corpus/$short")
    [ -d ../shared/data ] && seeds+=("../shared/data")
    echo "== $name: running ${secs}s"
    if ! (cd build-fuzz && "./$name" -max_total_time="$secs" -max_len=65536 -timeout=10 \
            -print_final_stats=1 "$work" "${seeds[@]/#/../}" 2>&1 | tail -15); then
        status=1
    fi
    if ls build-fuzz/crash-* build-fuzz/leak-* build-fuzz/timeout-* >/dev/null 2>&1; then
        echo "$name: crash inputs saved in build-fuzz/ (add them to tests/fuzz/corpus/$short/)"
        status=1
    fi
    rm -rf "$work"
done
exit $status
