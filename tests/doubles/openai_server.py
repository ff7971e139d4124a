"""A real HTTP server on loopback speaking the OpenAI `/v1/completions` protocol: a test double.

It stands in for `vllm serve` or TGI. Answers come from a backend: `ScriptedBackend` (token pieces and
log-probs written in the test) or `ModelBackend` (the tiny transformers model, with its real per-token
log-probs). Knobs make it misbehave the way real servers do: fail the next requests with 503, drop
log-probs, answer slowly. It records every request body and the most requests it had in flight.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from aiohttp import web

from llemma_prove.types import DecodingMethod, SamplingParams


@dataclass(frozen=True)
class Choice:
    text: str
    tokens: tuple[str, ...]
    token_logprobs: tuple[float, ...]
    finish_reason: str


class Backend(Protocol):
    async def complete(self, prompt: str, body: dict[str, Any]) -> list[Choice]: ...


def apply_stop(pieces: Sequence[tuple[str, float]], stop: Sequence[str], max_tokens: int) -> Choice:
    """What a server does with a raw token stream: stop after the token completing a stop string
    (the text excludes it), or after max_tokens."""
    text, tokens, lps = "", [], []
    for piece, lp in pieces[:max_tokens]:
        tokens.append(piece)
        lps.append(lp)
        text += piece
        hits = [i for i in (text.find(s) for s in stop) if i != -1]
        if hits:
            return Choice(text[: min(hits)], tuple(tokens), tuple(lps), "stop")
    reason = "length" if len(pieces) > max_tokens else "stop"
    return Choice(text, tuple(tokens), tuple(lps), reason)


class ScriptedBackend:
    """Replies from `script(prompt) -> list of token streams [(piece, logprob), ...]`, first n used."""

    def __init__(self, script: Callable[[str], Sequence[Sequence[tuple[str, float]]]]) -> None:
        self.script = script

    async def complete(self, prompt: str, body: dict[str, Any]) -> list[Choice]:
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        streams = list(self.script(prompt))[: int(body.get("n", 1))]
        return [apply_stop(s, stop, int(body.get("max_tokens", 16))) for s in streams]


def params_from_body(body: dict[str, Any]) -> SamplingParams:
    """How a vLLM server reads a request (the reverse of the client's mapping)."""
    n = int(body.get("n", 1))
    stop = body.get("stop") or []
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    common = dict(max_new_tokens=int(body.get("max_tokens", 16)), stop=stop, seed=body.get("seed"))
    if body.get("use_beam_search"):
        return SamplingParams(n=n, method=DecodingMethod.BEAM, **common)
    temperature = float(body.get("temperature", 1.0))
    if temperature == 0.0:
        return SamplingParams(n=1, method=DecodingMethod.GREEDY, **common)
    return SamplingParams(
        n=n, method=DecodingMethod.SAMPLE, temperature=temperature, top_p=float(body.get("top_p", 1.0)), **common
    )


class ModelBackend:
    """Replies from a `TransformersModel` (the tiny test model), with its real per-token log-probs."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._lock = asyncio.Lock()

    async def complete(self, prompt: str, body: dict[str, Any]) -> list[Choice]:
        params = params_from_body(body)
        async with self._lock:
            (group,) = await asyncio.to_thread(self.model.generate_sequences, [prompt], params)
        tok = self.model.tokenizer
        return [
            Choice(
                seq.ending.text,
                tuple(tok.convert_ids_to_tokens(list(seq.token_ids))),
                seq.token_logprobs,
                "length" if seq.ending.reason == "length" else "stop",
            )
            for seq in group
        ]


class OpenAIServerDouble:
    """`async with OpenAIServerDouble(backend, model="tiny") as server:` then use `server.base_url`."""

    def __init__(self, backend: Backend, model: str = "tiny", *, api_key: str | None = None) -> None:
        self.backend = backend
        self.model = model
        self.api_key = api_key
        self.fail_next = 0  # answer the next N requests with `fail_status`
        self.fail_status = 503
        self.retry_after: str | None = None
        self.omit_logprobs = False
        self.delay_s = 0.0
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.base_url = ""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/completions", self._completions)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> "OpenAIServerDouble":
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    @staticmethod
    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        return web.json_response({"error": {"message": message, "type": "test_double"}}, status=status, headers=headers)

    async def _completions(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request)
        finally:
            self.in_flight -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "invalid api key")
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "body is not JSON")
        self.requests.append(body)
        if self.fail_next > 0:
            self.fail_next -= 1
            headers = {"Retry-After": self.retry_after} if self.retry_after else None
            return self._error(self.fail_status, "server overloaded (test double)", headers)
        if body.get("model") != self.model:
            return self._error(404, f"The model `{body.get('model')}` does not exist.")
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        prompts = body.get("prompt")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts or [])
        choices = []
        index = 0
        for prompt in prompts:
            for choice in await self.backend.complete(prompt, body):
                logprobs = None
                if body.get("logprobs") is not None and not self.omit_logprobs:
                    offsets = list(itertools.accumulate((len(t) for t in choice.tokens), initial=0))[:-1]
                    logprobs = {
                        "tokens": list(choice.tokens),
                        "token_logprobs": list(choice.token_logprobs),
                        "top_logprobs": [{t: lp} for t, lp in zip(choice.tokens, choice.token_logprobs)],
                        "text_offset": offsets,
                    }
                choices.append(
                    {"index": index, "text": choice.text, "logprobs": logprobs, "finish_reason": choice.finish_reason}
                )
                index += 1
        usage = sum(len(c["logprobs"]["tokens"]) if c["logprobs"] else 0 for c in choices)
        return web.json_response(
            {
                "id": f"cmpl-double-{next(self._ids)}",
                "object": "text_completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": choices,
                "usage": {"completion_tokens": usage},
            }
        )
