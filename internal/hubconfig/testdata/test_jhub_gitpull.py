"""jhub_gitpull.py's checks: what a git-pull link may name.

Run by gitpull_test.go with the host's python3 (python3 -B
test_jhub_gitpull.py RELEASE_DIR) and by TestLabHubClasses in the lab
image, where the real jupyter-server and traitlets are imported. On a host
without them the extension's imports get stand-ins: the checks are plain
Python over the real file system and git.
"""

import importlib.util
import os
import subprocess
import sys
import tempfile
import types
import unittest

release = sys.argv.pop(1)
try:
    import jupyter_server.auth.decorator  # noqa: F401
except ImportError:
    def fake(name, **attrs):
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m

    fake("jupyter_server")
    fake("jupyter_server.auth")
    fake("jupyter_server.auth.decorator", authorized=lambda *a, **k: (lambda f: f))
    fake("jupyter_server.base")
    fake("jupyter_server.base.handlers", JupyterHandler=object)
    fake("jupyter_server.utils", url_path_join=lambda *p: "/".join(p))
    fake("tornado", web=types.SimpleNamespace(authenticated=lambda f: f, HTTPError=Exception))
    REAL = False
else:
    REAL = True

spec = importlib.util.spec_from_file_location("jhub_gitpull", os.path.join(release, "jhub_gitpull.py"))
gp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gp)


class Repo(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.course = os.path.join(self.tmp.name, "course")
        os.makedirs(os.path.join(self.course, "notes"))
        os.makedirs(os.path.join(self.tmp.name, "elsewhere", "notes"))
        os.symlink(os.path.join(self.tmp.name, "elsewhere"), os.path.join(self.course, "out"))

    def tearDown(self):
        self.tmp.cleanup()

    def test_allowed(self):
        for url in [
            "https://github.com/a/b",
            "https://github.com/a/b.git",
            "http://git.example.edu:8080/class/notes",
            "git://git.example.edu/notes",
            "HTTPS://GitHub.com/a/b",
            "file://" + self.course + "/notes",
            "file://" + self.course + "/not-yet",
        ]:
            self.assertEqual(gp.check_repo(url, self.course), url)

    def test_refused(self):
        for url in [
            "",
            "ssh://git@github.com/a/b",
            "git@github.com:a/b",
            "ext::sh -c touch% /tmp/x",
            "ext::sh",
            "https::github.com/a/b",
            "https:///a/b",
            "https://tok@github.com/a/b",
            "https://user:tok@github.com/a/b",
            "https://github.com/a/b c",
            "https://[::1/a",
            "-uhttps://github.com/a/b",
            "ftp://example.edu/r",
            self.course + "/notes",
            "file://localhost" + self.course + "/notes",
            "file:///etc/passwd",
            "file://" + self.course,
            "file://" + self.course + "/",
            "file://" + self.course + "/../course/notes",
            "file://" + self.course + "/./notes",
            "file://" + self.course + "//notes",
            "file://" + self.course + "/%2e%2e/x",
            "file://" + self.course + "/out/notes",
            "file://" + self.course + "/notes?x",
            "file://" + self.course + "-other/notes",
        ]:
            with self.assertRaises(gp.Refused, msg=url):
                gp.check_repo(url, self.course)

    def test_file_needs_a_course_dir(self):
        with self.assertRaises(gp.Refused):
            gp.check_repo("file://" + self.course + "/notes", "")

    def test_default_target(self):
        self.assertEqual(gp.default_target("https://github.com/a/b.git"), "b.git")
        self.assertEqual(gp.default_target("file:///srv/course/notes/"), "notes")


class Target(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = os.path.join(self.tmp.name, "home")
        os.makedirs(os.path.join(self.root, "week1"))
        os.symlink(self.tmp.name, os.path.join(self.root, "out"))
        os.symlink(os.path.join(self.root, "week1"), os.path.join(self.root, "inside"))
        open(os.path.join(self.root, "file.txt"), "w").close()

    def tearDown(self):
        self.tmp.cleanup()

    def test_below_the_root(self):
        root = os.path.realpath(self.root)
        self.assertEqual(gp.target_dir(self.root, "week1"), os.path.join(root, "week1"))
        self.assertEqual(gp.target_dir(self.root, "week2/notes"), os.path.join(root, "week2/notes"))
        self.assertEqual(gp.target_dir(self.root, "week1/"), os.path.join(root, "week1"))
        self.assertEqual(gp.target_dir(self.root, "Übung 1"), os.path.join(root, "Übung 1"))

    def test_refused(self):
        for path in [
            "", "/", "/tmp/x", "..", "../..", "../x", "week1/../../x", "week1/./x", "week1//x", ".",
            ".ipython/profile_default/startup", ".local/lib", "week1/.git", ".bashrc",
            "out", "out/x", "inside/x", "file.txt", "file.txt/x", "a\nb", "a\x00b",
        ]:
            with self.assertRaises(gp.Refused, msg=repr(path)):
                gp.target_dir(self.root, path)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.name, "x")))


