#!/usr/bin/python3
"""JupyterHub classes of a jhub release (stdlib and JupyterHub only).

Rendered by terraform-provider-jhub. jupyterhub_config.py loads this file
from its own release directory; the hub unit also runs it before the hub
starts (`jhub_hub.py prepare GROUP`). Every student runs code on the same
machine, so:

- AccountRules: a hub user only ever runs as a Linux account the hub
  created for it (member of the students group, uid >= 1000, no
  privileged group); names of system accounts are refused on the droplet
  too, whatever the config says.
- Roster: allowed_users and admin_users are the whole truth. A user the
  roster no longer names is deleted from the hub at its next start
  (servers stopped, sessions and tokens gone, files kept), and admin
  rights follow admin_users both ways.
- JhubPasswordAuthenticator: students log in with the class password,
  admins only with their own; failed logins are throttled per name and
  per client address.
- JhubEdgeAuthenticator: github and oidc; the edge runs the OAuth flow
  and the hub accepts only its fresh, single-use, HMAC-signed identity.
- JhubSpawner: each server in its own transient systemd unit with limits;
  the API token reaches it through a 0600 root EnvironmentFile under /run,
  never argv or unit properties. The release's course files are copied,
  as the user, into their notebook directory when missing (seed_course.py).
- The shared course directory: readable by everyone, writable by the
  admins only (its group lists exactly the admins); `prepare` enforces it.
"""

import asyncio
import grp
import hashlib
import hmac
import json
import os
import pwd
import re
import stat
import subprocess
import sys
import sysconfig
import time
from collections import OrderedDict, deque

from jupyterhub.auth import Authenticator, PAMAuthenticator
from jupyterhub.handlers import BaseHandler
from jupyterhub.spawner import Spawner
from jupyterhub.utils import maybe_future, random_port, url_path_join
from tornado import web
from traitlets import Dict, Integer, List, Set, Unicode, default
from traitlets.config import Configurable

# Membership in any of these makes an account an administrator's.
PRIVILEGED_GROUPS = ("root", "sudo", "adm", "wheel", "disk", "shadow")
# The lowest uid of a regular account on Debian (login.defs UID_MIN).
UID_MIN = 1000
# Where spawner EnvironmentFiles live for the instant of a start.
ENV_DIR = "/run/jhub-spawner"
# Each server's kernels talk to it over Unix sockets in a 0700 directory
# below this one that lives as long as the server's unit (RuntimeDirectory).
# Loopback TCP ports failed at a lecture's start: a port jupyter_client had
# picked was taken by another connection before the kernel bound it, and the
# kernel never came up. A socket path must fit in 107 bytes, hence the
# short hashed names.
KERNEL_DIR = "/run/jhub-kernels"
# Server units: "jupyter-<user>.service" or "jupyter-<user>:<server>.service";
# user names never contain ':', so a user's units are unambiguous.
UNIT_PREFIX = "jupyter-"
# Overrides Debian's jupyter-server extension switches (config.d files are
# merged in name order, so this one comes last): python3-nbgitpuller 1.0.2
# builds its handlers on notebook 6's IPythonHandler, which under
# jupyter-server 2 authenticates nobody ("anonymous"), so anyone reaching
# /user/<name>/git-pull/api could make that student's server clone any
# repository to any path they can write (targetpath=../..). It stays off;
# the release's jhub_gitpull serves the same links, authenticated.
SERVER_EXTENSIONS_OVERRIDE = "/etc/jupyter/jupyter_server_config.d/zz_jhub.json"
# The authenticated git-pull extension, shipped beside this file (render.go's
# gitPullName); prepare links it into /usr/local's Python path, where every
# server (the same /usr/bin/python3) imports it.
GITPULL_MODULE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jhub_gitpull.py")
SERVER_EXTENSIONS = {"nbgitpuller": False, os.path.splitext(os.path.basename(GITPULL_MODULE))[0]: True}
# Copies course files as the user; shipped beside this file.
SEED_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seed_course.py")


class AccountError(Exception):
    """A user cannot run as the Linux account of their name."""


