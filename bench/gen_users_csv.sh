#!/usr/bin/env bash
# The users CSV of bench/data_feeder.sh and bench/peer_artillery_payload.sh: ROWS rows of
# `id,token` (`user-%06d`, a 90-character lowercase token; ~100 bytes a row), the same
# for a given ROWS on every run (awk's srand(16)), to stdout.
# Usage: bench/gen_users_csv.sh ROWS > users.csv
set -euo pipefail
awk -v rows="${1:?ROWS}" 'BEGIN {
    srand(16); print "id,token";
    for (i = 1; i <= rows; i++) {
        t = ""; for (j = 0; j < 90; j++) t = t sprintf("%c", 97 + int(rand() * 26));
        printf "user-%06d,%s\n", i, t
    }
}'
