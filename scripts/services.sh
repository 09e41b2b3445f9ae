#!/usr/bin/env bash
# Real services for sluice's tests, demos and benchmarks, on 127.0.0.1 only:
#   pg  a private PostgreSQL 15 cluster (superuser `sluice`, trust auth,
#       database `sluice`), Unix socket + TCP on a free port
#   s3  s3rver (npm, from .deps/node; run scripts/install-deps.sh first),
#       keys S3RVER/S3RVER, on a free port
#
# Usage: scripts/services.sh start|stop|status [pg|s3]
#        scripts/services.sh env        # eval "$(scripts/services.sh env)"
#
# State lives in .services/ (override with SLUICE_SERVICES_DIR): pid files,
# chosen ports, logs (pg/log, s3/log), s3rver's data (s3/data) and the
# cluster (pg/data, socket in pg/sock).  When run as root, PostgreSQL runs as
# the `postgres` user; if that user cannot reach .services/ (e.g. a checkout
# under /root), the cluster goes to /tmp/sluice-services-<hash>/pg instead
# (.services/pg/log then links to its log).  Ports are re-used across
# restarts when still free.
#
# Environment: SLUICE_SERVICES_DIR, SLUICE_PGBIN (default
# /usr/lib/postgresql/15/bin), SLUICE_START_TIMEOUT (seconds, default 60).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SVC="${SLUICE_SERVICES_DIR:-$ROOT/.services}"
mkdir -p "$SVC"
SVC="$(cd "$SVC" && pwd)"
PGBIN="${SLUICE_PGBIN:-/usr/lib/postgresql/15/bin}"
S3BIN="$ROOT/.deps/node/node_modules/.bin/s3rver"
TIMEOUT="${SLUICE_START_TIMEOUT:-60}"
PGUSER_NAME=sluice
PGDB_NAME=sluice
S3_KEY=S3RVER
S3_SECRET=S3RVER

say() { printf 'services: %s\n' "$*"; }
warn() { printf 'services: %s\n' "$*" >&2; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# Single-quote a value for the shell.
shq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

# A free TCP port on 127.0.0.1: the preferred one ($1) when it can be bound,
# else a random one in 20000-31999 (below Linux's ephemeral range).
free_port() {
  command -v node >/dev/null 2>&1 || die "node is needed to pick a free port"
  node -e '
    const net = require("net");
    let left = 100;
    const rnd = () => 20000 + Math.floor(Math.random() * 12000);
    function attempt(p) {
      const s = net.createServer();
      s.once("error", () => { if (--left <= 0) process.exit(1); attempt(rnd()); });
      s.listen({ port: p, host: "127.0.0.1", exclusive: true }, () => {
        const got = s.address().port;
        s.close(() => process.stdout.write(got + "\n"));
      });
    }
    attempt(Number(process.argv[1]) || rnd());' "${1:-0}" ||
    die "could not find a free port on 127.0.0.1"
}

# Is something accepting TCP connections on 127.0.0.1:$1?
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

tail_log() {
  if [ -f "$1" ]; then
    warn "---- last lines of $1 ----"
    tail -n 30 "$1" >&2 || true
    warn "----"
  fi
}

# ---------------------------------------------------------------- PostgreSQL
PGS="$SVC/pg"             # project-side state: port, pid, log (or a link to it)

# Where the cluster lives (data/, sock/, log): $PGS, unless we are root and
# the postgres user cannot reach it, or the socket path would be too long.
# The choice is kept in $PGS/base ("local" or the /tmp path).
pg_base() {
  local base="" reason=""
  base="$(cat "$PGS/base" 2>/dev/null || true)"
  case "$base" in
    local) printf '%s\n' "$PGS"; return ;;
    /*) printf '%s\n' "$base"; return ;;
  esac
  if is_root && ! (cd / && runuser -u postgres -- test -x "$PGS/"); then
    reason="the postgres user cannot enter $PGS"
  fi
  # "$base/sock/.s.PGSQL.NNNNN.lock" must fit in sun_path (108 bytes).
  if [ -z "$reason" ] && [ "${#PGS}" -gt 70 ]; then
    reason="the socket path under $PGS would be too long"
  fi
  if [ -n "$reason" ]; then
    base="/tmp/sluice-services-$(printf '%s' "$SVC" | sha256sum | cut -c1-12)/pg"
    warn "$reason: keeping the PostgreSQL cluster in $base"
    printf '%s\n' "$base" >"$PGS/base"
    printf '%s\n' "$base"
  else
    printf 'local\n' >"$PGS/base"
    printf '%s\n' "$PGS"
  fi
}

# Close every fd above 2 (lock file, make's jobserver pipes, ...) so that
# daemons started from here do not keep them open.
close_fds() {
  local f n
  for f in /proc/"$BASHPID"/fd/*; do
    n="${f##*/}"
    if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null || true; fi
  done
}

