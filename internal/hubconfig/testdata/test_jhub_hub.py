"""jhub_hub.py's classes inside the lab image's real JupyterHub (lab tests).

Run by lab_hub_test.go: python3 -B test_jhub_hub.py RELEASE_DIR. Not booted:
what needs systemd runs in the booted tests.
"""

import asyncio
import grp
import hashlib
import hmac
import importlib.util
import json
import os
import stat
import subprocess
import sys
import time
import unittest

from tornado import web
from traitlets.config import Config

spec = importlib.util.spec_from_file_location("jhub_hub", os.path.join(sys.argv.pop(1), "jhub_hub.py"))
jhub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(jhub)


class FakeRequest:
    def __init__(self, ip, headers=None):
        self.remote_ip = ip
        self.headers = headers or {}


class FakeHandler:
    def __init__(self, ip, headers=None):
        self.request = FakeRequest(ip, headers)


def authenticator(**extra):
    c = Config()
    c.Authenticator.allowed_users = {"alice", "bob", "prof"}
    c.Roster.admins = {"prof"}
    c.PasswordCheck.class_password = "class password 2025"
    c.PasswordCheck.admin_passwords = {"prof": "prof's own long password"}
    for k, v in extra.items():
        setattr(c.PasswordCheck, k, v)
    return jhub.JhubPasswordAuthenticator(config=c)


def login(a, name, password, ip="198.18.0.1"):
    return asyncio.run(a.get_authenticated_user(FakeHandler(ip), {"username": name, "password": password}))


class PasswordLogin(unittest.TestCase):
    def test_students_use_the_class_password(self):
        a = authenticator()
        self.assertEqual(login(a, "alice", "class password 2025")["name"], "alice")
        self.assertIs(login(a, "alice", "class password 2025")["admin"], False)
        self.assertIsNone(login(a, "alice", "class password 2024"))
        self.assertIsNone(login(a, "alice", ""))

    def test_admins_only_use_their_own(self):
        a = authenticator()
        self.assertIsNone(login(a, "prof", "class password 2025"))
        r = login(a, "prof", "prof's own long password")
        self.assertEqual((r["name"], r["admin"]), ("prof", True))

    def test_unknown_names_and_system_accounts_never(self):
        a = authenticator()
        for name in ["root", "teacher", "jhub-edge", "nobody", "mallory"]:
            self.assertIsNone(login(a, name, "class password 2025"), name)

    def test_names_are_normalized(self):
        a = authenticator()
        self.assertEqual(login(a, "Alice", "class password 2025")["name"], "alice")

    def test_dummy_without_a_class_password(self):
        c = Config()
        c.Authenticator.allowed_users = {"alice", "prof"}
        c.Roster.admins = {"prof"}
        c.PasswordCheck.admin_passwords = {"prof": "prof's own long password"}
        a = jhub.JhubPasswordAuthenticator(config=c)
        self.assertEqual(login(a, "alice", "anything")["name"], "alice")
        self.assertIsNone(login(a, "prof", "anything"))
        self.assertIsNone(login(a, "mallory", "anything"))

    def test_throttle_per_name_and_per_address(self):
        a = authenticator()
        for i in range(5):
            self.assertIsNone(login(a, "alice", "wrong", ip="198.18.1.%d" % i))
        with self.assertRaises(web.HTTPError) as e:
            login(a, "alice", "class password 2025", ip="198.18.1.99")
        self.assertEqual(e.exception.status_code, 429)
        self.assertEqual(login(a, "bob", "class password 2025", ip="198.18.1.99")["name"], "bob")
        for i in range(a.address_failures_per_minute):
            login(a, "guess%d" % i, "wrong", ip="198.18.2.1")
        with self.assertRaises(web.HTTPError) as e:
            login(a, "bob", "class password 2025", ip="198.18.2.1")
        self.assertEqual(e.exception.status_code, 429)


class ThrottleWindow(unittest.TestCase):
    def test_failures_expire(self):
        now = [0.0]
        t = jhub.Throttle(2, window=60, clock=lambda: now[0])
        t.failed("k")
        t.failed("k")
        self.assertTrue(t.blocked("k"))
        now[0] = 61
        self.assertFalse(t.blocked("k"))
        self.assertNotIn("k", t.failures)

    def test_memory_is_bounded(self):
        t = jhub.Throttle(5, max_keys=3)
        for i in range(10):
            t.failed("k%d" % i)
        self.assertEqual(list(t.failures), ["k7", "k8", "k9"])


class Roster(unittest.TestCase):
    def test_admin_flag_follows_the_roster(self):
        a = authenticator()
        self.assertIs(a.is_admin(None, {"name": "prof"}), True)
        self.assertIs(a.is_admin(None, {"name": "alice"}), False)

    def test_removed_users_are_refused(self):
        a = authenticator()
        self.assertTrue(a.check_allowed("alice"))
        self.assertFalse(a.check_allowed("mallory"))


