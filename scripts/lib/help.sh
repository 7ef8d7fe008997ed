# Sourced by the shell scripts under scripts/ first thing: `-h` or `--help` as the first argument
# prints the script's header comment (the comment lines under "#!", up to the first line that is
# not a comment, without their "# ") and exits 0, before the script installs, builds or runs
# anything. (`scripts/quickstart --help` ran the whole set-up and the main job.)
case "${1:-}" in
  -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
esac
