"""The base of every options schema: the suite file's sections and each plugin's ``Options``.

It sits below the suite schema and the plugins alike, so a plugin declares its options without
importing the suite schema that configures it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A pydantic model that rejects unknown keys, so a misspelt option is an error, never silently ignored.

    ``mspgt-bench validate`` checks a component's suite options against its ``Options`` class
    when that class derives from this one.
    """

    model_config = ConfigDict(extra="forbid")
