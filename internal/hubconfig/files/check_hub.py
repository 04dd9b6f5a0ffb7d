#!/usr/bin/python3
"""Check a jupyterhub_config.py with JupyterHub's own loader, without starting the hub.

Rendered by terraform-provider-jhub; the installer runs it (as root) against a
staged release before switching to it. It loads the file with traitlets
(which loads the release's jhub_hub.py), resolves the authenticator and
spawner classes, fails on any c.<Class>.<name> that is not a configurable
trait of a class the hub uses (JupyterHub would only warn), instantiates the
hub, authenticator, spawner and proxy (which validates every value's type),
checks the roles' scopes, compiles the idle culler if the release has one,
and prints a JSON summary of what JupyterHub understood (no secret values,
not even hashes, only which admins have a password: the installer logs it).
"""

import json
import os
import sys

from traitlets.config.loader import PyFileConfigLoader

from jupyterhub.app import JupyterHub
from jupyterhub.proxy import ConfigurableHTTPProxy
from jupyterhub.scopes import scope_definitions


def main(path):
    path = os.path.abspath(path)
    cfg = PyFileConfigLoader(os.path.basename(path), path=os.path.dirname(path)).load_config()
    app = JupyterHub(config=cfg)
    auth_cls, spawner_cls = app.authenticator_class, app.spawner_class
    classes = {}
    for cls in [JupyterHub, ConfigurableHTTPProxy] + auth_cls.mro() + spawner_cls.mro():
        if hasattr(cls, "class_trait_names"):
            classes.setdefault(cls.__name__, cls)
    problems = []
    for section in sorted(cfg):
        cls = classes.get(section)
        if cls is None:
            problems.append("c.%s: not a class this hub uses (authenticator %s, spawner %s)" % (section, auth_cls.__name__, spawner_cls.__name__))
            continue
        names = set(cls.class_trait_names(config=True))
        for key in sorted(cfg[section]):
            if key not in names:
                problems.append("c.%s.%s: %s has no such setting" % (section, key, section))
    for role in app.load_roles:
        for scope in role.get("scopes", []):
            if scope.split("!")[0] not in scope_definitions:
                problems.append("c.JupyterHub.load_roles: role %r: unknown scope %r" % (role.get("name"), scope))
    culler = os.path.join(os.path.dirname(path), "idle_culler.py")
    if os.path.exists(culler):
        with open(culler, encoding="utf-8") as f:
            compile(f.read(), culler, "exec")
    if problems:
        for p in problems:
            print(p, file=sys.stderr)
        return 1
    auth = auth_cls(parent=app)
    spawner = spawner_cls(parent=app)
    proxy = ConfigurableHTTPProxy(parent=app)
    json.dump(
        {
            "authenticator_class": auth_cls.__module__ + "." + auth_cls.__name__,
            "spawner_class": spawner_cls.__module__ + "." + spawner_cls.__name__,
            "bind_url": app.bind_url,
            "hub_bind_url": app.hub_bind_url,
            "base_url": app.base_url,
            "cookie_secret_file": app.cookie_secret_file,
            "cleanup_servers": app.cleanup_servers,
            "allow_named_servers": app.allow_named_servers,
            "named_server_limit_per_user": app.named_server_limit_per_user,
            "cookie_options": app.tornado_settings.get("cookie_options"),
            "allowed_users": sorted(auth.allowed_users),
            "admins": sorted(getattr(auth, "admins", [])),
            "allow_all": auth.allow_all,
            "allow_existing_users": auth.allow_existing_users,
            "delete_invalid_users": auth.delete_invalid_users,
            "username_pattern": auth.username_pattern,
            "create_system_users": getattr(auth, "create_system_users", None),
            "class_password_set": bool(getattr(auth, "class_password", "")),
            "admins_with_password": sorted(getattr(auth, "admin_passwords", {})),
            "reserved_names": sorted(spawner.reserved_names),
            "students_group": spawner.students_group,
            "unit_properties": spawner.unit_properties,
            "notebook_dir": spawner.notebook_dir,
            "default_url": spawner.default_url,
            "cmd": spawner.cmd,
            "proxy_should_start": proxy.should_start,
            "proxy_api_url": proxy.api_url,
            "proxy_auth_token_len": len(proxy.auth_token),
            "services": [s["name"] for s in app.services],
            "roles": app.load_roles,
        },
        sys.stdout,
        sort_keys=True,
    )
    print()
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: check_hub.py JUPYTERHUB_CONFIG_PY", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
