#!/bin/sh
# Picks the Keyturn app to run from the first argument.
set -e
app="${1:-secrets-api}"
[ $# -gt 0 ] && shift
case "$app" in
  secrets-api|rotation-worker|heartbeat-scheduler|cli)
    exec node "/app/dist/apps/$app/src/main.js" "$@" ;;
  *)
    echo "usage: keyturn secrets-api | rotation-worker | heartbeat-scheduler | cli <args>" >&2
    exit 64 ;;
esac