# Run a PostgreSQL binary, as postgres when we are root.
pg_run() {
  if is_root; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

pg_port() { cat "$PGS/port" 2>/dev/null || true; }

pg_running() {
  local base
  base="$(pg_base)"
  [ -f "$base/data/PG_VERSION" ] && pg_run "$PGBIN/pg_ctl" -D "$base/data" status >/dev/null 2>&1
}

pg_ready() {
  local port base
  port="$(pg_port)"
  base="$(pg_base)"
  [ -n "$port" ] && "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U "$PGUSER_NAME" &&
    "$PGBIN/pg_isready" -q -h "$base/sock" -p "$port" -d postgres -U "$PGUSER_NAME"
}

# Make a directory that is ours (root's) and not a symlink; for the /tmp case.
safe_mkdir() {
  local d="$1"
  [ -L "$d" ] || mkdir -p "$d"
  if [ -L "$d" ] || [ ! -d "$d" ] || [ "$(stat -c %u "$d")" != "$(id -u)" ]; then
    die "$d exists but is not a directory owned by $(id -un); remove it"
  fi
  chmod 0755 "$d"
}

pg_start() {
  if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
    die "PostgreSQL 15 server binaries not found in $PGBIN (run scripts/install-deps.sh)"
  fi
  if is_root && ! id postgres >/dev/null 2>&1; then
    die "running as root but there is no 'postgres' user to run the server (install postgresql-15)"
  fi
  mkdir -p "$PGS"
  local base data sock log port
  base="$(pg_base)"
  data="$base/data" sock="$base/sock" log="$base/log"
  if [ "$base" != "$PGS" ]; then
    safe_mkdir "$(dirname "$base")"
    safe_mkdir "$base"
    ln -sfn "$log" "$PGS/log"
  fi
  mkdir -p "$data" "$sock"
  touch "$log"
  chmod 0700 "$data"
  chmod 0755 "$sock"
  if is_root; then
    chown postgres:postgres "$data" "$sock" "$log"
  fi

  if pg_running; then
    if pg_ready; then
      say "pg already running on 127.0.0.1:$(pg_port)"
      return 0
    fi
    die "a server is running on $data but does not answer on 127.0.0.1:$(pg_port); try: $0 stop pg"
  fi

  if [ ! -f "$data/PG_VERSION" ]; then
    say "pg: initdb $data"
    if ! pg_run "$PGBIN/initdb" -D "$data" -U "$PGUSER_NAME" --auth=trust \
      -E UTF8 --no-locale --no-instructions >>"$log" 2>&1; then
      tail_log "$log"
      die "initdb failed (log: $log)"
    fi
  fi

  port="$(free_port "$(pg_port)")"
  printf '%s\n' "$port" >"$PGS/port"
  # Settings go on the command line so the data dir stays stock; a developer
  # can still run pg_ctl by hand with the same -o.
  if ! (close_fds && pg_run "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t "$TIMEOUT" \
    -o "-c listen_addresses=127.0.0.1 -p $port -k '$sock' -c unix_socket_permissions=0777" \
    start >/dev/null); then
    tail_log "$log"
    die "PostgreSQL did not start (log: $log)"
  fi
  head -n1 "$data/postmaster.pid" >"$PGS/pid"

  local i=0
  until pg_ready; do
    i=$((i + 1))
    if [ "$i" -ge $((TIMEOUT * 5)) ]; then
      tail_log "$log"
      die "PostgreSQL started but does not accept connections on 127.0.0.1:$port"
    fi
    sleep 0.2
  done

  local have
  have="$("$PGBIN/psql" -X -q -At -h "$sock" -p "$port" -U "$PGUSER_NAME" -d postgres \
    -c "select 1 from pg_database where datname = '$PGDB_NAME'")" ||
    die "cannot query the new cluster"
  if [ "$have" != 1 ]; then
    "$PGBIN/createdb" -h "$sock" -p "$port" -U "$PGUSER_NAME" "$PGDB_NAME" ||
      die "createdb $PGDB_NAME failed"
  fi
  say "pg started on 127.0.0.1:$port (socket dir $sock, data $data)"
}

pg_stop() {
  [ -d "$PGS" ] || { say "pg not running"; return 0; }
  local base data
  base="$(pg_base)"
  data="$base/data"
  if pg_running; then
    if pg_run "$PGBIN/pg_ctl" -D "$data" -m fast -w -t "$TIMEOUT" stop >/dev/null; then
      say "pg stopped"
    else
      # pg_ctl only signals the postmaster named in its own postmaster.pid.
      local pid
      pid="$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)"
      if [ -n "$pid" ] && [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$PGBIN/postgres" ]; then
        warn "pg_ctl stop failed; sending SIGQUIT to postmaster $pid"
        kill -QUIT "$pid" 2>/dev/null || true
      else
        die "pg_ctl stop failed (log: $base/log)"
      fi
    fi
  else
    say "pg not running"
  fi
  rm -f "$PGS/pid"
}

# ---------------------------------------------------------------- s3rver
S3S="$SVC/s3"

s3_port() { cat "$S3S/port" 2>/dev/null || true; }

# Is the pid in s3/pid alive and still our s3rver (same data dir)?
s3_pid_alive() {
  local pid cmd
  pid="$(cat "$S3S/pid" 2>/dev/null || true)"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
  case "$cmd" in
    *s3rver*"$S3S/data"*) printf '%s\n' "$pid" ;;
    *) return 1 ;;
  esac
}

s3_http_ok() {
  local port="$1" code
  if command -v curl >/dev/null 2>&1; then
    code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null || true)"
    [ -n "$code" ] && [ "$code" != 000 ]
  else
    port_open "$port"
  fi
}

