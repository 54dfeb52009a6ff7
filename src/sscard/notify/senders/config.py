"""Sender settings from ``SSCARD_*`` variables: the SMTP relay and the SMS gateway."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SenderSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SSCARD_", env_file=".env", extra="ignore")

    data_dir: Path = Path("./var")
    # E-mail: an SMTP relay. "starttls" upgrades a plain connection, "ssl" is SMTPS (port 465). Empty
    # means the local file sink under data_dir (embedded default), as for SMS.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_from: str = "sscard <no-reply@sscard.example>"
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_username: str = ""
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = 10.0
    # SMS: an HTTP gateway (POST JSON); empty means the local file sink under data_dir (embedded default).
    sms_gateway_url: str = ""
    sms_gateway_token: SecretStr | None = None
    sms_timeout_seconds: float = 10.0
    sms_sink_dir: Path | None = None
    mail_sink_dir: Path | None = None

    @property
    def mail_sink_path(self) -> Path:
        return self.mail_sink_dir or self.data_dir / "outbox" / "mail"

    @property
    def sms_sink_path(self) -> Path:
        return (self.sms_sink_dir or self.data_dir / "outbox") / "sms.jsonl"


@lru_cache(maxsize=1)
def get_sender_settings() -> SenderSettings:
    return SenderSettings()


def reset_sender_settings_cache() -> None:
    get_sender_settings.cache_clear()
