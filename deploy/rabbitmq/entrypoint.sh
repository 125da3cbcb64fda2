#!/bin/sh
# Renders the definitions with the users from the environment, then hands over to the image's own entrypoint.
# RabbitMQ creates no default user when it imports definitions at boot, so the users have to be in the file; keeping
# them out of the repository means writing it here. Re-rendered at every start: a changed password applies on restart.
set -eu

for name in RABBITMQ_APP_USER RABBITMQ_APP_PASSWORD RABBITMQ_ADMIN_USER RABBITMQ_ADMIN_PASSWORD; do
  eval "value=\${$name:-}"
  case "$value" in
    "" | *[!A-Za-z0-9._~-]*)
      # The same values go into BROKER_URL and into JSON: this alphabet needs no escaping in either.
      echo "rabbitmq: $name must be set, with letters, digits and . _ ~ - only (see deploy/example.env)" >&2
      exit 1 ;;
  esac
done

# The rendered file holds passwords: readable by RabbitMQ only.
(umask 077 && sed -e "s/\${RABBITMQ_APP_USER}/$RABBITMQ_APP_USER/g" \
    -e "s/\${RABBITMQ_APP_PASSWORD}/$RABBITMQ_APP_PASSWORD/g" \
    -e "s/\${RABBITMQ_ADMIN_USER}/$RABBITMQ_ADMIN_USER/g" \
    -e "s/\${RABBITMQ_ADMIN_PASSWORD}/$RABBITMQ_ADMIN_PASSWORD/g" \
    /etc/rabbitmq/definitions.template.json > /etc/rabbitmq/definitions.json)
chown rabbitmq:rabbitmq /etc/rabbitmq/definitions.json

exec docker-entrypoint.sh "$@"
