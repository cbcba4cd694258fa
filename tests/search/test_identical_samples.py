"""A server that ignores temperature returns n identical samples: the proposer says so, once."""

from __future__ import annotations

import warnings

import pytest

from redistill.llm.factory import make_backend
from redistill.prompts import Prompts
from redistill.search.proposers import IDENTICAL_AFTER, ModelProposer
from redistill.tasks.model import Example, Task
from tests.openai_server import FakeOpenAIServer


def tasks(n: int) -> list[Task]:
    return [Task(i, "list_func", [Example(f"[{i}]", f"[{i}]")], [Example("[0]", "[0]")]) for i in range(n)]


def test_identical_samples_at_temperature_warn_once():
    with FakeOpenAIServer(responder=lambda body: ["reverse the list"] * int(body["n"])) as server:
        proposer = ModelProposer(make_backend(f"openai:m@{server.url}", cache=None), Prompts(), temperature=0.9)
        with pytest.warns(UserWarning, match=rf"all 4 rule samples of each of {IDENTICAL_AFTER} request\(s\) at "
                                             "temperature 0.9 are identical"):
            proposer.propose(tasks(IDENTICAL_AFTER), 4)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            proposer.propose(tasks(2), 4)  # said once


@pytest.mark.parametrize("temperature,distinct", [(0.0, False), (0.9, True)])
def test_no_warning_when_greedy_or_sampling(temperature, distinct):
    responder = (lambda body: [f"rule {i}" for i in range(body["n"])]) if distinct else \
        (lambda body: ["same"] * body["n"])
    with FakeOpenAIServer(responder=responder) as server:
        proposer = ModelProposer(make_backend(f"openai:m@{server.url}", cache=None), Prompts(), temperature)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            proposer.propose(tasks(IDENTICAL_AFTER + 1), 3)
