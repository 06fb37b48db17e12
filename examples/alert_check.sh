#!/usr/bin/env bash
# alert_check.sh - post a Slack-style alert for every unhealthy Switchyard backend.
#
# Usage: ALERT_WEBHOOK_URL=https://hooks.slack.com/... alert_check.sh [BACKEND ...]
#   Without arguments openai_official and anthropic_claude are checked.
# Environment:
#   ALERT_WEBHOOK_URL   incoming-webhook URL (required; it is never printed)
#   SWITCHYARD_URL      gateway base URL        (default http://localhost:3000)
#   SWITCHYARD_TOKEN    bearer token            (default your-token)
#   SWITCHYARD_MODEL    model to probe          (default gpt-4o)
#   SWITCHYARD_TIMEOUT  per-request timeout, s  (default 30)
# Exit status: 0 all healthy (no alert), 1 at least one alert sent,
#   2 usage problem (no webhook URL, no curl), 3 an alert could not be delivered.
# Meant for cron: it prints one line per backend and nothing else.

set -uo pipefail

BASE_URL="${SWITCHYARD_URL:-http://localhost:3000}"
BASE_URL="${BASE_URL%/}"
TOKEN="${SWITCHYARD_TOKEN:-your-token}"
MODEL="${SWITCHYARD_MODEL:-gpt-4o}"
TIMEOUT="${SWITCHYARD_TIMEOUT:-30}"

if [ "$#" -gt 0 ]; then
    BACKENDS=("$@")
else
    BACKENDS=("openai_official" "anthropic_claude")
fi

if [ -z "${ALERT_WEBHOOK_URL:-}" ]; then
    echo "error: ALERT_WEBHOOK_URL is not set; export the webhook URL alerts should be posted to" >&2
    echo "usage: ALERT_WEBHOOK_URL=https://hooks.slack.com/services/... $0 [BACKEND ...]" >&2
    exit 2
fi
if ! command -v curl >/dev/null 2>&1; then
    echo "error: curl is required" >&2
    exit 2
fi

# Escape a value for a JSON string or a curl config value.
json_escape() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    printf '%s' "$s"
}

# Secrets (token, webhook URL) reach curl through a config on stdin so they
# never show up in `ps` output.
curl_config() {
    printf '%s = "%s"\n' "$1" "$(json_escape "$2")"
}

# Print the HTTP status of one pinned probe ("000" when nothing answered).
probe_status() {
    local backend=$1 body
    body=$(printf '{"model": "%s", "messages": [{"role": "user", "content": "ping"}], "backend": "%s", "max_tokens": 1}' \
        "$(json_escape "$MODEL")" "$(json_escape "$backend")")
    curl_config header "Authorization: Bearer $TOKEN" |
        curl -s -K - --max-time "$TIMEOUT" -o /dev/null -w '%{http_code}' \
            -X POST "$BASE_URL/v1/chat/completions" \
            -H "Content-Type: application/json" \
            -d "$body"
}

# Post one alert; fails if the webhook does not accept it.
send_alert() {
    local text=$1
    curl_config url "$ALERT_WEBHOOK_URL" |
        curl -sS -K - --fail --max-time "$TIMEOUT" -o /dev/null \
            -X POST \
            -H "Content-Type: application/json" \
            -d "{\"text\": \"$(json_escape "$text")\"}"
}

alerts=0
undelivered=0
for backend in "${BACKENDS[@]}"; do
    http_status=$(probe_status "$backend")
    http_status=${http_status:-000}

    if [ "$http_status" = "200" ]; then
        echo "OK     $backend"
        continue
    fi
    if [ "$http_status" = "000" ]; then
        reason="no response from the gateway"
    else
        reason="HTTP $http_status"
    fi
    if send_alert "🚨 Backend Alert: $backend is unhealthy ($reason)"; then
        echo "ALERT  $backend ($reason): alert sent"
        alerts=$((alerts + 1))
    else
        echo "ALERT  $backend ($reason): could not deliver the alert to the webhook" >&2
        undelivered=$((undelivered + 1))
    fi
done

if [ "$undelivered" -gt 0 ]; then
    exit 3
fi
[ "$alerts" -eq 0 ] || exit 1
