#!/bin/sh
# Starts versitygw with its root credentials read from files (Docker secrets), not from .env:
# versitygw takes them from ROOT_ACCESS_KEY_ID / ROOT_SECRET_ACCESS_KEY only. Arguments are
# versitygw's own (see docker-compose.yml). Fails, naming the file, when one is missing or empty.
#
#   ROOT_ACCESS_KEY_ID_FILE      file holding the access key id (default /run/secrets/s3_access_key_id)
#   ROOT_SECRET_ACCESS_KEY_FILE  file holding the secret key (default /run/secrets/s3_secret_access_key)
#   VERSITYGW                    the binary (default versitygw, from PATH)
set -eu

read_secret() { # variable file
  if [ ! -r "$2" ]; then
    echo "start.sh: $1: cannot read $2; create it (see docker-compose.yml) and mount it as a secret" >&2
    exit 1
  fi
  value="$(tr -d '\r\n' <"$2")"
  if [ -z "$value" ]; then
    echo "start.sh: $1: $2 is empty; write the credential into it" >&2
    exit 1
  fi
  export "$1=$value"
}

read_secret ROOT_ACCESS_KEY_ID "${ROOT_ACCESS_KEY_ID_FILE:-/run/secrets/s3_access_key_id}"
read_secret ROOT_SECRET_ACCESS_KEY "${ROOT_SECRET_ACCESS_KEY_FILE:-/run/secrets/s3_secret_access_key}"
unset value
exec "${VERSITYGW:-versitygw}" "$@"
