#!/usr/bin/env bash
# The deployed end-to-end tier on MiniStack, as CI runs it: install MiniStack from PyPI into its own virtualenv,
# start it on a free port, deploy the app to it (`npm run deploy:local`), run `npm run test:e2e`, and stop it,
# pass or fail. Needs Python 3 with venv and the project's `npm install` done. Usage: localstack/ministack-e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MINISTACK_VERSION="${MINISTACK_VERSION:-1.5.33}"
VENV="${MINISTACK_VENV:-$PWD/.local-data/ministack-venv}"

# Its own virtualenv: installed globally, MiniStack's dependencies replace the botocore that the AWS CLI pins.
if [ ! -x "$VENV/bin/ministack" ] || ! "$VENV/bin/pip" show ministack 2>/dev/null | grep -qx "Version: $MINISTACK_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "ministack==$MINISTACK_VERSION"
fi

PORT="${GATEWAY_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
export GATEWAY_PORT="$PORT"
stop() {
  "$VENV/bin/ministack" --stop >/dev/null 2>&1 || true
}
trap stop EXIT
(cd "${TMPDIR:-/tmp}" && "$VENV/bin/ministack" -d)
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$PORT/_ministack/health" >/dev/null && break
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/_ministack/health" >/dev/null || {
  echo "MiniStack did not answer on port $PORT; its log:" >&2
  tail -50 "${TMPDIR:-/tmp}/ministack-$PORT.log" >&2 || true
  exit 1
}

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
export AWS_ENDPOINT_URL_S3="$AWS_ENDPOINT_URL"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
status=0
# The web-requests example (examples/web-requests.json) as a second stack beside the IoT one: a stack has one
# schema. It costs one more deploy (the bundles are the same code, so mostly CloudFormation time on MiniStack)
# and a second set of Lambda processes; test/e2e/web-requests-schema.test.ts skips, saying so, without it.
npm run deploy:local &&
  npm run deploy:local -- --config examples/web-requests.json --stack-name LambdaArchitecture-web-requests &&
  npm run test:e2e || status=$?
if [ "$status" -ne 0 ]; then
  echo "the MiniStack tier failed; the last lines of MiniStack's log:" >&2
  tail -80 "${TMPDIR:-/tmp}/ministack-$PORT.log" >&2 || true
fi
exit "$status"