class AccountRules(Configurable):
    """Which Linux accounts a hub user may run as, checked on the droplet."""

    name_pattern = Unicode(config=True, help="regular expression every user name matches")
    reserved_names = Set(Unicode(), config=True, help="names that are never hub users")
    reserved_prefixes = List(Unicode(), config=True, help="name prefixes that are never hub users")
    students_group = Unicode(config=True, help="group marking the accounts the hub created")
    home_base = Unicode(
        "", config=True,
        help="directory of new accounts' homes ('' = useradd's default); on the class volume, where a "
        "rebuilt droplet finds each home again with its files' owner",
    )

    def name_problem(self, name):
        if not re.fullmatch(self.name_pattern, name):
            return "%r is not a valid user name" % name
        if name in self.reserved_names or name.startswith(tuple(self.reserved_prefixes)):
            return "%r is a reserved account name" % name
        return None

    def account_problem(self, name):
        """Why name may not run as its existing account; None if it may.
        Raises KeyError when there is no such account."""
        problem = self.name_problem(name)
        if problem:
            return problem
        pw = pwd.getpwnam(name)
        groups = {g.gr_name for g in grp.getgrall() if name in g.gr_mem}
        try:
            groups.add(grp.getgrgid(pw.pw_gid).gr_name)
        except KeyError:
            pass
        if pw.pw_uid < UID_MIN or pw.pw_gid == 0:
            return "account %r is a system account (uid %d)" % (name, pw.pw_uid)
        privileged = sorted(groups.intersection(PRIVILEGED_GROUPS))
        if privileged:
            return "account %r is in the privileged group(s) %s" % (name, ", ".join(privileged))
        if self.students_group not in groups:
            return "account %r exists but the hub did not create it (it is not in group %s)" % (name, self.students_group)
        return None

    async def ensure_account(self, name):
        """The passwd entry name's server runs as, creating the account on
        first use; raises AccountError when it must not run."""
        problem = self.name_problem(name)
        if problem:
            raise AccountError(problem)
        try:
            pwd.getpwnam(name)
        except KeyError:
            async with _account_lock:
                await _run("/usr/sbin/groupadd", "--force", "--system", self.students_group)
                try:
                    pwd.getpwnam(name)
                except KeyError:
                    await self._create_account(name)
        problem = self.account_problem(name)
        if problem:
            raise AccountError(problem)
        pw = pwd.getpwnam(name)
        private_home(pw)
        return pw

    async def _create_account(self, name):
        """useradd for name. Under home_base, a home already there (the
        class volume on a rebuilt droplet) keeps its owner: the account
        gets that uid and gid when both are free, else fresh ones and the
        home is handed over (chown of what the old uid owned)."""
        argv = ["/usr/sbin/useradd", "--shell", "/bin/bash", "--groups", self.students_group, "--key", "HOME_MODE=0700"]
        old = None
        if self.home_base:
            home = os.path.join(self.home_base, name)
            argv += ["--home-dir", home]
            try:
                st = os.lstat(home)
                if stat.S_ISDIR(st.st_mode) and st.st_uid >= UID_MIN and st.st_gid >= UID_MIN:
                    old = st
            except FileNotFoundError:
                pass
        if old is None:
            await _run(*argv, "--create-home", "--user-group", "--", name)
            return
        if _free(pwd.getpwuid, old.st_uid) and _free(grp.getgrgid, old.st_gid) and _free(grp.getgrnam, name):
            await _run("/usr/sbin/groupadd", "--gid", str(old.st_gid), "--", name)
            await _run(*argv, "--no-create-home", "--uid", str(old.st_uid), "--gid", name, "--", name)
            return
        await _run(*argv, "--no-create-home", "--user-group", "--", name)
        pw = pwd.getpwnam(name)
        await _run("/usr/bin/chown", "-R", "--no-dereference", "--from=%d" % old.st_uid, "%d:%d" % (pw.pw_uid, pw.pw_gid), "--", home)


def _free(lookup, key):
    """Whether no passwd/group entry answers lookup(key)."""
    try:
        lookup(key)
    except KeyError:
        return True
    return False


_account_lock = asyncio.Lock()