class Arguments(unittest.TestCase):
    def test_branch(self):
        for b in [None, "main", "gh-pages", "release/1.0", "v2.1", "week_3"]:
            self.assertEqual(gp.check_branch(b), b)
        for b in ["", "-x", "--upload-pack=x", "a..b", "HEAD~1", "a b", "x:y", "main^", "/main", "main/", "x.lock", "a*"]:
            with self.assertRaises(gp.Refused, msg=b):
                gp.check_branch(b)

    def test_depth(self):
        self.assertIsNone(gp.check_depth(None))
        self.assertIsNone(gp.check_depth(""))
        self.assertEqual(gp.check_depth("0"), 0)
        self.assertEqual(gp.check_depth("5"), 5)
        for d in ["-1", "x", "1e9", "9999999"]:
            with self.assertRaises(gp.Refused, msg=d):
                gp.check_depth(d)

    def test_landing(self):
        self.assertEqual(gp.landing(None, "week1", None), "lab/tree/week1")
        self.assertEqual(gp.landing(None, "week1", "."), "lab/tree/week1")
        self.assertEqual(gp.landing(None, "week 1", "hw/a.ipynb"), "lab/tree/week%201/hw/a.ipynb")
        self.assertEqual(gp.landing("lab/tree/week1/README.md", "week1", None), "lab/tree/week1/README.md")
        self.assertEqual(gp.landing("lab/tree/Übung.ipynb?reset", "x", None), "lab/tree/%C3%9Cbung.ipynb?reset")
        for u in ["//evil.example", "https://evil.example/x", "/hub/home", "lab/../../hub/admin", "\\\\evil.example", "lab\\..\\x", "javascript:alert(1)", "lab/\nx"]:
            with self.assertRaises(gp.Refused, msg=u):
                gp.landing(u, "week1", None)
        with self.assertRaises(gp.Refused):
            gp.landing(None, "week1", "../../x")


class ExistingClone(unittest.TestCase):
    """A link updates only a clone of its own repository."""

    def test_only_the_same_repository(self):
        with tempfile.TemporaryDirectory() as tmp:
            url = "https://git.example.edu/notes"

            def git(*args):
                subprocess.run(["git", *args], check=True, capture_output=True)

            plain = os.path.join(tmp, "plain")
            os.makedirs(os.path.join(plain, "sub"))
            self.assertIn("not a git clone", gp.existing_clone_problem(plain, url))
            git("init", "-q", plain)
            self.assertIn("no repository", gp.existing_clone_problem(plain, url))
            git("-C", plain, "remote", "add", "origin", "https://elsewhere.example/x")
            self.assertIn("elsewhere", gp.existing_clone_problem(plain, url))
            git("-C", plain, "remote", "set-url", "origin", url)
            self.assertIsNone(gp.existing_clone_problem(plain, url))
            # A folder inside a clone is not that clone.
            self.assertIn("not a git clone", gp.existing_clone_problem(os.path.join(plain, "sub"), url))


class Extension(unittest.TestCase):
    def test_points_at_itself(self):
        self.assertEqual(gp._jupyter_server_extension_points(), [{"module": "jhub_gitpull"}])
        if REAL:
            # The real decorators wrapped the handler: authenticated, then authorized.
            self.assertTrue(hasattr(gp.GitPullHandler.get, "__wrapped__"))
            self.assertEqual(gp.GitPullHandler.auth_resource, "contents")

    @unittest.skipUnless(REAL, "needs jupyter-server (the lab image)")
    def test_course_dir_from_config_d(self):
        # As prepare writes it, after Debian's own switch files.
        with tempfile.TemporaryDirectory() as system, tempfile.TemporaryDirectory() as user:
            d = os.path.join(system, "jupyter_server_config.d")
            os.makedirs(d)
            with open(os.path.join(d, "nbgitpuller.json"), "w") as f:
                f.write('{"ServerApp": {"jpserver_extensions": {"nbgitpuller": true}}}')
            with open(os.path.join(d, "zz_jhub.json"), "w") as f:
                f.write('{"ServerApp": {"jpserver_extensions": {"nbgitpuller": false, "jhub_gitpull": true}}, "JhubGitPull": {"course_dir": "/srv/course"}}')
            self.assertEqual(gp.configured_course_dir([user, system]), "/srv/course")
            self.assertEqual(gp.configured_course_dir([user]), "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
