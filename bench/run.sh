#!/usr/bin/env bash
# Benchmarks jhub-edge against nginx, configurable-http-proxy, Caddy and the
# upstream itself, on loopback, and writes bench/results/{RESULTS.md,raw.csv}.
# See bench/README.md. Needs root-installed tools: bash scripts/setup-bench.sh
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DUR=${BENCH_DURATION:-5}          # seconds per load phase
ROUNDS=${BENCH_ROUNDS:-3}         # interleaved rounds (median over them)
BASE=${BENCH_PORT_BASE:-28000}    # ports BASE+1 .. BASE+45 on 127.0.0.1, below the ephemeral range
PROFILE=${BENCH_PROFILE:-1}       # 1: CPU-profile the edge after the rounds
IDLE_WS=${BENCH_IDLE_WS:-1000}
read -r -a PROXIES <<<"${BENCH_PROXIES:-edge nginx chp caddy direct}"
CACHE=${JHUB_CACHE:-/var/cache/jhub}
CADDY=${CADDY:-$CACHE/bin/caddy}
OUT=${BENCH_OUT:-$REPO/bench/results}
NICE=${BENCH_NICE:--10}           # niceness of everything the benchmark runs
PROXY_CPU=0 # the proxy under test has this core to itself
LOAD_CPU=1  # wrk, the websocket load generator and the upstream share this one
LOAD=(nice -n "$NICE" taskset -c "$LOAD_CPU")
export PATH=$PATH:/usr/local/go/bin
# Debian's configurable-http-proxy finds its modules through Debian's node; a
# node from elsewhere (e.g. NodeSource, as on some images) needs the path.
export NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs${NODE_PATH:+:$NODE_PATH}

die() { echo "bench: $*" >&2; exit 1; }
log() { echo "bench: $(date -u +%T) $*" >&2; }

(($(nproc) >= 2)) || die "needs 2 cores (proxy on cpu $PROXY_CPU, load on cpu $LOAD_CPU); nproc=$(nproc)"
for t in nginx wrk configurable-http-proxy openssl taskset go curl; do
	command -v "$t" >/dev/null || die "$t not found; run: sudo bash scripts/setup-bench.sh"
done
[[ -x $CADDY ]] || die "caddy not found at $CADDY; run: sudo bash scripts/setup-bench.sh"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
NOFILE=$(ulimit -n)

# With sched autogroup, nice only ranks processes within one session; the
# session's own nice decides its share against other sessions (other test
# suites running on the machine). Raise it for the run, restore it on exit.
AUTOGROUP_NICE=""
if [[ -w /proc/$$/autogroup ]]; then
	AUTOGROUP_NICE=$(awk '{print $NF}' /proc/$$/autogroup)
	echo "$NICE" >"/proc/$$/autogroup" 2>/dev/null || AUTOGROUP_NICE=""
fi

WORK=$(mktemp -d /tmp/jhub-bench.XXXXXX)
PIDS=() # every process this script starts, killed by PID on exit

