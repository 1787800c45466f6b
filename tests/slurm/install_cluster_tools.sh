#!/usr/bin/env bash
# Installs what a yaptide batch job needs on the cluster side of the loopback cluster, world-readable and built
# from /usr/bin/python3 (the job runs as the cluster user, who cannot read the project's virtualenv):
#   $DEST/bin/python3, convertmc   a virtualenv with pymchelper (the collect job merges with convertmc)
#   $DEST/bin/shieldhit            the test fake SHIELD-HIT12A (tests/fakes), run by /usr/bin/python3
# Usage: install_cluster_tools.sh [DEST]   (default /opt/yaptide-cluster); needs root and python3-venv.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=${1:-/opt/yaptide-cluster}
PYMCHELPER=$(grep -i '^pymchelper==' "$ROOT/requirements.txt")
umask 022
if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv >/dev/null \
    || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv >/dev/null; }
fi
installed=$("$DEST/bin/pip" show pymchelper 2>/dev/null || true)
if [[ ! -x $DEST/bin/convertmc ]] || ! grep -qx "Version: ${PYMCHELPER#*==}" <<<"$installed"; then
  /usr/bin/python3 -m venv --clear "$DEST"
  "$DEST/bin/pip" install --quiet --disable-pip-version-check -c "$ROOT/constraints.txt" "$PYMCHELPER"
fi
install -d -m 0755 "$DEST/fakes"
for name in shieldhit fakesim.py; do
  sed '1s|^#!.*python3.*$|#!/usr/bin/python3|' "$ROOT/tests/fakes/$name" >"$DEST/fakes/$name"
done
chmod 0755 "$DEST/fakes/shieldhit"
chmod 0644 "$DEST/fakes/fakesim.py"
ln -sf "$DEST/fakes/shieldhit" "$DEST/bin/shieldhit"
chmod -R a+rX "$DEST"
echo "cluster tools in $DEST: $("$DEST/bin/convertmc" --version 2>&1 | tail -1), fake shieldhit"
