"""Typed settings: the only place that reads environment variables (prefix ``REGISTRATURA_``)."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the product, with embedded defaults that work on a laptop."""

    model_config = SettingsConfigDict(
        env_prefix="REGISTRATURA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Storage
    database_url: str = "sqlite:///registratura.db"
    db_pool_size: int = 10
    db_statement_timeout_ms: int = 5000

    # Clinic time and booking rules
    timezone: str = "Europe/Moscow"
    slot_window_days: int = Field(30, ge=1, le=366)
    booking_horizon_days: int = Field(14, ge=1, le=366)
    remote_from_tomorrow: bool = True
    lead_time_minutes: int = Field(60, ge=0)
    hold_minutes: int = Field(5, ge=1)
    max_appointments_per_day: int = Field(2, ge=1)
    attachment_change_period_days: int = Field(365, ge=1)
    no_show_block_threshold: int = Field(3, ge=1)
    no_show_block_days: int = Field(30, ge=1)
    late_walk_in_minutes: int = Field(15, ge=0)
    id_failures_per_caller: int = Field(5, ge=1)
    id_failures_per_policy: int = Field(5, ge=1)
    id_failure_window_minutes: int = Field(60, ge=1)

    # Network services
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    opening_time: time = time(8, 0)
    closing_time: time = time(20, 0)

    # Audio and speech
    sounds_dir: Path = Path("var/sounds")
    record_dir: Path = Path("var/recordings")
    vosk_model: Path | None = None
    tts_engine: str = "auto"  # "pyttsx3", "espeak-ng-cli" or "auto"
    default_locale: str = "ru"

    # Secrets
    secret_key: SecretStr = SecretStr("dev-only-change-me")

    # Operations
    log_level: str = "INFO"

    # Demo
    seed_demo_on_first_run: bool = True

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite database is used."""
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``.env``), with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
