"""Structured outputs through the official openai SDK, on Claude models with and without
native structured outputs (the fake Anthropic API refuses what the real one refuses)."""

import json

import openai
import pytest
from pydantic import BaseModel, Field

pytestmark = pytest.mark.django_db(transaction=True)

# claude-sonnet-4-5 has structured outputs; claude-sonnet-4-20250514 predates them.
CLAUDE_MODELS = ["claude-sonnet-4-5", "claude-sonnet-4-20250514"]


class Pet(BaseModel):
    name: str = Field(min_length=1, max_length=30)


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    age: int = Field(ge=0, le=150)
    score: float = Field(gt=0, le=10)
    pets: list[Pet] = Field(min_length=1, max_length=5)


class Adult(BaseModel):
    age: int = Field(ge=18)  # the fake answers 1: a constraint the answer breaks


class GetWeather(BaseModel):
    """Current weather in a city."""

    city: str = Field(min_length=2, max_length=60)


@pytest.fixture
def sdk(gateway, user_key) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=user_key, max_retries=0, timeout=30)


@pytest.mark.parametrize("model", CLAUDE_MODELS)
def test_it_parses_a_pydantic_model_with_field_constraints(sdk, model):
    completion = sdk.chat.completions.parse(
        model=model, response_format=Person,
        messages=[{"role": "user", "content": f"Describe a person ({model})"}],
    )
    person = completion.choices[0].message.parsed
    assert isinstance(person, Person) and person.age >= 0 and person.pets
    assert completion.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", CLAUDE_MODELS)
def test_it_calls_a_pydantic_function_tool(sdk, model):
    completion = sdk.chat.completions.parse(
        model=model, tools=[openai.pydantic_function_tool(GetWeather)],
        messages=[{"role": "user", "content": f"Weather in Oslo? fake:tool ({model})"}],
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.parsed_arguments == GetWeather(city="Oslo")
    assert completion.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("model", CLAUDE_MODELS)
def test_it_streams_a_structured_answer(sdk, model):
    with sdk.chat.completions.stream(
        model=model, response_format=Person,
        messages=[{"role": "user", "content": f"Stream a person ({model})"}],
    ) as stream:
        final = stream.get_final_completion()
    assert isinstance(final.choices[0].message.parsed, Person)


@pytest.mark.parametrize("model", CLAUDE_MODELS)
def test_it_refuses_an_answer_that_breaks_the_clients_schema(sdk, model):
    with pytest.raises(openai.APIStatusError) as caught:
        sdk.chat.completions.parse(
            model=model, response_format=Adult,
            messages=[{"role": "user", "content": f"How old? ({model})"}],
        )
    assert caught.value.status_code == 502
    error = caught.value.body
    assert error["code"] == "provider_error"
    assert "does not match the requested JSON schema ($.age: 1 is less than the minimum of 18)" in error["message"]


def test_it_sends_claude_the_schema_it_accepts(sdk, fake_upstream):
    sdk.chat.completions.parse(model="claude-sonnet-4-5", response_format=Person,
                               messages=[{"role": "user", "content": "Describe someone"}])
    sent = fake_upstream.requests()["last"]["anthropic"]["body"]["output_config"]["format"]["schema"]
    assert sent["additionalProperties"] is False
    assert "minimum: 0" in sent["properties"]["age"]["description"]
    assert json.dumps(sent).count('"additionalProperties": false') == 2  # Person and Pet
