#!/usr/bin/env bash
# What infra/docker-compose.yaml relies on from the official redis image's entrypoint: `redis-server ARGS` (or ARGS
# alone, when the first is an option or a .conf file) runs as the redis user in /data, which it owns, with protected
# mode off as the official build has it (the server is reached from other containers, without a password); an
# explicit `--protected-mode yes` among ARGS still wins, being later on the command line.
set -eo pipefail

case "$1" in -* | *.conf) set -- redis-server "$@" ;; esac
if [ "$1" != redis-server ]; then exec "$@"; fi
case "$2" in -v | --version | -h | --help) exec "$@" ;; esac

if [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
umask 0077
shift
# Options follow a configuration file, when there is one.
if [[ "${1:-}" == *.conf ]]; then set -- "$1" --protected-mode no "${@:2}"; else set -- --protected-mode no "$@"; fi
exec redis-server "$@"
