#!/usr/bin/env bash
# The one entrypoint of the service: `make run` calls it as `dev`, the compose file with the other commands.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
PORT=${PORT:-8000}

usage() {
  echo "usage: $0 {dev|web|worker|beat|migrate|flower|manage ARGS...}" >&2
  exit 2
}

migrate() {
  mkdir -p var
  "$PYTHON" manage.py migrate --noinput
  "$PYTHON" manage.py ensure_admin
}

command=${1:-}
[ -n "$command" ] || usage
shift
case "$command" in
  dev)
    export DJANGO_DEBUG=${DJANGO_DEBUG:-1}
    migrate
    exec "$PYTHON" manage.py runserver "127.0.0.1:$PORT"
    ;;
  web)
    "$PYTHON" manage.py collectstatic --noinput >/dev/null
    exec gunicorn yaptide_site.wsgi:application --bind "0.0.0.0:$PORT" --workers "${WEB_CONCURRENCY:-2}" \
      --access-logfile - "$@"
    ;;
  migrate) migrate ;;
  manage) exec "$PYTHON" manage.py "$@" ;;
  *) usage ;;
esac