s3_running() {
  local port
  port="$(s3_port)"
  s3_pid_alive >/dev/null && [ -n "$port" ] && s3_http_ok "$port"
}

s3_start() {
  [ -x "$S3BIN" ] || die "s3rver not installed at $S3BIN (run scripts/install-deps.sh)"
  mkdir -p "$S3S/data"
  if s3_running; then
    say "s3 already running on 127.0.0.1:$(s3_port)"
    return 0
  fi
  local pid
  if pid="$(s3_pid_alive)"; then
    die "s3rver (pid $pid) is alive but does not answer HTTP on 127.0.0.1:$(s3_port); try: $0 stop s3"
  fi
  local port log="$S3S/log"
  port="$(free_port "$(s3_port)")"
  printf '%s\n' "$port" >"$S3S/port"
  printf '\n==== %s start on 127.0.0.1:%s\n' "$(date -u +%FT%TZ)" "$port" >>"$log"
  # setsid: own session, so a terminal's signals do not reach it.  As this
  # shell has no job control the subshell is not a group leader, so setsid
  # does not fork and $! ends up as s3rver's (node's) pid.
  # s3rver 3.7.1 makes ListObjectsV2 continuation tokens with DES, which
  # node 20's OpenSSL 3 refuses unless the legacy provider is loaded: without
  # it every truncated listing answers HTTP 500.
  (
    close_fds
    NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider" \
    exec setsid "$S3BIN" --directory "$S3S/data" --address 127.0.0.1 --port "$port" \
      --silent --no-vhost-buckets </dev/null >>"$log" 2>&1
  ) &
  pid=$!
  printf '%s\n' "$pid" >"$S3S/pid"
  local i=0
  until s3_http_ok "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail_log "$log"
      rm -f "$S3S/pid"
      die "s3rver exited at start (log: $log)"
    fi
    i=$((i + 1))
    if [ "$i" -ge $((TIMEOUT * 5)) ]; then
      tail_log "$log"
      kill "$pid" 2>/dev/null || true
      rm -f "$S3S/pid"
      die "s3rver does not answer HTTP on 127.0.0.1:$port after ${TIMEOUT}s (log: $log)"
    fi
    sleep 0.2
  done
  say "s3 started on 127.0.0.1:$port (pid $pid, data $S3S/data)"
}

