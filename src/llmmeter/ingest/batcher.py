"""Group commit for single-record ingest: one transaction for all the records in flight.

Each single-record request is validated, priced and rate-limited in its own task, then handed
here. A free writer task takes everything queued, stores it in one transaction (one insert, one
counter update per workspace, one commit) and only then answers each request, so a 200 still
means "committed". Nothing waits on a timer: a record is written as soon as a writer is free;
under load the requests that arrive during the writes form the next batch, so the batch size
follows the load. A few writers per worker (`ingest_writers`), so that a record arriving during
a write does not wait for its commit; they take their locks in the same order as the writers of
other workers do, so they cannot deadlock. If a shared transaction fails, its requests are
written again one by one, so one bad request cannot fail the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from llmmeter.ingest.service import IngestContext, Outcome, Prepared, ingest_service

log = logging.getLogger(__name__)

Answer = tuple[Outcome, dict[str, Any]]


@dataclass(slots=True)
class _Job:
    ctx: IngestContext
    item: Prepared
    answer: asyncio.Future[Answer]


class IngestBatcher:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_records: int,
        writers: int = 1,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._max_records = max_records
        self._writers = writers
        self._queue: list[_Job] = []
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._run(), name=f"llmmeter-ingest-writer-{n}")
            for n in range(self._writers)
        ]

    async def close(self) -> None:
        """Writes what is queued, then stops."""
        self._closing = True
        self._wakeup.set()
        await asyncio.gather(*self._tasks)

    async def submit(self, ctx: IngestContext, item: Prepared) -> Answer:
        if self._closing or all(task.done() for task in self._tasks):
            return await self._write_alone(ctx, item)
        answer: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._queue.append(_Job(ctx, item, answer))
        self._wakeup.set()
        # A client that goes away does not cancel the write its record is part of.
        return await asyncio.shield(answer)

    async def _run(self) -> None:
        while True:
            if not self._queue:
                if self._closing:
                    return
                # No await between the check and the wait: nothing queued can be missed.
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            jobs = self._queue[: self._max_records]
            del self._queue[: self._max_records]
            await self._write(jobs)

    async def _write(self, jobs: list[_Job]) -> None:
        try:
            answers = await self._store(jobs)
        except asyncio.CancelledError:
            for job in jobs:
                if not job.answer.done():
                    job.answer.cancel()
            raise
        except Exception as exc:
            if len(jobs) == 1:
                _settle(jobs[0], exc)
                return
            log.warning(
                "ingest: a shared write of %d records failed (%r); one by one", len(jobs), exc
            )
            for job in jobs:
                await self._write([job])
            return
        for job, answer in zip(jobs, answers, strict=True):
            _settle(job, answer)

    async def _store(self, jobs: list[_Job]) -> list[Answer]:
        async with self._sessionmaker() as session:
            try:
                answers = await ingest_service.store_many(
                    session, [(job.ctx, job.item) for job in jobs]
                )
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            return answers

    async def _write_alone(self, ctx: IngestContext, item: Prepared) -> Answer:
        return await DirectWriter(self._sessionmaker).submit(ctx, item)


class DirectWriter:
    """One transaction per record: SQLite (one connection, one writer anyway), or group commit
    turned off."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def submit(self, ctx: IngestContext, item: Prepared) -> Answer:
        async with self._sessionmaker() as session:
            try:
                [answer] = await ingest_service.store_many(session, [(ctx, item)])
            except BaseException:
                await session.rollback()
                raise
            await session.commit()
            return answer


def _settle(job: _Job, result: Answer | BaseException) -> None:
    if job.answer.done():
        return
    if isinstance(result, BaseException):
        job.answer.set_exception(result)
    else:
        job.answer.set_result(result)
    # Retrieved by the request task; when it is gone, do not log "never retrieved".
    with contextlib.suppress(asyncio.CancelledError, Exception):
        job.answer.exception()
