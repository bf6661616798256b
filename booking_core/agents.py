"""Console users (admins, registrars, observers): accounts, passwords, roles and permissions.

Passwords are hashed with argon2 (``pwdlib``); a hash is never logged or returned.  Login
failures for an unknown user and for a wrong password look the same and cost the same time.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import EllipsisType

from pwdlib import PasswordHash
from sqlmodel import col, func, select

from booking_core import audit
from booking_core.actors import Actor
from booking_core.errors import DomainError, InvalidInput, NotFound, OtherClinic
from booking_core.uow import UnitOfWork
from models.tables import Agent, Clinic, Role

logger = logging.getLogger(__name__)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,59}$")
MIN_PASSWORD_LENGTH = 8
ROLES: tuple[str, ...] = tuple(r.value for r in Role)


class InvalidCredentials(DomainError):
    """Unknown user, wrong password or a disabled account: deliberately the same answer."""

    code = "invalid_credentials"


class AlreadyExists(DomainError):
    code = "already_exists"


class Permission(StrEnum):
    """What a console user may do; roles are sets of permissions."""

    VIEW_QUEUE = "view_queue"  # live call queue
    VIEW_STATS = "view_stats"  # dashboard
    WORK_PATIENTS = "work_patients"  # search, card, book, cancel, reschedule, callbacks
    MANAGE_CLINIC = "manage_clinic"  # restrictions, absences, lifting blocks
    MANAGE_USERS = "manage_users"
    VIEW_AUDIT = "view_audit"


ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.AGENT: frozenset({Permission.VIEW_QUEUE, Permission.VIEW_STATS,
                           Permission.WORK_PATIENTS}),
    Role.OBSERVER: frozenset({Permission.VIEW_QUEUE, Permission.VIEW_STATS}),
}


@dataclass(frozen=True)
class AgentView:
    """A console user as the channels see it (never the password hash)."""

    id: int
    username: str
    full_name: str
    role: str
    extension: str
    active: bool
    session_version: int = 0
    clinic_id: int | None = None  # None: a regional user, sees every clinic

    @property
    def regional(self) -> bool:
        return self.clinic_id is None

    @property
    def display_name(self) -> str:
        return self.full_name or self.username

    def can(self, permission: Permission) -> bool:
        """True if this user's role grants ``permission`` (and the account is active)."""
        return self.active and permission in ROLE_PERMISSIONS.get(self.role, frozenset())

    def actor(self, source: str = "") -> Actor:
        """The audit identity of this user acting from ``source`` (an IP address)."""
        return Actor.agent(self.username, source, clinic_id=self.clinic_id)

    @classmethod
    def of(cls, a: Agent) -> AgentView:
        assert a.id is not None
        return cls(id=a.id, username=a.username, full_name=a.full_name, role=a.role,
                   extension=a.extension, active=a.active,
                   session_version=a.session_version or 0, clinic_id=a.clinic_id)


@dataclass(frozen=True)
class NewAgent:
    username: str
    role: str
    password: str
    actor: Actor
    full_name: str = ""
    extension: str = ""
    clinic_id: int | None = None  # None: regional


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash to verify against when the user is unknown, so both paths cost the same."""
    return _hasher().hash(secrets.token_urlsafe(16))


def hash_secret(secret: str) -> str:
    """An argon2 hash of a password or an API client's secret."""
    return _hasher().hash(secret)


def verify_secret(secret: str, secret_hash: str | None) -> bool:
    """Check ``secret``; with no hash (unknown account) it still costs one argon2 verification."""
    return _hasher().verify(secret or "", secret_hash or _dummy_hash()) and secret_hash is not None


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters",
                           field="password")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput("unknown role", field="role", allowed=ROLES)


def _check_clinic(uow: UnitOfWork, actor: Actor, clinic_id: int | None) -> None:
    """Who may give a user which clinic.

    A regional administrator (or the system, the command line) gives any clinic or none.  An
    administrator of one clinic manages that clinic's users only: they cannot make a user
    regional nor put one in another clinic (``other_clinic``).
    """
    if clinic_id is not None and uow.session.get(Clinic, clinic_id) is None:
        raise NotFound("clinic not found", field="clinic_id")
    if actor.clinic_id is not None and clinic_id != actor.clinic_id:
        raise OtherClinic("an administrator of one clinic manages that clinic's users only")


def create_agent(cmd: NewAgent, uow: UnitOfWork) -> AgentView:
    """Create a console user with a hashed password, of one clinic or regional."""
    username = normalize_username(cmd.username)
    if not USERNAME_RE.match(username):
        raise InvalidInput("username: 2-60 latin letters, digits, '.', '_' or '-'",
                           field="username")
    _check_role(cmd.role)
    _check_password(cmd.password)
    password_hash = _hasher().hash(cmd.password)
    with uow:
        if uow.session.exec(select(Agent.id).where(Agent.username == username)).first():
            raise AlreadyExists("a user with this name exists", field="username")
        _check_clinic(uow, cmd.actor, cmd.clinic_id)
        agent = Agent(username=username, full_name=cmd.full_name.strip(), role=cmd.role,
                      extension=cmd.extension.strip(), password_hash=password_hash,
                      clinic_id=cmd.clinic_id, created_at=uow.clock.now_utc())
        uow.session.add(agent)
        uow.flush()
        audit.record(uow, cmd.actor, "agent_create", "agent", agent.id, None,
                     audit.snapshot(agent, ("username", "role", "full_name", "extension",
                                            "clinic_id")))
        uow.commit()
        logger.info("console user %s created with role %s, clinic %s", username, cmd.role,
                    cmd.clinic_id or "regional")
        return AgentView.of(agent)


