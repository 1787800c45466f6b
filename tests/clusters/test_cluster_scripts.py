"""The cluster-side reporter (clusters/scripts/yaptide_batch.py), run here with this Python: TLS is verified."""

import datetime
import importlib.util
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from clusters.slurm import SCRIPTS


def reporter():
    spec = importlib.util.spec_from_file_location("yaptide_batch", SCRIPTS / "yaptide_batch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def https_server(tmp_path):
    """An HTTPS server on loopback with a self-signed certificate, recording the requests it gets."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def test_the_reporter_refuses_a_backend_whose_certificate_it_cannot_verify(https_server, tmp_path, capsys, monkeypatch):
    url, received = https_server
    (tmp_path / "config.json").write_text(json.dumps({"job_id": "j", "url": url}))
    (tmp_path / "update_key").write_text("key\n")
    module = reporter()
    monkeypatch.setattr(module.time, "sleep", lambda _seconds: None)  # the time module itself: undone after

    assert module.Backend(str(tmp_path)).post("tasks/1/", {"task_state": "RUNNING"}) is False

    assert received == []
    assert "CERTIFICATE_VERIFY_FAILED" in capsys.readouterr().err


def test_the_reporter_without_a_callback_url_sends_nothing(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"job_id": "j", "url": ""}))
    (tmp_path / "update_key").write_text("key\n")
    assert reporter().Backend(str(tmp_path)).post("", {"job_state": "FAILED"}) is False
