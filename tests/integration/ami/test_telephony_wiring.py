"""``start_telephony``: what the composition root gets with and without AMI configured."""

from __future__ import annotations

import logging

from pydantic import SecretStr

from ivr.runtime import IvrRuntime
from registratura.telephony import start_telephony
from support.fakes import QuietEngine


def test_without_ami_host_the_console_runs_alone(sqlite_container, caplog):
    with caplog.at_level(logging.INFO, logger="registratura.telephony"):
        assert start_telephony(sqlite_container) is None
    assert "AMI not configured: console runs without Asterisk" in caplog.text
    extras = sqlite_container.extras
    assert "ami" not in extras
    assert extras["agent_presence"]() is None
    snap = extras["live_board"].snapshot()
    assert snap["configured"] is False and snap["connected"] is False


def test_with_ami_host_presence_reaches_the_ivr(sqlite_container, sim, credentials, wait_until,
                                                tmp_path):
    user, secret = credentials
    settings = sqlite_container.settings
    settings.ami_host = sim.host
    settings.ami_port = sim.port
    settings.ami_username = user
    settings.ami_secret = SecretStr(secret)
    settings.ami_ping_interval = 0.2
    settings.ami_agent_interfaces = {"registrar1": "PJSIP/agent101"}
    settings.sounds_dir = tmp_path / "sounds"
    settings.record_dir = tmp_path / "recordings"
    sim.add_member("PJSIP/agent101", paused=True, emit=False)
    telephony = start_telephony(sqlite_container)
    assert telephony is not None
    try:
        extras = sqlite_container.extras
        assert extras["ami"] is telephony.ami and extras["live_board"] is telephony.board
        assert telephony.agent_interface("registrar1") == "PJSIP/agent101"
        assert telephony.ami.wait_connected(5)
        # The IVR built after start_telephony asks the board whether agents are there.
        runtime = IvrRuntime(sqlite_container, engine=QuietEngine(), host="127.0.0.1", port=0)
        try:
            assert runtime.deps.agents_available() is False  # the only agent is paused
            telephony.ami.queue_pause("PJSIP/agent101", False)
            assert wait_until(lambda: runtime.deps.agents_available() is True)
        finally:
            runtime.shutdown()
    finally:
        telephony.stop()
    assert extras["agent_presence"]() is None  # stopped: unknown, the IVR uses opening hours
