"""E-mail alerts against aiosmtpd on loopback: plain, STARTTLS with login, SMTPS, refusals."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from tests.integration.alerts.conftest import (
    PASSWORD,
    USER,
    Certificate,
    Mail,
    Mailbox,
    SmtpServer,
    free_port,
)
from tests.unit.alerts.helpers import failed_run, trigger_record, write_alert_project
from weir.orchestration.alerts import Delivery, notify_run_finished

RECIPIENTS = ["oncall@example.com", "data@example.com"]


def email_config(server: SmtpServer, **settings: Any) -> dict[str, Any]:
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.port,
        "smtp_mail_from": "weir@example.com",
        "to_emails": RECIPIENTS,
        **settings,
    }


def send(tmp_path: Path, config: dict[str, Any]) -> Delivery:
    notification = {
        "email_config": config,
        "delivery": {"timeout_seconds": 5, "backoff_seconds": 0.01},
        "base_url": "http://ui:6789",
    }
    project = write_alert_project(tmp_path, notification)
    (outcome,) = notify_run_finished(project, failed_run(), trigger_record())
    return outcome


def parsed(mail: Mail) -> EmailMessage:
    message = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def assert_failure_mail(mail: Mail) -> None:
    assert mail.mail_from == "weir@example.com"
    assert mail.rcpt_tos == RECIPIENTS
    message = parsed(mail)
    assert message["Subject"] == "Failed to run pipeline etl"
    assert message["From"] == "weir@example.com"
    assert message["To"] == "oncall@example.com, data@example.com"
    assert message["X-Weir-Event"] == "failure"
    body = message.get_content()
    assert "Failed to run pipeline `etl` (run 7, trigger `nightly`)" in body
    assert "- clean: block 'clean': ValueError: x < 0 & y > 1" in body
    assert "Open http://ui:6789/pipelines/etl/runs/7 to see the run" in body


def test_plain_smtp(tmp_path: Path, smtp_plain: SmtpServer) -> None:
    outcome = send(tmp_path, email_config(smtp_plain))
    assert (outcome.channel, outcome.ok, outcome.target) == (
        "email",
        True,
        f"smtp://127.0.0.1:{smtp_plain.port}",
    )
    (mail,) = smtp_plain.mailbox.mails
    assert_failure_mail(mail)
    assert (mail.tls, mail.login) == (False, None)


def test_starttls_with_login(
    tmp_path: Path, smtp_starttls: SmtpServer, certificate: Certificate
) -> None:
    config = email_config(
        smtp_starttls, smtp_user=USER, smtp_password=PASSWORD, smtp_ca_file=str(certificate.cert)
    )
    assert send(tmp_path, config).ok
    (mail,) = smtp_starttls.mailbox.mails
    assert_failure_mail(mail)
    assert (mail.tls, mail.login) == (True, USER)


def test_starttls_is_used_when_offered_even_without_login(
    tmp_path: Path, smtp_starttls: SmtpServer, certificate: Certificate
) -> None:
    assert send(tmp_path, email_config(smtp_starttls, smtp_ca_file=str(certificate.cert))).ok
    (mail,) = smtp_starttls.mailbox.mails
    assert (mail.tls, mail.login) == (True, None)


def test_smtps(tmp_path: Path, smtps: SmtpServer, certificate: Certificate) -> None:
    config = email_config(
        smtps,
        smtp_ssl=True,
        smtp_user=USER,
        smtp_password=PASSWORD,
        smtp_ca_file=str(certificate.cert),
    )
    outcome = send(tmp_path, config)
    assert (outcome.ok, outcome.target) == (True, f"smtps://127.0.0.1:{smtps.port}")
    (mail,) = smtps.mailbox.mails
    assert (mail.tls, mail.login) == (True, USER)


def test_an_untrusted_certificate_fails_without_retrying(
    tmp_path: Path, smtp_starttls: SmtpServer
) -> None:
    outcome = send(tmp_path, email_config(smtp_starttls))  # the system CAs do not know it
    assert (outcome.ok, outcome.attempts) == (False, 1)
    assert outcome.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in outcome.error
    assert smtp_starttls.mailbox.mails == []


def test_starttls_required_but_not_offered(tmp_path: Path, smtp_plain: SmtpServer) -> None:
    outcome = send(tmp_path, email_config(smtp_plain, smtp_starttls=True))
    assert (outcome.ok, outcome.attempts) == (False, 1)
    assert outcome.error is not None
    assert "does not offer STARTTLS and email_config.smtp_starttls is true" in outcome.error
    assert smtp_plain.mailbox.mails == []


def test_a_password_is_never_sent_unencrypted(tmp_path: Path, smtp_plain: SmtpServer) -> None:
    outcome = send(tmp_path, email_config(smtp_plain, smtp_user=USER, smtp_password=PASSWORD))
    assert not outcome.ok
    assert outcome.error is not None
    assert "password in email_config is not sent unencrypted" in outcome.error
    assert smtp_plain.mailbox.mails == []


def test_a_refused_login_is_not_retried(
    tmp_path: Path, smtp_starttls: SmtpServer, certificate: Certificate
) -> None:
    config = email_config(
        smtp_starttls, smtp_user=USER, smtp_password="wrong", smtp_ca_file=str(certificate.cert)
    )
    outcome = send(tmp_path, config)
    assert (outcome.ok, outcome.attempts) == (False, 1)
    assert outcome.error is not None
    assert f"refused the login of smtp_user '{USER}' (535)" in outcome.error


def test_no_server_is_retried_then_reported(tmp_path: Path) -> None:
    nobody = SmtpServer(port=free_port(), mailbox=Mailbox())  # nothing listens there
    outcome = send(tmp_path, email_config(nobody))
    assert (outcome.ok, outcome.attempts) == (False, 3)
    assert outcome.error is not None
    assert outcome.error.startswith("connection failed: ConnectionRefusedError")