def private_home(pw):
    """Makes pw's home 0700 if it is a real directory the account owns."""
    try:
        st = os.lstat(pw.pw_dir)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode) and st.st_uid == pw.pw_uid and st.st_mode & 0o077:
        os.chmod(pw.pw_dir, 0o700)


async def _run(*argv, check=True, **popen):
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **popen
    )
    out, _ = await proc.communicate()
    out = out.decode("utf-8", "replace").strip()
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv[0], proc.returncode, out))
    return proc.returncode, out


def unit_name(user, server=""):
    """The systemd unit of user's server; server names are escaped like
    systemd-escape does (only [A-Za-z0-9_] stay)."""
    if not server:
        return UNIT_PREFIX + user + ".service"
    esc = "".join(chr(b) if chr(b).isascii() and (chr(b).isalnum() or b == 0x5F) else "\\x%02x" % b for b in server.encode())
    return UNIT_PREFIX + user + ":" + esc + ".service"


async def stop_servers(user):
    """Stops every server unit of user (default and named)."""
    await _run("systemctl", "stop", "--", unit_name(user), UNIT_PREFIX + user + ":*.service", check=False)


class Throttle:
    """At most `limit` failures per key within `window` seconds; keys are
    kept for at most `max_keys` names and addresses (oldest dropped)."""

    def __init__(self, limit, window=60.0, max_keys=10000, clock=time.monotonic):
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self.failures = OrderedDict()

    def _recent(self, key):
        q = self.failures.get(key)
        if q is None:
            return 0
        cutoff = self.clock() - self.window
        while q and q[0] <= cutoff:
            q.popleft()
        if not q:
            del self.failures[key]
            return 0
        return len(q)

    def blocked(self, *keys):
        return any(self._recent(k) >= self.limit for k in keys)

    def failed(self, *keys):
        now = self.clock()
        for k in keys:
            self.failures.setdefault(k, deque()).append(now)
            self.failures.move_to_end(k)
        while len(self.failures) > self.max_keys:
            self.failures.popitem(last=False)


class Roster(AccountRules):
    """Mixed into an Authenticator: the configured roster is the truth.

    Configure allowed_users as students plus admins, allow_existing_users
    False and delete_invalid_users True: at every hub start JupyterHub
    calls add_user for each user in its database, and one who is no longer
    in the roster is refused here, so JupyterHub deletes them."""

    admins = Set(Unicode(), config=True, help="the admins: admin rights follow this set both ways")

    def check_allowed(self, username, authentication=None):
        if self.allowed_users:
            return username in self.allowed_users
        # pam without a roster: the accounts the hub may spawn as.
        try:
            return self.account_problem(username) is None
        except KeyError:
            return False

    def is_admin(self, handler, authentication):
        # Explicit True or False: a demoted admin loses the role at login too.
        return authentication["name"] in self.admins

    async def add_user(self, user):
        if not self.check_allowed(user.name):
            self.log.warning("%s is no longer in the roster: stopping their servers; the hub deletes them (files are kept)", user.name)
            await stop_servers(user.name)
            raise ValueError("%s is not in allowed_users or admin_users" % user.name)
        await maybe_future(super().add_user(user))


class ThrottledLogin(Configurable):
    """Mixed into a password Authenticator: too many failed logins for one
    name or from one client address answer 429 for a while. The address
    is what JupyterHub sees (X-Real-IP, which the edge overwrites)."""

    failures_per_minute = Integer(5, config=True, help="failed logins per name per minute")
    address_failures_per_minute = Integer(
        60, config=True,
        help="failed logins per client address per minute; a whole lecture hall can share one NAT address",
    )

    async def authenticate(self, handler, data):
        if not hasattr(self, "_throttles"):
            self._throttles = (Throttle(self.failures_per_minute), Throttle(self.address_failures_per_minute))
        by_name, by_addr = self._throttles
        name = self.normalize_username((data or {}).get("username") or "")
        addr = handler.request.remote_ip if handler is not None else ""
        if by_name.blocked(name) or (addr and by_addr.blocked(addr)):
            self.log.warning("Throttled login for %r from %s", name, addr)
            raise web.HTTPError(429, "Too many failed logins. Wait a minute and try again.")
        result = await maybe_future(super().authenticate(handler, data))
        if not result:
            by_name.failed(name)
            if addr:
                by_addr.failed(addr)
        return result


