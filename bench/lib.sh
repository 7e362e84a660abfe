# shellcheck shell=bash
# bench/lib.sh — shared pieces of the end-to-end benchmarks (bench/run,
# bench/flood, bench/soak, …). Source it from a bash script that runs with
# `set -euo pipefail`:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sourcing it only defines functions and the variables below; nothing runs,
# nothing starts and the working directory does not change. Every process
# started through these functions is loopback-only and is stopped by the
# exit trap that bench_setup_tmp installs.
#
# Variables set when sourced (a script may change them after sourcing):
#   ROOT        absolute path of the repository (parent of bench/)
#   BENCH_NAME  prefix of error messages ("bench"); e.g. BENCH_NAME=flood
#   USERNAME    the benchmark user ("bench"; the upstream counts requests
#               whose Remote-User equals it)
#   PASSWORD    its password ('Gh-Load-Passw0rd-1', must not contain USERNAME)
#   THREADS     wrk -t used by bench_wrk (${BENCH_THREADS:-2})
#   CONNS       wrk -c used by bench_wrk (${BENCH_CONNECTIONS:-64})
#   PIDS        array of process ids stopped on exit (empty)
#
# Functions (names are stable; other scripts rely on them):
#
#   bench_log MSG…            prints "==> MSG" to stderr.
#   bench_die MSG…            prints "$BENCH_NAME: FAIL: MSG" to stderr, exits 1
#                             (from a subshell it only ends the subshell).
#   bench_require_uint VAR…   each named variable must hold a whole number,
#                             else "$BENCH_NAME: VAR must be a whole number" and
#                             exit 2.
#   bench_require_tools [T…]  makes sure wrk is installed (apt-get install -y wrk
#                             when root, otherwise prints how and exits 1), then
#                             that go, curl, python3, timeout and every T exist.
#                             BENCH_NO_WRK=1 skips wrk (a script without it).
#   bench_setup_tmp           creates TMP (mktemp -d, under $TMPDIR or /tmp) and
#                             installs the EXIT/INT/TERM trap: it stops every
#                             pid in PIDS (TERM, up to 10 s, then KILL) and runs
#                             the commands in the array BENCH_ON_EXIT first; on
#                             failure it prints the last 20 lines of
#                             $TMP/caddy.log (unless BENCH_LOG_TAIL=0, e.g. set
#                             just before exiting on a missed target) and
#                             keeps TMP, on success it removes TMP unless
#                             BENCH_KEEP=1. Sets TMP, PIDS=().
#   bench_build [PKG…]        go build ./cmd/caddy -> $TMP/caddy and
#                             ./bench/upstream -> $TMP/upstream, plus each extra
#                             package PKG (e.g. ./bench/soakdriver) ->
#                             $TMP/<basename of PKG>. Needs TMP; cwd = ROOT.
#   bench_free_ports N        prints N distinct free 127.0.0.1 TCP ports on one
#                             line, space-separated.
#   bench_alloc_ports         sets ADMIN PORTAL P1 P2 UP (five free ports: Caddy
#                             admin API, portal, plain route, gated route,
#                             upstream).
#   bench_start_upstream      starts $TMP/upstream on 127.0.0.1:$UP counting
#                             Remote-User=$USERNAME; log $TMP/upstream.log.
#                             Sets UPSTREAM_PID, appends it to PIDS.
#   bench_write_caddyfile     writes $TMP/Caddyfile: admin 127.0.0.1:$ADMIN,
#                             auto_https off, default_bind 127.0.0.1, storage
#                             and log ($TMP/caddy.log) in TMP, gatehouse
#                             storage $TMP/gatehouse and portal_url
#                             http://127.0.0.1:$PORTAL; sites: portal on
#                             :$PORTAL, plain reverse_proxy on :$P1, `gatehouse
#                             bench` + reverse_proxy on :$P2 (upstream :$UP).
#                             Optional, each inserted verbatim when non-empty:
#                               CADDY_GLOBAL_EXTRA     lines in the global block
#                                                      (e.g. "servers {
#                                                      trusted_proxies static
#                                                      127.0.0.1/32 }")
#                               CADDY_GATEHOUSE_EXTRA  lines in the global
#                                                      gatehouse { } block
#                               CADDY_SITES_EXTRA      more sites at the end
#   bench_start_caddy         runs $TMP/caddy with $TMP/Caddyfile (XDG dirs in
#                             TMP, output appended to $TMP/caddy.log), waits
#                             (≤ 30 s each) for the admin API, the portal's
#                             /login and the upstream's /_count. Sets
#                             CADDY_PID, appends it to PIDS.
#   bench_wait_http URL WHAT  polls URL every 0.2 s until it answers 2xx; fails
#                             after 30 s or when CADDY_PID has exited.
#   bench_stop_pid PID        stops one process (TERM, ≤ 10 s, then KILL),
#                             waits for it and removes it from PIDS.
#   bench_untrack PID         removes PID from PIDS without signalling it (for
#                             a process already reaped with `wait`).
#   bench_user_add U PW [ROLE [FLAG…]]
#                             `caddy gatehouse user add` through the admin API
#                             (role defaults to user; FLAGs are extra CLI
#                             flags such as --groups g1,g2). Output in
#                             $TMP/useradd.out; fails the script on error.
#   bench_login U PW [CURL_ARG…]
#                             POST /api/v1/login on the portal; must answer
#                             200. Sets SESSION (cookie value) and
#                             COOKIE ("gatehouse_session=<value>"). Extra curl
#                             args go to the request (e.g. -H 'X-Forwarded-For:
#                             …'). Files $TMP/login.json, $TMP/login.headers.
#   bench_make_apikey COOKIE [LABEL]
#                             POST /api/v1/keys (scope inherit) as the session
#                             in COOKIE; must answer 201. Sets APIKEY (gth_…).
#   bench_credentials         logs, creates USERNAME (role user), signs in and
#                             makes a key: sets SESSION, COOKIE, APIKEY.
#   bench_sanity              plain route 200; gated route 200 with COOKIE and
#                             with APIKEY; anonymous JSON request 401.
#   bench_probe CURL_ARG…     prints the HTTP status of one curl request (5 s).
#   bench_count               prints "user other": the upstream's counters.
#   bench_to_ms VALUE         wrk latency (812.00us, 1.53ms, 1.02s) -> ms.
#   bench_wrk LABEL OUT SECS URL [WRK_ARG…]
#                             timeout --foreground SECS+30 wrk -t$THREADS -c$CONNS -dSECSs
#                             --latency [WRK_ARG…] URL > OUT; on failure prints
#                             OUT and fails with "wrk failed on LABEL".
#   bench_wrk_parse OUT       sets WRK_REQS (completed requests), WRK_RPS,
#                             WRK_P50, WRK_P99 (wrk's raw strings, e.g.
#                             "1.53ms"), WRK_NON2XX (count, 0 if none) and
#                             WRK_SOCKERR (wrk's "Socket errors" line or "");
#                             returns 1 when any of the first four is missing.
#   bench_median              reads numbers (spaces/newlines) on stdin, prints
#                             their median with 3 decimals.
#   bench_rss_kb PID          prints PID's VmRSS in kB (empty when gone).
#   bench_rss_watch PID FILE [MS]
#                             background poller: every MS ms (default 200)
#                             reads VmRSS of PID and keeps the maximum seen in
#                             FILE (kB). Sets RSS_WATCH_PID (in PIDS) and
#                             RSS_WATCH_FILE. One poller at a time.
#   bench_rss_unwatch         stops that poller; sets RSS_PEAK_KB (the peak, kB).
#                             Call it directly, not in $(…): it edits PIDS.
#   bench_machine             prints "machine: N CPUs, <model>; goX; <kernel>".

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=bench
USERNAME=bench
PASSWORD='Gh-Load-Passw0rd-1' # must not contain the username
THREADS=${BENCH_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
PIDS=()
BENCH_ON_EXIT=()

bench_log() { printf '==> %s\n' "$*" >&2; }
bench_die() { printf '%s: FAIL: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }

bench_require_uint() {
	local v
	for v in "$@"; do
		[[ ${!v} =~ ^[0-9]+$ ]] || { echo "$BENCH_NAME: $v must be a whole number, got '${!v}'" >&2; exit 2; }
	done
}

# ---------------------------------------------------------------- tools
bench_require_tools() {
	if [[ ${BENCH_NO_WRK:-0} != 1 ]] && ! command -v wrk >/dev/null 2>&1; then
		if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
			bench_log "installing wrk (apt-get install -y wrk)"
			apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
		else
			echo "$BENCH_NAME: wrk is not installed. Install it and run again:" >&2
			echo "  sudo apt-get install -y wrk     # Debian/Ubuntu" >&2
			echo "  brew install wrk                # macOS" >&2
			exit 1
		fi
	fi
	local t
	for t in go curl python3 timeout "$@"; do
		command -v "$t" >/dev/null 2>&1 || bench_die "'$t' is required but not installed"
	done
}

# ---------------------------------------------------------------- cleanup
_bench_stop() { # pid: TERM, wait up to 10 s, KILL, reap
	local i
	kill "$1" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.2; done
	kill -9 "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

bench_untrack() {
	local p keep=()
	for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}

bench_stop_pid() {
	_bench_stop "$1"
	bench_untrack "$1"
}

_bench_cleanup() {
	local rc=$? c pid
	trap - EXIT
	for c in "${BENCH_ON_EXIT[@]}"; do eval "$c" || true; done
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		_bench_stop "$pid"
	done
	if ((rc != 0)) && [[ ${BENCH_LOG_TAIL:-1} == 1 && -f $TMP/caddy.log ]]; then
		echo "---- last lines of the Caddy log ($TMP/caddy.log) ----" >&2
		tail -n 20 "$TMP/caddy.log" >&2 || true
	fi
	if [[ ${BENCH_KEEP:-0} == 1 || $rc -ne 0 ]]; then
		echo "$BENCH_NAME: temp dir kept: $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}

bench_setup_tmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-$BENCH_NAME.XXXXXX")
	PIDS=()
	trap _bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

# ---------------------------------------------------------------- build
bench_build() {
	bench_log "building caddy and the upstream into $TMP"
	go build -o "$TMP/caddy" ./cmd/caddy
	go build -o "$TMP/upstream" ./bench/upstream
	local pkg
	for pkg in "$@"; do
		go build -o "$TMP/$(basename "$pkg")" "$pkg"
	done
}

bench_free_ports() {
	python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(*[s.getsockname()[1] for s in socks])
for s in socks:
    s.close()
EOF
}

bench_alloc_ports() {
	# Five distinct free loopback ports (admin, portal, plain, gated, upstream).
	read -r ADMIN PORTAL P1 P2 UP < <(bench_free_ports 5)
	[[ -n ${UP:-} ]] || bench_die "could not find free ports"
}

# ---------------------------------------------------------------- start
bench_start_upstream() {
	"$TMP/upstream" -addr "127.0.0.1:$UP" -user "$USERNAME" >"$TMP/upstream.log" 2>&1 &
	UPSTREAM_PID=$!
	PIDS+=("$UPSTREAM_PID")
}

bench_write_caddyfile() {
	{
		cat <<EOF
{
	admin 127.0.0.1:$ADMIN
	auto_https off
	default_bind 127.0.0.1
	storage file_system $TMP/caddy-data
	log {
		output file $TMP/caddy.log
		level INFO
	}
EOF
		[[ -z ${CADDY_GLOBAL_EXTRA:-} ]] || printf '%s\n' "$CADDY_GLOBAL_EXTRA"
		cat <<EOF
	gatehouse {
		storage $TMP/gatehouse
		portal_url http://127.0.0.1:$PORTAL
EOF
		[[ -z ${CADDY_GATEHOUSE_EXTRA:-} ]] || printf '%s\n' "$CADDY_GATEHOUSE_EXTRA"
		cat <<EOF
	}
}

http://127.0.0.1:$PORTAL {
	gatehouse_portal
}

# plain: the same proxy without the guard (the baseline)
http://127.0.0.1:$P1 {
	reverse_proxy 127.0.0.1:$UP
}

# gated: open to every signed-in user (no allow lines)
http://127.0.0.1:$P2 {
	gatehouse bench {
		title "Bench"
	}
	reverse_proxy 127.0.0.1:$UP
}
EOF
		[[ -z ${CADDY_SITES_EXTRA:-} ]] || printf '\n%s\n' "$CADDY_SITES_EXTRA"
	} >"$TMP/Caddyfile"
}

bench_wait_http() { # url what
	local i
	for ((i = 0; i < 150; i++)); do
		kill -0 "$CADDY_PID" 2>/dev/null || bench_die "caddy exited while waiting for $2"
		if curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	bench_die "$2 did not answer within 30 s ($1)"
}

bench_start_caddy() {
	bench_log "starting caddy (admin 127.0.0.1:$ADMIN, portal :$PORTAL, plain :$P1, gated :$P2, upstream :$UP)"
	XDG_CONFIG_HOME=$TMP/xdg-config XDG_DATA_HOME=$TMP/xdg-data \
		"$TMP/caddy" run --config "$TMP/Caddyfile" --adapter caddyfile >>"$TMP/caddy.log" 2>&1 &
	CADDY_PID=$!
	PIDS+=("$CADDY_PID")
	bench_wait_http "http://127.0.0.1:$ADMIN/config/" "the admin API"
	bench_wait_http "http://127.0.0.1:$PORTAL/login" "the portal"
	bench_wait_http "http://127.0.0.1:$UP/_count" "the upstream"
}

# ---------------------------------------------------------------- credentials
bench_user_add() { # username password [role [extra flags…]]
	local u=$1 pw=$2 role=${3:-user}
	shift $(($# < 3 ? $# : 3))
	printf '%s\n' "$pw" | "$TMP/caddy" gatehouse user add --address "127.0.0.1:$ADMIN" \
		--username "$u" --password-stdin --role "$role" "$@" >"$TMP/useradd.out" 2>&1 ||
		{ cat "$TMP/useradd.out" >&2; bench_die "caddy gatehouse user add failed"; }
}

bench_login() { # username password [curl args…]
	local u=$1 pw=$2 code
	shift 2
	code=$(curl -sS --max-time 10 -o "$TMP/login.json" -D "$TMP/login.headers" -w '%{http_code}' \
		-H 'Content-Type: application/json' "$@" \
		-d "{\"username\":\"$u\",\"password\":\"$pw\"}" \
		"http://127.0.0.1:$PORTAL/api/v1/login")
	[[ $code == 200 ]] || bench_die "login answered $code: $(cat "$TMP/login.json")"
	SESSION=$(sed -n 's/^[Ss]et-[Cc]ookie: *gatehouse_session=\([^;]*\).*/\1/p' "$TMP/login.headers" | tr -d '\r' | head -n1)
	[[ -n $SESSION ]] || bench_die "no gatehouse_session cookie in the login answer"
	COOKIE="gatehouse_session=$SESSION"
}

bench_make_apikey() { # cookie [label]
	local code
	code=$(curl -sS --max-time 10 -o "$TMP/key.json" -w '%{http_code}' \
		-H 'Content-Type: application/json' -H "Cookie: $1" \
		-d "{\"label\":\"${2:-bench}\"}" "http://127.0.0.1:$PORTAL/api/v1/keys")
	[[ $code == 201 ]] || bench_die "POST /api/v1/keys answered $code: $(cat "$TMP/key.json")"
	APIKEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$TMP/key.json")
	[[ $APIKEY == gth_* ]] || bench_die "unexpected API key '$APIKEY'"
}

bench_credentials() {
	bench_log "creating user '$USERNAME', signing in, making an API key"
	bench_user_add "$USERNAME" "$PASSWORD" user
	bench_login "$USERNAME" "$PASSWORD"
	bench_make_apikey "$COOKIE" bench
}

bench_probe() { curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }

bench_sanity() {
	# Each route answers 200, and the gated one refuses anonymous requests.
	local anon
	[[ $(bench_probe "http://127.0.0.1:$P1/") == 200 ]] || bench_die "plain route does not answer 200"
	[[ $(bench_probe -H "Cookie: $COOKIE" "http://127.0.0.1:$P2/") == 200 ]] || bench_die "gated route refuses the session cookie"
	[[ $(bench_probe -H "Authorization: Bearer $APIKEY" "http://127.0.0.1:$P2/") == 200 ]] || bench_die "gated route refuses the API key"
	anon=$(bench_probe -H 'Accept: application/json' "http://127.0.0.1:$P2/")
	[[ $anon == 401 ]] || bench_die "gated route answered $anon to an anonymous request (want 401)"
}

# ---------------------------------------------------------------- measure
bench_count() { # prints "user other"
	curl -fsS --max-time 5 "http://127.0.0.1:$UP/_count" |
		python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["user"], d["other"])'
}

bench_to_ms() { # wrk latency value (e.g. 812.00us, 1.53ms, 1.02s) -> ms
	awk -v v="$1" 'BEGIN {
		n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.3f", n }'
}

bench_wrk() { # label outfile seconds url [wrk args…]
	local label=$1 out=$2 secs=$3 url=$4
	shift 4
	timeout --foreground $((secs + 30)) wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --latency "$@" \
		"$url" >"$out" 2>&1 || { cat "$out" >&2; bench_die "wrk failed on $label"; }
}

bench_wrk_parse() { # outfile
	WRK_REQS=$(awk '/requests in/ {print $1; exit}' "$1")
	WRK_RPS=$(awk '/^Requests\/sec:/ {print $2; exit}' "$1")
	WRK_P50=$(awk '$1 == "50%" {print $2; exit}' "$1")
	WRK_P99=$(awk '$1 == "99%" {print $2; exit}' "$1")
	WRK_NON2XX=$(awk '/Non-2xx or 3xx responses:/ {print $NF; exit}' "$1")
	WRK_NON2XX=${WRK_NON2XX:-0}
	WRK_SOCKERR=$(grep 'Socket errors' "$1" || true)
	[[ -n $WRK_REQS && -n $WRK_RPS && -n $WRK_P50 && -n $WRK_P99 ]]
}

bench_median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{a[NR] = $1} END {
	if (NR % 2) printf "%.3f", a[(NR + 1) / 2]; else printf "%.3f", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------- memory
bench_rss_kb() { awk '/^VmRSS:/ {print $2; exit}' "/proc/$1/status" 2>/dev/null || true; }

bench_rss_watch() { # pid file [ms]
	local pid=$1 file=$2 ms=${3:-200}
	RSS_WATCH_FILE=$file
	echo 0 >"$file"
	(
		peak=0
		int=$(awk -v ms="$ms" 'BEGIN { printf "%.3f", ms / 1000 }')
		while kill -0 "$pid" 2>/dev/null; do
			kb=$(awk '/^VmRSS:/ {print $2; exit}' "/proc/$pid/status" 2>/dev/null || true)
			if [[ -n $kb ]] && ((kb > peak)); then
				peak=$kb
				echo "$peak" >"$file.new" && mv -f "$file.new" "$file"
			fi
			sleep "$int"
		done
	) &
	RSS_WATCH_PID=$!
	PIDS+=("$RSS_WATCH_PID")
}

bench_rss_unwatch() {
	bench_stop_pid "$RSS_WATCH_PID"
	RSS_PEAK_KB=$(cat "$RSS_WATCH_FILE" 2>/dev/null || echo 0)
}

bench_machine() {
	local model
	model=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
	echo "machine: $(nproc) CPUs, ${model:-unknown CPU}; $(go version | awk '{print $3}'); $(uname -sr)"
}
