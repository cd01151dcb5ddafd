#!/bin/sh
# As the official image's: a command that is an option or no program on PATH (`task start`, `eval …`) is deno's.
set -e
case "$1" in -*) exec deno "$@" ;; esac
case "$(command -v "$1" 2>/dev/null)" in
  /*) exec "$@" ;;
  *) exec deno "$@" ;;
esac