class Names(unittest.TestCase):
    def rules(self):
        c = Config()
        c.AccountRules.name_pattern = "^[a-z][a-z0-9_-]{0,31}$"
        c.AccountRules.reserved_names = {"root", "teacher"}
        c.AccountRules.reserved_prefixes = ["systemd-"]
        c.AccountRules.students_group = "jhub-students"
        return jhub.AccountRules(config=c)

    def test_reserved_and_invalid(self):
        r = self.rules()
        for name in ["root", "teacher", "systemd-network", "Alice", "a b", "-x", ""]:
            self.assertIsNotNone(r.name_problem(name), name)
        self.assertIsNone(r.name_problem("alice"))

    def test_existing_accounts_the_hub_did_not_create(self):
        r = self.rules()
        self.assertIn("system account", r.account_problem("daemon"))
        self.assertIn("did not create", r.account_problem("nobody"))
        with self.assertRaises(jhub.AccountError):
            asyncio.run(r.ensure_account("root"))

    def test_accounts_on_the_machine(self):
        # Root in a throw-away overlay of the image: real useradd, real groups.
        r = self.rules()
        subprocess.run(["groupadd", "--system", "jhub-students"], check=True)
        subprocess.run(["useradd", "--create-home", "--groups", "jhub-students,sudo", "eve"], check=True)
        subprocess.run(["useradd", "--create-home", "--groups", "jhub-students", "frank"], check=True)
        self.assertIn("privileged", r.account_problem("eve"))
        self.assertIsNone(r.account_problem("frank"))
        with self.assertRaises(jhub.AccountError):
            asyncio.run(r.ensure_account("eve"))
        pw = asyncio.run(r.ensure_account("newbie"))
        self.assertGreaterEqual(pw.pw_uid, 1000)
        self.assertIn("newbie", grp.getgrnam("jhub-students").gr_mem)
        self.assertEqual(stat.S_IMODE(os.stat(pw.pw_dir).st_mode), 0o700)
        self.assertEqual(pw.pw_shell, "/bin/bash")
        os.chmod("/home/frank", 0o755)
        subprocess.run(["/usr/sbin/usermod", "--append", "--groups", "jhub-course", "frank"], check=False)
        jhub.prepare("jhub-students", "/srv/course", 0o2775, "jhub-course", ["newbie", "eve", "ghost"])
        self.assertEqual(stat.S_IMODE(os.stat("/home/frank").st_mode), 0o700)
        # The course directory is the admins': only hub-made admin accounts write it.
        st = os.lstat("/srv/course")
        self.assertTrue(stat.S_ISDIR(st.st_mode))
        self.assertEqual((st.st_uid, grp.getgrgid(st.st_gid).gr_name, stat.S_IMODE(st.st_mode)), (0, "jhub-course", 0o2775))
        self.assertEqual(grp.getgrnam("jhub-course").gr_mem, ["newbie"])
        # Students' git trusts the admins' repositories there, once however often prepare runs.
        jhub.prepare("jhub-students", "/srv/course", 0o2775, "jhub-course", ["newbie"])
        out = subprocess.run(["git", "config", "--system", "--get-all", "safe.directory"], capture_output=True, text=True, check=True).stdout
        self.assertEqual(out.split(), ["/srv/course/*"])
        # nbgitpuller's unauthenticated handlers stay off; the release's
        # git-pull is on, knows the course directory, and every server's
        # python3 imports it (from / : not from the release's directory).
        with open(jhub.SERVER_EXTENSIONS_OVERRIDE, encoding="utf-8") as f:
            self.assertEqual(json.load(f), {
                "ServerApp": {"jpserver_extensions": {"nbgitpuller": False, "jhub_gitpull": True}},
                "JhubGitPull": {"course_dir": "/srv/course"},
            })
        out = subprocess.run(
            ["python3", "-B", "-c", "import jhub_gitpull; print(jhub_gitpull.__file__)"], cwd="/", capture_output=True, text=True, check=True,
        ).stdout.strip()
        self.assertEqual(os.path.realpath(out), os.path.realpath(jhub.GITPULL_MODULE))

    def test_homes_on_the_class_volume_keep_their_owner(self):
        # A rebuilt droplet: the volume holds the homes, /etc/passwd is new.
        r = self.rules()
        r.home_base = "/mnt/jhub-test/home"
        os.makedirs(r.home_base, exist_ok=True)
        subprocess.run(["groupadd", "--force", "--system", "jhub-students"], check=True)
        for name, uid in [("carol", 1500), ("dave", 1501)]:
            home = os.path.join(r.home_base, name)
            os.makedirs(home)
            with open(os.path.join(home, "hw.ipynb"), "w", encoding="utf-8") as f:
                f.write("{}")
            for p in (home, os.path.join(home, "hw.ipynb")):
                os.chown(p, uid, uid)
            os.chmod(home, 0o700)
            os.chmod(os.path.join(home, "hw.ipynb"), 0o640)
        # dave's old uid went to someone else on the new machine.
        subprocess.run(["useradd", "--uid", "1501", "mallory"], check=True)
        carol = asyncio.run(r.ensure_account("carol"))
        self.assertEqual((carol.pw_uid, carol.pw_gid, carol.pw_dir), (1500, 1500, "/mnt/jhub-test/home/carol"))
        self.assertEqual(grp.getgrgid(1500).gr_name, "carol")
        dave = asyncio.run(r.ensure_account("dave"))
        self.assertNotEqual(dave.pw_uid, 1501)
        for who in (carol, dave):
            st = os.stat(os.path.join(who.pw_dir, "hw.ipynb"))
            self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)), (who.pw_uid, who.pw_gid, 0o640))
            self.assertEqual(stat.S_IMODE(os.stat(who.pw_dir).st_mode), 0o700)
        # A new student's home is made there.
        erin = asyncio.run(r.ensure_account("erin"))
        self.assertEqual(erin.pw_dir, "/mnt/jhub-test/home/erin")
        self.assertEqual(os.stat(erin.pw_dir).st_uid, erin.pw_uid)

    def test_unit_names(self):
        self.assertEqual(jhub.unit_name("alice"), "jupyter-alice.service")
        self.assertEqual(jhub.unit_name("alice", "ml-1"), "jupyter-alice:ml\\x2d1.service")
        self.assertEqual(jhub.unit_name("alice", "a b/ü"), "jupyter-alice:a\\x20b\\x2f\\xc3\\xbc.service")

    def test_env_file_quoting(self):
        self.assertEqual(jhub.env_file_line("K", 'a"b\\c$d`e'), 'K="a\\"b\\\\c\\$d\\`e"\n')


