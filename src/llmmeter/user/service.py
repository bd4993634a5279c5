"""People who sign in: sign-up, password check with throttling, password change.

Passwords follow NIST SP 800-63B: 8 to 128 characters, no composition rules, a block list of
the most common choices. Hashes are argon2id (argon2-cffi's defaults), computed off the event
loop because each takes tens of milliseconds of CPU."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llmmeter.kit.errors import AppError, FieldError, ValidationFailed
from llmmeter.models import SignInFailure, User
from llmmeter.user.repository import user_repository

MIN_PASSWORD = 8
MAX_PASSWORD = 128
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_hasher = PasswordHasher()
# Verified against when the account does not exist, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("llmmeter-timing-equaliser")


class SignInFailed(AppError):
    status_code = 401
    reason = "invalid_credentials"
    message = "Wrong email or password."


class SignInThrottled(AppError):
    status_code = 429
    reason = "too_many_attempts"
    message = "Too many failed sign-ins; wait a few minutes and try again."


class EmailTaken(AppError):
    status_code = 409
    reason = "email_taken"
    message = "An account with this email already exists; sign in instead."


@cache
def common_passwords() -> frozenset[str]:
    text = files("llmmeter.user").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


def normalise_email(email: str) -> str:
    return email.strip().lower()


def password_problems(password: str, email: str = "") -> list[FieldError]:
    if len(password) < MIN_PASSWORD:
        msg = f"use at least {MIN_PASSWORD} characters"
    elif len(password) > MAX_PASSWORD:
        msg = f"use at most {MAX_PASSWORD} characters"
    elif password.lower() in common_passwords() or password.lower() == email.lower():
        msg = "this password is too common; choose another"
    else:
        return []
    return [FieldError(["password"], msg)]


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(stored: str, password: str) -> bool:
    def check() -> bool:
        try:
            return _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)


class UserService:
    async def sign_up(
        self, session: AsyncSession, email: str, password: str, name: str, now: datetime
    ) -> User:
        email = normalise_email(email)
        errors = []
        if not (_EMAIL.fullmatch(email) and len(email) <= 320):
            errors.append(FieldError(["email"], "enter an email address like name@example.com"))
        if len(name) > 128:
            errors.append(FieldError(["name"], "use at most 128 characters"))
        errors += password_problems(password, email)
        if errors:
            raise ValidationFailed(errors)
        if await user_repository.by_email(session, email) is not None:
            raise EmailTaken()
        user = User(
            email=email,
            name=name.strip(),
            password_hash=await hash_password(password),
            password_changed_at=now,
        )
        try:
            async with session.begin_nested():
                return await user_repository.add(session, user)
        except IntegrityError:
            raise EmailTaken() from None

    async def authenticate(
        self, session: AsyncSession, email: str, password: str, address: str, now: datetime
    ) -> User:
        email = normalise_email(email)
        by_email, by_address = await user_repository.failures_since(
            session, email, address, now - THROTTLE_WINDOW
        )
        if by_email >= MAX_FAILURES_PER_ACCOUNT or by_address >= MAX_FAILURES_PER_ADDRESS:
            raise SignInThrottled(headers={"Retry-After": str(int(THROTTLE_WINDOW.seconds))})
        user = await user_repository.by_email(session, email)
        ok = await verify_password(user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not ok:
            await user_repository.add_failure(
                session, SignInFailure(email=email, address=address, failed_at=now)
            )
            raise SignInFailed()
        await user_repository.clear_failures(session, email, now - THROTTLE_WINDOW)
        return user

    async def change_password(
        self, session: AsyncSession, user: User, current: str, new: str, now: datetime
    ) -> None:
        if not await verify_password(user.password_hash, current):
            raise ValidationFailed([FieldError(["current"], "the current password is wrong")])
        problems = password_problems(new, user.email)
        if problems:
            raise ValidationFailed(problems)
        user.password_hash = await hash_password(new)
        user.password_changed_at = now
        await user_repository.save(session, user)

    async def count(self, session: AsyncSession) -> int:
        return await user_repository.count(session)


user_service = UserService()
