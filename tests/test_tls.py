"""HTTPS end to end, on loopback with certificates made here (trustme): ``workbench serve
--certfile/--keyfile``, and the client checking the certificate on every request it makes
(probing, runs, cancel, the event stream, finding a Jupyter server), with the CA from
``cafile=`` or ``$WORKBENCH_CA_BUNDLE``; and what it says when the check fails."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from servers import LoopThread, start_app, start_server
from test_client import fake_jupyter

import workbench as wb
from workbench.core.contract import contract_violations
from workbench.core.events import parse_event
from workbench.core.handle import Run
from workbench.errors import ServerError
from workbench.remote import client, discovery
from workbench.remote.connection import Connection
from workbench.remote.remote_run import RemoteRun
from workbench.tls import server_context

TOKEN = "t0ken-for-tls-tests"
UNTRUSTED = ("failed verification (unable to get local issuer certificate). If the server has a certificate of its "
             "own (a workshop's self-signed one, say), trust its CA: wb.connect(url, cafile='ca.pem'), or set "
             "WORKBENCH_CA_BUNDLE=ca.pem")


@dataclass(frozen=True)
class Pki:
    """A workshop's own CA and a server certificate for 127.0.0.1, as PEM files."""

    ca: Path
    cert: Path
    key: Path
    both: Path  # the certificate and its key in one file
    other_ca: Path  # a CA that did not sign the certificate
    other_key: Path  # a key of another certificate


