#!/bin/sh
# Runs BookSim2's iq router over a grid of offered loads and prints one CSV row per run:
#   mesh,traffic,packet_size,rate,seed,latency,accepted,status
# Usage: run_booksim.sh BOOKSIM_BINARY K TRAFFIC PACKET_SIZE SEED RATE...
# (base.cfg next to this script holds the fixed configuration; BookSim takes name=value
# overrides after the config file). status is "ok", or "unstable" when BookSim gave up
# (latency above latency_thres or no convergence): such a load is above saturation.
set -u
usage="usage: run_booksim.sh BOOKSIM_BINARY K TRAFFIC PACKET_SIZE SEED RATE..."
case "${1:-}" in -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
[ $# -ge 6 ] || { echo "$usage" >&2; exit 2; }
# A wrong path gave rows of "nan,nan,unstable" that read as a curve past saturation.
[ -f "$1" ] && [ -x "$1" ] || { echo "run_booksim.sh: $1: not an executable BookSim2 binary; $usage" >&2; exit 2; }
bin=$1 k=$2 traffic=$3 size=$4 seed=$5
shift 5
cfg=$(dirname "$0")/base.cfg
for rate in "$@"; do
  out=$("$bin" "$cfg" k="$k" traffic="$traffic" packet_size="$size" injection_rate="$rate" seed="$seed" 2>&1)
  lat=$(printf '%s\n' "$out" | sed -n '/Overall Traffic Statistics/,$p' | sed -n 's/^Packet latency average = \([0-9.e+-]*\).*/\1/p' | head -1)
  acc=$(printf '%s\n' "$out" | sed -n '/Overall Traffic Statistics/,$p' | sed -n 's/^Accepted flit rate average = \([0-9.e+-]*\).*/\1/p' | head -1)
  status=ok
  if [ -z "$lat" ] || printf '%s\n' "$out" | grep -q 'unstable\|Too many sample periods'; then status=unstable; fi
  echo "${k}x${k},$traffic,$size,$rate,$seed,${lat:-nan},${acc:-nan},$status"
done
