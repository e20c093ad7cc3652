"""Several Rasa servers behind nginx, started from the files a deployment installs.

A deployment runs the units in ``deploy/systemd/`` (``rasa@N``, ``actions@N``, ``web``,
``migrate``) with the environment files next to them, ``deploy/endpoints.yml`` (PostgreSQL
tracker store, Redis lock store) and ``deploy/nginx/companion.conf`` in front. Docker and
systemd are not available where the tests run, so this module reads those very files and
starts the same command lines, with the ports, paths and certificate a test or a benchmark
gives: what is tested is what is shipped, not a copy of it.

The processes are ``bot.runner.Service`` objects, started, awaited and stopped with the
runner's functions; Redis and nginx get a readiness check of their own (Redis speaks no
HTTP, and nginx serves TLS with a test certificate).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bot import runner, settings

DEPLOY_DIR = settings.PROJECT_ROOT / "deploy"
UNITS_DIR = DEPLOY_DIR / "systemd"
NGINX_SITE = DEPLOY_DIR / "nginx" / "companion.conf"
#: Where the units expect the code and their environment files on a real host.
INSTALL_ROOT = "/opt/companion"
CONFIG_ROOT = "/etc/companion"
#: The ports the shipped files name for Rasa server 1 and 2 and the web app.
SHIPPED_RASA_PORTS = (5005, 5006)
SHIPPED_WEB_PORT = 8000
#: Where the shipped site file writes nginx's access log, and that log's name.
SHIPPED_LOG_DIR = "/var/log/nginx"
ACCESS_LOG = "access.log"

_VARIABLE = re.compile(r"\$\{(\w+)\}")


# ----------------------------------------------------------------------------- systemd units


@dataclass
class Unit:
    """What of a systemd service unit decides the process it starts."""

    path: Path
    exec_start: str
    working_directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    environment_files: list[str] = field(default_factory=list)


def read_unit(path: Path) -> Unit:
    """The ``[Service]`` settings of a unit file that this module knows how to run.

    systemd allows a key more than once (``Environment=``, ``EnvironmentFile=``), so this is
    not ``configparser``'s format.
    """
    section = None
    exec_start = None
    unit = Unit(path=path, exec_start="")
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Service" or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if key == "ExecStart":
            exec_start = value
        elif key == "WorkingDirectory":
            unit.working_directory = value
        elif key == "Environment":
            for assignment in shlex.split(value):
                name, _, setting = assignment.partition("=")
                unit.environment[name] = setting
        elif key == "EnvironmentFile":
            unit.environment_files.append(value)
    if not exec_start:
        raise ValueError(f"{path.name} has no ExecStart=")
    unit.exec_start = exec_start
    return unit


def read_environment_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as systemd reads them: comments, blank lines, optional quotes."""
    found: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")) or "=" not in line:
            continue
        key, value = (part.strip() for part in line.split("=", 1))
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[key] = value
    return found