cleanup() {
	local p
	if [[ -n $AUTOGROUP_NICE ]]; then echo "$AUTOGROUP_NICE" >"/proc/$$/autogroup" 2>/dev/null || true; fi
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start CPU LOGNAME CMD... — runs CMD pinned to CPU; the PID is in $STARTED.
start() {
	local cpu=$1 name=$2
	shift 2
	nice -n "$NICE" taskset -c "$cpu" "$@" >"$WORK/$name.log" 2>&1 &
	STARTED=$!
	PIDS+=("$STARTED")
}

stop() {
	local p
	for p in "$@"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
}

wait_port() {
	local port=$1 i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---------------------------------------------------------------- setup
UP_HTTP=$((BASE + 1)) UP_HTTPS=$((BASE + 2))
EDGE_HTTP=$((BASE + 10)) EDGE_HTTPS=$((BASE + 11)) EDGE_API=$((BASE + 12)) EDGE_PPROF=$((BASE + 13))
NGINX_HTTP=$((BASE + 20)) NGINX_HTTPS=$((BASE + 21))
CHP_HTTP=$((BASE + 30)) CHP_HTTP_API=$((BASE + 31)) CHP_HTTPS=$((BASE + 32)) CHP_HTTPS_API=$((BASE + 33))
CADDY_HTTP=$((BASE + 40)) CADDY_HTTPS=$((BASE + 41))
read -r EPH_LO EPH_HI </proc/sys/net/ipv4/ip_local_port_range
# Thousands of client sockets take ephemeral ports; a listener inside that
# range can find its port taken between two proxies.
((BASE + 45 < EPH_LO || BASE > EPH_HI)) || die "BENCH_PORT_BASE=$BASE overlaps the ephemeral port range $EPH_LO-$EPH_HI"
for p in $UP_HTTP $UP_HTTPS $EDGE_HTTP $EDGE_HTTPS $EDGE_API $EDGE_PPROF $NGINX_HTTP $NGINX_HTTPS \
	$CHP_HTTP $CHP_HTTP_API $CHP_HTTPS $CHP_HTTPS_API $CADDY_HTTP $CADDY_HTTPS; do
	port_free "$p" || die "127.0.0.1:$p is in use; pick other ports with BENCH_PORT_BASE"
done

mkdir -p "$OUT/configs" "$WORK/configs"
log "work dir $WORK, results in $OUT"

# One ECDSA P-256 certificate for every proxy.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
	-subj /CN=127.0.0.1 -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
	-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
chmod 600 "$WORK/key.pem"
CERT=$WORK/cert.pem KEY=$WORK/key.pem

(cd "$REPO" && go build -o "$WORK/edgebench" ./bench/edgebench)
EB=$WORK/edgebench

HAVE_EDGE=0
if [[ " ${PROXIES[*]} " == *" edge "* ]]; then
	if (cd "$REPO" && CGO_ENABLED=0 go build -o "$WORK/jhub-edge" ./internal/cmd/jhub-edge) 2>"$WORK/edge-build.log"; then
		HAVE_EDGE=1
	else
		log "edge does not build (see below); benchmarking the others"
		cat "$WORK/edge-build.log" >&2
		read -r -a PROXIES <<<"${PROXIES[*]/edge/}"
	fi
fi

# ---------------------------------------------------------------- configs
mkdir -p "$WORK/edge-tls"
cat >"$WORK/configs/edge.yaml" <<EOF
version: 1
listen:
  http: 127.0.0.1:$EDGE_HTTP
  https: 127.0.0.1:$EDGE_HTTPS
  api: 127.0.0.1:$EDGE_API
tls:
  mode: pem
  storage_dir: $WORK/edge-tls
  pem:
    cert_file: $CERT
    key_file: $KEY
log:
  access: false
  level: warn
hub:
  hosts: [127.0.0.1]
  mode: upstream
  upstream: http://127.0.0.1:$UP_HTTP
EOF
if ((HAVE_EDGE)); then
	"$WORK/jhub-edge" check -config "$WORK/configs/edge.yaml" >/dev/null || die "generated edge config rejected (above)"
fi

# nginx as in JupyterHub's reverse-proxy recipe, plus upstream keep-alive.
mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/configs/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 16384; }
http {
    access_log off;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    map \$http_upgrade \$connection_upgrade { default upgrade; '' ''; }
    upstream hub { server 127.0.0.1:$UP_HTTP; keepalive 64; }
    server {
        listen 127.0.0.1:$NGINX_HTTP;
        listen 127.0.0.1:$NGINX_HTTPS ssl http2;
        ssl_certificate $CERT;
        ssl_certificate_key $KEY;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ecdh_curve X25519:prime256v1;
        ssl_session_cache shared:SSL:10m;
        add_header Strict-Transport-Security "max-age=63072000" always;
        location / {
            proxy_pass http://hub;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_set_header X-Real-IP \$remote_addr;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Scheme \$scheme;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \$connection_upgrade;
            proxy_buffering off;
            proxy_read_timeout 1d;
        }
    }
}
EOF

cat >"$WORK/configs/Caddyfile" <<EOF
{
	admin off
	auto_https off
	persist_config off
	storage file_system $WORK/caddy-data
}
http://:$CADDY_HTTP {
	bind 127.0.0.1
	reverse_proxy 127.0.0.1:$UP_HTTP {
		flush_interval -1
	}
}
https://:$CADDY_HTTPS {
	bind 127.0.0.1
	tls $CERT $KEY
	header Strict-Transport-Security "max-age=63072000"
	reverse_proxy 127.0.0.1:$UP_HTTP {
		flush_interval -1
	}
}
EOF

