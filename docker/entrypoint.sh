#!/usr/bin/env bash
# The one entrypoint of the service: `make run` calls it as `dev`; the image and the compose file use the others.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
PORT=${PORT:-8000}
CELERY=("$PYTHON" -m celery -A yaptide_site)
# gunicorn's default access line plus the request id, which a 500's JSON body and traceback also carry.
ACCESS_LOG_FORMAT='%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" request_id=%({x-request-id}o)s'

usage() {
  echo "usage: $0 {dev|web|worker|beat|migrate|flower|manage ARGS...}" >&2
  exit 2
}

migrate() {
  mkdir -p var
  "$PYTHON" manage.py migrate --noinput
  "$PYTHON" manage.py ensure_admin
}

# dev: web server, Celery worker and beat together; INT or TERM (Ctrl-C) stops all three, and so does
# any one of them exiting. Each runs in its own process group (set -m): Celery gets TERM on its main
# process (a warm shutdown that stops its pool), the web server on its group (the autoreloader's child
# too); whatever is left after STOP_TIMEOUT seconds is killed.
pids=()
stop_all() {
  trap - INT TERM
  kill -TERM "${pids[0]}" "${pids[1]}" 2>/dev/null || true
  kill -TERM -- "-${pids[2]}" 2>/dev/null || true
  for _ in $(seq 1 "${STOP_TIMEOUT:-15}0"); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 1 ] || exit 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  exit 0
}

dev() {
  export DJANGO_DEBUG=${DJANGO_DEBUG:-1}
  migrate
  trap stop_all INT TERM
  set -m
  "${CELERY[@]}" worker --loglevel INFO --concurrency "${WORKER_CONCURRENCY:-2}" &
  pids+=($!)
  "${CELERY[@]}" beat --loglevel INFO &
  pids+=($!)
  "$PYTHON" manage.py runserver "127.0.0.1:$PORT" &
  pids+=($!)
  echo "yaptide: web on http://127.0.0.1:$PORT/ with a Celery worker and beat; Ctrl-C stops them all"
  wait -n || true
  stop_all
}

command=${1:-}
[ -n "$command" ] || usage
shift
case "$command" in
  dev) dev ;;
  web)
    "$PYTHON" manage.py collectstatic --noinput >/dev/null
    # Threads, not one sync process per request: a slow client (or a slow dependency) holds one thread of
    # WEB_THREADS, not a whole worker (bench/availability.py measures it).
    exec gunicorn yaptide_site.wsgi:application --bind "${BIND:-0.0.0.0}:$PORT" --workers "${WEB_CONCURRENCY:-2}" \
      --worker-class "${WEB_WORKER_CLASS:-gthread}" --threads "${WEB_THREADS:-16}" --timeout "${WEB_TIMEOUT:-60}" \
      --access-logfile - --access-logformat "$ACCESS_LOG_FORMAT" "$@"
    ;;
  worker) exec "${CELERY[@]}" worker --loglevel "${LOG_LEVEL:-INFO}" --concurrency "${WORKER_CONCURRENCY:-2}" "$@" ;;
  beat) exec "${CELERY[@]}" beat --loglevel "${LOG_LEVEL:-INFO}" "$@" ;;
  flower)
    # Flower can revoke tasks and shows their arguments: never without a password.
    [ -n "${FLOWER_BASIC_AUTH:-}" ] || { echo "yaptide: set FLOWER_BASIC_AUTH=user:password for Flower" >&2; exit 1; }
    exec "${CELERY[@]}" flower --port="${FLOWER_PORT:-5555}" --basic-auth="$FLOWER_BASIC_AUTH" "$@"
    ;;
  migrate) migrate ;;
  manage) mkdir -p var && exec "$PYTHON" manage.py "$@" ;;
  *) usage ;;
esac
