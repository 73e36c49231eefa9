"""Schemathesis hooks for Gongti's contract run (scripts/schemathesis.sh).

A client sends a fresh Idempotency-Key with each new request, as the header's
description asks; the fuzzer would otherwise reuse one generated key across
different requests, and every POST after the first would meet the (correct,
tested elsewhere) 422 idempotency_key_reused instead of its handler.
"""
import uuid

import schemathesis


@schemathesis.hook
def map_headers(context, headers):
    if headers and "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers
