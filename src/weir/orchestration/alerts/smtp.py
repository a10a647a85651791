"""E-mail over SMTP with the standard library's `smtplib`.

One message per alert to all of `to_emails`: subject = the alert's title, body = its details
(plain text, UTF-8). The connection is encrypted with STARTTLS when the server offers it
(`smtp_starttls` unset), must be (`true`), or is never upgraded (`false`); or with TLS from the
start (`smtp_ssl`). Certificates are verified against the system's CAs or `smtp_ca_file`. The
client logs in when `smtp_user` and `smtp_password` are both set, and refuses to send the
password over an unencrypted connection unless `smtp_starttls` is `false` (Mage sends it
wherever the server accepts it).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from weir.orchestration.alerts.config import EmailConfig
from weir.orchestration.alerts.delivery import DeliveryError, TransientDeliveryError
from weir.orchestration.alerts.messages import Alert

__all__ = ["build_email", "send_email", "smtp_target"]


def build_email(config: EmailConfig, alert: Alert) -> EmailMessage:
    """The message for `alert`: `Subject` = title, body = details, an `X-Weir-Event` header."""
    message = EmailMessage()
    message["Subject"] = alert.title
    message["From"] = config.smtp_mail_from
    message["To"] = ", ".join(config.to_emails)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=config.smtp_mail_from.rpartition("@")[2] or None)
    message["X-Weir-Event"] = alert.kind.value
    message.set_content(alert.details + "\n")
    return message


def smtp_target(config: EmailConfig) -> str:
    """`smtp://host:port` (or `smtps://`) of the server, for logs."""
    return f"{'smtps' if config.smtp_ssl else 'smtp'}://{config.smtp_host}:{config.port}"


def send_email(config: EmailConfig, alert: Alert, *, timeout: float) -> None:
    """Send `alert` once.

    Args:
        config: the server, the sender, the recipients, TLS and login settings.
        alert: the rendered alert.
        timeout: seconds for the connection and each command, unless `smtp_timeout` is set.

    Raises:
        TransientDeliveryError: the connection failed or dropped, or the server answered with
            a temporary (4xx) error.
        DeliveryError: the certificate did not verify, STARTTLS was required and not offered,
            a password would have gone out unencrypted, the login was refused, every recipient
            was refused, or the server answered with a permanent (5xx) error.
    """
    seconds = config.smtp_timeout or timeout
    try:
        with _connect(config, seconds) as client:
            encrypted = config.smtp_ssl or _start_tls(client, config)
            _login(client, config, encrypted)
            refused = client.send_message(
                build_email(config, alert),
                from_addr=config.smtp_mail_from,
                to_addrs=list(config.to_emails),
            )
    except ssl.SSLError as error:  # an OSError, but not one that goes away by itself
        raise DeliveryError(f"TLS with {smtp_target(config)} failed: {error}") from error
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryError(f"every recipient was refused: {error.recipients}") from error
    except smtplib.SMTPResponseException as error:
        text = error.smtp_error
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        reason = f"the server answered {error.smtp_code} {text}".strip()
        if 400 <= error.smtp_code < 500:
            raise TransientDeliveryError(reason) from error
        raise DeliveryError(reason) from error
    except smtplib.SMTPServerDisconnected as error:
        raise TransientDeliveryError(f"the server hung up: {error}") from error
    except smtplib.SMTPException as error:  # before OSError, its base class
        raise DeliveryError(str(error)) from error
    except OSError as error:
        raise TransientDeliveryError(f"connection failed: {error!r}") from error
    if refused:
        raise DeliveryError(f"some recipients were refused (the others got it): {refused}")


def _connect(config: EmailConfig, timeout: float) -> smtplib.SMTP:
    if config.smtp_ssl:
        return smtplib.SMTP_SSL(
            config.smtp_host, config.port, timeout=timeout, context=_tls_context(config)
        )
    return smtplib.SMTP(config.smtp_host, config.port, timeout=timeout)


def _start_tls(client: smtplib.SMTP, config: EmailConfig) -> bool:
    """Upgrade the connection as `smtp_starttls` says; True when it is now encrypted."""
    if config.smtp_starttls is False:
        return False
    client.ehlo()
    if not client.has_extn("starttls"):
        if config.smtp_starttls:
            raise DeliveryError(
                f"{smtp_target(config)} does not offer STARTTLS and email_config.smtp_starttls "
                "is true; use the server's TLS port with smtp_ssl: true, or set "
                "smtp_starttls: false to send unencrypted"
            )
        return False
    client.starttls(context=_tls_context(config))
    client.ehlo()
    return True


def _login(client: smtplib.SMTP, config: EmailConfig, encrypted: bool) -> None:
    if not (config.smtp_user and config.smtp_password):
        return
    if not encrypted and config.smtp_starttls is not False:
        raise DeliveryError(
            f"{smtp_target(config)} offers no STARTTLS, and the password in email_config is "
            "not sent unencrypted; use smtp_ssl: true, or set smtp_starttls: false to allow it"
        )
    try:
        client.login(config.smtp_user, config.smtp_password)
    except smtplib.SMTPAuthenticationError as error:
        raise DeliveryError(
            f"{smtp_target(config)} refused the login of smtp_user '{config.smtp_user}' "
            f"({error.smtp_code})"
        ) from error


def _tls_context(config: EmailConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=config.smtp_ca_file)
