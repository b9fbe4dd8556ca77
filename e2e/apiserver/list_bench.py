#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Times a paged list (limit/continue, one keep-alive connection) per resource path."""

import argparse
import gzip
import http.client
import json
import ssl
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True, help="https://HOST:PORT")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--gzip", action="store_true", help="send Accept-Encoding: gzip")
    ap.add_argument("paths", nargs="+", help="e.g. /api/v1/services")
    a = ap.parse_args()
    url = urllib.parse.urlsplit(a.server)
    ctx = ssl.create_default_context(cafile=a.ca)
    with open(a.token_file) as fh:
        token = fh.read().strip()
    conn = http.client.HTTPSConnection(url.hostname, url.port, context=ctx, timeout=60)
    hdr = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if a.gzip:
        hdr["Accept-Encoding"] = "gzip"
    out = {}
    t_all = time.monotonic()
    for path in a.paths:
        t0, cont, items, pages, size = time.monotonic(), "", 0, 0, 0
        while True:
            q = {"limit": a.limit}
            if cont:
                q["continue"] = cont
            conn.request("GET", f"{path}?{urllib.parse.urlencode(q)}", headers=hdr)
            r = conn.getresponse()
            body = r.read()
            size += len(body)
            if r.status != 200:
                sys.exit(f"list_bench: {path}: HTTP {r.status}: {body[:300]!r}")
            if r.getheader("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            doc = json.loads(body)
            items += len(doc["items"])
            pages += 1
            cont = doc["metadata"].get("continue", "")
            if not cont:
                break
        out[path] = {"items": items, "pages": pages, "bytes": size,
                     "seconds": round(time.monotonic() - t0, 3)}
    out["totalSeconds"] = round(time.monotonic() - t_all, 3)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
