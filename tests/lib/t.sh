# tests/lib/t.sh - sourced by tests/ns/*.sh: result lines counted by tests/run.
T_N=0 T_FAILED=0
ok()   { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }
nok()  { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }
skip_all() { echo "skip - $*"; exit 77; }
# check "description" command...: ok when the command succeeds.
check() { local d=$1; shift; if "$@"; then ok "$d"; else nok "$d"; fi; }
# check_not "description" command...: ok when the command fails.
check_not() { local d=$1; shift; if "$@"; then nok "$d"; else ok "$d"; fi; }
t_done() { [ "$T_FAILED" -eq 0 ]; }
[ "$(id -u)" -eq 0 ] || skip_all "needs root"
TOP=${DRAC_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$TOP/tests/lib/util.sh"
BUILD=${BUILD:-build}
BIN=$TOP/$BUILD