def unit_command(
    unit: Unit, *, instance: str | None, config_dir: Path, root: Path
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment systemd would give ``unit``'s process.

    ``%i`` becomes ``instance``; environment files are read from ``config_dir`` instead of
    /etc/companion and the code is ``root`` instead of /opt/companion; ``${VAR}`` in
    ExecStart is replaced by the environment's value, one word each, as systemd does.
    """

    def specifiers(text: str) -> str:
        text = text.replace("%i", instance or "").replace("%%", "%")
        return text.replace(CONFIG_ROOT, str(config_dir)).replace(INSTALL_ROOT, str(root))

    env: dict[str, str] = {}
    for name in unit.environment_files:
        optional = name.startswith("-")
        path = Path(specifiers(name.lstrip("-")))
        if path.exists() or not optional:
            env.update(read_environment_file(path))
    env.update({key: specifiers(value) for key, value in unit.environment.items()})

    def expand(word: str) -> str:
        def value(match: re.Match[str]) -> str:
            if match.group(1) not in env:
                raise KeyError(f"{unit.path.name}: ${{{match.group(1)}}} is not set")
            return env[match.group(1)]

        return _VARIABLE.sub(value, word)

    command = [expand(specifiers(word)) for word in shlex.split(unit.exec_start)]
    return command, env


def unit_service(
    unit_name: str,
    *,
    instance: str | None = None,
    config_dir: Path,
    ready_url: str,
    root: Path = settings.PROJECT_ROOT,
) -> runner.Service:
    """A runner Service that starts ``deploy/systemd/<unit_name>`` as systemd would."""
    unit = read_unit(UNITS_DIR / unit_name)
    command, env = unit_command(unit, instance=instance, config_dir=config_dir, root=root)
    name = unit_name.replace("@.", f"@{instance}.") if instance else unit_name
    return runner.Service(
        name=name, command=command, ready_url=ready_url, env=env, inherit_environment=False
    )


# ----------------------------------------------------------------------------- Redis, nginx


class RedisService(runner.Service):
    """A throwaway redis-server: nothing written to disk, a password, loopback only."""

    def is_ready(self) -> bool:
        port = int(self.command[self.command.index("--port") + 1])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False


def redis_service(port: int, password: str, workdir: Path) -> RedisService:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--requirepass", password]
    command += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
    return RedisService(name="redis", command=command, ready_url="")


class NginxService(runner.Service):
    """nginx on a test port, ready when it answers over TLS with the test certificate."""

    ca_file: str = ""

    def is_ready(self) -> bool:
        context = ssl.create_default_context(cafile=self.ca_file)
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2, context=context) as response:
                return response.status < 500
        except urllib.error.HTTPError as error:
            return error.code < 500
        except (urllib.error.URLError, OSError):
            return False


def render_nginx_site(
    *,
    rasa_ports: list[int],
    web_port: int,
    https_port: int,
    cert: Path,
    key: Path,
    log_dir: Path,
) -> str:
    """deploy/nginx/companion.conf with test ports, served names, certificate and log folder,
    for as many Rasa servers as ``rasa_ports`` names (up to the shipped two).

    The Rasa server named ``chat.companion.example`` is served as 127.0.0.1 (what a client
    of the test sends as Host), the web app as ``localhost``; the port-80 redirect is left
    out; what the file logs in ``/var/log/nginx/`` goes to ``log_dir``. Everything else, the
    upstreams, locations and log format, is used as shipped.
    """
    site = NGINX_SITE.read_text().replace(f"{SHIPPED_LOG_DIR}/", f"{log_dir}/")
    redirect = re.compile(r"server \{\s*listen 80;.*?\n\}\n", re.S)
    site, dropped = redirect.subn("", site)
    if not 0 < len(rasa_ports) <= len(SHIPPED_RASA_PORTS):
        raise ValueError(f"the shipped site file names {len(SHIPPED_RASA_PORTS)} Rasa servers")
    for number, shipped in enumerate(SHIPPED_RASA_PORTS):
        if number < len(rasa_ports):
            site = site.replace(f"127.0.0.1:{shipped} ", f"127.0.0.1:{rasa_ports[number]} ")
        else:
            # Fewer servers than shipped: their lines go, as a clinic running one would delete them.
            site = re.sub(rf"\n[ \t]*server 127\.0\.0\.1:{shipped} [^\n]*;", "", site)
    site = site.replace(f"127.0.0.1:{SHIPPED_WEB_PORT};", f"127.0.0.1:{web_port};")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    site = site.replace("server_name chat.companion.example;", "server_name 127.0.0.1;")
    site = site.replace("server_name companion.example;", "server_name localhost;")
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    if dropped != 1 or site.count(f"listen 127.0.0.1:{https_port} ssl") != 2:
        raise ValueError(f"{NGINX_SITE} no longer has the shape render_nginx_site expects")
    return site


def nginx_service(site: str, workdir: Path, https_port: int, ca_file: Path) -> NginxService:
    """nginx in the foreground with everything it writes in ``workdir``.

    The main configuration is a distribution's (Debian's nginx.conf): an http-level access
    log in nginx's default (combined) format at ``workdir/access.log``, so the site file is
    tested as it would really be included, where it must replace that log's format.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "companion.conf").write_text(site)
    temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\npid {workdir / 'nginx.pid'};\n"
        f"error_log {workdir / 'error.log'} warn;\n"
        "events { worker_connections 512; }\n"
        f"http {{\n    access_log {workdir / ACCESS_LOG};\n"
        f"    client_body_temp_path {temp['body']};\n    proxy_temp_path {temp['proxy']};\n"
        f"    fastcgi_temp_path {temp['fastcgi']};\n    uwsgi_temp_path {temp['uwsgi']};\n"
        f"    scgi_temp_path {temp['scgi']};\n    include {workdir / 'companion.conf'};\n}}\n"
    )
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    command = [binary, "-e", str(workdir / "error.log"), "-p", str(workdir), "-c", str(conf)]
    service = NginxService(
        name="nginx",
        command=[*command, "-g", "daemon off;"],
        ready_url=f"https://127.0.0.1:{https_port}/",
    )
    service.ca_file = str(ca_file)
    return service


