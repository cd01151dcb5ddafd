#!/usr/bin/env bash
# The compose stack for real (docs/docker.md, "The smoke run"): builds the api image from infra/Dockerfile, brings up
# infra/docker-compose.yaml (api, PostgreSQL, Redis behind the Upstash REST protocol, nginx) under a project name of
# its own with ports on 127.0.0.1 only, waits for every healthcheck, and through nginx registers, logs in, books,
# confirms as the admin and reads the availability; checks that the api runs as a non-root user and connects as the
# schema's owner, not the superuser, and that Redis evicts nothing; recreates the api and PostgreSQL containers and
# finds the data again in the named volume; makes an admin with `deno task create-admin` in the api container; brings
# the TLS overlay up with a throwaway certificate (https answers, plain http redirects); prints the api image's size;
# and removes every container, network and volume it made, also when a step fails. Exit 0 only if every check held.
#
# Images that cannot be had here are replaced by stand-ins from Debian's packages (infra/smoke/stand-ins.sh); they
# and the api image stay, tagged, so the next run is a warm one.
#   bash infra/compose-smoke.sh          a run (warm when the images of an earlier run are here)
#   bash infra/compose-smoke.sh --cold   removes the stand-ins, their base and the api image first
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export PATH="$HOME/.local/deno/node_modules/.bin:$PATH" DOCKER_BUILDKIT=0
start="$SECONDS"
project="exam-slots-smoke-$$"
api_image="exam-slots-smoke/api:latest"
work="$(mktemp -d)"
log() { printf '[smoke %3ds] %s\n' "$((SECONDS - start))" "$*"; }

if docker compose version >/dev/null 2>&1; then compose_cmd=(docker compose); else compose_cmd=(docker-compose); fi
plain=(-f infra/docker-compose.yaml -f infra/smoke/docker-compose.smoke.yaml)
with_tls=("${plain[@]}" -f infra/docker-compose.tls.yaml)
compose() { "${compose_cmd[@]}" -p "$project" --env-file "$work/env" "$@"; }

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$status" -ne 0 ] && [ -s "$work/env" ]; then
    log "FAILED (exit $status); the stack's last words:"
    compose "${with_tls[@]}" ps || true
    compose "${with_tls[@]}" logs --no-color --tail 40 || true
  fi
  [ -s "$work/env" ] && compose "${with_tls[@]}" down -v --remove-orphans --timeout 10 >/dev/null 2>&1 || true
  # Whatever compose could not name (a failure before the env file was complete, say): by the project's label.
  local filter="label=com.docker.compose.project=$project"
  docker ps -aq --filter "$filter" | xargs -r docker rm -f >/dev/null
  docker volume ls -q --filter "$filter" | xargs -r docker volume rm >/dev/null
  docker network ls -q --filter "$filter" | xargs -r docker network rm >/dev/null
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  log "FAIL: $*"
  exit 1
}

free_port() { deno eval 'const l = Deno.listen({ hostname: "127.0.0.1", port: 0 }); console.log(l.addr.port); l.close()'; }
container() { compose "${with_tls[@]}" ps -q "$1"; }

# Every service of the plain stack healthy, within `seconds`; an unhealthy or stopped one fails at once.
wait_healthy() {
  local seconds="$1" service id state
  shift
  local deadline=$((SECONDS + seconds))
  for service in "$@"; do
    while true; do
      id="$(container "$service")"
      state="$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || true)"
      case "$state" in
        "running healthy") break ;;
        "running unhealthy" | exited* | dead*) fail "$service is $state" ;;
      esac
      [ "$SECONDS" -lt "$deadline" ] || fail "$service is not healthy after ${seconds}s ($state)"
      sleep 1
    done
  done
  log "healthy: $*"
}

journey() { deno run --allow-net=127.0.0.1 --allow-read --allow-write="$work" --allow-env infra/smoke/journey.ts "$@"; }
psql_as_superuser() { compose "${plain[@]}" exec -T postgres psql -U exam -d exam_slots -tA -c "$1"; }

if [ "${1:-}" = --cold ]; then
  log "cold run: removing the cached images"
  bash infra/smoke/stand-ins.sh --remove
  docker image rm "$api_image" >/dev/null 2>&1 || true
fi

log "images: the official ones where this machine has them, stand-ins for the others"
bash infra/smoke/stand-ins.sh

# The api image as `docker compose up --build` makes it, from a context of what infra/Dockerfile.dockerignore lets
# through (the classic builder, which docker-compose 1.x drives, does not read that file).
log "building $api_image from infra/Dockerfile"
mapfile -t context < <(sed -n 's/^!//p' infra/Dockerfile.dockerignore)
previous="$(docker image inspect -f '{{.Id}}' "$api_image" 2>/dev/null || true)"
tar -c infra/Dockerfile "${context[@]}" | docker build --force-rm -f infra/Dockerfile -t "$api_image" - >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log"; fail "the api image does not build"; }
# The image of an older commit, now untagged: removed, so that runs after runs do not fill the disk.
[ -z "$previous" ] || [ "$previous" = "$(docker image inspect -f '{{.Id}}' "$api_image")" ] ||
  docker image rm "$previous" >/dev/null 2>&1 || true

