#!/bin/bash
# One database per service, each owned by a role of its own that can open no other database.
# The postgres image runs this once, on an empty data directory (docker-entrypoint-initdb.d), with the passwords from
# the environment (deploy/example.env). Later password changes are `ALTER ROLE`: this script never runs again.
set -euo pipefail

for service in identity agrement fiche geo notify; do
  variable="${service^^}_DB_PASSWORD"
  if [ -z "${!variable:-}" ]; then
    echo "init-databases: $variable is not set (see deploy/example.env)" >&2
    exit 1
  fi
  # psql substitutes :"name" and :'value' itself, quoted as an identifier and a literal.
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
       -v service="$service" -v password="${!variable}" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password';
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
SQL
done

# Every role may connect to the maintenance databases by default; the services' roles have no business there.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
SQL