def self_signed_certificate(workdir: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, valid for a day: (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "companion test")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    workdir.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = workdir / "cert.pem", workdir / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def migrate(config_dir: Path) -> subprocess.CompletedProcess[str]:
    """``migrate.service``'s command line, run as systemd would run it before the servers
    (the database must exist); the finished process, for its exit status and output."""
    service = unit_service("migrate.service", config_dir=config_dir, ready_url="")
    return subprocess.run(
        service.command,
        env={"PATH": "/usr/bin:/bin", **service.env},
        cwd=settings.PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# ----------------------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    """A running deployment: the balancer's address and each process by name."""

    balancer_url: str
    #: The same nginx, as the web app's server name (``localhost`` in the test).
    web_balancer_url: str
    #: nginx's access log, which the shipped site file writes to.
    access_log: Path
    rasa_urls: list[str]
    ca_file: Path
    services: dict[str, runner.Service]

    def rasa_service(self, number: int) -> runner.Service:
        return self.services[f"rasa@{number}.service"]


def write_environment(
    config_dir: Path, shared: dict[str, str], rasa_ports: list[int], action_ports: list[int]
) -> None:
    """companion.env and instance-N.env in ``config_dir``: the shipped files with the given
    values in place of theirs (a key the shipped file lacks is an error: the test would then
    be running a configuration nobody ships)."""
    config_dir.mkdir(parents=True, exist_ok=True)
    shipped = read_environment_file(UNITS_DIR / "companion.env")
    unknown = sorted(set(shared) - set(shipped))
    if unknown:
        raise KeyError(f"deploy/systemd/companion.env has no {', '.join(unknown)}")
    lines = [f"{key}={value}" for key, value in {**shipped, **shared}.items()]
    (config_dir / "companion.env").write_text("\n".join(lines) + "\n")
    for number, (rasa_port, action_port) in enumerate(
        zip(rasa_ports, action_ports, strict=True), 1
    ):
        instance = read_environment_file(UNITS_DIR / f"instance-{number}.env")
        instance.update(RASA_PORT=str(rasa_port), COMPANION_ACTION_PORT=str(action_port))
        lines = [f"{key}={value}" for key, value in instance.items()]
        (config_dir / f"instance-{number}.env").write_text("\n".join(lines) + "\n")


@contextmanager
def started(workdir: Path, shared_env: dict[str, str], *, servers: int = 2) -> Iterator[Cluster]:
    """Redis, ``servers`` pairs of action server and Rasa server, and nginx, running.

    ``shared_env`` replaces values of deploy/systemd/companion.env (DATABASE_URL, the
    secrets, the data key file...); Redis's host, port and password are this function's.
    The database must exist and be migrated (``migrate.service`` does that on a host).
    """
    redis_port, https_port = runner.free_port(), runner.free_port()
    rasa_ports = [runner.free_port() for _ in range(servers)]
    action_ports = [runner.free_port() for _ in range(servers)]
    redis_password = os.urandom(16).hex()
    config_dir = workdir / "etc"
    write_environment(
        config_dir,
        {
            **shared_env,
            "COMPANION_REDIS_HOST": "127.0.0.1",
            "COMPANION_REDIS_PORT": str(redis_port),
            "COMPANION_REDIS_PASSWORD": redis_password,
        },
        rasa_ports,
        action_ports,
    )
    cert, key = self_signed_certificate(workdir / "tls")
    running: list[runner.Service] = [redis_service(redis_port, redis_password, workdir)]
    for number, (rasa_port, action_port) in enumerate(
        zip(rasa_ports, action_ports, strict=True), 1
    ):
        running.append(
            unit_service(
                "actions@.service",
                instance=str(number),
                config_dir=config_dir,
                ready_url=f"http://127.0.0.1:{action_port}/health",
            )
        )
        running.append(
            unit_service(
                "rasa@.service",
                instance=str(number),
                config_dir=config_dir,
                ready_url=f"http://127.0.0.1:{rasa_port}/",
            )
        )
    site = render_nginx_site(
        rasa_ports=rasa_ports,
        web_port=runner.free_port(),
        https_port=https_port,
        cert=cert,
        key=key,
        log_dir=workdir / "nginx",
    )
    running.append(nginx_service(site, workdir / "nginx", https_port, cert))
    try:
        for service in running:
            service.start()
        for service in running:
            runner.wait_until_ready(service)
        yield Cluster(
            balancer_url=f"https://127.0.0.1:{https_port}",
            web_balancer_url=f"https://localhost:{https_port}",
            access_log=workdir / "nginx" / ACCESS_LOG,
            rasa_urls=[f"http://127.0.0.1:{port}" for port in rasa_ports],
            ca_file=cert,
            services={service.name: service for service in running},
        )
    finally:
        runner.stop_all(running)