# ---------------------------------------------------------------- proxies
# start_proxy NAME sets HTTP_URL (empty: not offered), HTTPS_URL, WS_URL,
# RSS_PID (the process tree whose RSS counts) and PROXY_PIDS.
start_proxy() {
	PROXY_PIDS=() HTTP_URL="" RSS_PID=""
	case $1 in
	edge)
		start $PROXY_CPU edge "$WORK/jhub-edge" run -config "$WORK/configs/edge.yaml"
		PROXY_PIDS=("$STARTED") RSS_PID=$STARTED
		HTTPS_URL=https://127.0.0.1:$EDGE_HTTPS
		# The edge's :80 only redirects to HTTPS; it has no plain-HTTP proxy.
		wait_port $EDGE_HTTPS || die "edge did not start: $(cat "$WORK/edge.log")"
		;;
	nginx)
		start $PROXY_CPU nginx nginx -p "$WORK/nginx" -c "$WORK/configs/nginx.conf" -g 'daemon off;'
		PROXY_PIDS=("$STARTED") RSS_PID=$STARTED
		HTTP_URL=http://127.0.0.1:$NGINX_HTTP HTTPS_URL=https://127.0.0.1:$NGINX_HTTPS
		{ wait_port $NGINX_HTTP && wait_port $NGINX_HTTPS; } || die "nginx did not start: $(cat "$WORK/nginx.log")"
		;;
	chp)
		# CHP serves either HTTP or HTTPS on its port: one process for each.
		start $PROXY_CPU chp-http env CONFIGPROXY_AUTH_TOKEN=bench configurable-http-proxy --ip 127.0.0.1 --port $CHP_HTTP \
			--api-ip 127.0.0.1 --api-port $CHP_HTTP_API --default-target http://127.0.0.1:$UP_HTTP --log-level warn
		PROXY_PIDS=("$STARTED")
		start $PROXY_CPU chp-https env CONFIGPROXY_AUTH_TOKEN=bench configurable-http-proxy --ip 127.0.0.1 --port $CHP_HTTPS \
			--api-ip 127.0.0.1 --api-port $CHP_HTTPS_API --default-target http://127.0.0.1:$UP_HTTP --log-level warn \
			--ssl-cert "$CERT" --ssl-key "$KEY"
		PROXY_PIDS+=("$STARTED") RSS_PID=$STARTED
		HTTP_URL=http://127.0.0.1:$CHP_HTTP HTTPS_URL=https://127.0.0.1:$CHP_HTTPS
		{ wait_port $CHP_HTTP && wait_port $CHP_HTTPS; } || die "chp did not start: $(cat "$WORK"/chp-*.log)"
		;;
	caddy)
		start $PROXY_CPU caddy env XDG_DATA_HOME="$WORK/caddy-data" XDG_CONFIG_HOME="$WORK/caddy-config" \
			"$CADDY" run --adapter caddyfile --config "$WORK/configs/Caddyfile"
		PROXY_PIDS=("$STARTED") RSS_PID=$STARTED
		HTTP_URL=http://127.0.0.1:$CADDY_HTTP HTTPS_URL=https://127.0.0.1:$CADDY_HTTPS
		{ wait_port $CADDY_HTTP && wait_port $CADDY_HTTPS; } || die "caddy did not start: $(cat "$WORK/caddy.log")"
		;;
	direct)
		RSS_PID=$UPSTREAM_PID
		HTTP_URL=http://127.0.0.1:$UP_HTTP HTTPS_URL=https://127.0.0.1:$UP_HTTPS
		;;
	esac
	CPU_PIDS=("${PROXY_PIDS[@]}")
	[[ $1 == direct ]] && CPU_PIDS=("$UPSTREAM_PID")
	WS_URL=wss://${HTTPS_URL#https://}/ws
	# Prove the path works before measuring.
	curl -fsSk -o /dev/null "$HTTPS_URL/1k" || die "$1: GET $HTTPS_URL/1k failed; see $WORK/$1*.log"
}