EDGE_KEY = "5e" * 32


def edge_identity(name, at=None, nonce="n0", key=EDGE_KEY):
    """The edge's header, built here from its documented format."""
    msg = "v1:%s:%d:%s" % (name, int(time.time() if at is None else at), nonce)
    return msg + ":" + hmac.new(key.encode(), msg.encode(), hashlib.sha256).hexdigest()


def edge_authenticator():
    c = Config()
    c.Authenticator.allowed_users = {"alice", "prof"}
    c.Authenticator.username_pattern = r"^[a-z][a-z0-9_-]{0,31}$"
    c.Roster.admins = {"prof"}
    c.EdgeIdentity.key = EDGE_KEY
    c.EdgeIdentity.header = "X-Jhub-Identity"
    c.EdgeIdentity.max_age = 60
    c.EdgeIdentity.login_path = "oauth_login"
    c.EdgeIdentity.identity_path = "jhub-identity"
    return jhub.JhubEdgeAuthenticator(config=c)


def edge_login(a, header, data=None):
    """(name, admin) of the user the request logs in, or None."""
    headers = {"X-Jhub-Identity": header} if header is not None else {}
    got = asyncio.run(a.get_authenticated_user(FakeHandler("127.0.0.1", headers), data or {}))
    return None if got is None else (got["name"], got["admin"])


class EdgeLogin(unittest.TestCase):
    """github and oidc: only the edge's fresh, single-use signature logs in."""

    def test_signed_identity_logs_in_once(self):
        a = edge_authenticator()
        h = edge_identity("alice", nonce="once")
        self.assertEqual(edge_login(a, h), ("alice", False))
        self.assertIsNone(edge_login(a, h), "a replayed identity logged in")

    def test_admin_only_from_the_roster(self):
        a = edge_authenticator()
        self.assertEqual(edge_login(a, edge_identity("prof", nonce="p")), ("prof", True))
        # Whatever the request claims beside the identity, alice is no admin.
        got = edge_login(a, edge_identity("alice", nonce="q"), {"admin": True, "name": "prof"})
        self.assertEqual(got, ("alice", False))

    def test_forgeries_get_nothing(self):
        a = edge_authenticator()
        now = time.time()
        for why, header in {
            "no header": None,
            "empty": "",
            "unsigned": "v1:alice:%d:n1:" % now,
            "wrong key": edge_identity("alice", nonce="n2", key="guess"),
            "stale": edge_identity("alice", at=now - 120, nonce="n3"),
            "from the future": edge_identity("alice", at=now + 120, nonce="n4"),
            "name swapped": edge_identity("alice", nonce="n5").replace("v1:alice:", "v1:prof:"),
            "not on the roster": edge_identity("mallory", nonce="n6"),
            "system account": edge_identity("root", nonce="n7"),
            "extra field": edge_identity("alice", nonce="n8:x"),
        }.items():
            self.assertIsNone(edge_login(a, header), why)

    def test_passwords_are_not_a_way_in(self):
        a = edge_authenticator()
        self.assertIsNone(edge_login(a, None, {"username": "alice", "password": "anything"}))

    def test_routes(self):
        a = edge_authenticator()
        self.assertTrue(a.auto_login)
        self.assertEqual(a.login_url("/jhub/hub/"), "/jhub/hub/oauth_login")
        paths = [h[0] for h in a.get_handlers(None)]
        self.assertIn("/jhub-identity", paths)


if __name__ == "__main__":
    unittest.main(verbosity=2)