def _digest(s):
    return hashlib.sha256(s.encode("utf-8")).digest()


class PasswordCheck(Authenticator):
    """Students (allowed_users) log in with the class password; admins
    only with their own password, never the class password."""

    class_password = Unicode(config=True, help="the class password; empty accepts any password (labs)")
    admin_passwords = Dict(config=True, help="admin name to that admin's own password")

    async def authenticate(self, handler, data):
        name = self.normalize_username(data.get("username") or "")
        given = data.get("password") or ""
        if name in self.admins:
            expected = self.admin_passwords.get(name)
        elif name in self.allowed_users:
            expected = self.class_password if self.class_password else given
        else:
            expected = None
        # Compare even for unknown names: the time taken says nothing about the roster.
        ok = hmac.compare_digest(_digest(given), _digest(expected if expected is not None else "\0"))
        if ok and expected is not None and given:
            return {"name": name, "admin": name in self.admins}
        return None


class JhubPasswordAuthenticator(ThrottledLogin, Roster, PasswordCheck):
    """shared-password and dummy."""


class JhubPAMAuthenticator(ThrottledLogin, Roster, PAMAuthenticator):
    """pam: accounts the hub creates (create_system_users) follow AccountRules."""

    async def add_system_user(self, user):
        await self.ensure_account(user.name)


class EdgeIdentity(Configurable):
    """The identity the edge hands over after an OAuth login (github,
    oidc): header "v1:NAME:UNIX:NONCE:HMAC", HMAC-SHA256 over the first
    four fields with a key only root and the edge can read. A student's
    process can reach the hub's loopback port, but cannot sign: an
    identity counts only if its signature is valid, it is fresh, and its
    nonce was never seen (the nonces of the last max_age seconds are
    kept; the header only crosses loopback, which students cannot sniff,
    so a hub restart forgetting them is no window)."""

    key = Unicode(config=True, help="the shared HMAC key (hex)")
    header = Unicode(config=True, help="the request header the edge sets")
    max_age = Integer(60, config=True, help="seconds an identity stays valid")
    login_path = Unicode(config=True, help="the edge's login start, below the hub prefix")
    identity_path = Unicode(config=True, help="this handler's path, below the hub prefix")

    def verify(self, value, now=None):
        """The user name value vouches for, once; None otherwise."""
        now = time.time() if now is None else now
        parts = (value or "").split(":")
        if len(parts) != 5 or parts[0] != "v1" or not self.key:
            return None
        _, name, ts, nonce, mac = parts
        want = hmac.new(self.key.encode(), ":".join(parts[:4]).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, mac) or not ts.isdigit() or abs(now - int(ts)) > self.max_age:
            return None
        seen = self.__dict__.setdefault("_identity_nonces", OrderedDict())
        while seen and next(iter(seen.values())) < now - 2 * self.max_age:
            seen.popitem(last=False)
        if nonce in seen:
            return None
        seen[nonce] = now
        return name


class IdentityLoginHandler(BaseHandler):
    """The edge's callback lands here with the signed identity; the
    answer (session cookie, redirect to next) goes back to the browser."""

    async def get(self):
        user = await self.login_user({})
        if user is None:
            raise web.HTTPError(403, "Login refused.")
        self.redirect(self.get_next_url(user))


class EdgeAuthenticator(EdgeIdentity, Authenticator):
    """Trusts only EdgeIdentity, whatever else a request carries; admin
    rights come from the roster (Roster.is_admin), never the provider.
    EdgeIdentity is a base so check_hub.py knows its settings."""

    @default("auto_login")
    def _auto_login(self):
        return True

    def login_url(self, base_url):
        return url_path_join(base_url, self.login_path)

    def get_handlers(self, app):
        return super().get_handlers(app) + [("/" + self.identity_path, IdentityLoginHandler)]

    async def authenticate(self, handler, data):
        name = self.verify(handler.request.headers.get(self.header, ""))
        if name is None:
            self.log.warning("Refused a login without a valid edge identity from %s", handler.request.remote_ip)
            return None
        return {"name": name}


