"""The OpenAI-compatible client against a real HTTP server on loopback (a test double of vLLM's)."""

from __future__ import annotations

import socket

import pytest

from llemma_prove.errors import ProposerError
from llemma_prove.interfaces import LanguageModel
from llemma_prove.proposers.openai_http import OpenAICompletionsModel, completions_url, request_body
from llemma_prove.types import DecodingMethod, SamplingParams
from tests.doubles.openai_server import ModelBackend, OpenAIServerDouble, ScriptedBackend

STREAMS = {
    "A": [
        [("\n", -0.5), ("norm", -0.25), ("_num", -0.25), ("\n", -0.5), ("---", -0.1), ("\nTactic", -3.0)],
        [("\n", -0.5), ("lin", -1.0), ("arith", -0.5), ("\n--", -0.2), ("-", -0.1)],
        [("\n", -0.5), ("simp", -2.0), ("\n", -0.5), ("---", -0.1)],
    ],
    "B": [[("\n", -1.0), ("omega", -1.0), ("\n", -1.0), ("---", -1.0)]] * 3,
}


def script(prompt: str):
    return STREAMS[prompt[-1]]


def fast_client(base_url: str, **options) -> OpenAICompletionsModel:
    options = {"retries": 3, "backoff_s": 0.01, "backoff_max_s": 0.05, "timeout_s": 5.0, **options}
    return OpenAICompletionsModel(base_url, "tiny", **options)


@pytest.fixture
async def server():
    async with OpenAIServerDouble(ScriptedBackend(script), model="tiny") as double:
        yield double


def test_urls_and_request_bodies():
    assert completions_url("http://h:8000") == "http://h:8000/v1/completions"
    assert completions_url("http://h:8000/v1/") == "http://h:8000/v1/completions"
    assert completions_url("http://h:8000/v1/completions") == "http://h:8000/v1/completions"
    beam = request_body("m", "p", SamplingParams(n=32, method=DecodingMethod.BEAM, max_new_tokens=256))
    assert beam == {
        "model": "m", "prompt": "p", "max_tokens": 256, "logprobs": 1, "echo": False, "stop": ["---"],
        "n": 32, "temperature": 0.0, "top_p": 1.0, "use_beam_search": True,
    }
    sample = request_body("m", "p", SamplingParams(n=8, method=DecodingMethod.SAMPLE, temperature=0.7, top_p=0.9, seed=3))
    assert (sample["n"], sample["temperature"], sample["top_p"], sample["seed"]) == (8, 0.7, 0.9, 3)
    assert "use_beam_search" not in sample
    greedy = request_body("m", "p", SamplingParams(n=8, method=DecodingMethod.GREEDY))
    assert (greedy["n"], greedy["temperature"]) == (1, 0.0)


async def test_completions_with_logprob_scores_and_stop_cut(server):
    client = fast_client(server.base_url)
    assert isinstance(client, LanguageModel)
    try:
        params = SamplingParams(n=3, method=DecodingMethod.SAMPLE, temperature=0.8, max_new_tokens=50, stop=("---",))
        a, b = await client.generate(["prompt A", "prompt B"], params)
    finally:
        await client.close()
    assert [c.text for c in a] == ["\nnorm_num\n", "\nlinarith\n", "\nsimp\n"]
    assert [c.num_tokens for c in a] == [5, 5, 4]  # tokens up to and including the one completing "---"
    assert [c.logprob_sum for c in a] == pytest.approx([-1.6, -2.3, -3.1])
    assert [c.text for c in b] == ["\nomega\n"] * 3
    assert len(server.requests) == 2
    for body in server.requests:
        assert (body["n"], body["temperature"], body["stop"], body["max_tokens"], body["logprobs"]) == (
            3, 0.8, ["---"], 50, 1,
        )


async def test_max_tokens_is_sent_and_honoured(server):
    client = fast_client(server.base_url)
    try:
        (group,) = await client.generate(["A"], SamplingParams(n=1, method=DecodingMethod.GREEDY, max_new_tokens=2))
    finally:
        await client.close()
    assert (group[0].text, group[0].num_tokens) == ("\nnorm", 2)
    assert server.requests[0]["max_tokens"] == 2


