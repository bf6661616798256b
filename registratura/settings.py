"""Typed settings: the only place that reads environment variables (prefix ``REGISTRATURA_``)."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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
    # No-shows older than this many months no longer count towards a block (rule 21).
    no_show_lookback_months: int = Field(12, ge=1)
    # How long the substitute slot offered after a doctor's absence is held (rule 14).
    substitute_hold_minutes: int = Field(24 * 60, ge=1)
    # Waiting list (rule 19): an entry lasts this many days; a slot offered to it is held this
    # many minutes for the patient's SMS answer before it goes to the next entry.
    waitlist_days: int = Field(30, ge=1, le=366)
    waitlist_offer_minutes: int = Field(120, ge=5)
    late_walk_in_minutes: int = Field(15, ge=0)
    #: «Пришёл» is accepted from this many minutes before a visit to as many after its start.
    arrival_window_minutes: int = Field(120, ge=1)
    id_failures_per_caller: int = Field(5, ge=1)
    id_failures_per_policy: int = Field(5, ge=1)
    id_failure_window_minutes: int = Field(60, ge=1)
    # Rule 20: a caller whose number is neither the patient's phone on file nor (for a child)
    # a registered representative's must type a one-time code sent by SMS to the patient.
    consent_required: bool = True
    consent_code_length: int = Field(6, ge=4, le=8)
    consent_code_minutes: int = Field(10, ge=1, le=60)
    # How long the phone line waits for the code's SMS to leave before handing the call to an
    # agent (the provider is down or slow).
    consent_sms_wait_seconds: float = Field(20.0, gt=0, le=120)

    # Network services
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573
    # Opening hours of the registry desk (agents on duty), clinic time: one source for the IVR,
    # the dialplan (the IVR sets REG_DESK_OPEN for it) and the console.  Monday-Friday run
    # opening_time-closing_time, Saturday and Sunday are closed unless desk_hours says
    # otherwise, e.g. REGISTRATURA_DESK_HOURS='{"sat": "09:00-14:00", "fri": "08:00-19:00"}'
    # ("" or "closed" closes a day).  Public holidays and moved days off of the country's
    # production calendar (python "holidays" package; empty = none) close the desk; a working
    # Saturday gets the weekday hours.
    opening_time: time = time(8, 0)
    closing_time: time = time(20, 0)
    desk_hours: dict[str, str | None] = Field(default_factory=dict)
    desk_holiday_country: str = "RU"
    # Limits against one client starving the IVR or the console (see README "Security").
    agi_max_calls: int = Field(200, ge=1)  # concurrent FastAGI calls; more are refused
    agi_first_reply_timeout: float = Field(5.0, gt=0)  # a peer silent after its environment
    # FastAGI worker processes sharing agi_port (SO_REUSEPORT; `registratura ivr --workers N`,
    # and the IVR under `serve`).  Each has its own database pool and agi_max_calls places.
    # More than one needs PostgreSQL (see registratura/ivr_workers.py for why not SQLite).
    ivr_workers: int = Field(1, ge=1, le=64)
    http_limit_concurrency: int = Field(500, ge=1)  # connections+requests; more get 503
    # Console worker processes on the one HTTP address (PostgreSQL only: SQLite keeps one).
    # The HTTP limits above apply per worker.
    console_workers: int = Field(1, ge=1, le=64)
    http_header_timeout: float = Field(10.0, gt=0)  # to send a whole request head
    # Reverse proxies whose X-Forwarded-For is believed (addresses or networks, e.g.
    # '["10.0.0.5", "192.168.1.0/24"]'); empty: the peer address is the client address.
    trusted_proxies: list[str] = Field(default_factory=list)

    # Asterisk Manager Interface (the console's live queue, click-to-call, reminder calls).
    # Empty host = no AMI: the console runs without Asterisk.
    ami_host: str | None = None
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "registratura"
    ami_secret: SecretStr = SecretStr("")
    ami_ping_interval: float = Field(10.0, gt=0)
    ami_reconnect_max_delay: float = Field(30.0, gt=0)
    # Console user name -> the agent's phone as a queue interface, e.g.
    # REGISTRATURA_AMI_AGENT_INTERFACES='{"registrar1": "PJSIP/agent101"}'
    ami_agent_interfaces: dict[str, str] = Field(default_factory=dict)

    # Audio and speech
    sounds_dir: Path = Path("var/sounds")
    record_dir: Path = Path("var/recordings")
    vosk_model: Path | None = None
    # Streaming voice over Asterisk AudioSocket (dialplan: AGI(agi://...:4573/registry?audio=
    # stream)).  No port = off: every call is keypad (and recorded speech) over AGI only.
    audiosocket_host: str = "127.0.0.1"
    audiosocket_port: int | None = Field(None, ge=0, le=65535)
    # host:port Asterisk connects to when it is not the listening address (NAT, containers).
    audiosocket_advertise: str = ""
    audiosocket_connect_timeout: float = Field(3.0, gt=0)  # EXEC sent -> Asterisk connected
    # No audio this long: the stream is closed and the call goes on keypad-only over AGI
    # (escalated when the AGI side is gone too).
    audiosocket_watchdog_seconds: float = Field(5.0, gt=0)
    audiosocket_max_streams: int = Field(200, ge=1)  # more calls at once stay on the keypad
    audiosocket_max_utterance_seconds: float = Field(10.0, gt=0)  # longer: the turn ends
    # voiced audio that pauses a prompt; the issue's ~150 ms, and short sounds resume it anyway
    vad_onset_ms: int = Field(160, ge=20)
    vad_end_silence_ms: int = Field(600, ge=100)  # silence that ends a spoken answer
    # A sound shorter than this (a cough, "угу"), followed by the gap's silence, only pauses
    # the prompt, which then carries on; a longer one stops it.
    vad_backchannel_ms: int = Field(300, ge=0)
    vad_backchannel_gap_ms: int = Field(100, ge=20)
    tts_engine: str = "auto"  # "pyttsx3", "espeak-ng-cli" or "auto"
    # espeak-ng voice variant: female by default, as the prompts speak ("поняла"); "" = male
    tts_voice_variant: str = "f3"
    default_locale: str = "ru"

    # Secrets.  The secret key signs console sessions and keys the hashes of the identification
    # attempt log; there is no default: unset, the first start generates one into the key file
    # (mode 0600).  See registratura/secret_key.py.
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path("var/secret_key")

    # SMS (rules 17, 18): provider, Twilio account, webhooks, reminders
    sms_provider: Literal["local", "twilio"] = "local"  # "local" only records (embedded default)
    sms_sender_name: str = ""  # name the texts start with; empty: the clinic's short name
    sms_locale: str = ""  # language of the texts; empty: default_locale
    sms_max_attempts: int = Field(10, ge=1)
    sms_lease_seconds: int = Field(120, ge=10)  # a claimed message not reported back is retried
    sms_worker_interval_seconds: float = Field(5.0, gt=0)
    twilio_account_sid: str = ""
    twilio_auth_token: SecretStr = SecretStr("")
    twilio_from: str = ""  # sender number or alphanumeric id (or use a messaging service)
    twilio_messaging_service_sid: str = ""
    # Where the Twilio client sends its API requests; empty: Twilio itself.  Tests (and a
    # local Twilio stand-in) set e.g. "http://127.0.0.1:8765".
    twilio_base_url: str = ""
    twilio_timeout_seconds: float = Field(10.0, gt=0)
    # The console's public address as Twilio sees it (e.g. "https://registry.example.org"):
    # webhook signatures are computed over it, and delivery reports are sent to it.
    public_base_url: str = ""
    reminder_hour: int = Field(12, ge=0, le=23)  # the day before, clinic time
    reminder_calls: bool = False  # also phone patients who did not answer the reminder SMS
    reminder_call_hour: int = Field(17, ge=0, le=23)

    # FHIR API: the identifier system of OMS policy numbers (Patient.identifier.system)
    fhir_policy_system: str = "http://fhir.ru/ig/RuSEMD/systems/OMS"

    # Operations
    log_level: str = "INFO"
    # Clinic import: a bigger file is refused before it is read (split it).
    import_max_file_mb: int = Field(200, ge=1, le=4096)

    # Demo
    seed_demo_on_first_run: bool = True

    @field_validator("desk_hours")
    @classmethod
    def _check_desk_hours(cls, value: dict[str, str | None]) -> dict[str, str | None]:
        from booking_core.hours import week_from

        week_from((time(8, 0), time(20, 0)), value)  # raises naming the bad weekday or span
        return value

    @model_validator(mode="after")
    def _check_opening(self) -> Settings:
        if self.closing_time <= self.opening_time:
            raise ValueError("closing_time must be after opening_time")
        return self

    @property
    def ami_enabled(self) -> bool:
        """True when an AMI host is configured (the console then connects to Asterisk)."""
        return bool(self.ami_host and self.ami_host.strip())

    @property
    def is_sqlite(self) -> bool:
        """True when the embedded SQLite database is used."""
        return self.database_url.startswith("sqlite")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``.env``), with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
