"""nbgitpuller links, authenticated: a jupyter-server extension of a jhub release.

Rendered by terraform-provider-jhub; jhub_hub.py's prepare links it onto the
servers' Python path and enables it (Debian's own nbgitpuller extension stays
off: its notebook-6 handlers authenticate nobody under jupyter-server 2).

It serves nbgitpuller's link, /user/<name>/git-pull?repo=&branch=&targetpath=
&urlpath=&subpath=&depth= (usually reached through /hub/user-redirect/git-pull),
to the server's own user only: the handler is a JupyterHandler behind
web.authenticated and jupyter-server's authorizer (JupyterHub's OAuth scopes
for this server). It pulls with Debian's nbgitpuller.pull.GitPuller (a clone;
later a fetch, a commit of the student's changes and a merge that keeps them,
-Xours) and then redirects to urlpath. It refuses:

- repositories other than https://, http://, git:// URLs with a host and no
  credentials, and file:// URLs below the shared course directory (symbolic
  links resolved); ssh, ext:: and bare paths never;
- a targetpath that leaves the server's root directory or enters a hidden
  one: absolute, '..' or any segment starting with '.', or crossing a
  symbolic link (a link must not plant files in ~/.ipython, ~/.local, ...);
- an existing targetpath that is not a clone of that same repository (a
  link never commits or merges in the student's other work);
- a urlpath that is not a relative path on this server.
"""

import asyncio
import os
import re
import stat
import subprocess
import urllib.parse

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

# The URL schemes a link may name besides file://.
NETWORK_SCHEMES = ("https", "http", "git")
# Printable ASCII without spaces: what a link's repository may hold.
_PRINTABLE = re.compile(r"[\x21-\x7e]+")
# No control characters: what a link's paths may hold.
_TEXT = re.compile(r"[^\x00-\x1f\x7f]+")
# A branch or tag name as nbgitpuller links name them (git check-ref-format
# allows more; nothing here starts an option or a revision expression).
_BRANCH = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/-]{0,254}")
# Lines of git's output an error page shows.
OUTPUT_LINES = 20


class Refused(ValueError):
    """A link this server does not follow; the message says why."""


def configured_course_dir(config_paths):
    """JhubGitPull.course_dir from the jupyter_server_config.d files
    (prepare's override) in config_paths: the shared course directory, the
    only place file:// links may name. traitlets reads only the extension
    switches from config.d, so it is read the way jupyter-server reads them."""
    from jupyter_server.extension.config import ExtensionConfigManager

    config = ExtensionConfigManager(read_config_path=config_paths).get("jupyter_server_config")
    return config.get("JhubGitPull", {}).get("course_dir", "")


def check_repo(url, course_dir):
    """url if a link may pull it; raises Refused."""
    if not url or len(url) > 2048 or not _PRINTABLE.fullmatch(url):
        raise Refused("repo must be a URL of printable characters without spaces")
    scheme = url.split(":", 1)[0].lower()
    if scheme in NETWORK_SCHEMES:
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError as e:
            raise Refused("repo %s is not a URL: %s" % (url, e)) from None
        if not url[len(scheme):].startswith("://") or not parts.hostname:
            raise Refused("repo %s has no host" % url)
        if "@" in parts.netloc:
            raise Refused("repo must not carry credentials: links pull public repositories")
        return url
    if scheme == "file":
        if not course_dir:
            raise Refused("this server pulls no file:// repositories")
        if not url.startswith("file:///") or "%" in url or "?" in url or "#" in url:
            raise Refused("a file repository is file:///PATH, with PATH below %s" % course_dir)
        path = url[len("file://"):]
        segments = path.split("/")[1:]
        if any(s in ("", ".", "..") for s in segments):
            raise Refused("repo %s is not a clean path" % url)
        base = os.path.realpath(course_dir)
        if not os.path.realpath(path).startswith(base + "/"):
            raise Refused("file repositories must be below %s (the shared course directory)" % course_dir)
        return url
    raise Refused("repo must be an https://, http:// or git:// URL, or file:///PATH below %s" % (course_dir or "the course directory"))


def default_target(url):
    """nbgitpuller's targetpath when the link names none: the URL's last segment."""
    return url.rstrip("/").rsplit("/", 1)[-1]


def check_relative(what, path):
    """The segments of a relative path that stays below its base and out
    of hidden directories; raises Refused."""
    if not path or len(path) > 1024 or not _TEXT.fullmatch(path):
        raise Refused("%s must be a relative path without control characters" % what)
    if path.startswith("/"):
        raise Refused("%s %s is absolute: it must be relative to your home folder" % (what, path))
    segments = path.rstrip("/").split("/")
    for s in segments:
        if s in ("", ".", ".."):
            raise Refused("%s %s must not contain '..', '.' or '//'" % (what, path))
        if s.startswith("."):
            raise Refused("%s %s must not name a hidden file or folder (%s)" % (what, path, s))
    return segments


def target_dir(root, targetpath):
    """The directory targetpath names below root, with no symbolic link on
    the way; it may not exist yet. Raises Refused."""
    segments = check_relative("targetpath", targetpath)
    base = os.path.realpath(root)
    path = base
    for i, s in enumerate(segments):
        path = os.path.join(path, s)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            break
        if stat.S_ISLNK(st.st_mode):
            raise Refused("targetpath %s crosses the symbolic link %s" % (targetpath, "/".join(segments[: i + 1])))
        if not stat.S_ISDIR(st.st_mode):
            raise Refused("targetpath %s: %s is a file, not a folder" % (targetpath, "/".join(segments[: i + 1])))
    return os.path.join(base, *segments)


