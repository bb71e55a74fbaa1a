"""Where Redmine cannot be had, its tests skip with the reason, or fail under CI=true."""

from __future__ import annotations

import pytest

from tests.redmine_real import server


def test_without_root_redmine_is_skipped_with_the_reason(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("BRIDGE_TEST_REDMINE", raising=False)
    monkeypatch.setattr(server.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        server.install_or_skip()


def test_under_ci_what_would_skip_fails(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("BRIDGE_TEST_REDMINE", "0")  # not honoured under CI
    monkeypatch.setattr(server.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match="needs root"):
        server.install_or_skip()


def test_bridge_test_redmine_0_skips_before_trying_to_install(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("BRIDGE_TEST_REDMINE", "0")

    def install() -> None:
        raise AssertionError("tried to install")

    monkeypatch.setattr(server, "ensure_installed", install)
    with pytest.raises(pytest.skip.Exception, match="BRIDGE_TEST_REDMINE=0"):
        server.install_or_skip()
