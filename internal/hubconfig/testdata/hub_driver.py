#!/usr/bin/python3
"""Plays students, admins and intruders against a real hub (lab tests).

Runs inside a booted lab container next to the release's own units; see
lab_hub_test.go. Every check prints "ok: <what>" or exits non-zero with
"FAIL: <what>". Hub requests go straight to the hub's loopback port with
an X-Real-IP per simulated client (tornado trusts it, as behind the edge);
the throttle's address key is also checked through the edge, which must
overwrite what the client claims.
"""

import base64
import http.client
import json
import os
import re
import socket
import ssl
import sys
import time
import urllib.parse
import uuid

HUB = ("127.0.0.1", int(os.environ["HUB_PORT"]))
EDGE_HOST = "hub.example.edu"
CLASS_PW = os.environ["CLASS_PW"]
ADMIN_PW = json.loads(os.environ["ADMIN_PW"])
ADDR_FAILURES = int(os.environ["ADDR_FAILURES"])
STATE = "/jhub-test/driver-state.json"


def fail(what):
    print("FAIL: " + what, flush=True)
    sys.exit(1)


def ok(what):
    print("ok: " + what, flush=True)


class Client:
    """A browser: cookies by name (secure ones too, over plain loopback)."""

    def __init__(self, ip, cookies=None, edge=False):
        self.ip, self.edge = ip, edge
        self.cookies = dict(cookies or {})
        self.xsrf = None  # the page's xsrf token, which API requests with cookies need

    def request(self, method, path, body=None, headers=None, token=None):
        if self.edge:
            # Self-signed lab certificate: the edge's TLS is tested elsewhere.
            conn = http.client.HTTPConnection("127.0.0.1", 443, timeout=30)
            conn.sock = ssl._create_unverified_context().wrap_socket(socket.create_connection(("127.0.0.1", 443), 30), server_hostname=EDGE_HOST)
        else:
            conn = http.client.HTTPConnection(*HUB, timeout=30)
        h = {"Host": EDGE_HOST, "X-Real-IP": self.ip, "X-Forwarded-For": self.ip}
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if self.xsrf:
            h["X-XSRFToken"] = self.xsrf
        if token:
            h["Authorization"] = "token " + token
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            h["Content-Type"] = "application/x-www-form-urlencoded"
        h.update(headers or {})
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";")[0]
                if "expires=thu, 01 jan 1970" in v.lower() or "max-age=0" in v.lower():
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        return r.status, r.getheader("Location") or "", data

    def login(self, name, password):
        """The status of the login POST; a session exists after a 302."""
        _, _, page = self.request("GET", "/hub/login")
        m = re.search(rb'name="_xsrf" value="([^"]*)"', page)
        status, _, _ = self.request("POST", "/hub/login?next=", {"username": name, "password": password, "_xsrf": m.group(1).decode() if m else ""})
        if status == 302:
            _, _, page = self.request("GET", "/hub/home")
            m = re.search(rb'xsrf_token: "([^"]*)"', page)
            self.xsrf = m.group(1).decode() if m else None
        return status

    def api(self, method, path, body=None, token=None):
        status, _, data = self.request(method, "/hub/api" + path, body=json.dumps(body) if body is not None else None, token=token,
                                       headers={"Content-Type": "application/json"} if body is not None else None)
        return status, (json.loads(data) if data and data[:1] in b"{[" else data)


ip_counter = [0]