def make_pki(folder: Path) -> Pki:
    ca, other = trustme.CA(), trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    pki = Pki(ca=folder / "ca.pem", cert=folder / "cert.pem", key=folder / "key.pem", both=folder / "both.pem",
              other_ca=folder / "other-ca.pem", other_key=folder / "other-key.pem")
    ca.cert_pem.write_to_path(str(pki.ca))
    other.cert_pem.write_to_path(str(pki.other_ca))
    leaf.cert_chain_pems[0].write_to_path(str(pki.cert))
    leaf.private_key_pem.write_to_path(str(pki.key))
    leaf.private_key_and_cert_chain_pem.write_to_path(str(pki.both))
    other.issue_cert("127.0.0.1").private_key_pem.write_to_path(str(pki.other_key))
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(autouse=True)
def no_connection_left_behind(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("WORKBENCH_CA_BUNDLE", raising=False)
    yield
    wb.disconnect()


class TlsRemote:
    """The standalone server over HTTPS (its certificate file holding the key too), in a thread."""

    def __init__(self, tmp_path: Path, pki: Pki) -> None:
        self.thread = LoopThread()
        self.served = self.thread.run(start_server(tmp_path, token=TOKEN, ssl_context=server_context(str(pki.both))))
        self.root, self.api, self.port = self.served.root, self.served.api, self.served.port
        self._trust = ssl.create_default_context(cafile=str(pki.ca))

    def log(self, run_id: str) -> list[dict[str, Any]]:
        request = urllib.request.Request(f"{self.api}/runs/{run_id}/log", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10, context=self._trust) as response:
            lines = response.read().decode().splitlines()
        return [parse_event(line).to_dict() for line in lines[1:]]

    def close(self) -> None:
        self.thread.run(self.served.runner.cleanup())
        self.thread.close()


@pytest.fixture
def remote(tmp_path: Path, pki: Pki):
    server = TlsRemote(tmp_path, pki)
    yield server
    server.close()


def dicts(run: Run) -> list[dict[str, Any]]:
    return [e.to_dict() for e in run.events]


def test_a_whole_run_streams_over_https_with_the_ca_file(remote: TlsRemote, pki: Pki):
    assert remote.root.startswith("https://127.0.0.1:")
    connection = wb.connect(remote.root, token=TOKEN, cafile=pki.ca)  # probed: {root}/api/runs over TLS
    assert connection.kind == "standalone" and connection.api == remote.api
    run = wb.run("Write a haiku", strategy="react", options={"pace": 300})
    assert isinstance(run, RemoteRun)
    assert run.wait(30).status == "complete"
    assert run.events[-1].type == "execution:complete"
    assert dicts(run) == remote.log(run.id) and contract_violations(list(run.events)) == []
    assert run.follow_stats.connections == 1 and run.follow_error is None
    assert [s["id"] for s in wb.runs()] == [run.id]


def test_the_ca_bundle_variable_is_used_by_every_request(remote: TlsRemote, pki: Pki, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("WORKBENCH_CA_BUNDLE", str(pki.ca))
    wb.connect(remote.api, TOKEN)
    running = wb.run("Write a long essay", options={"pace": 30})  # POST /runs, then the event stream
    while len(running.events) < 3:
        time.sleep(0.01)
    attached = wb.attach(running.id)  # GET /runs/{id}, and a second stream
    assert running.cancel() is True  # POST /runs/{id}/cancel
    assert running.wait(15).status == "cancelled" and attached.wait(15).status == "cancelled"
    assert dicts(running) == dicts(attached) == remote.log(running.id)
    assert running.follow_error is None and attached.follow_error is None


def test_without_the_ca_the_certificate_is_refused_with_what_to_do(remote: TlsRemote, pki: Pki,
                                                                   monkeypatch: pytest.MonkeyPatch):
    with pytest.raises(ServerError) as info:
        wb.connect(remote.root, token=TOKEN)
    assert str(info.value) == f"the TLS certificate of {remote.api} {UNTRUSTED}"
    assert info.value.status is None and TOKEN not in str(info.value)
    monkeypatch.setenv("WORKBENCH_CA_BUNDLE", str(pki.other_ca))  # a CA, but not this certificate's
    with pytest.raises(ServerError) as info:
        wb.connect(remote.api, token=TOKEN)
    assert str(info.value) == f"the TLS certificate of {remote.api} {UNTRUSTED}"
    assert client.current() is None

    named = remote.root.replace("127.0.0.1", "localhost")  # trusted, but made for another name
    with pytest.raises(ServerError) as info:
        wb.connect(named, token=TOKEN, cafile=pki.ca)
    assert str(info.value) == (f"the TLS certificate of {named}/api failed verification (Hostname mismatch, "
                               "certificate is not valid for 'localhost'): connect with the host name or address the "
                               "certificate was made for")


def test_an_event_stream_without_the_ca_stops_at_once_with_the_error(remote: TlsRemote, pki: Pki):
    wb.connect(remote.root, token=TOKEN, cafile=pki.ca)
    assert wb.run("Write a haiku", strategy="react").wait(30).status == "complete"
    summary = wb.runs()[0]
    untrusting = Connection(remote.api, "standalone", TOKEN)  # the system's CAs only
    run = RemoteRun.follow(untrusting, summary)
    with pytest.raises(ServerError) as info:
        run.wait(10)
    assert str(info.value) == f"the TLS certificate of {remote.api}/runs/{summary['id']}/events {UNTRUSTED}"
    assert run.follow_error is info.value and len(run.events) == 0
    assert (run.follow_stats.connections, run.follow_stats.reconnects) == (1, 0)  # no retrying what cannot work


def test_http_and_https_mixed_up_are_clear_errors(remote: TlsRemote, pki: Pki, tmp_path: Path):
    plain = remote.thread.run(start_server(tmp_path / "plain", token=TOKEN))
    try:
        https_to_plain = f"https://127.0.0.1:{plain.port}"
        with pytest.raises(ServerError) as info:
            wb.connect(https_to_plain, TOKEN, cafile=pki.ca, kind="standalone")
        assert str(info.value) == (f"the TLS handshake with {https_to_plain}/api failed (WRONG_VERSION_NUMBER); does "
                                   "the server speak HTTPS? A server without --certfile takes an http:// URL")
        http_to_tls = remote.root.replace("https://", "http://")
        with pytest.raises(ServerError) as info:
            wb.connect(http_to_tls, TOKEN, kind="standalone")
        assert str(info.value) == (f"cannot reach the workbench server at {http_to_tls}/api: it closed the "
                                   "connection (if it serves HTTPS, use an https:// URL). Is it running (workbench "
                                   "serve, or Jupyter with the workbench extension)?")
    finally:
        remote.thread.run(plain.runner.cleanup())


def test_a_ca_file_that_cannot_be_used_is_refused_before_any_request(tmp_path: Path, pki: Pki,
                                                                      monkeypatch: pytest.MonkeyPatch):
    missing, junk = tmp_path / "missing.pem", tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    url = "https://127.0.0.1:9"  # nothing listens: the CA file is refused first
    with pytest.raises(wb.UserError) as info:
        wb.connect(url, TOKEN, cafile=missing)
    assert str(info.value) == f"cannot read the CA file {missing} (cafile=): No such file or directory"
    with pytest.raises(wb.UserError) as info:
        wb.connect(url, TOKEN, cafile=pki.key)
    assert str(info.value) == (f"the CA file {pki.key} (cafile=) holds no CA certificate (NO_CERTIFICATE_OR_CRL_FOUND): "
                               "it must be a PEM file of '-----BEGIN CERTIFICATE-----' blocks, such as the "
                               "workshop's ca.pem")
    monkeypatch.setenv("WORKBENCH_CA_BUNDLE", str(junk))
    with pytest.raises(wb.UserError) as info:
        wb.connect(url, TOKEN)
    assert str(info.value).startswith(f"the CA file {junk} (WORKBENCH_CA_BUNDLE) holds no CA certificate")
    monkeypatch.setenv("WORKBENCH_CA_BUNDLE", str(tmp_path))
    with pytest.raises(wb.UserError) as info:
        wb.connect(url, TOKEN)
    assert str(info.value) == f"cannot read the CA file {tmp_path} (WORKBENCH_CA_BUNDLE): Is a directory"


def test_the_kernel_s_jupyter_server_is_found_over_https(pki: Pki, monkeypatch: pytest.MonkeyPatch):
    thread = LoopThread()
    tls = server_context(str(pki.cert), str(pki.key))
    runner, port = thread.run(start_app(fake_jupyter("t-ada", ["k-ours"], "/user/ada/"), tls))
    other, other_port = thread.run(start_app(fake_jupyter("t-bob", ["k-bob"]), tls))
    try:
        root, bob = f"https://127.0.0.1:{port}/user/ada/", f"https://127.0.0.1:{other_port}/"
        servers = [discovery.JupyterServer(bob, "t-bob"), discovery.JupyterServer(root, "t-ada")]
        monkeypatch.setattr(discovery, "running_servers", lambda: servers)
        monkeypatch.setattr(discovery, "kernel_id", lambda: "k-ours")
        with pytest.raises(ServerError) as info:
            wb.connect()  # neither certificate is trusted: either could be this kernel's server
        assert str(info.value) == f"the TLS certificate of {bob} {UNTRUSTED}"
        monkeypatch.setenv("WORKBENCH_CA_BUNDLE", str(pki.ca))
        connection = wb.connect()  # GET api/sessions, then GET workbench/api/runs, both over TLS
        assert connection.kind == "jupyter" and connection.api == root + "workbench/api"
        assert wb.runs() == []
    finally:
        for started in (runner, other):
            thread.run(started.cleanup())
        thread.close()


# --- workbench serve --certfile --keyfile, as a real process ---------------------------------------


def test_workbench_serve_over_https(tmp_path: Path, pki: Pki):
    store = tmp_path / "runs.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "serve", "--port", "0", "--certfile", str(pki.cert),
         "--keyfile", str(pki.key), "--store", str(store), "--workspace-root", str(tmp_path / "ws")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1", "WORKBENCH_TOKEN": TOKEN})
    assert process.stdout is not None
    lines: list[str] = []
    try:
        while not lines or not lines[-1].startswith("Stop with Ctrl-C"):
            line = process.stdout.readline()
            assert line, lines
            lines.append(line.rstrip("\n"))
        url = lines[0].split()[3].removesuffix("/api")
        assert url.startswith("https://127.0.0.1:")
        assert lines[0] == f"Workbench server on {url}/api (store: {store})"
        assert lines[2] == (f'From a notebook: import workbench as wb; wb.connect("{url}", token="<token>")  '
                            "(or set WORKBENCH_URL and WORKBENCH_TOKEN, then wb.connect())")
        assert lines[3] == ("HTTPS: a client whose system does not trust the certificate's issuer (a self-signed or "
                            "workshop CA) passes the CA's file: wb.connect(url, token=..., cafile='ca.pem'), or sets "
                            "WORKBENCH_CA_BUNDLE.")
        with pytest.raises(ServerError, match="it closed the connection"):
            wb.connect(url.replace("https://", "http://"), TOKEN)  # plain HTTP is not answered
        wb.connect(url, TOKEN, cafile=str(pki.ca))
        run = wb.run("Write a haiku", strategy="react")
        assert run.wait(30).status == "complete" and run.events[-1].type == "execution:complete"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "WARNING" not in err + out and TOKEN not in err + out