s3_stop() {
  local pid
  if ! pid="$(s3_pid_alive)"; then
    rm -f "$S3S/pid"
    say "s3 not running"
    return 0
  fi
  kill "$pid" 2>/dev/null || true
  local i=0
  while kill -0 "$pid" 2>/dev/null; do
    i=$((i + 1))
    if [ "$i" -eq 50 ]; then
      warn "s3rver (pid $pid) ignores SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    [ "$i" -ge 100 ] && die "s3rver (pid $pid) does not exit"
    sleep 0.1
  done
  rm -f "$S3S/pid"
  say "s3 stopped"
}

# ---------------------------------------------------------------- commands
status() {
  local rc=0 want="${1:-all}"
  if [ "$want" = all ] || [ "$want" = pg ]; then
    if [ -d "$PGS" ] && pg_running && pg_ready; then
      say "pg up   127.0.0.1:$(pg_port) (socket dir $(pg_base)/sock)"
    else
      say "pg down"
      rc=1
    fi
  fi
  if [ "$want" = all ] || [ "$want" = s3 ]; then
    if s3_running; then
      say "s3 up   127.0.0.1:$(s3_port) (pid $(cat "$S3S/pid"))"
    else
      say "s3 down"
      rc=1
    fi
  fi
  return "$rc"
}

print_env() {
  local pgport s3port rc=0
  pgport="$(pg_port)"
  s3port="$(s3_port)"
  if [ -n "$pgport" ]; then
    printf 'export SLUICE_CATALOG=%s\n' \
      "$(shq "host=127.0.0.1 port=$pgport dbname=$PGDB_NAME user=$PGUSER_NAME")"
    printf 'export SLUICE_TEST_PGSOCKDIR=%s\n' "$(shq "$(pg_base)/sock")"
    printf 'export SLUICE_TEST_PGPORT=%s\n' "$pgport"
  else
    warn "pg was never started here (no $PGS/port); run: $0 start"
    rc=1
  fi
  if [ -n "$s3port" ]; then
    mkdir -p "$SVC/aws"
    : >"$SVC/aws/config"
    : >"$SVC/aws/credentials"
    printf 'unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3\n'
    printf 'export AWS_ENDPOINT_URL=%s\n' "$(shq "http://127.0.0.1:$s3port")"
    printf 'export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n' "$S3_KEY" "$S3_SECRET"
    printf 'export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1\n'
    printf 'export AWS_EC2_METADATA_DISABLED=true\n'
    printf 'export AWS_CONFIG_FILE=%s AWS_SHARED_CREDENTIALS_FILE=%s\n' \
      "$(shq "$SVC/aws/config")" "$(shq "$SVC/aws/credentials")"
  else
    warn "s3 was never started here (no $S3S/port); run: $0 start"
    rc=1
  fi
  return "$rc"
}

usage() {
  cat >&2 <<EOF
usage: $0 start [pg|s3]    start services (both by default); idempotent
       $0 stop [pg|s3]     stop what this script started
       $0 status [pg|s3]   print up/down and ports; exit 0 only if all are up
       $0 env              print shell exports: eval "\$($0 env)"
EOF
  exit 2
}

cmd="${1:-}"
what="${2:-all}"
case "$what" in all | pg | s3) ;; *) usage ;; esac

# One start/stop at a time (parallel make targets may race).
lock() {
  exec 9>"$SVC/.lock"
  if command -v flock >/dev/null 2>&1; then
    flock -w 300 9 || die "timed out waiting for $SVC/.lock"
  fi
}

case "$cmd" in
  start)
    lock
    if [ "$what" = all ] || [ "$what" = pg ]; then pg_start; fi
    if [ "$what" = all ] || [ "$what" = s3 ]; then s3_start; fi
    ;;
  stop)
    lock
    if [ "$what" = all ] || [ "$what" = s3 ]; then s3_stop; fi
    if [ "$what" = all ] || [ "$what" = pg ]; then pg_stop; fi
    ;;
  status) status "$what" ;;
  env) print_env ;;
  *) usage ;;
esac