# ---------------------------------------------------------------- measuring
declare -A RECORDED # commands already written to commands.txt
# record_cmd KEY LABEL CMD... writes "LABEL: CMD" (shell-quoted) once per KEY.
record_cmd() {
	local key=$1 label=$2 line
	shift 2
	[[ -n ${RECORDED[$key]:-} ]] && return
	RECORDED[$key]=1
	line=$(printf '%q ' "$@")
	printf '%s: %s\n' "$label" "${line//$WORK/\$WORK}" >>"$OUT/commands.txt"
}

emit() { echo "$ROUND,$PROXY,$1,$2" >>"$OUT/raw.csv"; }

# to_ms converts wrk's "812.00us" / "1.20ms" / "1.02s" to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
		else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000 }
		else { sub(/s$/, "", v); print v * 1000 } }'
}

# wrk_phase METRIC_PREFIX CONNS URL [wrk args...] — sets RPS, P50, P99.
wrk_phase() {
	local metric=$1 conns=$2 url=$3 out=$WORK/wrk.out
	shift 3
	local cmd=("${LOAD[@]}" wrk -t1 -c"$conns" -d"${DUR}s" --latency "$@" "$url")
	record_cmd "$PROXY-$metric" "$PROXY $metric" "${cmd[@]}"
	local u0 s0 u1 s1 n
	read -r u0 s0 < <(cpu_split)
	"${cmd[@]}" >"$out" 2>&1 || { log "$PROXY $metric: wrk failed: $(cat "$out")"; RPS=""; return; }
	read -r u1 s1 < <(cpu_split)
	n=$(awk '/ requests in / {print $1}' "$out")
	PERCPU=$(per_cpu "$n" $((u1 - u0 + s1 - s0)))
	# User and kernel CPU per request apart: where a proxy's cost is.
	USER_US=$(us_per "$n" $((u1 - u0))) SYS_US=$(us_per "$n" $((s1 - s0)))
	RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
	P50=$(to_ms "$(awk '/Latency Distribution/ {f=1} f && $1 == "50%" {print $2; exit}' "$out")")
	P99=$(to_ms "$(awk '/Latency Distribution/ {f=1} f && $1 == "99%" {print $2; exit}' "$out")")
	if grep -q 'Non-2xx or 3xx responses' "$out"; then
		log "$PROXY $metric: $(grep 'Non-2xx' "$out"); not recorded"
		RPS=""
	fi
	if grep -q 'Socket errors' "$out"; then
		log "$PROXY $metric: $(grep 'Socket errors' "$out")"
	fi
}

# tree PID... — the PIDs and all their descendants.
tree() {
	ps -e -o pid=,ppid= | awk -v roots="$*" '
		BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) root[r[i]] = 1 }
		{ parent[$1] = $2 }
		END { for (p in parent) { q = p; while (q != "" && q > 1) { if (q in root) { print p; break } q = parent[q] } } }'
}

# rss_kib PID — VmRSS summed over PID and all its descendants.
rss_kib() {
	local total=0 p kb
	for p in $(tree "$1"); do
		kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		total=$((total + ${kb:-0}))
	done
	echo "$total"
}