class JhubEdgeAuthenticator(Roster, EdgeAuthenticator):
    """github and oidc: the edge runs the OAuth flow."""


def env_file_line(key, value):
    """One systemd EnvironmentFile assignment: double-quoted, with the
    characters systemd unescapes inside double quotes escaped."""
    for ch in '\\"`$':
        value = value.replace(ch, "\\" + ch)
    return '%s="%s"\n' % (key, value)


class JhubSpawner(AccountRules, Spawner):
    """Each server in its own transient systemd unit, as the user's account."""

    unit_properties = List(Unicode(), config=True, help="systemd properties of every server unit (limits, sandboxing)")
    course_files = Unicode("", config=True, help="directory whose files each notebook directory gets when missing; empty = none")
    course_group = Unicode("", config=True, help="group that may write the shared course directory: the admins")
    unit = Unicode(help="the running server's unit (state)")

    def load_state(self, state):
        super().load_state(state)
        self.unit = state.get("unit", "")
        self.port = state.get("port", self.port)

    def get_state(self):
        state = super().get_state()
        if self.unit:
            state["unit"] = self.unit
            state["port"] = self.port
        return state

    def clear_state(self):
        super().clear_state()
        self.unit = ""

    def _root_dir(self, home):
        root = self.format_string(self.notebook_dir) if self.notebook_dir else "~"
        if root == "~" or root.startswith("~/"):
            return os.path.normpath(os.path.join(home, root[2:]))
        return root

    async def start(self):
        try:
            pw = await self.ensure_account(self.user.name)
        except AccountError as e:
            self.log.warning("Refusing to spawn for %s: %s", self.user.name, e)
            raise web.HTTPError(403, "This hub does not run servers for %s." % self.user.name)
        if self.port == 0:
            self.port = random_port()
        unit = unit_name(self.user.name, self.name)
        root = self._root_dir(pw.pw_dir)
        # Awaited, never subprocess.run: the hub's event loop serves every
        # other login, spawn and route while a lecture's servers start.
        as_user = dict(
            user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], cwd=pw.pw_dir, umask=0o022,
            env={"PATH": "/usr/bin:/bin", "HOME": pw.pw_dir},
        )
        if root.startswith(pw.pw_dir + "/"):
            # As the user: a root mkdir would follow links the student planted.
            await _run("mkdir", "-p", "--", root, **as_user)
        if self.course_files and os.path.isdir(self.course_files):
            rc, out = await _run("/usr/bin/python3", "-I", "-B", SEED_SCRIPT, self.course_files, root, check=False, **as_user)
            if out or rc:
                self.log.info("Course files for %s (exit %d): %s", self.user.name, rc, out)
        if self.course_group and self.user.admin:
            # An admin's account may be newer than the hub's last start (prepare).
            await _run("/usr/sbin/usermod", "--append", "--groups", self.course_group, "--", pw.pw_name)
        env = self.get_env()
        env.update(USER=pw.pw_name, LOGNAME=pw.pw_name, HOME=pw.pw_dir, SHELL=pw.pw_shell, JUPYTERHUB_ROOT_DIR=root)
        os.makedirs(ENV_DIR, mode=0o700, exist_ok=True)
        env_file = os.path.join(ENV_DIR, unit + ".env")
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for key in sorted(env):
                f.write(env_file_line(key, str(env[key])))
        # A failed unit of the same name from an earlier run would block the name.
        await _run("systemctl", "reset-failed", "--", unit, check=False)
        argv = [
            "systemd-run", "--quiet", "--collect", "--service-type=exec", "--unit=" + unit,
            "--description=Jupyter server of " + self.user.name,
            "--uid=" + pw.pw_name, "--gid=%d" % pw.pw_gid, "--working-directory=" + pw.pw_dir,
            "--property=EnvironmentFile=" + env_file,
        ]
        argv += ["--property=" + p for p in self.unit_properties]
        kernels = os.path.join(KERNEL_DIR, hashlib.sha256(unit.encode()).hexdigest()[:16])
        argv += ["--property=RuntimeDirectory=" + os.path.relpath(kernels, "/run"), "--property=RuntimeDirectoryMode=0700"]
        argv += ["--"] + list(self.cmd) + list(self.get_args())
        argv += ["--KernelManager.transport=ipc", "--KernelManager.ip=" + os.path.join(kernels, "k")]
        self.log.info("Starting %s for %s", unit, self.user.name)
        try:
            await _run(*argv)
        finally:
            # systemd has read it when an exec-type start returns.
            os.unlink(env_file)
        self.unit = unit
        return (self.ip or "127.0.0.1", self.port)

    async def poll(self):
        if not self.unit:
            return 0
        _, state = await _run("systemctl", "is-active", "--", self.unit, check=False)
        if state in ("active", "activating", "deactivating", "reloading", "refreshing"):
            return None
        return 1 if state == "failed" else 0

    async def stop(self, now=False):
        if self.unit:
            await _run("systemctl", "stop", "--", self.unit, check=False)


