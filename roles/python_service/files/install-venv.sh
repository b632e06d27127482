#!/bin/sh
# Installs HOME/venv from HOME/wheelhouse.tar, offline, unless the venv was already built
# from exactly that archive. Prints "installed" when it changed something. MARKER, a file
# name, is created in the venv once it is complete (the role skips this script while it exists).
set -eu
home=$1
done_marker=${2:-}
archive="$home/wheelhouse.tar"
marker="$home/venv/.wheelhouse.sha256"
sum=$(sha256sum "$archive" | cut -d' ' -f1)
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$sum" ]; then
  [ -z "$done_marker" ] || touch "$home/venv/$done_marker"
  echo "unchanged"
  exit 0
fi
rm -rf "$home/wheelhouse" "$home/venv"
mkdir "$home/wheelhouse"
tar -xf "$archive" -C "$home/wheelhouse"
python3 -m venv "$home/venv"
"$home/venv/bin/pip" install --quiet --disable-pip-version-check --no-index \
  --find-links "$home/wheelhouse" --requirement "$home/wheelhouse/requirements.txt"
echo "$sum" > "$marker"
[ -z "$done_marker" ] || touch "$home/venv/$done_marker"
echo "installed"