# cpu_split — "USER SYSTEM": clock ticks used so far by the proxy's processes.
cpu_split() {
	local user=0 sys=0 p u s
	for p in $(tree "${CPU_PIDS[@]}"); do
		# Fields 14 and 15 of /proc/PID/stat, counted after the ")" ending the name.
		read -r u s < <(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12, $13}' || true)
		user=$((user + ${u:-0})) sys=$((sys + ${s:-0}))
	done
	echo "$user $sys"
}

# cpu_ticks — user+system clock ticks used so far by the proxy's processes.
cpu_ticks() {
	local u s
	read -r u s < <(cpu_split)
	echo $((u + s))
}
CLK_TCK=$(getconf CLK_TCK)

# us_per COUNT TICKS — microseconds of proxy CPU per unit of work.
us_per() { awk -v n="$1" -v t="$2" -v hz="$CLK_TCK" 'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n }'; }

# per_cpu COUNT TICKS — COUNT per CPU-second of the proxy (how much work the
# proxy does per unit of CPU, independent of CPU stolen by other processes).
per_cpu() { awk -v n="$1" -v t="$2" -v hz="$CLK_TCK" 'BEGIN { if (t > 0) printf "%.0f", n / (t / hz) }'; }

# idle_rss METRIC measures RSS with IDLE_WS idle websockets held open through
# the proxy. It runs on the freshly started proxy (after the warm-up: what
# the websockets cost) and again after all load phases (what a proxy that
# has been busy holds: allocators and GCs keep memory after bursts).
idle_rss() {
	local cmd=("${LOAD[@]}" "$EB" ws-idle -url "$WS_URL" -conns "$IDLE_WS" -hold 120s)
	record_cmd "$PROXY-idle" "$PROXY rss_idle_ws (then VmRSS of the proxy's process tree)" "${cmd[@]}"
	"${cmd[@]}" >"$WORK/idle.out" 2>&1 &
	local idle=$! i
	PIDS+=("$idle")
	for i in $(seq 600); do
		grep -q '^ready' "$WORK/idle.out" && break
		kill -0 "$idle" 2>/dev/null || break
		sleep 0.1
	done
	if grep -q '^ready' "$WORK/idle.out"; then
		sleep 2 # let the proxy settle
		local kib
		kib=$(rss_kib "$RSS_PID")
		kill -TERM "$idle" 2>/dev/null || true
		wait "$idle" 2>/dev/null || true
		if grep -q "^alive $IDLE_WS" "$WORK/idle.out"; then
			emit "$1" "$(awk -v k="$kib" 'BEGIN {printf "%.1f", k / 1024}')"
		else
			log "$PROXY: idle websockets did not survive: $(tail -1 "$WORK/idle.out")"
		fi
	else
		stop "$idle"
		log "$PROXY: could not open $IDLE_WS websockets: $(tail -1 "$WORK/idle.out")"
	fi
}

