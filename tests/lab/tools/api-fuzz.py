#!/usr/bin/env python3
"""Send N malformed requests to scsipub-api and count the answers (lab fuzz, issue 3).

Usage: api-fuzz.py HOST PORT API_KEY N
Every request is invalid on purpose: bad JSON, wrong types, unknown fields, huge or
negative numbers, path traversal in names, missing or wrong auth, oversized bodies,
unknown methods. A seeded PRNG makes a run repeatable. Prints the count of answers by
status class, then "non-4xx: K" and "errors: E" (connection refused/reset/timeouts).
"""
import http.client
import json
import random
import sys
import urllib.parse

host, port, key, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rng = random.Random(20261123)

NAMES = ["../etc/passwd", "..", "a/b", "%2e%2e%2fetc", "A" * 300, "", "x\x00y", "name with space",
         "..%2f..%2fetc", "/abs", "ok-name/../../x", "\u00e9t\u00e9"]
VALUES = [None, True, -1, 2**70, -2**63, 1e309, "str", [], {}, [1, 2], "9" * 400, 0.5]


def body():
    kind = rng.randrange(8)
    if kind == 0:
        return b"{" * rng.randrange(1, 50)
    if kind == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if kind == 2:
        return json.dumps({"name": rng.choice(NAMES), "url": rng.choice(VALUES)}).encode()
    if kind == 3:
        return json.dumps({"images": rng.choice(VALUES), "ttl_s": rng.choice(VALUES)}).encode()
    if kind == 4:
        return json.dumps({"images": ["blank"], "unknown_field": 1}).encode()
    if kind == 5:
        return json.dumps({"images": [rng.choice(NAMES)] * rng.randrange(1, 300)}).encode()
    if kind == 6:
        return json.dumps({"images": ["blank"], "persistent": "yes", "ttl_s": -5}).encode()
    return b"x" * rng.randrange(70000, 200000)


def request():
    kind = rng.randrange(6)
    auth = {"Authorization": "Bearer " + key}
    if kind == 0:
        return "POST", "/api/images", body(), auth
    if kind == 1:
        return "POST", "/api/sessions", body(), auth
    if kind == 2:
        return rng.choice(["GET", "DELETE"]), "/api/images/" + rng.choice(NAMES).replace(" ", "%20"), None, auth
    if kind == 3:
        bad = rng.choice([{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic Zm9vOmJhcg=="},
                          {"Authorization": "Bearer " + "k" * 5000}])
        return rng.choice(["GET", "POST", "DELETE"]), rng.choice(["/api/images", "/api/sessions", "/admin"]), body(), bad
    if kind == 4:
        return rng.choice(["PUT", "PATCH", "BREW"]), "/api/sessions", body(), auth
    return "GET", "/api/sessions/" + rng.choice(NAMES + ["0" * 64, "-1"]).replace(" ", "%20"), None, auth


counts, errors, non4xx, cut = {}, 0, 0, 0
for i in range(n):
    method, path, data, headers = request()
    try:
        c = http.client.HTTPConnection(host, port, timeout=30)
        c.request(method, urllib.parse.quote(path, safe="/%.-"), body=data, headers=headers)
        status = c.getresponse().status
        c.close()
    except (ConnectionError, OSError, http.client.HTTPException) as e:
        if data is not None and len(data) > 65536 and isinstance(e, ConnectionError):
            cut += 1  # the server answered 413 and closed while the body was in flight
            continue
        errors += 1
        print("error:", method, path[:60], type(e).__name__, e, file=sys.stderr)
        continue
    counts[status // 100] = counts.get(status // 100, 0) + 1
    if not 400 <= status < 500:
        non4xx += 1
        print("non-4xx:", status, method, path[:60], (data or b"")[:80], file=sys.stderr)
for k in sorted(counts):
    print(f"{k}xx: {counts[k]}")
print(f"oversized bodies cut off by the server: {cut}")
print(f"non-4xx: {non4xx}")
print(f"errors: {errors}")