http_port="$(free_port)"
https_port="$(free_port)"
mkdir "$work/certs"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -addext basicConstraints=critical,CA:FALSE -keyout "$work/certs/tls.key" -out "$work/certs/tls.crt" \
  2>/dev/null
secret() { openssl rand -hex "$1"; }
cat >"$work/env" <<EOF
COMPOSE_PROJECT_NAME=$project
POSTGRES_PASSWORD=$(secret 24)
POSTGRES_APP_PASSWORD=$(secret 24)
UPSTASH_REDIS_REST_TOKEN=$(secret 24)
JWT_SECRET=$(secret 32)
ADMIN_EMAIL=admin@smoke.example.test
ADMIN_PASSWORD=$(secret 12)
HTTP_PORT=127.0.0.1:$http_port
HTTPS_PORT=127.0.0.1:$https_port
TLS_CERT_DIR=$work/certs
SMOKE_API_IMAGE=$api_image
EOF
set -a
# shellcheck disable=SC1091
. "$work/env"
set +a
http="http://127.0.0.1:$http_port"
services=(postgres redis redis-http api nginx)

log "up: ${services[*]} (project $project, nginx on $http)"
compose "${plain[@]}" up -d --no-build >"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose up"; }
wait_healthy 240 "${services[@]}"

log "through nginx: register, log in, book, confirm as the admin, read the availability"
journey book "$http" "$work/state.json"

# The webhook worker has no port to probe: it must be running, never restarted, on its own route out.
deliver_state="$(docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$(container deliver)")"
[ "$deliver_state" = "running 0" ] || fail "the webhook worker is $deliver_state ($(docker logs --tail 5 "$(container deliver)" 2>&1))"
log "ok - the webhook worker (deno task deliver) runs, and the api delivers none itself"

api_user="$(docker exec "$(container api)" id -u)"
[ "$api_user" != 0 ] || fail "the api runs as root"
log "ok - the api runs as uid $api_user ($(docker exec "$(container api)" id -un))"

app_role="$(psql_as_superuser "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
  WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")"
[ "$app_role" = exam_app ] || fail "the api connects as '$app_role', not exam_app"
privileges="$(psql_as_superuser "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls FROM pg_roles
  WHERE rolname = 'exam_app'")|$(psql_as_superuser "SELECT pg_get_userbyid(nspowner) FROM pg_namespace
  WHERE nspname = 'public'")|$(psql_as_superuser "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'
  AND tableowner <> 'exam_app'")"
[ "$privileges" = "f|exam_app|0" ] || fail "exam_app: superuser|schema owner|tables of others = $privileges"
log "ok - the api connects as exam_app: no superuser, owner of the schema and its tables"

policy="$(docker exec "$(container redis)" redis-cli config get maxmemory-policy | tail -1)"
[ "$policy" = noeviction ] || fail "redis evicts ($policy)"
log "ok - redis runs with maxmemory-policy noeviction"

for network in $(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}' "$(container api)"); do
  [ "$(docker network inspect -f '{{.Internal}}' "$network")" = true ] || fail "the api is on $network, which routes out"
done
log "ok - the api is on internal networks only"

log "recreating the api and PostgreSQL containers (the data stays in the named volume)"
old_ids="$(container postgres) $(container api)"
compose "${plain[@]}" stop -t 30 api postgres >>"$work/up.log" 2>&1
# docker stop sends SIGTERM (PostgreSQL: SIGINT); both drain and exit 0 within the grace period.
# shellcheck disable=SC2086
exit_codes="$(docker inspect -f '{{.State.ExitCode}}' $old_ids | tr '\n' ' ')"
[ "$exit_codes" = "0 0 " ] || fail "postgres and the api stopped with exit codes $exit_codes"
log "ok - PostgreSQL and the api stop gracefully (exit 0)"
compose "${plain[@]}" rm -f api postgres >>"$work/up.log" 2>&1
compose "${plain[@]}" up -d --no-build >>"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose up again"; }
[ "$(container postgres) $(container api)" != "$old_ids" ] || fail "the containers were not recreated"
wait_healthy 240 "${services[@]}"
journey verify "$http" "$work/state.json"

log "deno task create-admin in the api container, as the operator runs it"
compose "${plain[@]}" exec -T api deno task --quiet create-admin --email ops@smoke.example.test \
  --password "$ADMIN_PASSWORD" || fail "create-admin in the api container"
journey admin "$http" ops@smoke.example.test

log "the TLS overlay, with a throwaway certificate"
compose "${with_tls[@]}" up -d --no-build >>"$work/up.log" 2>&1 || { cat "$work/up.log"; fail "compose up with TLS"; }
wait_healthy 120 "${services[@]}"
journey tls "$http" "https://127.0.0.1:$https_port" "$work/certs/tls.crt" "$work/state.json"

size="$(docker image inspect -f '{{.Size}}' "$api_image")"
log "the api image $api_image is $((size / 1000000)) MB ($(docker image inspect -f '{{.Os}}/{{.Architecture}}' "$api_image"))"

compose "${with_tls[@]}" down -v --remove-orphans --timeout 10 >>"$work/up.log" 2>&1
left="$(docker ps -aq --filter "label=com.docker.compose.project=$project")$(docker volume ls -q \
  --filter "label=com.docker.compose.project=$project")"
[ -z "$left" ] || fail "compose down left $left"
log "down, volumes included: every check held"