measure() {
	# Warm-up (JITs, pools, caches); not recorded.
	"${LOAD[@]}" wrk -t1 -c64 -d1s "$HTTPS_URL/1k" >/dev/null 2>&1 || true
	idle_rss rss_1000ws_mib

	if [[ -n $HTTP_URL ]]; then
		wrk_phase http_ka 64 "$HTTP_URL/1k"
		[[ -n $RPS ]] && emit http_ka_rps "$RPS" && emit http_ka_p50_ms "$P50" && emit http_ka_p99_ms "$P99" && emit http_ka_per_cpu_s "$PERCPU"
	fi
	wrk_phase https_ka 64 "$HTTPS_URL/1k"
	[[ -n $RPS ]] && emit https_ka_rps "$RPS" && emit https_ka_p50_ms "$P50" && emit https_ka_p99_ms "$P99" && emit https_ka_per_cpu_s "$PERCPU" &&
		emit https_ka_user_us "$USER_US" && emit https_ka_sys_us "$SYS_US"

	# wrk opens a new connection (full handshake: wrk never resumes) for each request.
	wrk_phase handshakes 64 "$HTTPS_URL/1k" -H "Connection: close"
	[[ -n $RPS ]] && emit handshakes_per_s "$RPS" && emit handshakes_per_cpu_s "$PERCPU"

	local cmd=("${LOAD[@]}" "$EB" ws-echo -url "$WS_URL" -conns 50 -duration "${DUR}s" -size 128)
	record_cmd "$PROXY-ws" "$PROXY ws_echo" "${cmd[@]}"
	local v t0
	t0=$(cpu_ticks)
	if v=$("${cmd[@]}" 2>"$WORK/ws.err"); then
		emit ws_echo_msgs_per_s "${v% *}"
		emit ws_echo_per_cpu_s "$(per_cpu "${v#* }" $(($(cpu_ticks) - t0)))"
	else
		log "$PROXY ws-echo failed: $(cat "$WORK/ws.err")"
	fi

	# 1 MiB bodies: MiB/s equals responses/s.
	wrk_phase dl_https 4 "$HTTPS_URL/1m"
	[[ -n $RPS ]] && emit dl_https_mib_s "$RPS" && emit dl_https_mib_per_cpu_s "$PERCPU"
	if [[ -n $HTTP_URL ]]; then
		wrk_phase dl_http 4 "$HTTP_URL/1m"
		[[ -n $RPS ]] && emit dl_http_mib_s "$RPS"
	fi
	idle_rss rss_1000ws_after_load_mib
}

# ---------------------------------------------------------------- run
echo "round,proxy,metric,value" >"$OUT/raw.csv"
: >"$OUT/commands.txt"
{
	echo "date: $(date -u +%FT%TZ)"
	echo "nproc: $(nproc); cpu: $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
	echo "kernel: $(uname -srm)"
	echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
	echo "placement: proxy on cpu $PROXY_CPU alone; wrk, websocket load generator and upstream share cpu $LOAD_CPU; all at nice $NICE (session autogroup too: $([[ -n $AUTOGROUP_NICE ]] && echo yes || echo no))"
	echo "phases: ${DUR}s each, $ROUNDS rounds, order rotated every round; access logs off everywhere"
	echo "edge: $(cd "$REPO" && git rev-parse --short HEAD)$(cd "$REPO" && git diff --quiet HEAD -- internal/edge internal/cmd/jhub-edge internal/certs || echo ' + uncommitted changes') ($(go version | awk '{print $3}'))"
	echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //') (1 worker), $(nginx -V 2>&1 | grep -o 'running with OpenSSL [^ ]*' || true)"
	echo "configurable-http-proxy: $(configurable-http-proxy --version 2>/dev/null) on node $(node --version)"
	echo "caddy: $(go version -m "$CADDY" | awk '$1 == "mod" {print $3}')"
	echo "wrk: $(wrk -v 2>&1 | head -1 | awk '{print $2}')"
	echo "proxies: ${PROXIES[*]}"
	echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews absolute figures; ratios from interleaved rounds less so)"
} >"$OUT/meta.txt"
{
	echo "# proxy start commands, each prefixed with nice -n $NICE (configs are in bench/results/configs/; \$WORK is a temp dir)"
	echo "edge: taskset -c $PROXY_CPU jhub-edge run -config edge.yaml"
	echo "nginx: taskset -c $PROXY_CPU nginx -p \$WORK/nginx -c nginx.conf -g 'daemon off;'"
	echo "chp: CONFIGPROXY_AUTH_TOKEN=bench taskset -c $PROXY_CPU configurable-http-proxy --ip 127.0.0.1 --port $CHP_HTTPS --api-ip 127.0.0.1 --api-port $CHP_HTTPS_API --default-target http://127.0.0.1:$UP_HTTP --log-level warn --ssl-cert cert.pem --ssl-key key.pem   (and one without --ssl-* on $CHP_HTTP for HTTP)"
	echo "caddy: taskset -c $PROXY_CPU caddy run --adapter caddyfile --config Caddyfile"
	echo "upstream: taskset -c $LOAD_CPU edgebench upstream -http 127.0.0.1:$UP_HTTP -https 127.0.0.1:$UP_HTTPS -cert cert.pem -key key.pem"
	echo "certificate: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
	echo "# load (first round)"
} >>"$OUT/commands.txt"

