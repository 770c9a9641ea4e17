"""How a problem is shown to a model: one renderer for the corpus, RL, eval, pass@k, probes and drift.

Three styles (config section ``prompt``):

- ``raw``: the problem's own string (``47+85=``), what the controlled base models were pretrained on;
- ``template``: a user text built from ``prompt.template`` (``{question}``: the family's natural
  question, ``{instruction}``: the family's instruction, ``{raw}``: the raw string), as plain text;
- ``chat``: the same user text, after an optional system message, through the tokenizer's own chat
  template. RL passes the messages to TRL in its conversational format (TRL applies the template);
  every other sampler renders them with ``apply_chat_template(add_generation_prompt=True)``, so the
  base and the tuned model always see the same tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rl_lab.core.config import PromptConfig
from rl_lab.core.errors import ConfigError
from rl_lab.environments.problem_sets import row_family

Message = dict[str, str]


def user_text(row: Mapping[str, Any], prompt: PromptConfig) -> str:
    """The user's words for a problem-set row (``prompt``, ``question``, ``family`` columns)."""
    text = prompt.template.format(question=row_family(row).ask(str(row["question"])),
                                  instruction=prompt.instructions.get(str(row["family"]), ""), raw=row["prompt"])
    return " ".join(text.split(" ")).strip()


def messages(row: Mapping[str, Any], prompt: PromptConfig) -> list[Message]:
    """The chat messages for a row: the system message (if any), then the user text."""
    system = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return [*system, {"role": "user", "content": user_text(row, prompt)}]


def trl_prompt(row: Mapping[str, Any], prompt: PromptConfig) -> str | list[Message]:
    """The ``prompt`` column of an RL dataset: a string, or messages (TRL's conversational format)."""
    if prompt.style == "chat":
        return messages(row, prompt)
    return render(row, prompt, tokenizer=None)


def render(row: Mapping[str, Any], prompt: PromptConfig, tokenizer: Any) -> str:
    """The exact text a sampler feeds the model (chat: the tokenizer's template, generation prompt added)."""
    if prompt.style == "raw":
        return str(row["prompt"])
    if prompt.style == "template":
        return user_text(row, prompt)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ConfigError("prompt.style: 'chat' needs a tokenizer with a chat template")
    return tokenizer.apply_chat_template(messages(row, prompt), tokenize=False, add_generation_prompt=True)


def render_all(rows: Any, prompt: PromptConfig, tokenizer: Any) -> list[str]:
    return [render(row, prompt, tokenizer) for row in rows]


def check_prompt_support(prompt: PromptConfig, tokenizer: Any, model_path: str) -> None:
    """A model asked for chat prompts must have a chat template: ConfigError naming the model otherwise."""
    if prompt.style == "chat" and not getattr(tokenizer, "chat_template", None):
        raise ConfigError(
            f"invalid config:\n  prompt.style: 'chat' needs a chat template, and the tokenizer of {model_path!r} "
            "has none (rl_lab's controlled models are pretrained on raw prompts: use prompt.style=raw, or "
            "'template' for plain-text instructions)"
        )


def prompt_text(prompt: Any) -> str:
    """A prompt as text for logs: plain strings as they are, chat messages as ``role: content`` lines."""
    if isinstance(prompt, list):
        return "\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in prompt if isinstance(m, Mapping))
    return prompt if isinstance(prompt, str) else str(prompt)


def completion_text(completion: Any) -> str:
    """A completion as text: TRL hands conversational completions as ``[{"role": "assistant", "content": ...}]``."""
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, Mapping))
    return completion if isinstance(completion, str) else str(completion)