def new_client(edge=False):
    ip_counter[0] += 1
    return Client("198.18.%d.%d" % (ip_counter[0] // 250, 1 + ip_counter[0] % 250), edge=edge)


def logged_in(name, password):
    c = new_client()
    status = c.login(name, password)
    if status != 302:
        fail("login as %s: status %d" % (name, status))
    return c


def refused(name, password, what):
    c = new_client()
    status = c.login(name, password)
    if status != 200 or c.api("GET", "/user")[0] == 200:
        fail("%s: login as %s was not refused (status %d)" % (what, name, status))
    ok(what)


def wait(what, cond, secs):
    end = time.time() + secs
    last = None
    while time.time() < end:
        try:
            last = cond()
            if last:
                ok(what)
                return last
        except (OSError, ValueError, KeyError) as e:
            last = e
        time.sleep(0.5)
    fail("%s (last: %r)" % (what, last))


def spawn(c, name):
    status, body = c.api("POST", "/users/%s/server" % name)
    if status not in (201, 202):
        return status, body
    wait("%s's server ready" % name, lambda: (c.api("GET", "/users/" + name)[1]["servers"].get("") or {}).get("ready"), 120)
    return status, body


def ws_connect(path, token):
    """A minimal websocket client through the edge (TLS, Upgrade)."""
    sock = ssl._create_unverified_context().wrap_socket(socket.create_connection(("127.0.0.1", 443), 30), server_hostname=EDGE_HOST)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                  "Sec-WebSocket-Version: 13\r\nAuthorization: token %s\r\n\r\n" % (path, EDGE_HOST, key, token)).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            fail("websocket handshake: connection closed: %r" % head)
        head += chunk
    if b" 101 " not in head.split(b"\r\n")[0]:
        fail("websocket handshake: %r" % head)
    return sock


def ws_send(sock, text):
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big") if n < 65536 else bytes([0x80 | 127]) + n.to_bytes(8, "big"))
    sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def ws_recv(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise OSError("websocket closed")
            buf += chunk
        return buf
    b0, b1 = exact(2)
    n = b1 & 0x7F
    if n == 126:
        n = int.from_bytes(exact(2), "big")
    elif n == 127:
        n = int.from_bytes(exact(8), "big")
    data = exact(n)
    return b0 & 0x0F, data


def run_code(user, token, code):
    """Runs code in a new kernel of user's server; returns its stdout."""
    c = Client("127.0.0.1", edge=True)
    status, _, data = c.request("POST", "/user/%s/api/kernels" % user, body="{}", token=token, headers={"Content-Type": "application/json"})
    if status != 201:
        fail("starting a kernel for %s: %d %s" % (user, status, data[:300]))
    kid = json.loads(data)["id"]
    sock = ws_connect("/user/%s/api/kernels/%s/channels" % (user, kid), token)
    msg_id = uuid.uuid4().hex
    ws_send(sock, json.dumps({
        "header": {"msg_id": msg_id, "username": user, "session": uuid.uuid4().hex, "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }))
    out = []
    sock.settimeout(120)
    while True:
        op, data = ws_recv(sock)
        if op != 1:
            continue
        msg = json.loads(data)
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        t = msg["header"]["msg_type"]
        if t == "stream":
            out.append(msg["content"]["text"])
        elif t == "error":
            fail("kernel error: %s" % msg["content"].get("evalue"))
        elif t == "status" and msg["content"]["execution_state"] == "idle":
            break
    sock.close()
    c.request("DELETE", "/user/%s/api/kernels/%s" % (user, kid), token=token)
    return "".join(out)


STUDENT_CODE = r'''
import json, os, subprocess, threading, time
r = {"uid": os.getuid(), "user": os.environ.get("USER")}
r["sudo_rc"] = subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode
r["no_new_privs"] = [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")][0]
r["oom_score_adj"] = open("/proc/self/oom_score_adj").read().strip()
try:
    os.listdir("/home/bob")
    r["read_bob"] = "allowed"
except PermissionError:
    r["read_bob"] = "denied"
try:
    open("/opt/jhub/current/secrets/proxy_token").read()
    r["read_proxy_token"] = "allowed"
except PermissionError:
    r["read_proxy_token"] = "denied"
r["tmp_private"] = not os.path.exists("/tmp/jhub-host-marker")
# RLIMIT_NPROC contains a fork bomb even without cgroups: count the threads we get.
stop = threading.Event()
threads = []
try:
    while len(threads) < 5000:
        t = threading.Thread(target=stop.wait)
        t.start()
        threads.append(t)
except RuntimeError:
    pass
r["threads_started"] = len(threads)
stop.set()
for t in threads:
    t.join()
print(json.dumps(r))
'''


def phase1():
    wait("hub up", lambda: Client("127.0.0.1").request("GET", "/hub/api")[0] == 200, 120)
    wait("hub api through the edge", lambda: Client("127.0.0.1", edge=True).request("GET", "/hub/api")[0] == 200, 30)
    for name in ["teacher", "root", "jhub-edge", "nobody", "jupyterhub", "daemon"]:
        refused(name, CLASS_PW, "class password refused for %s" % name)
    refused("prof", CLASS_PW, "class password refused for admin prof")
    refused("prof", ADMIN_PW["dean"], "another admin's password refused for prof")
    prof = logged_in("prof", ADMIN_PW["prof"])
    status, users = prof.api("GET", "/users")
    if status != 200 or "alice" not in [u["name"] for u in users]:
        fail("prof lists users: %d %r" % (status, users))
    ok("admin prof logs in with own password and lists users")
    dean = logged_in("dean", ADMIN_PW["dean"])
    if dean.api("GET", "/users")[0] != 200:
        fail("dean is not admin")
    ok("admin dean lists users")

    alice = logged_in("alice", CLASS_PW)
    ok("student alice logs in with the class password")
    if alice.api("GET", "/users")[0] != 403:
        fail("student alice lists users")
    ok("student alice may not list users (403)")
    bob = logged_in("bob", CLASS_PW)
    status, body = spawn(bob, "bob")
    if status not in (201, 202):
        fail("bob spawn: %d %r" % (status, body))
    status, body = spawn(alice, "alice")
    if status not in (201, 202):
        fail("alice spawn: %d %r" % (status, body))
    status, tok = alice.api("POST", "/users/alice/tokens", {"note": "lab", "expires_in": 3600})
    if status != 201:
        fail("alice token: %d %r" % (status, tok))
    # The lab's default UI: JupyterLab answers at the server's default URL.
    c = Client("127.0.0.1", edge=True)
    status, _, page = c.request("GET", "/user/alice/lab", token=tok["token"])
    if status != 200 or b"JupyterLab" not in page:
        fail("JupyterLab at /user/alice/lab: %d" % status)
    ok("JupyterLab serves /user/alice/lab")
    # The contents root is the notebook_dir the hub created.
    status, _, data = c.request("PUT", "/user/alice/api/contents/hello.txt", token=tok["token"],
                                body=json.dumps({"type": "file", "format": "text", "content": "hi\n"}), headers={"Content-Type": "application/json"})
    if status not in (200, 201):
        fail("saving hello.txt in alice's server: %d %s" % (status, data[:300]))
    ok("alice saves a file through her server")
    out = run_code("alice", tok["token"], STUDENT_CODE)
    print("student: " + out.strip().splitlines()[-1], flush=True)

    carol = logged_in("carol", CLASS_PW)
    status, body = carol.api("POST", "/users/carol/server")
    time.sleep(2)
    model = carol.api("GET", "/users/carol")[1]
    if (model["servers"].get("") or {}).get("ready"):
        fail("carol (an account the hub did not create) got a server: %d %r" % (status, body))
    ok("no server as an existing account the hub did not create (carol: %d)" % status)

    json.dump({"bob": bob.cookies, "dean": dean.cookies, "alice_token": tok["token"]}, open(STATE, "w"))


def phase2():
    state = json.load(open(STATE))
    wait("hub up again", lambda: Client("127.0.0.1").request("GET", "/hub/api")[0] == 200, 120)
    bob = Client("198.18.200.1", state["bob"])
    status, _ = bob.api("GET", "/user")
    if status == 200:
        fail("removed student bob's old cookie still works")
    ok("removed student bob's old session no longer works (%d)" % status)
    refused("bob", CLASS_PW, "removed student bob cannot log in")
    dean = Client("198.18.200.2", state["dean"])
    status, _ = dean.api("GET", "/users")
    if status != 403:
        fail("demoted admin dean's old session lists users: %d" % status)
    ok("demoted admin dean's old session gets 403 on /hub/api/users")
    refused("dean", ADMIN_PW["dean"], "demoted admin's own password is gone")
    dean = logged_in("dean", CLASS_PW)
    if dean.api("GET", "/users")[0] != 403:
        fail("demoted admin dean lists users after a new login")
    ok("demoted admin dean logs in as a student and gets 403 on /hub/api/users")
    prof = logged_in("prof", ADMIN_PW["prof"])
    status, users = prof.api("GET", "/users")
    names = [u["name"] for u in users]
    if status != 200 or "bob" in names:
        fail("users after the roster change: %r" % names)
    ok("bob is gone from the hub's users; prof is still admin")
    model = prof.api("GET", "/users/alice")[1]
    if not (model["servers"].get("") or {}).get("ready"):
        fail("alice's server did not survive the hub restart: %r" % model)
    ok("alice's server survived the hub restart")

    # Per name: five wrong passwords for prof, from five addresses.
    for i in range(5):
        new_client().login("prof", "wrong password %d" % i)
    if new_client().login("prof", ADMIN_PW["prof"]) != 429:
        fail("sixth login for prof after five failures was not throttled")
    ok("five failures for one name: the next login answers 429")
    # Per address, through the edge: whatever the client claims, the edge
    # sets X-Real-IP, so the address limit of failures from one client
    # blocks it (each with another name, so no name's own limit is hit).
    for i in range(ADDR_FAILURES):
        c = Client("10.9.%d.%d" % (9 + i // 250, i % 250), edge=True)
        c.login("nobody%d" % i, "wrong")
    c = Client("10.9.8.1", edge=True)
    if c.login("alice", CLASS_PW) != 429:
        fail("login from one client through the edge after %d failures was not throttled" % ADDR_FAILURES)
    ok("the address limit of failures from one client through the edge: the next login answers 429")


if __name__ == "__main__":
    {"phase1": phase1, "phase2": phase2}[sys.argv[1]]()
