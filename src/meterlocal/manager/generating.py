"""The strategy-writing part of `JobManager`'s front door: generate from examples, refine, repair after a redesign.

`JobManager` inherits these public methods. The inference itself is pure (`meterlocal.extract.infer`,
`meterlocal.extract.repair`) and runs in the manager's thread pool; the page a strategy was written from is kept
in the store (`generation_inputs`) so that refining re-infers on it without fetching again, as Meter's refine
reuses its cached HTML.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from meterlocal import arguments, generation
from meterlocal.detect import compare
from meterlocal.errors import GeneratorMissingError, ValidationError
from meterlocal.extract import compile_strategy
from meterlocal.extract.infer import StrategyProposal, infer_strategy
from meterlocal.extract.repair import suggest_repair
from meterlocal.fetch import FetchRequest
from meterlocal.generation import GeneratedStrategy, GenerationRequest, RepairSuggestion
from meterlocal.manager.strategies import StrategyMethods
from meterlocal.models import Clock, Job, JobStatus, Strategy
from meterlocal.settings import Settings
from meterlocal.store import GenerationInput, Store

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from meterlocal.runner import JobRunner

__all__ = ["GenerationMethods"]

_GOOD_RUNS_LOOKED_AT = 200  # completed runs searched, newest first, for the last good one before a broken run


class GenerationMethods(StrategyMethods):
    """generate_strategy, refine_strategy and suggest_repair (a base of `JobManager`), over its strategy methods."""

    # Set by JobManager.__init__.
    settings: Settings
    _store: Store
    _clock: Clock
    _runner: JobRunner
    _pool: ThreadPoolExecutor

    if TYPE_CHECKING:  # JobManager's own methods, used here

        async def get_job(self, job_id: str) -> Job: ...
        async def list_jobs(
            self,
            strategy_id: str | None = None,
            status: JobStatus | str | None = None,
            since: datetime | str | None = None,
            limit: int | None = None,
        ) -> list[Job]: ...

    async def generate_strategy(
        self,
        url: str,
        *,
        examples: Sequence[Mapping[str, Any]] | None = None,
        name: str | None = None,
        description: str = "",
        output_schema: Mapping[str, Any] | None = None,
        filter_config: Mapping[str, Any] | None = None,
    ) -> GeneratedStrategy:
        """Fetch `url`, write a strategy from `examples` (`infer_strategy`), save it and return it with a preview.

        Without examples, the page and `description` go to `Settings(strategy_generator=...)`; with none set,
        that raises `GeneratorMissingError` (HTTP 501) before anything is fetched. Raise `FetchError` when the
        page cannot be fetched and `ValidationError` when an example value is not on it (the message names the
        field and the value).
        """
        await self._ready()
        checked = generation.check_examples(examples) if examples else []
        if not checked and self.settings.strategy_generator is None:
            raise GeneratorMissingError(generation.NO_GENERATOR)  # before fetching anything
        url = arguments.check_url(url, "url", allow_file_urls=self.settings.allow_file_urls)
        response = await self._runner.fetch(FetchRequest(url=url))
        page = GenerationInput(
            strategy_id="",
            url=url,
            final_url=response.url,
            content_type=response.content_type or None,
            examples=checked,
            exclude=[],
            created_at=self._clock(),
            updated_at=self._clock(),
            body=response.body,
        )
        if checked:
            proposal = await self._infer(page)
            document = proposal.strategy
        else:
            request = GenerationRequest(
                url=url,
                final_url=response.url,
                page=response.body,
                content_type=response.content_type,
                description=description,
                name=name,
            )
            document = await generation.call_generator(self.settings.strategy_generator, request)
            proposal = None
        saved = await self.create_strategy(
            name or f"Strategy for {url}",
            document,
            url=url,
            description=description,
            output_schema=output_schema,
            filter_config=filter_config,
        )
        page = _replace(page, strategy_id=saved.strategy_id)
        await self._store.save_generation(page)
        return await self._generated(saved, page, proposal)

    async def refine_strategy(self, strategy_id: str, feedback: Any) -> GeneratedStrategy:
        """Write the strategy again from its examples plus `feedback`, on the page it was generated from.

        `feedback` is more examples (a list of `{field: value}`; one of an item already given adds to it),
        `{"exclude": [values]}` (items showing one of them are left out), both (`{"examples": [...],
        "exclude": [...]}`), or the same as JSON text (what meter-sdk's `refine_strategy(id, feedback)` sends).
        Other text goes to `Settings(strategy_generator=...)`. The strategy keeps its id; a strategy written by
        hand is refined on its `url`, fetched once and kept.
        """
        await self._ready()
        strategy = await self.get_strategy(strategy_id)
        wanted = generation.parse_feedback(feedback)
        page = await self._store.get_generation(strategy.strategy_id)
        if page is None:
            if not strategy.url:
                raise ValidationError(
                    f"Strategy {strategy.strategy_id} has no url and was not generated here: there is no page to "
                    "refine it on; generate it with examples, or set its url"
                )
            response = await self._runner.fetch(FetchRequest(url=strategy.url))
            page = GenerationInput(
                strategy_id=strategy.strategy_id,
                url=strategy.url,
                final_url=response.url,
                content_type=response.content_type or None,
                examples=[],
                exclude=[],
                created_at=self._clock(),
                updated_at=self._clock(),
                body=response.body,
            )
        proposal: StrategyProposal | None = None
        if wanted.text is not None:
            request = GenerationRequest(
                url=page.url,
                final_url=page.final_url or page.url,
                page=page.body,
                content_type=page.content_type or "",
                description=strategy.description,
                name=strategy.name,
                strategy=strategy.strategy,
                feedback=wanted.text,
            )
            document = await generation.call_generator(self.settings.strategy_generator, request)
        else:
            examples = generation.merge_examples(page.examples, wanted.examples)
            if not examples:
                raise ValidationError(
                    f"Strategy {strategy.strategy_id} was not written from examples: send examples as feedback "
                    '(a list of {field: value} objects), with or without {"exclude": [...]}'
                )
            page = _replace(page, examples=examples, exclude=[*page.exclude, *wanted.exclude], updated_at=self._clock())
            proposal = await self._infer(page)
            document = proposal.strategy
        saved = await self.update_strategy(strategy.strategy_id, strategy=document)
        await self._store.save_generation(page)
        return await self._generated(saved, page, proposal)

    async def suggest_repair(self, job_id: str, *, page: bytes | str | None = None) -> RepairSuggestion:
        """Propose a strategy for the page of job `job_id` (its markup changed), from the items of the strategy's
        last good run before it on the same URL, with the compare of those items and what the proposal extracts.

        The page is fetched again (fixtures apply) unless given as `page` (the redesigned page: then `job_id` may
        be the good run itself, whose items are the examples). Nothing is applied: pass
        `suggestion.strategy` to `update_strategy` to use it. Raise `ValidationError` when there is no earlier
        run with items, or when the old values are not on the new page.
        """
        await self._ready()
        job = await self.get_job(job_id)
        strategy = await self.get_strategy(job.strategy_id)
        good = job if page is not None and job.results else await self._last_good_run(job)
        if page is None:
            response = await self._runner.fetch(FetchRequest(url=job.url))
            page, url = response.body, response.url
        else:
            url = job.final_url or job.url
        loop = asyncio.get_running_loop()
        repair = await loop.run_in_executor(self._pool, suggest_repair, strategy, page, list(good.results or ()), url)
        key = (await loop.run_in_executor(self._pool, compile_strategy, strategy)).key  # off the loop
        comparison = await loop.run_in_executor(
            self._pool,
            functools.partial(
                compare, good.results, repair.proposal.items, key=key, job_id=good.job_id, other_job_id=job.job_id
            ),
        )
        return RepairSuggestion(
            strategy_id=strategy.strategy_id,
            job_id=job.job_id,
            good_job_id=good.job_id,
            strategy=repair.strategy,
            repair=repair,
            comparison=comparison,
        )

    # Helpers ---------------------------------------------------------------------------------------------------
    async def _infer(self, page: GenerationInput) -> StrategyProposal:
        run = functools.partial(
            infer_strategy, page.body, page.examples, page.final_url or page.url, exclude=page.exclude
        )
        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    async def _generated(
        self, saved: Strategy, page: GenerationInput, proposal: StrategyProposal | None
    ) -> GeneratedStrategy:
        """The response of generate and refine: the saved strategy, its preview on the page, the proposal."""
        preview = proposal.items if proposal is not None else None
        if preview is None or saved.output_schema or saved.filter_config:  # the preview shows what jobs store
            loop = asyncio.get_running_loop()
            compiled = await loop.run_in_executor(self._pool, compile_strategy, saved)  # off the loop: big ones
            run = functools.partial(compiled.run, page.body, url=page.final_url or page.url)
            preview = (await asyncio.get_running_loop().run_in_executor(self._pool, run)).items
        fields = list(saved.strategy.get("fields") or {})
        fill = {f: round(sum(i.get(f) is not None for i in preview) / max(len(preview), 1), 3) for f in fields}
        return GeneratedStrategy(
            strategy_id=saved.strategy_id,
            name=saved.name,
            url=page.url,
            strategy=saved.strategy,
            preview_data=preview[: generation.PREVIEW_ITEMS],
            item_count=len(preview),
            confidence=proposal.confidence if proposal is not None else {},
            fill_rate=proposal.fill_rate if proposal is not None else fill,
            warnings=proposal.warnings if proposal is not None else [],
            examples=page.examples,
            exclude=page.exclude,
            saved=saved,
        )

    async def _last_good_run(self, job: Job) -> Job:
        """The newest completed run of the job's strategy and URL, before it, with items."""
        jobs = await self.list_jobs(job.strategy_id, status=JobStatus.COMPLETED, limit=_GOOD_RUNS_LOOKED_AT)
        for earlier in jobs:
            same_page = earlier.url == job.url and earlier.created_at <= job.created_at
            if earlier.job_id != job.job_id and same_page and earlier.results:
                return earlier
        raise ValidationError(
            f"Job {job.job_id} has no earlier completed run of its strategy on {job.url} with items: repair takes "
            "the items of a good run as its examples"
        )


def _replace(page: GenerationInput, **changes: Any) -> GenerationInput:
    return dataclasses.replace(page, **changes)
