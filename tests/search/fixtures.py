"""Hand-made task files: small list and ACRE suites whose right answers are known by construction."""

from __future__ import annotations

import json
from pathlib import Path

LIST_TASKS = [
    # reverse: only "reverse the list" fits the seen examples
    {"idx": 0, "train": [{"input": "[1, 2, 3]", "output": "[3, 2, 1]"}, {"input": "[4, 5]", "output": "[5, 4]"},
                         {"input": "[7]", "output": "[7]"}],
     "test": [{"input": "[9, 8, 1]", "output": "[1, 8, 9]"}, {"input": "[2, 3]", "output": "[3, 2]"}]},
    # sort: the first example alone also fits "reverse" (the scripted IO answer guesses from it)
    {"idx": 1, "train": [{"input": "[2, 1]", "output": "[1, 2]"}, {"input": "[3, 1, 2]", "output": "[1, 2, 3]"}],
     "test": [{"input": "[9, 7, 8]", "output": "[7, 8, 9]"}]},
    # add one
    {"idx": 2, "train": [{"input": "[1, 2]", "output": "[2, 3]"}, {"input": "[5]", "output": "[6]"}],
     "test": [{"input": "[0, 0, 4]", "output": "[1, 1, 5]"}]},
    # ambiguous: "sort" and "unchanged" both fit; the scripted model proposes sort, the gold is unchanged
    {"idx": 3, "train": [{"input": "[1, 2]", "output": "[1, 2]"}, {"input": "[3, 4]", "output": "[3, 4]"}],
     "test": [{"input": "[2, 1]", "output": "[2, 1]"}]},
]
LIST_SEARCH_ACCURACY = 4 / 5  # tasks 0-2 right (4 examples), task 3 wrong
LIST_IO_ACCURACY = 3 / 5  # task 1 guessed as reverse, task 3 as sort

ACRE_TASKS = [
    {"idx": 7,
     "train": [{"input": ["red cube"], "output": "on"}, {"input": ["blue ball"], "output": "off"},
               {"input": ["red cube", "blue ball"], "output": "on"},
               {"input": ["green cone", "yellow ring"], "output": "on"},
               {"input": ["green cone"], "output": "off"}, {"input": ["blue ball", "grey box"], "output": "off"}],
     "test": [{"input": ["yellow ring"], "output": "on", "type": "indirect"},
              {"input": ["grey box"], "output": "off", "type": "direct"},
              {"input": ["purple cup"], "output": "undetermined", "type": "potential"},
              {"input": ["red cube", "grey box"], "output": "on", "type": "screen_off"}]},
]


def write_tasks(path: Path, tasks: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(t) + "\n" for t in tasks), encoding="utf-8")
    return path
