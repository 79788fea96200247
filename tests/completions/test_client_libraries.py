"""Real client libraries against the served gateway (fake upstream behind it): LangChain's
ChatOpenAI and instructor, on one model per provider protocol."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tests.completions.conftest import MODELS_BY_PROVIDER

langchain_openai = pytest.importorskip("langchain_openai")
instructor = pytest.importorskip("instructor")  # requirements-nodeps.txt

import openai  # noqa: E402

pytestmark = pytest.mark.django_db(transaction=True)

MODELS = list(MODELS_BY_PROVIDER.values())


class Weather(BaseModel):
    """The weather in a city."""

    city: str
    degrees: int


class Forecast(BaseModel):
    city: str
    days: list[Weather]


@pytest.fixture
def chat_model(gateway, user_key):
    def make(model: str):
        # Cache-Control: no-store so every call reaches the fake upstream.
        return langchain_openai.ChatOpenAI(model=model, base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0,
                                           default_headers={"Cache-Control": "no-store"})

    return make


@pytest.fixture
def openai_client(gateway, user_key):
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0,
                         default_headers={"Cache-Control": "no-store"})


@pytest.mark.parametrize("model", MODELS)
def test_it_answers_langchain_invoke(chat_model, model):
    reply = chat_model(model).invoke("Say hello")
    assert reply.content.startswith("This is a fake answer from ")
    assert reply.usage_metadata["output_tokens"] > 0


@pytest.mark.parametrize("model", MODELS)
def test_it_streams_to_langchain(chat_model, model):
    pieces = [chunk.content for chunk in chat_model(model).stream("Say hello")]
    assert len([piece for piece in pieces if piece]) > 3
    assert "".join(pieces).startswith("This is a fake answer from ")


@pytest.mark.parametrize("model", MODELS)
def test_it_returns_a_tool_call_to_langchain_bind_tools(chat_model, model):
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "sunny"

    reply = chat_model(model).bind_tools([get_weather]).invoke("Weather in Oslo? fake:tool")
    assert reply.tool_calls[0]["name"] == "get_weather"
    assert reply.tool_calls[0]["args"] == {"city": "Oslo"}


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
@pytest.mark.parametrize("model", MODELS)
def test_it_gives_langchain_structured_output(chat_model, model, method):
    forecast = chat_model(model).with_structured_output(Forecast, method=method).invoke("Forecast for Oslo")
    assert isinstance(forecast, Forecast)
    assert forecast.days and isinstance(forecast.days[0], Weather)


@pytest.mark.parametrize("mode", ["TOOLS", "JSON_SCHEMA"])
@pytest.mark.parametrize("model", MODELS)
def test_it_gives_instructor_a_validated_model(openai_client, model, mode):
    client = instructor.from_openai(openai_client, mode=getattr(instructor.Mode, mode))
    weather = client.chat.completions.create(model=model, response_model=Weather, max_retries=0,
                                             messages=[{"role": "user", "content": "Weather in Oslo?"}])
    assert isinstance(weather, Weather) and isinstance(weather.degrees, int)