def authenticate(username: str, password: str, uow: UnitOfWork, source: str = "") -> AgentView:
    """The active user with this name and password, or :class:`InvalidCredentials`."""
    name = normalize_username(username)
    with uow:
        agent = uow.session.exec(select(Agent).where(Agent.username == name)).first()
        if agent is None or not agent.active:
            _hasher().verify(password or "", _dummy_hash())
            ok = False
        else:
            ok, new_hash = _hasher().verify_and_update(password or "", agent.password_hash)
            if ok and new_hash:
                agent.password_hash = new_hash
        who = Actor.agent(name[:60] if agent else "", source)
        audit.record(uow, who, "login" if ok else "login_failed", "agent",
                     agent.id if agent else "")
        uow.commit()
        if not ok:
            logger.info("console login refused")
            raise InvalidCredentials("wrong user name or password")
        assert agent is not None
        return AgentView.of(agent)


def get_agent(username: str, uow: UnitOfWork) -> AgentView | None:
    """The user by name (active or not), or None."""
    with uow.reading():
        agent = uow.session.exec(
            select(Agent).where(Agent.username == normalize_username(username))
        ).first()
        return AgentView.of(agent) if agent else None


def list_agents(uow: UnitOfWork, clinic_id: int | None = None) -> list[AgentView]:
    """Every console user (of one clinic when ``clinic_id`` is given), by role then name."""
    with uow.reading():
        stmt = select(Agent).order_by(col(Agent.role), col(Agent.username))
        if clinic_id is not None:
            stmt = stmt.where(Agent.clinic_id == clinic_id)
        rows = uow.session.exec(stmt)
        return [AgentView.of(a) for a in rows.all()]


def count_agents(uow: UnitOfWork) -> int:
    """How many console users exist (0 on a fresh install: the login page says what to do)."""
    with uow.reading():
        return uow.session.exec(select(func.count()).select_from(Agent)).one()


def update_agent(username: str, actor: Actor, uow: UnitOfWork, *, role: str | None = None,
                 active: bool | None = None, full_name: str | None = None,
                 extension: str | None = None, password: str | None = None,
                 clinic_id: int | EllipsisType | None = ...) -> AgentView:
    """Change a user's role, state, name, extension, password or clinic (each optional;
    ``clinic_id=None`` makes the user regional, ``...`` keeps it)."""
    if role is not None:
        _check_role(role)
    if password:
        _check_password(password)
    with uow:
        agent = uow.session.exec(
            select(Agent).where(Agent.username == normalize_username(username))
        ).first()
        if agent is None:
            raise NotFound("user not found")
        if actor.clinic_id is not None and agent.clinic_id != actor.clinic_id:
            raise OtherClinic("an administrator of one clinic manages that clinic's users only")
        fields = ("role", "active", "full_name", "extension", "clinic_id")
        before = audit.snapshot(agent, fields)
        if not isinstance(clinic_id, EllipsisType):
            _check_clinic(uow, actor, clinic_id)
            agent.clinic_id = clinic_id
        if role is not None:
            agent.role = role
        if active is not None:
            agent.active = active
        if full_name is not None:
            agent.full_name = full_name.strip()
        if extension is not None:
            agent.extension = extension.strip()
        after = audit.snapshot(agent, fields)
        if password:
            agent.password_hash = _hasher().hash(password)
            after["password"] = "changed"
        if password or active is False:
            # A copied cookie must not outlive a password reset or a disabled account.
            agent.session_version = (agent.session_version or 0) + 1
            after["sessions"] = "ended"
        audit.record(uow, actor, "agent_update", "agent", agent.id, before, after)
        uow.commit()
        return AgentView.of(agent)


def end_sessions(username: str, actor: Actor, uow: UnitOfWork) -> None:
    """End every console session of this user (logout): their cookies stop working at once."""
    with uow:
        agent = uow.session.exec(
            select(Agent).where(Agent.username == normalize_username(username))
        ).first()
        if agent is None:
            raise NotFound("user not found")
        agent.session_version = (agent.session_version or 0) + 1
        audit.record(uow, actor, "logout", "agent", agent.id)
        uow.commit()


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    password: str


DEMO_USERS = (("admin", Role.ADMIN, "Старший регистратор (демо)"),
              ("registrar", Role.AGENT, "Регистратор (демо)"),
              ("observer", Role.OBSERVER, "Наблюдатель (демо)"))


def seed_demo_agents(uow: UnitOfWork) -> list[DemoLogin]:
    """On an installation without users, create one of each role with a random password.

    Returns the logins so the command line can print them once; nothing stores the plain
    passwords.  Returns an empty list if any user already exists.
    """
    if count_agents(uow):
        return []
    logins = []
    for username, role, full_name in DEMO_USERS:
        password = secrets.token_urlsafe(9)
        create_agent(NewAgent(username, role, password, Actor.system("demo_seed"),
                              full_name=full_name), uow)
        logins.append(DemoLogin(username, role, password))
    return logins
