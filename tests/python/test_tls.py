"""prefixcache.Client over TLS against a real prefixcached whose RESP port speaks TLS, with
certificates made by tests/fixtures/make_test_certs.sh (the openssl CLI): keyword options
and client.tls* of the config file, an untrusted server, a required client certificate,
and the errors of unusable files."""

import json
import os
import subprocess

import pytest

import prefixcache
from conftest import Cluster

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "make_test_certs.sh")


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("certs"))
    subprocess.run(["bash", SCRIPT, folder], check=True)
    return lambda name: os.path.join(folder, name)


def tls_cluster(folder, certs, verify_clients=False, client=None):
    settings = {"tls": {"cert": certs("server.pem"), "key": certs("server.key"),
                        "ca": certs("ca.pem"), "verify_clients": verify_clients}}
    if client:
        settings["client"] = client
    return Cluster(folder, 1, settings)


def keys_and_values(n, salt):
    ns = prefixcache.Namespace(model_id="tls-test", model_revision=salt, dtype="uint8",
                               kv_layout="flat", block_size_tokens=4)
    keys = prefixcache.Hasher(ns).keys(list(range(4 * n)))
    return keys, [os.urandom(8192) for _ in range(n)]


def test_put_match_get_over_tls(tmp_path, certs):
    cluster = tls_cluster(str(tmp_path), certs)
    try:
        keys, values = keys_and_values(6, "kw")
        with prefixcache.Client(cluster.nodes, tls=True, tls_ca=certs("ca.pem"),
                                tls_server_name="127.0.0.1") as c:
            assert c.put(keys, values) == (6, 0)
            assert c.match(keys) == 6
            assert c.get(keys) == values
        # A client that does not trust the server's authority gets misses, no data.
        with prefixcache.Client(cluster.nodes, tls=True, tls_ca=certs("other-ca.pem"),
                                connect_timeout_ms=2000) as c:
            assert c.match(keys) == 0
            assert c.get(keys) == [None] * 6
        # Nor does a plaintext client.
        with prefixcache.Client(cluster.nodes, connect_timeout_ms=2000) as c:
            assert c.match(keys) == 0
    finally:
        cluster.stop()


def test_from_config_reads_client_tls(tmp_path, certs):
    cluster = tls_cluster(str(tmp_path), certs, verify_clients=True,
                          client={"tls": True, "tls_ca": certs("ca.pem"),
                                  "tls_cert": certs("client.pem"),
                                  "tls_key": certs("client.key")})
    try:
        keys, values = keys_and_values(3, "config")
        with prefixcache.Client.from_config(cluster.config_path) as c:
            assert c.put(keys, values) == (3, 0)
            assert c.get(keys) == values
        # Without a client certificate the node refuses the connection.
        with prefixcache.Client(cluster.nodes, tls=True, tls_ca=certs("ca.pem"),
                                connect_timeout_ms=2000) as c:
            assert c.match(keys) == 0
    finally:
        cluster.stop()


def test_unusable_tls_files_raise_value_error(tmp_path, certs):
    nodes = [("n1", "127.0.0.1:1")]
    with pytest.raises(ValueError, match="tls_ca: cannot read"):
        prefixcache.Client(nodes, tls=True, tls_ca=str(tmp_path / "none.pem"))
    with pytest.raises(ValueError, match="tls_key: .* does not match tls_cert"):
        prefixcache.Client(nodes, tls=True, tls_ca=certs("ca.pem"),
                           tls_cert=certs("client.pem"), tls_key=certs("server.key"))
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"client": {"tls_cert": certs("client.pem")}}))
    with pytest.raises(ValueError, match="client.tls_key: missing"):
        prefixcache.Client.from_config(str(config))