def check_branch(branch):
    """branch (None: the repository's default); raises Refused."""
    if branch is not None and (not _BRANCH.fullmatch(branch) or ".." in branch or branch.endswith((".lock", "/"))):
        raise Refused("branch %r is not a branch or tag name" % branch)
    return branch


def check_depth(depth):
    """The clone depth as a number (None: GitPuller's default); raises Refused."""
    if depth is None or depth == "":
        return None
    if not depth.isdigit() or len(depth) > 6:
        raise Refused("depth must be a whole number")
    return int(depth)


def landing(urlpath, targetpath, subpath):
    """Where the browser goes after the pull, relative to the server's base
    URL: urlpath, else JupyterLab on targetpath/subpath. Raises Refused."""
    if urlpath:
        parts = urllib.parse.urlsplit(urlpath)
        if parts.scheme or parts.netloc or urlpath.startswith("/") or "\\" in urlpath or not _TEXT.fullmatch(urlpath):
            raise Refused("urlpath must be a path on this server, for example lab/tree/%s" % targetpath)
        if any(s in (".", "..") for s in parts.path.split("/")):
            raise Refused("urlpath %s must not contain '..'" % urlpath)
        return urllib.parse.quote(urlpath, safe="/?&=#%+:@,;~!$'()*")
    path = targetpath
    if subpath and subpath != ".":
        path += "/" + "/".join(check_relative("subpath", subpath))
    return "lab/tree/" + urllib.parse.quote(path)


def existing_clone_problem(repo_dir, url):
    """Why repo_dir, which exists, is not a clone of url to update; None if it is."""
    def git(*args):
        r = subprocess.run(["git", "-C", repo_dir, *args], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        return r.stdout.strip() if r.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or os.path.realpath(top) != os.path.realpath(repo_dir):
        return "it is a folder but not a git clone"
    origin = git("config", "--get", "remote.origin.url")
    if origin != url:
        return "it is a clone of %s, not of %s" % (origin or "no repository", url)
    return None


def pull(url, repo_dir, branch, depth, parent, output):
    """Runs GitPuller (blocking, in a thread), appending git's output lines."""
    # Imported here: the package pulls in notebook 6 for its own handlers.
    from nbgitpuller.pull import GitPuller

    if os.path.lexists(repo_dir):
        problem = existing_clone_problem(repo_dir, url)
        if problem:
            raise Refused("%s exists and %s: choose another targetpath or move it away" % (repo_dir, problem))
    for line in GitPuller(url, repo_dir, branch=branch, depth=depth, parent=parent).pull():
        output.append(line)


class GitPullHandler(JupyterHandler):
    """GET /git-pull: pull, then redirect to the link's urlpath."""

    # A pull writes files: the authorizer is asked for that.
    auth_resource = "contents"
    _lock = None

    def initialize(self, course_dir):
        self.course_dir = course_dir

    @web.authenticated
    @authorized("write")
    async def get(self):
        arg = self.get_argument
        try:
            url = check_repo(arg("repo", ""), self.course_dir)
            targetpath = arg("targetpath", None) or arg("targetPath", None) or default_target(url)
            root = os.path.expanduser(self.settings["server_root_dir"])
            repo_dir = target_dir(root, targetpath)
            branch = check_branch(arg("branch", None))
            depth = check_depth(arg("depth", None))
            where = landing(arg("urlpath", None) or arg("urlPath", None), targetpath, arg("subpath", None) or arg("subPath", None))
        except Refused as e:
            raise web.HTTPError(400, "This git-pull link is refused: %s", str(e)) from None
        # One pull at a time: git does not share a clone.
        if GitPullHandler._lock is None:
            GitPullHandler._lock = asyncio.Lock()
        lines = []
        async with GitPullHandler._lock:
            try:
                await asyncio.to_thread(pull, url, repo_dir, branch, depth, self.serverapp, lines)
            except Refused as e:
                raise web.HTTPError(400, "This git-pull link is refused: %s", str(e)) from None
            except ValueError as e:  # GitPuller: no such branch, repository unreachable
                raise web.HTTPError(400, "Pulling %s failed: %s", url, str(e)) from None
            except Exception as e:  # git failed (CalledProcessError), a recent .git/index.lock
                tail = "".join(lines[-OUTPUT_LINES:]).strip()
                raise web.HTTPError(500, "Pulling %s into %s failed: %s\n%s", url, repo_dir, str(e), tail) from None
        self.log.info("git-pull %s into %s: %s", url, repo_dir, "".join(lines[-OUTPUT_LINES:]).strip())
        self.redirect(url_path_join(self.base_url, where))


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp):
    web_app = serverapp.web_app
    course_dir = configured_course_dir(serverapp.config_file_paths)
    web_app.add_handlers(".*$", [(url_path_join(web_app.settings["base_url"], "git-pull"), GitPullHandler, {"course_dir": course_dir})])
    serverapp.log.info("jhub_gitpull: git-pull links served; file:// repositories below %s", course_dir or "nowhere")
