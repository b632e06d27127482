#!/bin/sh
# Installs HOME/venv from HOME/wheelhouse.tar, offline, unless the venv was already built
# from exactly that archive. Prints "installed" when it changed something.
set -eu
home=$1
archive="$home/wheelhouse.tar"
marker="$home/venv/.wheelhouse.sha256"
sum=$(sha256sum "$archive" | cut -d' ' -f1)
if [ -f "$marker" ] && [ "$(cat "$marker")" = "$sum" ]; then
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
echo "installed"
