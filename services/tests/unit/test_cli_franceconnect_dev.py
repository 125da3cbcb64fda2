"""`assmat run` points identity and the gateway at the development FranceConnect provider, on the port after the
services', and starts it only in local runs and tests."""
from services.cli import FRANCECONNECT_DEV, FRANCECONNECT_DEV_MODULE, ProcessGroup, default_ports, \
    embedded_environment, start_all


def test_the_provider_gets_the_port_after_the_services():
    ports = default_ports()
    assert ports[FRANCECONNECT_DEV] == 8106 and ports["identity"] == 8101
    assert default_ports(9000, 9101)[FRANCECONNECT_DEV] == 9106


def test_the_local_environment_points_identity_and_the_gateway_at_it(tmp_path):
    env = embedded_environment(tmp_path, default_ports(), base={})
    assert env["FRANCECONNECT_ISSUER"] == "http://127.0.0.1:8106"
    assert env["FRANCECONNECT_CLIENT_ID"] and len(env["FRANCECONNECT_CLIENT_SECRET"]) == 64
    assert env["GATEWAY_FRANCECONNECT_ENABLED"] == "true"
    # The same secret on the next run of the same data folder, another one elsewhere.
    assert embedded_environment(tmp_path, default_ports(), base={})["FRANCECONNECT_CLIENT_SECRET"] == \
        env["FRANCECONNECT_CLIENT_SECRET"]
    assert embedded_environment(tmp_path / "other", default_ports(), base={})["FRANCECONNECT_CLIENT_SECRET"] != \
        env["FRANCECONNECT_CLIENT_SECRET"]


def test_without_its_port_nothing_is_configured(tmp_path):
    ports = {name: port for name, port in default_ports().items() if name != FRANCECONNECT_DEV}
    assert "FRANCECONNECT_ISSUER" not in embedded_environment(tmp_path, ports, base={})


class RecordingGroup(ProcessGroup):
    def start(self, name, argv):
        self.started = getattr(self, "started", []) + [(name, argv)]


def test_it_is_started_in_local_runs_only(tmp_path):
    env = embedded_environment(tmp_path, default_ports(), base={})
    group = RecordingGroup(env)
    start_all(group, env)
    assert (FRANCECONNECT_DEV, [group.started[-1][1][0], "-m", FRANCECONNECT_DEV_MODULE, "--port", "8106"]) \
        == group.started[-1]
    production = RecordingGroup({**env, "ASSMAT_ENV": "production"})
    start_all(production, production.env)
    assert FRANCECONNECT_DEV not in [name for name, _argv in production.started]
