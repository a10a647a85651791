"""notification_config: Mage's keys, defaults, env_var rendering, problems set aside, merging."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.alerts.helpers import write_alert_project
from weir.errors import ConfigError
from weir.orchestration.alerts import (
    AlertOn,
    DeliveryPolicy,
    EmailConfig,
    SlackConfig,
    TeamsConfig,
    WebhookConfig,
    load_notification_config,
    parse_notification_config,
)

EMAIL = {
    "smtp_host": "smtp.example.com",
    "smtp_mail_from": "weir@example.com",
    "to_emails": ["a@example.com", "b@example.com"],
}


def test_mages_keys_and_defaults() -> None:
    config = parse_notification_config(
        {
            "slack_config": {"webhook_url": "https://hooks.slack.com/services/T/B/X"},
            "teams_config": {"webhook_url": "https://example.webhook.office.com/x"},
            "email_config": {**EMAIL, "smtp_user": "u", "smtp_password": "p"},
            "message_templates": {"failure": {"title": "{{ pipeline_uuid }} broke"}},
        }
    )
    assert config.alert_on == (AlertOn.FAILURE, AlertOn.PASSED_SLA)  # Mage's default
    assert [type(c) for c in config.channels] == [SlackConfig, TeamsConfig, EmailConfig]
    email = config.channels[2]
    assert isinstance(email, EmailConfig)
    assert (email.port, email.smtp_starttls, email.to_emails) == (
        587,
        None,
        ("a@example.com", "b@example.com"),
    )
    assert email.model_copy(update={"smtp_ssl": True}).port == 465
    assert config.message_templates.failure is not None
    assert config.message_templates.failure.title == "{{ pipeline_uuid }} broke"
    assert config.problems == ()


def test_no_config_means_no_channels() -> None:
    config = parse_notification_config({})
    assert (config.channels, config.problems) == ((), ())


def test_alert_on_opt_in_and_unknown_values() -> None:
    config = parse_notification_config(
        {"alert_on": ["trigger_success", "trigger_failure", "on_tuesdays", "trigger_success"]}
    )
    assert config.alert_on == (AlertOn.SUCCESS, AlertOn.FAILURE)
    (problem,) = config.problems
    assert "notification_config.alert_on: unknown event 'on_tuesdays'" in problem
    assert parse_notification_config({"alert_on": []}).alert_on == ()


def test_channel_settings_render_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOOK_URL", "https://hooks.example.com/abc")
    monkeypatch.setenv("HOOK_TOKEN", "s3cret")
    config = parse_notification_config(
        {
            "webhook_config": {
                "url": "{{ env_var('HOOK_URL') }}",
                "headers": {"Authorization": "Bearer {{ env_var('HOOK_TOKEN') }}"},
            },
            "email_config": {**EMAIL, "smtp_password": "{{ env_var('NOT_SET_PW', 'fallback') }}"},
        }
    )
    webhook, email = config.channels
    assert isinstance(webhook, WebhookConfig)
    assert webhook.url == "https://hooks.example.com/abc"
    assert webhook.headers == {"Authorization": "Bearer s3cret"}
    assert isinstance(email, EmailConfig)
    assert email.smtp_password == "fallback"


def test_an_unset_variable_drops_that_channel_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_SUCH_VARIABLE", raising=False)
    config = parse_notification_config(
        {
            "slack_config": {"webhook_url": "{{ env_var('NO_SUCH_VARIABLE') }}"},
            "webhook_config": {"url": "http://127.0.0.1:9/hook"},
        },
        where="/p/metadata.yaml",
    )
    assert [c.kind for c in config.channels] == ["webhook"]
    (problem,) = config.problems
    assert problem.startswith("/p/metadata.yaml: notification_config.slack_config.webhook_url:")
    assert "environment variable 'NO_SUCH_VARIABLE' is not set" in problem


def test_bad_channels_are_explained_and_the_rest_kept() -> None:
    config = parse_notification_config(
        {
            "slack_config": {"webhook_url": None},  # Mage: no URL means switched off, silently
            "email_config": {**EMAIL, "to_emails": []},
            "webhook_config": [{"url": "ftp://nope"}, {"url": "https://ok.example.com"}, "x"],
            "teams_config": {"webhook_url": "{{ unclosed"},
            "telegram_config": {"bot_token": "t"},
        }
    )
    assert [c.kind for c in config.channels] == ["webhook"]
    problems = "\n".join(config.problems)
    assert "email_config: to_emails: Tuple should have at least 1 item" in problems
    assert "webhook_config[0]: url: Value error, must start with http:// or https://" in problems
    assert "webhook_config[2] must be a mapping" in problems
    assert "teams_config.webhook_url: bad Jinja template" in problems
    assert "telegram_config is not supported by Weir" in problems


def test_malformed_message_templates_fall_back_to_defaults() -> None:
    config = parse_notification_config({"message_templates": {"failure": "just text"}})
    assert config.message_templates.failure is None
    assert "message_templates is malformed" in config.problems[0]


def test_each_channel_may_narrow_alert_on() -> None:
    config = parse_notification_config(
        {
            "alert_on": ["trigger_failure", "trigger_success"],
            "slack_config": {
                "webhook_url": "https://s.example.com",
                "alert_on": ["trigger_failure"],
            },
            "webhook_config": {"url": "https://w.example.com"},
        }
    )
    kinds = {event: [c.kind for c in config.channels_for(event)] for event in AlertOn}
    assert kinds == {
        AlertOn.FAILURE: ["slack", "webhook"],
        AlertOn.SUCCESS: ["webhook"],
        AlertOn.PASSED_SLA: [],
    }


def test_base_url_from_the_config_or_mages_public_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAGE_PUBLIC_HOST", raising=False)
    assert parse_notification_config({}).base_url is None
    assert parse_notification_config({"base_url": "http://ui:6789/"}).base_url == "http://ui:6789"
    monkeypatch.setenv("MAGE_PUBLIC_HOST", "https://mage.example.com")
    assert parse_notification_config({}).base_url == "https://mage.example.com"


def test_the_pipelines_config_is_merged_over_the_projects(tmp_path: Path) -> None:
    project = write_alert_project(
        tmp_path,
        {"alert_on": ["trigger_failure"], "slack_config": {"webhook_url": "https://project"}},
        pipeline_config={"slack_config": {"webhook_url": "https://pipeline"}},
    )
    merged = load_notification_config(project, "etl")
    assert merged.alert_on == (AlertOn.FAILURE,)
    (slack,) = merged.channels
    assert isinstance(slack, SlackConfig)
    assert slack.webhook_url == "https://pipeline"
    (project_only,) = load_notification_config(project).channels
    assert isinstance(project_only, SlackConfig)
    assert project_only.webhook_url == "https://project"
    assert load_notification_config(project, "not_a_pipeline").channels == (project_only,)


def test_edits_are_seen_without_reloading_the_project(tmp_path: Path) -> None:
    project = write_alert_project(tmp_path, None)
    assert load_notification_config(project, "etl").channels == ()
    write_alert_project(tmp_path, {"webhook_config": {"url": "https://later"}})
    assert [c.kind for c in load_notification_config(project, "etl").channels] == ["webhook"]


def test_a_notification_config_that_is_not_a_mapping_is_an_error(tmp_path: Path) -> None:
    project = write_alert_project(tmp_path, None)
    (tmp_path / "metadata.yaml").write_text("notification_config: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"metadata.yaml: notification_config must be a mapping"):
        load_notification_config(project, "etl")


def test_delivery_settings() -> None:
    assert parse_notification_config({}).delivery == DeliveryPolicy()
    config = parse_notification_config({"delivery": {"attempts": 5, "timeout_seconds": "2.5"}})
    assert (config.delivery.attempts, config.delivery.timeout_seconds) == (5, 2.5)
    assert config.delivery.backoff_seconds == DeliveryPolicy().backoff_seconds
    for bad, reason in [
        ({"attempts": 0}, "attempts must be at least 1"),
        ({"tries": 2}, "must be a mapping with keys among"),
        ({"attempts": "many"}, "invalid literal"),
    ]:
        config = parse_notification_config({"delivery": bad})
        assert config.delivery == DeliveryPolicy()
        assert reason in config.problems[0]


def test_a_broken_pipeline_file_still_leaves_the_projects_config(tmp_path: Path) -> None:
    project = write_alert_project(tmp_path, {"webhook_config": {"url": "https://project"}})
    (tmp_path / "pipelines" / "etl" / "metadata.yaml").write_text("blocks: [\n")
    config = load_notification_config(project, "etl")
    assert [c.kind for c in config.channels] == ["webhook"]
    (problem,) = config.problems
    assert "malformed YAML" in problem
    assert problem.endswith("the pipeline's own notification_config is ignored")
