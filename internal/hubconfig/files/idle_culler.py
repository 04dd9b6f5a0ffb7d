#!/usr/bin/python3
"""Stop single-user servers that have been idle for longer than --timeout.

Rendered by terraform-provider-jhub. Debian packages no jupyterhub-idle-culler
and droplets may have no PyPI, so this is a small stdlib-only equivalent. It
runs as a JupyterHub-managed service: JupyterHub starts it and passes
JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN; the service's role grants only
list:users, read:users:activity, read:servers and delete:servers.
"""

import argparse
import datetime
import json
import os
import sys
import time
import urllib.parse
import urllib.request

PAGE = 200  # JupyterHub's default api_page_max_limit


def log(msg):
    print("idle-culler: " + msg, file=sys.stderr, flush=True)


class Hub:
    def __init__(self, url, token):
        self.url = url.rstrip("/")
        self.token = token

    def request(self, method, path):
        req = urllib.request.Request(
            self.url + path,
            method=method,
            headers={"Authorization": "token " + self.token, "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=60) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def active_users(self):
        # state=active is a database filter, so pages are full until the
        # last one (state=ready filters after paging and can return short
        # pages before the end).
        offset = 0
        while True:
            page = self.request("GET", "/users?state=active&offset=%d&limit=%d" % (offset, PAGE))
            if not page:
                return
            yield from page
            offset += len(page)


def parse_time(value):
    if not value:
        return None
    t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if t.tzinfo is None:  # JupyterHub reports UTC
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t


def cull(hub, timeout, now):
    """Stops every ready server idle for at least timeout seconds; returns
    the (user, server name) pairs it stopped."""
    stopped = []
    for user in hub.active_users():
        name = user["name"]
        for server_name, server in sorted((user.get("servers") or {}).items()):
            if server.get("pending") or not server.get("ready"):
                continue
            last = parse_time(server.get("last_activity")) or parse_time(server.get("started"))
            if last is None or (now - last).total_seconds() < timeout:
                continue
            quoted = urllib.parse.quote(name, safe="")
            if server_name:
                path = "/users/%s/servers/%s" % (quoted, urllib.parse.quote(server_name, safe=""))
            else:
                path = "/users/%s/server" % quoted
            log("stopping %s server %r of %s, idle since %s" % ("named" if server_name else "default", server_name, name, last.isoformat()))
            hub.request("DELETE", path)
            stopped.append((name, server_name))
    return stopped


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=int, required=True, help="idle seconds before a server is stopped")
    p.add_argument("--every", type=int, required=True, help="seconds between checks")
    p.add_argument("--once", action="store_true", help="check once and exit (tests)")
    args = p.parse_args(argv)
    try:
        hub = Hub(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"])
    except KeyError as e:
        log("%s is not set; run me as a JupyterHub-managed service" % e)
        return 2
    while True:
        try:
            cull(hub, args.timeout, datetime.datetime.now(datetime.timezone.utc))
        except (OSError, ValueError, KeyError) as e:
            # The hub restarting is normal; try again next round.
            log("check failed: %s" % e)
            if args.once:
                return 1
        if args.once:
            return 0
        time.sleep(args.every)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