async def test_beam_search_asks_for_vllm_beam_search(server):
    client = fast_client(server.base_url)
    try:
        (group,) = await client.generate(["A"], SamplingParams(n=2, method=DecodingMethod.BEAM))
    finally:
        await client.close()
    assert len(group) == 2
    assert server.requests[0]["use_beam_search"] is True and server.requests[0]["n"] == 2


async def test_retries_after_503_with_backoff(server):
    server.fail_next = 2
    client = fast_client(server.base_url)
    try:
        (group,) = await client.generate(["A"], SamplingParams(n=1, method=DecodingMethod.GREEDY))
    finally:
        await client.close()
    assert group[0].text == "\nnorm_num\n"
    assert len(server.requests) == 3


async def test_gives_up_after_the_retries_with_a_clear_error(server):
    server.fail_next = 10
    client = fast_client(server.base_url, retries=2)
    try:
        with pytest.raises(ProposerError) as info:
            await client.generate(["A"], SamplingParams(n=1))
    finally:
        await client.close()
    assert "HTTP 503" in str(info.value) and "3 attempts" in str(info.value)
    assert "server overloaded" in str(info.value)
    assert len(server.requests) == 3


async def test_client_errors_are_not_retried(server):
    client = OpenAICompletionsModel(server.base_url, "llemma-wrong-name", retries=3, backoff_s=0.01)
    try:
        with pytest.raises(ProposerError, match="refused the request: HTTP 404: The model `llemma-wrong-name` does not exist"):
            await client.generate(["A"], SamplingParams(n=1))
    finally:
        await client.close()
    assert len(server.requests) == 1


async def test_unreachable_server():
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = fast_client(f"http://127.0.0.1:{port}", retries=1)
    try:
        with pytest.raises(ProposerError, match=f"cannot reach the completions server at http://127.0.0.1:{port}"):
            await client.generate(["A"], SamplingParams(n=1))
    finally:
        await client.close()


async def test_server_without_logprobs(server):
    server.omit_logprobs = True
    client = fast_client(server.base_url)
    try:
        with pytest.raises(ProposerError, match="returned no log-probs"):
            await client.generate(["A"], SamplingParams(n=1))
    finally:
        await client.close()


async def test_timeout_is_reported(server):
    server.delay_s = 0.4
    client = fast_client(server.base_url, timeout_s=0.1, retries=0)
    try:
        with pytest.raises(ProposerError, match="failed after 1 attempts: .*Timeout"):
            await client.generate(["A"], SamplingParams(n=1))
    finally:
        await client.close()


async def test_connection_limit_caps_requests_in_flight(server):
    server.delay_s = 0.05
    client = fast_client(server.base_url, max_connections=2)
    try:
        groups = await client.generate(["A", "B"] * 4, SamplingParams(n=1, method=DecodingMethod.GREEDY))
    finally:
        await client.close()
    assert len(groups) == 8
    assert server.max_in_flight == 2


async def test_api_key_is_sent():
    async with OpenAIServerDouble(ScriptedBackend(script), model="tiny", api_key="sk-test") as double:
        good = fast_client(double.base_url, api_key="sk-test")
        bad = fast_client(double.base_url, api_key="sk-wrong")
        try:
            assert len(await good.generate(["A"], SamplingParams(n=1))) == 1
            with pytest.raises(ProposerError, match="HTTP 401"):
                await bad.generate(["A"], SamplingParams(n=1))
        finally:
            await good.close()
            await bad.close()


async def test_over_http_equals_the_model_in_process(tiny_model):
    """With the tiny model behind the server, HTTP answers equal in-process answers."""
    from llemma_prove.proposers.prompts import default_lean4_template

    prompts = [default_lean4_template().render(s) for s in ("x : ℝ\n⊢ x = x", "⊢ 1 + 1 = 2")]
    params = SamplingParams(n=3, method=DecodingMethod.BEAM, max_new_tokens=8, stop=("a",))
    direct = await tiny_model.generate(prompts, params)
    async with OpenAIServerDouble(ModelBackend(tiny_model), model="tiny") as double:
        client = fast_client(double.base_url)
        try:
            over_http = await client.generate(prompts, params)
        finally:
            await client.close()
    for g1, g2 in zip(direct, over_http):
        assert [c.text for c in g1] == [c.text for c in g2]
        assert [c.num_tokens for c in g1] == [c.num_tokens for c in g2]
        assert [c.logprob_sum for c in g1] == pytest.approx([c.logprob_sum for c in g2], abs=1e-5)
