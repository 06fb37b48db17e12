#!/usr/bin/env bash
# health_check.sh - probe each Switchyard backend with one pinned request.
#
# Usage: health_check.sh [BACKEND ...]
#   Without arguments the three demo backends are checked.
# Environment (all optional):
#   SWITCHYARD_URL      gateway base URL        (default http://localhost:3000)
#   SWITCHYARD_TOKEN    bearer token            (default your-token)
#   SWITCHYARD_MODEL    model to probe          (default gpt-4o)
#   SWITCHYARD_TIMEOUT  per-request timeout, s  (default 30)
# Exit status: 0 all healthy, 1 at least one unhealthy, 2 usage problem.
# Needs bash and curl; jq (optional) adds the gateway's error message.

set -uo pipefail

BASE_URL="${SWITCHYARD_URL:-http://localhost:3000}"
BASE_URL="${BASE_URL%/}"
TOKEN="${SWITCHYARD_TOKEN:-your-token}"
MODEL="${SWITCHYARD_MODEL:-gpt-4o}"
TIMEOUT="${SWITCHYARD_TIMEOUT:-30}"

if [ "$#" -gt 0 ]; then
    BACKENDS=("$@")
else
    BACKENDS=("openai_official" "anthropic_claude" "google_gemini")
fi

if ! command -v curl >/dev/null 2>&1; then
    echo "error: curl is required" >&2
    exit 2
fi

# Escape a value for a JSON string (backslash and double quote).
json_escape() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '%s' "$s"
}

# The Authorization header goes to curl through a config on stdin, so the
# token never shows up in `ps` output.
auth_config() {
    printf 'header = "Authorization: Bearer %s"\n' "$(json_escape "$TOKEN")"
}

# Print "<http status> <seconds>" on the first line and the body after it.
# curl measures the time itself: no date arithmetic, no bc needed.
probe() {
    local backend=$1 body
    body=$(printf '{"model": "%s", "messages": [{"role": "user", "content": "ping"}], "backend": "%s", "max_tokens": 1}' \
        "$(json_escape "$MODEL")" "$(json_escape "$backend")")
    auth_config | curl -s -K - --max-time "$TIMEOUT" \
        -o "$BODY_FILE" -w '%{http_code} %{time_total}' \
        -X POST "$BASE_URL/v1/chat/completions" \
        -H "Content-Type: application/json" \
        -d "$body"
}

# The error message from an OpenAI-style error body, if jq can find one.
error_message() {
    command -v jq >/dev/null 2>&1 || return 0
    jq -r '.error.message // empty' "$BODY_FILE" 2>/dev/null | head -n 1
}

BODY_FILE=$(mktemp) || exit 2
trap 'rm -f "$BODY_FILE"' EXIT

echo "🏥 Backend health report"
echo "==================="
echo "Time: $(date)"
echo "Model: $MODEL"
echo "URL: $BASE_URL"
echo

healthy=0
unhealthy=0
for backend in "${BACKENDS[@]}"; do
    echo "Checking backend: $backend"
    : >"$BODY_FILE"
    result=$(probe "$backend")
    curl_status=$?
    http_status=${result%% *}
    response_time=${result#* }

    if [ "$http_status" = "200" ]; then
        echo "✅ $backend: healthy (${response_time}s)"
        healthy=$((healthy + 1))
    else
        unhealthy=$((unhealthy + 1))
        if [ "$curl_status" -eq 28 ]; then
            echo "❌ $backend: unhealthy (timeout after ${TIMEOUT}s)"
        elif [ -z "$http_status" ] || [ "$http_status" = "000" ]; then
            echo "❌ $backend: unhealthy (no response from $BASE_URL, curl exit $curl_status)"
        else
            message=$(error_message)
            echo "❌ $backend: unhealthy (HTTP $http_status${message:+: $message})"
        fi
    fi
    echo
done

echo "Summary: $healthy healthy, $unhealthy unhealthy"
[ "$unhealthy" -eq 0 ]