start $LOAD_CPU upstream "$EB" upstream -http 127.0.0.1:$UP_HTTP -https 127.0.0.1:$UP_HTTPS -cert "$CERT" -key "$KEY"
UPSTREAM_PID=$STARTED
{ wait_port $UP_HTTP && wait_port $UP_HTTPS; } || die "upstream did not start: $(cat "$WORK/upstream.log")"

T0=$SECONDS
n=${#PROXIES[@]}
for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
	for ((i = 0; i < n; i++)); do
		PROXY=${PROXIES[$(((i + ROUND - 1) % n))]}
		log "round $ROUND/$ROUNDS: $PROXY"
		start_proxy "$PROXY"
		measure
		stop "${PROXY_PIDS[@]}"
	done
done
log "rounds done in $((SECONDS - T0))s"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"

cp "$WORK/configs/"* "$OUT/configs/"

# ---------------------------------------------------------------- profile
if ((HAVE_EDGE && PROFILE)); then
	log "profiling the edge"
	printf '{"Replace": {"%s": "%s"}}\n' "$REPO/internal/cmd/jhub-edge/zz_benchpprof.go" "$REPO/bench/pprof_overlay.go.txt" >"$WORK/overlay.json"
	(cd "$REPO" && CGO_ENABLED=0 go build -overlay "$WORK/overlay.json" -o "$WORK/jhub-edge-pprof" ./internal/cmd/jhub-edge)
	mkdir -p "$OUT/profiles"
	start $PROXY_CPU edge-pprof env JHUB_EDGE_BENCH_PPROF=127.0.0.1:$EDGE_PPROF "$WORK/jhub-edge-pprof" run -config "$WORK/configs/edge.yaml"
	pp=$STARTED
	{ wait_port $EDGE_HTTPS && wait_port $EDGE_PPROF; } || die "profiling edge did not start: $(cat "$WORK/edge-pprof.log")"
	profile() {
		local name=$1
		shift
		"$@" >/dev/null 2>&1 &
		local load=$!
		PIDS+=("$load")
		sleep 1
		curl -fsS -o "$OUT/profiles/edge-$name.pprof" "http://127.0.0.1:$EDGE_PPROF/debug/pprof/profile?seconds=$((DUR + 3))"
		wait "$load" || true
		go tool pprof -top -nodecount=45 "$WORK/jhub-edge-pprof" "$OUT/profiles/edge-$name.pprof" >"$OUT/profiles/edge-$name-top.txt" 2>/dev/null
		go tool pprof -top -cum -nodecount=45 "$WORK/jhub-edge-pprof" "$OUT/profiles/edge-$name.pprof" >"$OUT/profiles/edge-$name-cum.txt" 2>/dev/null
	}
	profile https_ka "${LOAD[@]}" wrk -t1 -c64 -d"$((DUR + 5))s" "https://127.0.0.1:$EDGE_HTTPS/1k"
	profile handshakes "${LOAD[@]}" wrk -t1 -c64 -d"$((DUR + 5))s" -H "Connection: close" "https://127.0.0.1:$EDGE_HTTPS/1k"
	profile ws_echo "${LOAD[@]}" "$EB" ws-echo -url "wss://127.0.0.1:$EDGE_HTTPS/ws" -conns 50 -duration "$((DUR + 5))s"
	curl -fsS -o "$OUT/profiles/edge-heap-after.pprof" "http://127.0.0.1:$EDGE_PPROF/debug/pprof/heap" || true
	stop "$pp"
fi

"$EB" report -csv "$OUT/raw.csv" -meta "$OUT/meta.txt" -commands "$OUT/commands.txt" -out "$OUT/RESULTS.md"
log "wrote $OUT/RESULTS.md in $((SECONDS))s total"
cat "$OUT/RESULTS.md"
