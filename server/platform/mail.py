"""Building and delivering email with the standard library.

MAIL_BACKEND chooses the transport: "outbox" writes each message as an `.eml` file into
MAIL_OUTBOX_DIR (default `<instance>/outbox`) for a developer to open; "smtp" sends it through
MAIL_SERVER. Errors are described without any credential, so they can be stored and logged.
"""
import os
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app


@dataclass(frozen=True)
class InlineImage:
    """An image shown inside the HTML body (`<img src="cid:{cid}">`), also saveable as a file."""

    cid: str
    data: bytes
    mimetype: str
    filename: str


def build_message(*, to: str, subject: str, text: str, html: str,
                  images: tuple[InlineImage, ...] = ()) -> EmailMessage:
    """A multipart/alternative message (text and HTML), the images related to the HTML part."""
    message = EmailMessage()
    message["Subject"], message["To"] = subject, to
    message["From"] = current_app.config["MAIL_FROM"]
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(message["From"]))
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for image in images:
        maintype, subtype = image.mimetype.split("/", 1)
        html_part.add_related(image.data, maintype=maintype, subtype=subtype,
                              cid=f"<{image.cid}>", filename=image.filename,
                              disposition="inline")
    return message


def _domain(sender: str) -> str:
    return sender.rsplit("@", 1)[-1].strip(" >") or "localhost"


def send(message: EmailMessage) -> None:
    """Deliver a message with the configured backend; raises when it could not be delivered."""
    backend = current_app.config["MAIL_BACKEND"]
    if backend == "smtp":
        _send_smtp(message)
    elif backend == "outbox":
        _write_outbox(message)
    else:
        raise RuntimeError(f"Unknown MAIL_BACKEND {backend!r}")


def outbox_dir() -> str:
    """Where the outbox backend writes its `.eml` files."""
    return current_app.config.get("MAIL_OUTBOX_DIR") or os.path.join(current_app.instance_path,
                                                                     "outbox")


def _write_outbox(message: EmailMessage) -> None:
    folder = outbox_dir()
    os.makedirs(folder, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    path = os.path.join(folder, f"{stamp}-{uuid.uuid4().hex[:8]}.eml")
    # Written under a temporary name and renamed, so a reader never sees half a message.
    with open(path + ".part", "wb") as out:
        out.write(message.as_bytes())
    os.replace(path + ".part", path)


def _send_smtp(message: EmailMessage) -> None:
    config = current_app.config
    host, port, timeout = config["MAIL_SERVER"], config["MAIL_PORT"], config["MAIL_TIMEOUT"]
    if not host:
        raise RuntimeError("MAIL_SERVER is not set")
    context = ssl.create_default_context()
    if config["MAIL_USE_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls(context=context)
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def describe_error(error: Exception) -> str:
    """A one-line description of a delivery failure, safe to store and log (no credentials)."""
    text = f"{type(error).__name__}: {error}"
    if password := current_app.config.get("MAIL_PASSWORD"):
        text = text.replace(password, "***")
    return text[:1000]
