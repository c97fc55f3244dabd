#!/bin/sh
# The image's HEALTHCHECK: asks the running app's own listener whether the process is up.
# One image runs every app, so the port follows the app found in the container's processes:
#   secrets-api → PORT (8080), rotation-worker → WORKER_OPS_PORT (8081),
#   heartbeat-scheduler → SCHEDULER_OPS_PORT (8082). The cli has no listener: nothing to check.
app=$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' '\n' | sed -n 's#^/app/dist/apps/\([a-z-]*\)/src/main\.js$#\1#p' | head -n 1)
case "$app" in
  secrets-api) port="${PORT:-8080}" ;;
  rotation-worker) port="${WORKER_OPS_PORT:-8081}" ;;
  heartbeat-scheduler) port="${SCHEDULER_OPS_PORT:-8082}" ;;
  *) exit 0 ;;
esac
exec node -e "fetch('http://127.0.0.1:$port/health/live').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
