"""The shipped nginx site file, rendered for one Rasa server or two (tests/support/cluster.py).

A clinic that runs one Rasa server deletes the second server's lines from
``deploy/nginx/companion.conf``; the cluster harness and bench/scale_out.py do the same, and
nginx itself must accept what they produce.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import cluster
import pytest


def _render(tmp_path: Path, rasa_ports: list[int]) -> str:
    cert, key = cluster.self_signed_certificate(tmp_path / "tls")
    return cluster.render_nginx_site(
        rasa_ports=rasa_ports,
        web_port=18000,
        https_port=18443,
        cert=cert,
        key=key,
        log_dir=tmp_path / "nginx",
    )


def _upstream_servers(site: str) -> dict[str, list[str]]:
    blocks = re.findall(r"upstream (\w+) \{(.*?)\}", site, re.S)
    return {name: re.findall(r"server (127\.0\.0\.1:\d+)", body) for name, body in blocks}


def test_one_server_leaves_one_line_in_each_chat_upstream(tmp_path):
    upstreams = _upstream_servers(_render(tmp_path, [15005]))
    assert upstreams["companion_rasa"] == ["127.0.0.1:15005"]
    assert upstreams["companion_rasa_socketio"] == ["127.0.0.1:15005"]
    assert upstreams["companion_web"] == ["127.0.0.1:18000"]


def test_two_servers_are_both_balanced(tmp_path):
    upstreams = _upstream_servers(_render(tmp_path, [15005, 15006]))
    assert upstreams["companion_rasa"] == ["127.0.0.1:15005", "127.0.0.1:15006"]
    assert upstreams["companion_rasa_socketio"] == ["127.0.0.1:15005", "127.0.0.1:15006"]


@pytest.mark.parametrize("ports", [[], [15005, 15006, 15007]])
def test_no_server_or_more_than_shipped_is_refused(tmp_path, ports):
    with pytest.raises(ValueError, match="Rasa servers"):
        _render(tmp_path, ports)


@pytest.mark.parametrize("servers", [1, 2])
def test_nginx_accepts_the_rendered_site(tmp_path, servers):
    cert, _ = cluster.self_signed_certificate(tmp_path / "tls")
    service = cluster.nginx_service(
        _render(tmp_path, [15005, 15006][:servers]), tmp_path / "nginx", 18443, cert
    )
    command = service.command[: service.command.index("-g")]
    result = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
