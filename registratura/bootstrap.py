"""The composition root: builds every component from settings and wires them together.

Nothing else in the product reads the environment or constructs engines; channels receive what
they need from a :class:`Container`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pydantic import SecretStr
from sqlalchemy import Engine, text

from booking_core.clock import Clock, SystemClock
from booking_core.hours import DeskHours
from booking_core.rules import BookingRules
from booking_core.uow import UnitOfWorkFactory
from models.db import make_engine
from registratura.secret_key import resolve_secret_key
from registratura.settings import Settings, load_settings
from speech import ru_names

logger = logging.getLogger(__name__)


@dataclass
class Container:
    """Everything a channel needs, built once per process."""

    settings: Settings
    engine: Engine
    clock: Clock
    rules: BookingRules
    uow: UnitOfWorkFactory
    hours: DeskHours
    extras: dict[str, object] = field(default_factory=dict)

    def check_database(self) -> bool:
        """True if the database answers a trivial query (used by /healthz)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            logger.exception("database health check failed")
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def rules_from(settings: Settings) -> BookingRules:
    """The domain rule numbers from settings."""
    return BookingRules(
        slot_window_days=settings.slot_window_days,
        booking_horizon_days=settings.booking_horizon_days,
        remote_from_tomorrow=settings.remote_from_tomorrow,
        lead_time_minutes=settings.lead_time_minutes,
        hold_minutes=settings.hold_minutes,
        max_appointments_per_day=settings.max_appointments_per_day,
        attachment_change_period_days=settings.attachment_change_period_days,
        no_show_block_threshold=settings.no_show_block_threshold,
        no_show_block_days=settings.no_show_block_days,
        no_show_lookback_months=settings.no_show_lookback_months,
        substitute_hold_minutes=settings.substitute_hold_minutes,
        waitlist_days=settings.waitlist_days,
        waitlist_offer_minutes=settings.waitlist_offer_minutes,
        late_walk_in_minutes=settings.late_walk_in_minutes,
        arrival_window_minutes=settings.arrival_window_minutes,
        id_failures_per_caller=settings.id_failures_per_caller,
        id_failures_per_policy=settings.id_failures_per_policy,
        id_failure_window_minutes=settings.id_failure_window_minutes,
        consent_required=settings.consent_required,
        consent_code_length=settings.consent_code_length,
        consent_code_minutes=settings.consent_code_minutes,
        pepper=secret_key(settings),
    )


def secret_key(settings: Settings) -> str:
    """The install's secret key (raises ``InsecureSecretKey`` rather than run on a weak one)."""
    configured = settings.secret_key.get_secret_value() if settings.secret_key else None
    return resolve_secret_key(configured, settings.secret_key_file)


def bootstrap(settings: Settings | None = None, *, clock: Clock | None = None,
              engine: Engine | None = None) -> Container:
    """Build the container; tests pass their own clock or engine."""
    settings = settings or load_settings()
    # Resolved once, here: every component then reads settings.secret_key, which is always set.
    settings = settings.model_copy(update={"secret_key": SecretStr(secret_key(settings))})
    engine = engine or make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        statement_timeout_ms=settings.db_statement_timeout_ms,
    )
    clock = clock or SystemClock(settings.timezone)
    rules = rules_from(settings)
    ru_names.warm_up_in_background()  # names in cases for SMS texts and the console
    return Container(settings, engine, clock, rules, UnitOfWorkFactory(engine, clock, rules),
                     hours_from(settings))


def hours_from(settings: Settings) -> DeskHours:
    """The desk's opening hours (weekdays, per-weekday overrides, public holidays)."""
    return DeskHours.build((settings.opening_time, settings.closing_time), settings.desk_hours,
                           settings.desk_holiday_country or None)
