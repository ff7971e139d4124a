"""A `LanguageModel` over any OpenAI-compatible `/v1/completions` endpoint that returns log-probs.

For example `vllm serve EleutherAI/llemma_7b` or TGI. One HTTP request per prompt, many in flight at
once (the server batches them); the score of a completion is the sum of its `token_logprobs`. Beam
search uses vLLM's `use_beam_search` extra field; a server without it answers with an HTTP error,
reported as such. Overload (429, 5xx), timeouts and refused connections are retried with exponential
backoff; after the last retry a `ProposerError` says what went wrong and where.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Mapping, Sequence

import aiohttp

from ..errors import ProposerError
from ..types import Completion, DecodingMethod, SamplingParams
from .stops import first_stop

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def completions_url(base_url: str) -> str:
    """`http://host:8000`, `http://host:8000/v1` and the full endpoint all name the same endpoint."""
    url = base_url.rstrip("/")
    if url.endswith("/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/completions"
    return url + "/v1/completions"


def request_body(model: str, prompt: str, params: SamplingParams, logprobs: int = 1) -> dict[str, Any]:
    """The JSON body for one prompt (pure, so the mapping is testable on its own)."""
    body: dict[str, Any] = {
        "model": model,
        "prompt": prompt,
        "max_tokens": params.max_new_tokens,
        "logprobs": logprobs,
        "echo": False,
    }
    if params.stop:
        body["stop"] = list(params.stop)
    if params.seed is not None:
        body["seed"] = params.seed
    if params.method is DecodingMethod.BEAM and params.n > 1:
        body.update(n=params.n, temperature=0.0, top_p=1.0, use_beam_search=True)
    elif params.method is DecodingMethod.SAMPLE and params.temperature > 0.0:
        body.update(n=params.n, temperature=params.temperature, top_p=params.top_p)
    else:  # greedy, beam of 1, or sampling at temperature 0
        body.update(n=1, temperature=0.0, top_p=1.0)
    return body


def parse_choices(data: Any, expected: int, stop: Sequence[str], where: str) -> list[Completion]:
    """Completions from a response body, in `index` order; raises `ProposerError` on a bad answer."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list):
        raise ProposerError(f"{where} answered without a 'choices' list: {str(data)[:200]}")
    choices = sorted(data["choices"], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
    if len(choices) != expected:
        raise ProposerError(f"{where} returned {len(choices)} choices, {expected} were asked for")
    out = []
    for choice in choices:
        logprobs = choice.get("logprobs") if isinstance(choice, dict) else None
        token_logprobs = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
        if not isinstance(token_logprobs, list):
            raise ProposerError(
                f"{where} returned no log-probs; the proposer needs a completions endpoint that honours "
                "`logprobs` (vLLM's or TGI's OpenAI-compatible server does)"
            )
        values = [float(x) for x in token_logprobs if x is not None]
        text = str(choice.get("text", ""))
        cut = first_stop(text, stop)  # some servers leave the stop string in the text
        if cut != -1:
            text = text[:cut]
        out.append(Completion(text=text, logprob_sum=sum(values), num_tokens=len(values)))
    return out


class OpenAICompletionsModel:
    """A `LanguageModel` talking to an OpenAI-compatible completions server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        max_connections: int = 16,
        timeout_s: float = 300.0,
        retries: int = 4,
        backoff_s: float = 0.5,
        backoff_max_s: float = 16.0,
        logprobs: int = 1,
        extra_body: Mapping[str, Any] | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.name = model
        self.base_url = base_url
        self.endpoint = completions_url(base_url)
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.logprobs = logprobs
        self.extra_body = dict(extra_body or {})
        self.eos_token: str | None = None  # servers drop special tokens from the text
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                timeout=aiohttp.ClientTimeout(total=self.timeout_s),
                headers=headers,
            )
        return self._session

    async def generate(self, prompts: Sequence[str], params: SamplingParams) -> list[list[Completion]]:
        if not prompts:
            return []
        tasks = [asyncio.ensure_future(self.complete(p, params)) for p in prompts]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    async def complete(self, prompt: str, params: SamplingParams) -> list[Completion]:
        body = request_body(self.name, prompt, params, self.logprobs)
        body.update(self.extra_body)
        data = await self._post(body)
        return parse_choices(data, body["n"], params.stop, f"{self.endpoint} (model {self.name!r})")

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(self.backoff_max_s, max(0.0, float(retry_after)))
            except ValueError:
                pass
        return min(self.backoff_max_s, self.backoff_s * (2 ** (attempt - 1)))

    async def _post(self, body: dict[str, Any]) -> Any:
        session = self._get_session()
        last_problem = ""
        unreachable = False
        retry_after: str | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self._delay(attempt, retry_after)
                log.info("retrying %s in %.2fs (%s)", self.endpoint, delay, last_problem)
                await asyncio.sleep(delay)
            retry_after = None
            try:
                async with session.post(self.endpoint, json=body) as response:
                    text = await response.text()
                    if response.status == 200:
                        try:
                            return json.loads(text)
                        except json.JSONDecodeError:
                            raise ProposerError(f"{self.endpoint} answered with invalid JSON: {text[:200]!r}") from None
                    problem = f"HTTP {response.status}: {_server_message(text)}"
                    if response.status not in RETRY_STATUSES:
                        raise ProposerError(f"{self.endpoint} (model {self.name!r}) refused the request: {problem}")
                    last_problem, unreachable = problem, False
                    retry_after = response.headers.get("Retry-After")
            except aiohttp.ClientConnectorError as exc:
                last_problem, unreachable = f"cannot connect: {exc}", True
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                last_problem, unreachable = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, False
        attempts = self.retries + 1
        if unreachable:
            raise ProposerError(
                f"cannot reach the completions server at {self.endpoint} after {attempts} attempts ({last_problem}); "
                f"is it running? (for example `vllm serve {self.name}`)"
            )
        raise ProposerError(f"{self.endpoint} (model {self.name!r}) failed after {attempts} attempts: {last_problem}")

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


def _server_message(text: str) -> str:
    """The error message of an OpenAI-style error body, else the start of the body."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return text.strip()[:200] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])[:300]
        if isinstance(err, str):
            return err[:300]
        if "message" in data:
            return str(data["message"])[:300]
    return text.strip()[:200]
