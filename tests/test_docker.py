"""The production setup in `docker/`, read as Docker would read it (no engine runs here):
only the proxy is reachable from outside, every variable has a documented place in
`docker/.env.example`, every service comes back after a reboot, the proxy reaches the bridge
where compose puts it, and the build context leaves out what must not go into an image."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from ruamel.yaml import YAML

from bridge.config import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"


def compose() -> dict:
    return YAML(typ="safe").load((DOCKER / "compose.yaml").read_text(encoding="utf-8"))


def example_names() -> list[str]:
    text = (DOCKER / ".env.example").read_text(encoding="utf-8")
    return re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", text, flags=re.MULTILINE)


def test_only_the_proxy_is_published():
    services = compose()["services"]
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]
    assert {p.split(":")[0] for p in services["proxy"]["ports"]} == {"80", "443"}


def test_every_service_comes_back_after_a_restart():
    assert {name: s.get("restart") for name, s in compose()["services"].items()} == {
        "proxy": "unless-stopped",
        "bridge": "unless-stopped",
        "postgres": "unless-stopped",
    }


def test_postgresql_is_on_a_network_with_no_way_in_or_out():
    spec = compose()
    assert spec["services"]["postgres"]["networks"] == ["db"]
    assert spec["networks"]["db"] == {"internal": True}
    assert "db" not in spec["services"]["proxy"]["networks"]


def test_every_variable_compose_uses_is_in_the_env_example():
    text = (DOCKER / "compose.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used and used <= set(example_names())


def test_the_env_example_names_only_real_settings():
    settings = {f"BRIDGE_{name.upper()}" for name in Settings.model_fields}
    given = [name for name in example_names() if name.startswith("BRIDGE_")]
    assert given and set(given) <= settings
    assert "BRIDGE_DATABASE_URL" not in given  # compose.yaml sets it; one given here would be ignored


def test_the_database_password_never_goes_into_a_url():
    bridge = compose()["services"]["bridge"]["environment"]
    assert "${" not in bridge["BRIDGE_DATABASE_URL"]
    assert bridge["PGPASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_the_proxy_hands_requests_to_the_bridge_where_compose_runs_it():
    caddyfile = (DOCKER / "Caddyfile").read_text(encoding="utf-8")
    (upstream,) = re.findall(r"^\s*reverse_proxy\s+(\S+)\s*$", caddyfile, flags=re.MULTILINE)
    service, port = upstream.split(":")
    bridge = compose()["services"][service]
    assert bridge["expose"] == [port]
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert f'"--port", "{port}"' in dockerfile
    (site,) = re.findall(r"^\{\$([A-Z_]+)\}\s*\{", caddyfile, flags=re.MULTILINE)
    assert site in example_names() and site in compose()["services"]["proxy"]["environment"]


def ignored(path: str, patterns: list[str]) -> bool:
    """Whether a .dockerignore of `patterns` leaves `path` out: a pattern matches the path or a
    folder it is in, and one starting `**/` matches at any depth."""
    parts = path.split("/")
    from_top = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    anywhere = ["/".join(parts[i:n]) for i in range(len(parts)) for n in range(i + 1, len(parts) + 1)]
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatchcase(c, pattern[3:]) for c in anywhere):
                return True
        elif any(fnmatch.fnmatchcase(c, pattern) for c in from_top):
            return True
    return False


def test_the_build_context_leaves_out_environments_data_git_and_caches():
    build = compose()["services"]["bridge"]["build"]
    context = (DOCKER / build["context"]).resolve()
    lines = (context / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    left_out = [
        ".venv/bin/python", "var/bridge.db", ".git/HEAD", "src/bridge/__pycache__/cli.cpython-311.pyc",
        ".pytest_cache/v/cache", ".hypothesis/examples/x", ".env", "docker/.env", "src/ticket_bridge.egg-info/PKG-INFO",
    ]
    assert [path for path in left_out if not ignored(path, patterns)] == []
    dockerfile = (context / build["dockerfile"]).read_text(encoding="utf-8")
    copied = " ".join(re.findall(r"^COPY\s+(.+)\s+\S+$", dockerfile, flags=re.MULTILINE)).split()
    needed = [*copied, "src/bridge/cli.py", "src/bridge/store/migrations/versions/0001_inbox_decisions_actions.py", "workflows/service-sheet.yaml"]
    assert set(copied) == {"pyproject.toml", "README.md", "src", "workflows"}
    assert [path for path in needed if ignored(path, patterns)] == []
