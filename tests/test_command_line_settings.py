"""Prefect settings of command-line runs: no flow heartbeats (unless configured), chosen API URL."""

from __future__ import annotations

from prefect.settings import get_current_settings

from flows.analysis import command_line_settings


def test_heartbeats_off_and_api_url_applied(monkeypatch):
    monkeypatch.delenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", raising=False)
    monkeypatch.delenv("PREFECT_RUNNER_HEARTBEAT_FREQUENCY", raising=False)
    before = get_current_settings()
    with command_line_settings("http://127.0.0.1:9/api"):
        now = get_current_settings()
        assert now.flows.heartbeat_frequency is None
        assert str(now.api.url) == "http://127.0.0.1:9/api"
    after = get_current_settings()
    assert after.flows.heartbeat_frequency == before.flows.heartbeat_frequency
    assert after.api.url == before.api.url


def test_configured_heartbeats_are_kept(monkeypatch):
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    before = get_current_settings()
    with command_line_settings():
        now = get_current_settings()
        assert now.flows.heartbeat_frequency == 60  # the user's value, not switched off
        assert now.api.url == before.api.url