def prepare(group, course_dir, course_mode, course_group, admins):
    """Before the hub starts: the students group exists and every member's
    home is private (homes made before this rule included); the shared
    course directory is a real directory root:course_group with
    course_mode, and course_group lists exactly those admins whose
    accounts the hub created (demoted admins lose write access); git
    trusts the repositories in it. Debian's unsafe nbgitpuller extension is
    off, the release's git-pull on."""
    subprocess.run(["/usr/sbin/groupadd", "--force", "--system", group], check=True)
    members = set()
    for name in grp.getgrnam(group).gr_mem:
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        if pw.pw_uid >= UID_MIN:
            private_home(pw)
            members.add(name)
    subprocess.run(["/usr/sbin/groupadd", "--force", "--system", course_group], check=True)
    privileged = set()
    for g in PRIVILEGED_GROUPS:
        try:
            privileged.update(grp.getgrnam(g).gr_mem)
        except KeyError:
            pass
    writers = sorted(members.intersection(admins) - privileged)
    subprocess.run(["/usr/bin/gpasswd", "--members", ",".join(writers), course_group], check=True, stdout=subprocess.DEVNULL)
    if os.path.islink(course_dir) or (os.path.lexists(course_dir) and not os.path.isdir(course_dir)):
        os.rename(course_dir, course_dir + ".not-a-directory.%d" % time.time())
    os.makedirs(course_dir, exist_ok=True)
    os.chown(course_dir, 0, grp.getgrnam(course_group).gr_gid)
    os.chmod(course_dir, course_mode)
    server_extensions(course_dir)
    if os.path.exists("/usr/bin/git"):
        # Students pull the admins' repositories from here (git-pull
        # links); git refuses a repository another user owns unless it is
        # trusted, and only admins can write below course_dir.
        subprocess.run(
            ["/usr/bin/git", "config", "--system", "--replace-all", "safe.directory", course_dir + "/*", "^" + re.escape(course_dir) + "/\\*$"],
            check=True,
        )


def server_extensions(course_dir):
    """Writes SERVER_EXTENSIONS_OVERRIDE (root, 0644) atomically, with the
    course directory git-pull links may name; links GITPULL_MODULE onto the
    servers' path (following the current release)."""
    site = sysconfig.get_path("purelib", "posix_local")
    os.makedirs(site, mode=0o755, exist_ok=True)
    link = os.path.join(site, os.path.basename(GITPULL_MODULE))
    tmp = link + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(GITPULL_MODULE, tmp)
    os.replace(tmp, link)
    os.makedirs(os.path.dirname(SERVER_EXTENSIONS_OVERRIDE), mode=0o755, exist_ok=True)
    tmp = SERVER_EXTENSIONS_OVERRIDE + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"ServerApp": {"jpserver_extensions": SERVER_EXTENSIONS}, "JhubGitPull": {"course_dir": course_dir}}, f)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, SERVER_EXTENSIONS_OVERRIDE)


if __name__ == "__main__":
    if len(sys.argv) < 6 or sys.argv[1] != "prepare":
        print("usage: jhub_hub.py prepare STUDENTS_GROUP COURSE_DIR COURSE_MODE COURSE_GROUP [ADMIN...]", file=sys.stderr)
        sys.exit(2)
    prepare(sys.argv[2], sys.argv[3], int(sys.argv[4], 8), sys.argv[5], sys.argv[6:])
