# shellcheck shell=bash
# Sourced by scripts/test: check_ctest_args ARGS... exits 2 with one line unless every argument is
# one of the ctest options below (with its value), before anything is built or run. ctest itself
# ignores options it does not know and stray words, so a typo (`scripts/test --label fast`,
# `scripts/test fast`) ran the whole suite, and a regex that matches nothing passed with "No tests
# were found" (scripts/test adds --no-tests=error for that).
check_ctest_args() {
  local usage="scripts/test takes ctest's -R/-E/-L/-LE REGEX, -j N, --timeout SECONDS, --repeat MODE:N, -I SPEC, -O/--output-junit FILE, -V, -VV, -Q, -N, -U, --stop-on-failure, --rerun-failed, --schedule-random, --print-labels, --progress (run ctest --test-dir build for others)"
  local value_of="" a
  for a in "$@"; do
    if [ -n "$value_of" ]; then
      case "$value_of" in
        -j|--parallel) [[ "$a" =~ ^[1-9][0-9]{0,3}$ ]] || { echo "scripts/test: $value_of needs a number of jobs (1..9999), got '$a'" >&2; exit 2; } ;;
        --timeout) [[ "$a" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "scripts/test: --timeout needs seconds, got '$a'" >&2; exit 2; } ;;
        --repeat) [[ "$a" =~ ^(until-fail|until-pass|after-timeout):[1-9][0-9]*$ ]] || { echo "scripts/test: --repeat needs until-fail:N, until-pass:N or after-timeout:N, got '$a'" >&2; exit 2; } ;;
      esac
      value_of=""
      continue
    fi
    case "$a" in
      -R|-E|-L|-LE|--tests-regex|--exclude-regex|--label-regex|--label-exclude|-j|--parallel|--timeout|--repeat|-I|--tests-information|-O|--output-log|--output-junit)
        value_of="$a" ;;
      -j[1-9]*) [[ "$a" =~ ^-j[1-9][0-9]{0,3}$ ]] || { echo "scripts/test: $a: -j needs a number of jobs (1..9999)" >&2; exit 2; } ;;
      -V|-VV|-Q|-N|-U|--verbose|--extra-verbose|--quiet|--show-only|--union|--output-on-failure|--stop-on-failure|--rerun-failed|--schedule-random|--print-labels|--progress) ;;
      *) echo "scripts/test: unknown argument '$a'; $usage" >&2; exit 2 ;;
    esac
  done
  if [ -n "$value_of" ]; then echo "scripts/test: $value_of needs a value; $usage" >&2; exit 2; fi
}
