#!/usr/bin/env bash
# The PostgreSQL role the api connects as (POSTGRES_APP_USER, password POSTGRES_APP_PASSWORD): it may log in to
# POSTGRES_DB only, and owns its schema `public` and everything in it, so that the api's migrations can create and
# alter tables there; it is no superuser, creates no databases or roles, and nobody else but the superuser
# (POSTGRES_USER, for the operator) may connect at all.
#
# The postgres image runs this once, as /docker-entrypoint-initdb.d/app-role.sh, when it initialises an empty volume.
# On a volume made before this role existed, run it once by hand: it is idempotent, sets the password again and hands
# the schema's existing tables, sequences and functions over to the role:
#   docker compose --env-file .env -f infra/docker-compose.yaml exec postgres /docker-entrypoint-initdb.d/app-role.sh
set -eo pipefail

psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password --username "${POSTGRES_USER:?}" --dbname "${POSTGRES_DB:?}" \
  --set app="${POSTGRES_APP_USER:?set POSTGRES_APP_USER}" \
  --set password="${POSTGRES_APP_PASSWORD:?set POSTGRES_APP_PASSWORD}" --set db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE ROLE %I', :'app') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app') \gexec
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS',
  :'app', :'password') \gexec

SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname) FROM pg_database
  WHERE datallowconn \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I', :'db', :'app') \gexec

SELECT format('ALTER SCHEMA public OWNER TO %I', :'app') \gexec
-- Tables first: a table's own sequences (serial, identity) change owner with it.
SELECT format('ALTER TABLE public.%I OWNER TO %I', c.relname, :'app') FROM pg_class c
  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
    AND pg_get_userbyid(c.relowner) <> :'app' \gexec
SELECT format('ALTER SEQUENCE public.%I OWNER TO %I', c.relname, :'app') FROM pg_class c
  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S' AND pg_get_userbyid(c.relowner) <> :'app'
    AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')) \gexec
SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, :'app') FROM pg_proc p
  WHERE p.pronamespace = 'public'::regnamespace AND pg_get_userbyid(p.proowner) <> :'app' \gexec
SQL
