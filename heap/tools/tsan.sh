#!/usr/bin/env bash
# Build the C core with ThreadSanitizer (or another sanitizer: SAN=address,undefined)
# and run the soak driver. Usage: heap/tools/tsan.sh [rounds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
heap=$(dirname "$here")
SAN=${SAN:-thread}
out=${TMPDIR:-/tmp}/artgc-soak-$SAN
gcc -std=gnu11 -O1 -g -fsanitize="$SAN" -fno-omit-frame-pointer -Wall -Wextra -Wno-unused-parameter \
    -pthread -I"$heap" -I"$heap/include" -I"$heap/os" -I"$heap/testing" $(find "$heap" -name '*.c' -not -path "$here/*" | sort) "$here"/soak.c -o "$out" -lm
TSAN_OPTIONS=${TSAN_OPTIONS:-"halt_on_error=0 second_deadlock_stack=1 suppressions=$here/tsan.supp"} "$out" "${1:-1}"
